//! Command-line arguments (clap). Parsing only: no AWS calls here.

use crate::config::Layer;
use crate::ops::Output;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "bootstrap",
    version,
    about = "Provision, converge and destroy one environment's CI/CD pipeline on AWS"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Output format: text for people, json on stdout for machines (progress stays on stderr).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "BOOTSTRAP_OUTPUT"
    )]
    pub output: OutputArg,
    /// AWS region (else the standard AWS chain; us-east-1 when nothing is configured).
    #[arg(long, global = true, env = "BOOTSTRAP_REGION")]
    pub region: Option<String>,
    /// Configuration file (default: ./bootstrap.toml when present).
    #[arg(long, global = true, env = "BOOTSTRAP_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OutputArg {
    Text,
    Json,
}

impl From<OutputArg> for Output {
    fn from(value: OutputArg) -> Self {
        match value {
            OutputArg::Text => Output::Text,
            OutputArg::Json => Output::Json,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what would change; exit 0 = no changes, 2 = changes, 1 = error.
    Plan(Layer),
    /// Create or converge everything, then print the outputs.
    Deploy {
        #[command(flatten)]
        inputs: Layer,
        /// Don't ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Remove everything this environment owns and verify nothing is left.
    /// Takes the same options as `deploy` so a copied command line works; only `--env` is read.
    Destroy {
        #[command(flatten)]
        inputs: Layer,
        /// Don't ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Print the environment's outputs (pipeline URL, repository URI, ARNs, webhook URL); takes
    /// the same options as `deploy`, only `--env` is read.
    Outputs(Layer),
    /// Print the least-privilege IAM policy for running plan, deploy, outputs and destroy of
    /// the environment (give the same source and secret options as `deploy`).
    DeployerPolicy(Layer),
}
