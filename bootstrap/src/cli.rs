//! Command-line arguments (clap). Parsing only: no AWS calls here.

use crate::config::{Layer, SourceMode, parse_tag};
use crate::ops::Output;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::collections::BTreeMap;
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
    Plan(Inputs),
    /// Create or converge everything, then print the outputs.
    Deploy {
        #[command(flatten)]
        inputs: Inputs,
        /// Don't ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Remove everything this environment owns and verify nothing is left.
    Destroy {
        #[command(flatten)]
        env: EnvArg,
        /// Don't ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Print the environment's outputs (pipeline URL, repository URI, ARNs, webhook URL).
    Outputs(EnvArg),
}

#[derive(Debug, Args)]
pub struct EnvArg {
    /// Environment suffix carried by every resource name (e.g. dev, prod, pr-42).
    #[arg(long, env = "BOOTSTRAP_ENV")]
    pub env: Option<String>,
}

#[derive(Debug, Args)]
pub struct Inputs {
    /// Environment suffix carried by every resource name (e.g. dev, prod, pr-42).
    #[arg(long, env = "BOOTSTRAP_ENV")]
    pub env: Option<String>,
    /// GitHub repository the pipeline builds, OWNER/REPO.
    #[arg(long, env = "BOOTSTRAP_GITHUB_REPO")]
    pub github_repo: Option<String>,
    /// Branch whose pushes start the pipeline (default main).
    #[arg(long, env = "BOOTSTRAP_BRANCH")]
    pub branch: Option<String>,
    /// How pushes reach the pipeline: github-webhook (default) or codeconnections.
    #[arg(long, env = "BOOTSTRAP_SOURCE")]
    pub source: Option<SourceMode>,
    /// Secrets Manager secret holding the GitHub OAuth token (else GITHUB_TOKEN).
    #[arg(long, env = "BOOTSTRAP_GITHUB_TOKEN_SECRET")]
    pub github_token_secret: Option<String>,
    /// Existing CodeStar/CodeConnections connection to use (codeconnections mode).
    #[arg(long, env = "BOOTSTRAP_CONNECTION_ARN")]
    pub connection_arn: Option<String>,
    /// Only pushes touching these paths start the pipeline (codeconnections mode; repeatable).
    #[arg(
        long = "file-path-include",
        env = "BOOTSTRAP_FILE_PATH_INCLUDES",
        value_delimiter = ','
    )]
    pub file_path_includes: Option<Vec<String>>,
    /// Pushes touching only these paths don't start the pipeline (codeconnections mode; repeatable).
    #[arg(
        long = "file-path-exclude",
        env = "BOOTSTRAP_FILE_PATH_EXCLUDES",
        value_delimiter = ','
    )]
    pub file_path_excludes: Option<Vec<String>>,
    /// Email address to notify (repeatable; each must confirm the subscription).
    #[arg(long, env = "BOOTSTRAP_NOTIFY_EMAIL", value_delimiter = ',')]
    pub notify_email: Option<Vec<String>>,
    /// HTTPS endpoint to notify (repeatable).
    #[arg(long, env = "BOOTSTRAP_NOTIFY_URL", value_delimiter = ',')]
    pub notify_url: Option<Vec<String>>,
    /// Pipeline states that notify (default STARTED,SUCCEEDED,FAILED).
    #[arg(long, env = "BOOTSTRAP_NOTIFY_STATES", value_delimiter = ',')]
    pub notify_states: Option<Vec<String>>,
    /// Directory holding deploy-handler/bootstrap.zip and event-notifier/bootstrap.zip (default target/lambda).
    #[arg(long, env = "BOOTSTRAP_ARTIFACTS_DIR")]
    pub artifacts_dir: Option<PathBuf>,
    /// Extra tag KEY=VALUE on every resource (repeatable).
    #[arg(long, env = "BOOTSTRAP_TAG", value_delimiter = ',', value_parser = parse_tag)]
    pub tag: Option<Vec<(String, String)>>,
    /// Retention of every log group, in days (default 30).
    #[arg(long, env = "BOOTSTRAP_LOG_RETENTION_DAYS")]
    pub log_retention_days: Option<i32>,
    /// HTTPS endpoint the deploy-handler sends the signed deployment event to.
    #[arg(long, env = "BOOTSTRAP_DEPLOY_WEBHOOK_URL")]
    pub deploy_webhook_url: Option<String>,
    /// Secrets Manager secret ARN holding the deployment webhook's HMAC secret.
    #[arg(long, env = "BOOTSTRAP_DEPLOY_WEBHOOK_SECRET_ARN")]
    pub deploy_webhook_secret_arn: Option<String>,
    /// ARN of a customer managed KMS key that encrypts the notification topic at rest (default:
    /// unencrypted); its key policy must let events.amazonaws.com use it (README: Encryption).
    #[arg(long, env = "BOOTSTRAP_TOPIC_KMS_KEY")]
    pub topic_kms_key: Option<String>,
    /// Memory of both functions in MB (default 128).
    #[arg(long, env = "BOOTSTRAP_LAMBDA_MEMORY_MB")]
    pub lambda_memory_mb: Option<i32>,
    /// Timeout of the deploy-handler in seconds (default 120).
    #[arg(long, env = "BOOTSTRAP_DEPLOY_TIMEOUT_SECONDS")]
    pub deploy_timeout_seconds: Option<i32>,
    /// CodeBuild timeout in minutes (default 30).
    #[arg(long, env = "BOOTSTRAP_BUILD_TIMEOUT_MINUTES")]
    pub build_timeout_minutes: Option<i32>,
}

impl From<Inputs> for Layer {
    fn from(i: Inputs) -> Self {
        Layer {
            env: i.env,
            region: None,
            github_repo: i.github_repo,
            branch: i.branch,
            source: i.source,
            github_token_secret: i.github_token_secret,
            connection_arn: i.connection_arn,
            file_path_includes: i.file_path_includes,
            file_path_excludes: i.file_path_excludes,
            notify_email: i.notify_email,
            notify_url: i.notify_url,
            notify_states: i.notify_states,
            artifacts_dir: i.artifacts_dir,
            tag: i
                .tag
                .map(|tags| tags.into_iter().collect::<BTreeMap<_, _>>()),
            log_retention_days: i.log_retention_days,
            deploy_webhook_url: i.deploy_webhook_url,
            deploy_webhook_secret_arn: i.deploy_webhook_secret_arn,
            topic_kms_key: i.topic_kms_key,
            lambda_memory_mb: i.lambda_memory_mb,
            deploy_timeout_seconds: i.deploy_timeout_seconds,
            build_timeout_minutes: i.build_timeout_minutes,
        }
    }
}

impl From<EnvArg> for Layer {
    fn from(e: EnvArg) -> Self {
        Layer {
            env: e.env,
            ..Layer::default()
        }
    }
}
