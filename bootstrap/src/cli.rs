//! Command-line arguments (clap). Parsing only: no AWS calls here.

use crate::config::Layer;
use crate::ops::Output;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// The heading of the options every command takes, listed after the command's own.
const GLOBAL: &str = "Options of every command";

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
        help_heading = GLOBAL,
        value_enum,
        default_value = "text",
        env = "BOOTSTRAP_OUTPUT"
    )]
    pub output: OutputArg,
    /// Progress on stderr: text for people, or json: one object per line, a `start` and a
    /// `finish` for every step (resource, kind, action, duration_ms, calls, outcome) and every
    /// other line as a `message` (README: Configuration).
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        value_enum,
        default_value = "text",
        env = "BOOTSTRAP_PROGRESS"
    )]
    pub progress: ProgressArg,
    /// AWS region (else the standard AWS chain; us-east-1 when nothing is configured).
    #[arg(long, global = true, help_heading = GLOBAL, env = "BOOTSTRAP_REGION")]
    pub region: Option<String>,
    /// Configuration file (default: ./bootstrap.toml when present).
    #[arg(long, global = true, help_heading = GLOBAL, env = "BOOTSTRAP_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Parses the command line; `--version` also prints the commit and the hash of each Lambda zip
/// built into this binary (what `deploy` uploads, as Lambda will report its `CodeSha256`).
pub fn parse() -> Result<Cli, clap::Error> {
    // Lives as long as the process, as clap's `&'static str` version strings do.
    let version: &'static str = crate::artifacts::version_text(env!("CARGO_PKG_VERSION")).leak();
    let matches = Cli::command().long_version(version).try_get_matches()?;
    Cli::from_arg_matches(&matches)
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OutputArg {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProgressArg {
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
    /// the environment (give the same --source, --connection-arn, --github-token-secret,
    /// --deploy-webhook-secret-arn, --deploy-target and --base-image-source as `deploy`: they
    /// add grants).
    DeployerPolicy {
        #[command(flatten)]
        inputs: Layer,
        /// Print instead the permissions boundary of the environment's roles, which an
        /// administrator creates once (`aws iam create-policy`) before the first deploy.
        #[arg(long)]
        boundary: bool,
    },
    /// Print the least-privilege IAM policy for approving the environment's promotions: read the
    /// pipeline's state and answer its approvals, nothing else (give the stages as for
    /// `deploy`: --stage ... --approve-before NAME).
    ApproverPolicy {
        #[command(flatten)]
        inputs: Layer,
        /// Only the approval before this stage (default: every stage with one).
        #[arg(long)]
        for_stage: Option<String>,
    },
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The long flags named in the first column of README's "Configuration" table.
    fn readme_flags() -> BTreeSet<String> {
        let readme = include_str!("../../README.md");
        let section = readme.split("### Configuration").nth(1).unwrap();
        let section = section.split("\n### ").next().unwrap();
        section
            .lines()
            .filter_map(|line| line.strip_prefix("| `--"))
            .flat_map(|row| {
                let first_cell = row.split(" |").next().unwrap_or_default();
                format!("--{first_cell}")
                    .split("--")
                    .skip(1)
                    .map(|flag| {
                        flag.chars()
                            .take_while(|c| {
                                c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'
                            })
                            .collect::<String>()
                            .trim_end_matches('-')
                            .to_owned()
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn the_readme_and_help_list_the_same_options_of_deploy() {
        let command = Cli::command();
        let deploy = command.find_subcommand("deploy").unwrap();
        let helped: BTreeSet<String> = deploy
            .get_arguments()
            .filter(|arg| !arg.is_global_set() && arg.get_id() != "yes")
            .filter_map(|arg| arg.get_long().map(String::from))
            .collect();
        assert_eq!(
            readme_flags(),
            helped,
            "README's Configuration table and --help"
        );
    }

    #[test]
    fn the_readme_documents_every_option_of_every_command() {
        let readme = include_str!("../../README.md");
        for arg in Cli::command().get_arguments() {
            let long = arg.get_long().unwrap();
            assert!(
                readme.contains(&format!("`--{long}")),
                "README does not document --{long}"
            );
        }
    }

    #[test]
    fn every_command_lists_its_own_options_before_the_global_ones() {
        let mut command = Cli::command();
        // Globals reach the subcommands when the command is built, as at parse time.
        command.build();
        let help = command
            .find_subcommand_mut("deploy")
            .unwrap()
            .render_long_help()
            .to_string();
        let own = help.find("--env").unwrap();
        let global = help.find(GLOBAL).unwrap();
        let yes = help.find("--yes").unwrap();
        assert!(own < yes && yes < global, "{help}");
    }
}
