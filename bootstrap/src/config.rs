//! The deployment's inputs: flags win over `BOOTSTRAP_*` environment variables, which win over
//! `bootstrap.toml`, which wins over defaults. Everything is validated before any AWS call.

use anyhow::{Context, Result, bail};
use clap::Args;
use pipeline_common::{DeployTarget, EnvName};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod check;
mod parts;
pub mod stages;

use parts::{Delivery, Notifications, Sizes, SourceInputs, merged_tags};

/// How a GitHub push reaches the pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceMode {
    /// GitHub version 1 source action started by a CodePipeline webhook (the default).
    GithubWebhook,
    /// CodeStar connection with a push trigger (AWS's recommended way).
    Codeconnections,
}

impl std::str::FromStr for SourceMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "github-webhook" => Ok(Self::GithubWebhook),
            "codeconnections" => Ok(Self::Codeconnections),
            other => Err(format!(
                "unknown source `{other}`: use `github-webhook` or `codeconnections`"
            )),
        }
    }
}

/// Where the build's `docker build` takes the Dockerfile's official base images from: the
/// registry path CodeBuild hands the build as `BASE_IMAGE_REGISTRY` (README: Docker Hub limits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BaseImageSource {
    /// `docker.io/library`: anonymous Docker Hub pulls, as a plain `docker build` does (the
    /// default, so the pipeline builds what a developer builds).
    DockerHub,
    /// `public.ecr.aws/docker/library`: Amazon ECR Public's mirror of the Docker official
    /// images, pulled anonymously; no AWS resource and no grant.
    EcrPublic,
    /// The same mirror through an ECR pull-through cache rule of the environment: the images are
    /// cached in the account's registry, and the build role pulls them with its own credentials.
    PullThroughCache,
}

impl std::str::FromStr for BaseImageSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "docker-hub" => Ok(Self::DockerHub),
            "ecr-public" => Ok(Self::EcrPublic),
            "pull-through-cache" => Ok(Self::PullThroughCache),
            other => Err(format!(
                "unknown base image source `{other}`: use `docker-hub`, `ecr-public` or `pull-through-cache`"
            )),
        }
    }
}

/// The deployment's inputs, declared once: the same struct is the flags (with their
/// `BOOTSTRAP_*` environment variables, through clap) and `bootstrap.toml` (through serde, keys
/// are the long flag names). `None` = not given in that layer.
#[derive(Clone, Debug, Default, Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Layer {
    /// Required. Environment suffix carried by every resource name: lowercase letters, digits
    /// and single hyphens, starting with a letter, at most 40 (e.g. dev, prod, pr-42).
    #[arg(long, env = "BOOTSTRAP_ENV")]
    pub env: Option<String>,
    /// Region (file only: on the command line `--region` is global to every command).
    #[arg(skip)]
    pub region: Option<String>,
    /// Required by plan and deploy. GitHub repository the pipeline builds, OWNER/REPO.
    #[arg(long, env = "BOOTSTRAP_GITHUB_REPO")]
    pub github_repo: Option<String>,
    /// Branch whose pushes start the pipeline (default main).
    #[arg(long, env = "BOOTSTRAP_BRANCH")]
    pub branch: Option<String>,
    /// How pushes reach the pipeline: github-webhook (default) or codeconnections.
    #[arg(long, env = "BOOTSTRAP_SOURCE")]
    pub source: Option<SourceMode>,
    /// Secrets Manager secret holding the GitHub OAuth token (else GITHUB_TOKEN); github-webhook
    /// mode only; adds a deployer grant.
    #[arg(long, env = "BOOTSTRAP_GITHUB_TOKEN_SECRET")]
    pub github_token_secret: Option<String>,
    /// Secrets Manager secret (name or ARN) holding a GitHub token the event-notifier sets each
    /// stage's commit status with (none by default; a connection cannot set statuses, the
    /// webhook source's --github-token-secret may be named here too); adds grants.
    #[arg(long, env = "BOOTSTRAP_GITHUB_STATUS_TOKEN_SECRET")]
    pub github_status_token_secret: Option<String>,
    /// Existing CodeStar/CodeConnections connection to use (codeconnections mode; default: one
    /// is created); adds deployer grants.
    #[arg(long, env = "BOOTSTRAP_CONNECTION_ARN")]
    pub connection_arn: Option<String>,
    /// Only pushes touching these paths start the pipeline (codeconnections mode; repeatable).
    #[arg(
        long = "file-path-include",
        env = "BOOTSTRAP_FILE_PATH_INCLUDES",
        value_delimiter = ','
    )]
    #[serde(rename = "file-path-include")]
    pub file_path_includes: Option<Vec<String>>,
    /// Pushes touching only these paths don't start the pipeline (codeconnections mode; repeatable).
    #[arg(
        long = "file-path-exclude",
        env = "BOOTSTRAP_FILE_PATH_EXCLUDES",
        value_delimiter = ','
    )]
    #[serde(rename = "file-path-exclude")]
    pub file_path_excludes: Option<Vec<String>>,
    /// Email address to notify (repeatable; each must confirm the subscription).
    #[arg(long, env = "BOOTSTRAP_NOTIFY_EMAIL", value_delimiter = ',')]
    pub notify_email: Option<Vec<String>>,
    /// HTTPS endpoint to notify (repeatable).
    #[arg(long, env = "BOOTSTRAP_NOTIFY_URL", value_delimiter = ',')]
    pub notify_url: Option<Vec<String>>,
    /// Pipeline states that notify, any case (default STARTED,SUCCEEDED,FAILED; also STOPPING,
    /// STOPPED, SUPERSEDED, CANCELED, RESUMED).
    #[arg(long, env = "BOOTSTRAP_NOTIFY_STATES", value_delimiter = ',')]
    pub notify_states: Option<Vec<String>>,
    /// Directory holding deploy-handler/bootstrap.zip and event-notifier/bootstrap.zip, to
    /// deploy instead of the zips built into bootstrap (e.g. target/lambda after `cargo xtask dist`).
    #[arg(long, env = "BOOTSTRAP_ARTIFACTS_DIR")]
    pub artifacts_dir: Option<PathBuf>,
    /// The functions' architecture: x86_64 or arm64 (default arm64 for the built-in zips; with
    /// --artifacts-dir, that of the zips, which must match it when given).
    #[arg(long, env = "BOOTSTRAP_LAMBDA_ARCH")]
    pub lambda_arch: Option<crate::artifacts::LambdaArch>,
    /// Extra tag KEY=VALUE on every resource (repeatable; at most 47; letters, digits, spaces and
    /// _.:/=+-@).
    #[arg(long, env = "BOOTSTRAP_TAG", value_delimiter = ',', value_parser = parse_tag)]
    #[serde(default, deserialize_with = "tag_table")]
    pub tag: Option<Vec<(String, String)>>,
    /// Retention of every log group, in days (default 30).
    #[arg(long, env = "BOOTSTRAP_LOG_RETENTION_DAYS", value_parser = clap::value_parser!(i32).range(1..=3653))]
    pub log_retention_days: Option<i32>,
    /// HTTPS endpoint the deploy-handler sends the signed deployment event to.
    #[arg(long, env = "BOOTSTRAP_DEPLOY_WEBHOOK_URL")]
    pub deploy_webhook_url: Option<String>,
    /// Secrets Manager secret (name or ARN) holding the deployment webhook's HMAC secret;
    /// required with --deploy-webhook-url; adds a deployer grant.
    #[arg(long, env = "BOOTSTRAP_DEPLOY_WEBHOOK_SECRET_ARN")]
    pub deploy_webhook_secret_arn: Option<String>,
    /// Existing service the Deploy stage rolls the image out to: ecs:CLUSTER/SERVICE[/CONTAINER]
    /// or lambda:FUNCTION[:ALIAS] (a container-image function); adds deployer grants.
    #[arg(long, env = "BOOTSTRAP_DEPLOY_TARGET")]
    pub deploy_target: Option<String>,
    /// ARN of a customer managed KMS key that encrypts the notification topic at rest (default:
    /// unencrypted); its key policy must let events.amazonaws.com use it (README: Encryption).
    #[arg(long, env = "BOOTSTRAP_TOPIC_KMS_KEY")]
    pub topic_kms_key: Option<String>,
    /// Memory of both functions in MB (default 128).
    #[arg(long, env = "BOOTSTRAP_LAMBDA_MEMORY_MB", value_parser = clap::value_parser!(i32).range(128..=10240))]
    pub lambda_memory_mb: Option<i32>,
    /// Timeout of the deploy-handler in seconds (default 120).
    #[arg(long, env = "BOOTSTRAP_DEPLOY_TIMEOUT_SECONDS", value_parser = clap::value_parser!(i32).range(10..=900))]
    pub deploy_timeout_seconds: Option<i32>,
    /// CodeBuild timeout in minutes (default 30).
    #[arg(long, env = "BOOTSTRAP_BUILD_TIMEOUT_MINUTES", value_parser = clap::value_parser!(i32).range(5..=2160))]
    pub build_timeout_minutes: Option<i32>,
    /// Minutes a rollout (--deploy-target) or a 202 webhook deployment may run before the Deploy
    /// action fails naming what still runs (default 60; 1..=1439, below CodePipeline's 24 hours).
    #[arg(long, env = "BOOTSTRAP_ROLLOUT_TIMEOUT_MINUTES", value_parser = clap::value_parser!(i32).range(1..=1439))]
    pub rollout_timeout_minutes: Option<i32>,
    /// Where the build pulls the Dockerfile's official base images from: docker-hub (default),
    /// ecr-public (AWS's mirror, no rate limit from shared CodeBuild addresses) or
    /// pull-through-cache (that mirror cached in the account by an ECR rule; adds grants).
    #[arg(long, env = "BOOTSTRAP_BASE_IMAGE_SOURCE")]
    pub base_image_source: Option<BaseImageSource>,
    /// A deploy stage NAME=TARGET (repeatable, in order; target as --deploy-target): the same
    /// image goes through each; needs --source codeconnections; instead of --deploy-target.
    #[arg(long = "stage", env = "BOOTSTRAP_STAGE", value_delimiter = ',')]
    #[serde(skip)]
    pub stage: Option<Vec<String>>,
    /// A manual approval before stage NAME (repeatable).
    #[arg(
        long = "approve-before",
        env = "BOOTSTRAP_APPROVE_BEFORE",
        value_delimiter = ','
    )]
    #[serde(skip)]
    pub approve_before: Option<Vec<String>>,
    /// NAME=MINUTES a stage's alarms are watched after it deploys (default 10 with an alarm).
    #[arg(
        long = "bake-minutes",
        env = "BOOTSTRAP_BAKE_MINUTES",
        value_delimiter = ','
    )]
    #[serde(skip)]
    pub bake_minutes: Option<Vec<String>>,
    /// NAME=ALARM: a CloudWatch alarm whose ALARM state during the bake rolls stage NAME back
    /// (repeatable).
    #[arg(long = "alarm", env = "BOOTSTRAP_ALARM", value_delimiter = ',')]
    #[serde(skip)]
    pub alarm: Option<Vec<String>>,
    /// NAME=SHIFT: how a Lambda alias stage moves its traffic to the new version (all-at-once,
    /// canaryP-Mm or linearP-Mm), its alarms read between steps (repeatable).
    #[arg(
        long = "traffic-shift",
        env = "BOOTSTRAP_TRAFFIC_SHIFT",
        value_delimiter = ','
    )]
    #[serde(skip)]
    pub traffic_shift: Option<Vec<String>>,
    /// `[[stage]]` tables of bootstrap.toml (name, target, approve, bake-minutes, alarms,
    /// traffic-shift).
    #[arg(skip)]
    #[serde(rename = "stage", default)]
    pub stage_tables: Option<Vec<stages::StageTable>>,
}

impl Layer {
    /// The stage flags of this layer.
    fn stage_flags(&self) -> stages::StageFlags {
        let list = |v: &Option<Vec<String>>| v.clone().unwrap_or_default();
        stages::StageFlags {
            stages: list(&self.stage),
            approve_before: list(&self.approve_before),
            bake_minutes: list(&self.bake_minutes),
            alarms: list(&self.alarm),
            traffic_shifts: list(&self.traffic_shift),
        }
    }

    /// The long flags given in this layer other than `--env` (for commands that read only it).
    pub fn given_besides_env(&self) -> Vec<&'static str> {
        let given = [
            ("--github-repo", self.github_repo.is_some()),
            ("--branch", self.branch.is_some()),
            ("--source", self.source.is_some()),
            ("--github-token-secret", self.github_token_secret.is_some()),
            (
                "--github-status-token-secret",
                self.github_status_token_secret.is_some(),
            ),
            ("--connection-arn", self.connection_arn.is_some()),
            ("--file-path-include", self.file_path_includes.is_some()),
            ("--file-path-exclude", self.file_path_excludes.is_some()),
            ("--notify-email", self.notify_email.is_some()),
            ("--notify-url", self.notify_url.is_some()),
            ("--notify-states", self.notify_states.is_some()),
            ("--artifacts-dir", self.artifacts_dir.is_some()),
            ("--lambda-arch", self.lambda_arch.is_some()),
            ("--tag", self.tag.is_some()),
            ("--log-retention-days", self.log_retention_days.is_some()),
            ("--deploy-webhook-url", self.deploy_webhook_url.is_some()),
            (
                "--deploy-webhook-secret-arn",
                self.deploy_webhook_secret_arn.is_some(),
            ),
            ("--deploy-target", self.deploy_target.is_some()),
            ("--topic-kms-key", self.topic_kms_key.is_some()),
            ("--lambda-memory-mb", self.lambda_memory_mb.is_some()),
            (
                "--deploy-timeout-seconds",
                self.deploy_timeout_seconds.is_some(),
            ),
            (
                "--build-timeout-minutes",
                self.build_timeout_minutes.is_some(),
            ),
            (
                "--rollout-timeout-minutes",
                self.rollout_timeout_minutes.is_some(),
            ),
            ("--base-image-source", self.base_image_source.is_some()),
            (
                "--stage",
                self.stage.is_some() || self.stage_tables.is_some(),
            ),
            ("--approve-before", self.approve_before.is_some()),
            ("--bake-minutes", self.bake_minutes.is_some()),
            ("--alarm", self.alarm.is_some()),
            ("--traffic-shift", self.traffic_shift.is_some()),
        ];
        given
            .into_iter()
            .filter_map(|(flag, given)| given.then_some(flag))
            .collect()
    }
}

/// `[tag]` in bootstrap.toml is a table; on the command line `--tag KEY=VALUE` repeats.
fn tag_table<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<(String, String)>>, D::Error> {
    let table: Option<BTreeMap<String, String>> = Option::deserialize(deserializer)?;
    Ok(table.map(|t| t.into_iter().collect()))
}

/// Validated configuration of one environment.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub env: EnvName,
    pub region: Option<String>,
    pub github_owner: String,
    pub github_repo: String,
    pub branch: String,
    pub source: SourceMode,
    pub github_token_secret: Option<String>,
    /// The secret holding the token the event-notifier sets commit statuses with; `None`: no
    /// commit status is set.
    pub github_status_token_secret: Option<String>,
    pub connection_arn: Option<String>,
    pub file_path_includes: Vec<String>,
    pub file_path_excludes: Vec<String>,
    pub notify_emails: Vec<String>,
    pub notify_urls: Vec<String>,
    pub notify_states: Vec<String>,
    /// `None`: the zips built into bootstrap.
    pub artifacts_dir: Option<PathBuf>,
    /// `None`: the default for built-in zips, or the architecture of the zips on disk.
    pub lambda_arch: Option<crate::artifacts::LambdaArch>,
    pub tags: BTreeMap<String, String>,
    pub log_retention_days: i32,
    pub deploy_webhook_url: Option<String>,
    pub deploy_webhook_secret_arn: Option<String>,
    /// Where the Deploy stage rolls the image out (`--deploy-target`); `None`: it only requests
    /// the deployment (EventBridge event, webhook).
    pub deploy_target: Option<DeployTarget>,
    /// Customer managed KMS key (ARN) encrypting the notification topic; `None` = unencrypted.
    pub topic_kms_key: Option<String>,
    pub lambda_memory_mb: i32,
    pub deploy_timeout_seconds: i32,
    pub build_timeout_minutes: i32,
    /// How long the Deploy action's rollout may run (UserParameters `timeoutSeconds`).
    pub rollout_timeout_minutes: i32,
    /// Where the build pulls its official base images from.
    pub base_image_source: BaseImageSource,
    /// The deploy stages in order (`--stage`); empty: one Deploy stage (`--deploy-target` or a
    /// deployment request), as before.
    pub stages: Vec<stages::StageConfig>,
}

/// CloudWatch Logs accepts only these retention periods.
pub const RETENTION_DAYS: [i32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Reads `bootstrap.toml` (or the given path); a missing default file is fine, a missing
/// explicit one or a malformed one is an error naming the line.
pub fn read_file(path: Option<&Path>) -> Result<Layer> {
    let (path, explicit) = match path {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from("bootstrap.toml"), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && !explicit => {
            return Ok(Layer::default());
        }
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    toml::from_str(&text).map_err(|err| {
        anyhow::anyhow!(
            "{} is not valid: {}\nfix the file (keys are the long flag names, e.g. github-repo = \"owner/repo\")",
            path.display(),
            err.to_string().trim_end()
        )
    })
}

fn pick<T>(first: Option<T>, second: Option<T>) -> Option<T> {
    first.or(second)
}

/// What `destroy` and `outputs` need: the environment alone, since every name derives from it.
pub fn resolve_env(given: &Layer, file: &Layer) -> Result<EnvName> {
    let raw = pick(given.env.as_deref(), file.env.as_deref()).context(
        "no environment given: pass --env NAME (or set BOOTSTRAP_ENV, or `env` in bootstrap.toml)",
    )?;
    Ok(EnvName::parse(raw)?)
}

/// What `deployer-policy` scopes the policy to: the environment and the options that add grants.
#[derive(Clone, Debug)]
pub struct PolicyScope {
    pub env: EnvName,
    pub source: SourceMode,
    pub connection_arn: Option<String>,
    pub github_token_secret: Option<String>,
    pub deploy_webhook_secret_arn: Option<String>,
    pub deploy_target: Option<DeployTarget>,
    pub base_image_source: BaseImageSource,
    /// `--topic-kms-key`: the roles' permissions boundary lets the notifier use it.
    pub topic_kms_key: Option<String>,
    /// The stages' targets (`--stage`), read at plan and rolled out to like `--deploy-target`.
    pub stage_targets: Vec<DeployTarget>,
    /// The alarms the stages bake with (`--alarm`).
    pub stage_alarms: Vec<String>,
    /// The stages with an approval before them (`--approve-before`), in order.
    pub approval_stages: Vec<String>,
    /// `--github-status-token-secret` (or its webhook-mode default): plan resolves it, the
    /// event-notifier reads it.
    pub github_status_token_secret: Option<String>,
    /// The alarms of the stages with a traffic shift: the deploy-handler reads them.
    pub shift_alarms: Vec<String>,
}

/// Like [`resolve`], but only the environment is required: the policy does not depend on the
/// repository, the branch or the sizes.
pub fn resolve_policy_scope(given: Layer, file: Layer) -> Result<PolicyScope> {
    let env = resolve_env(&given, &file)?;
    let stages = resolve_stages(&given, &file)?;
    let stage_alarms = stages.iter().flat_map(|s| s.alarms.clone()).collect();
    let shift_alarms = shift_alarms(&stages);
    let approval_stages = stages
        .iter()
        .filter(|s| s.approve)
        .map(|s| s.name.clone())
        .collect();
    let stage_targets = stages.into_iter().map(|stage| stage.target).collect();
    let source = pick(given.source, file.source).unwrap_or(SourceMode::GithubWebhook);
    let connection_arn = pick(given.connection_arn, file.connection_arn);
    if connection_arn.is_some() && source != SourceMode::Codeconnections {
        bail!("--connection-arn is used only with --source codeconnections; pass both or neither");
    }
    let github_token_secret = pick(given.github_token_secret, file.github_token_secret);
    let github_status_token_secret = status_token_secret(pick(
        given.github_status_token_secret,
        file.github_status_token_secret,
    ))?;
    Ok(PolicyScope {
        env,
        source,
        connection_arn,
        github_token_secret,
        github_status_token_secret,
        shift_alarms,
        deploy_webhook_secret_arn: pick(
            given.deploy_webhook_secret_arn,
            file.deploy_webhook_secret_arn,
        ),
        deploy_target: pick(given.deploy_target, file.deploy_target)
            .map(|raw| DeployTarget::parse(&raw))
            .transpose()
            .map_err(|problem| anyhow::anyhow!("--deploy-target: {problem}"))?,
        base_image_source: pick(given.base_image_source, file.base_image_source)
            .unwrap_or(BaseImageSource::DockerHub),
        topic_kms_key: pick(given.topic_kms_key, file.topic_kms_key),
        stage_targets,
        stage_alarms,
        approval_stages,
    })
}

/// The stages of the flags, else of the file.
fn resolve_stages(given: &Layer, file: &Layer) -> Result<Vec<stages::StageConfig>> {
    let mut flags = given.stage_flags();
    if flags.stages.is_empty() {
        let from_file = file.stage_flags();
        flags.approve_before.extend(from_file.approve_before);
        flags.bake_minutes.extend(from_file.bake_minutes);
        flags.alarms.extend(from_file.alarms);
        flags.traffic_shifts.extend(from_file.traffic_shifts);
    }
    let tables = pick(given.stage_tables.clone(), file.stage_tables.clone()).unwrap_or_default();
    stages::resolve(&flags, &tables)
}

/// Merges the layers (flags and environment first, then the file) and validates every value:
/// what `plan` and `deploy` need, the source repository included.
pub fn resolve(given: Layer, file: Layer) -> Result<Config> {
    let env = resolve_env(&given, &file)?;
    let repo = pick(given.github_repo.clone(), file.github_repo.clone());
    let Some(repo) = repo else {
        bail!(
            "no source repository given: pass --github-repo OWNER/REPO (or BOOTSTRAP_GITHUB_REPO, or `github-repo` in bootstrap.toml)"
        );
    };
    let (github_owner, github_repo) = check::github_repo(&repo)?;
    let branch =
        pick(given.branch.clone(), file.branch.clone()).unwrap_or_else(|| "main".to_owned());
    check::branch(&branch)?;
    let log_retention_days = pick(given.log_retention_days, file.log_retention_days).unwrap_or(30);
    if !RETENTION_DAYS.contains(&log_retention_days) {
        bail!(
            "--log-retention-days {log_retention_days} is not a period CloudWatch Logs accepts; use one of {RETENTION_DAYS:?}"
        );
    }
    let tags = merged_tags(given.tag.clone(), file.tag.clone())?;
    let notifications = Notifications::resolve(&given, &file)?;
    let delivery = Delivery::resolve(&given, &file)?;
    let sizes = Sizes::resolve(&given, &file)?;
    let source = SourceInputs::resolve(&given, &file)?;
    let stages = resolve_stages(&given, &file)?;
    let topic_kms_key = pick(given.topic_kms_key, file.topic_kms_key);
    if let Some(key) = &topic_kms_key {
        kms_key_region(key)?;
    }
    if !stages.is_empty() {
        check_stage_inputs(&source, &delivery)?;
    }
    check_shifts_fit(&stages, sizes.rollout_timeout_minutes)?;
    stages::check_user_parameters(&env, sizes.rollout_timeout_minutes, &stages)?;
    let github_status_token_secret = status_token_secret(pick(
        given.github_status_token_secret.clone(),
        file.github_status_token_secret.clone(),
    ))?;
    Ok(Config {
        env,
        region: pick(given.region, file.region),
        github_owner,
        github_repo,
        branch,
        source: source.mode,
        github_token_secret: source.github_token_secret,
        github_status_token_secret,
        connection_arn: source.connection_arn,
        file_path_includes: source.file_path_includes,
        file_path_excludes: source.file_path_excludes,
        notify_emails: notifications.emails,
        notify_urls: notifications.urls,
        notify_states: notifications.states,
        artifacts_dir: pick(given.artifacts_dir, file.artifacts_dir),
        lambda_arch: pick(given.lambda_arch, file.lambda_arch),
        tags,
        log_retention_days,
        deploy_webhook_url: delivery.webhook_url,
        deploy_webhook_secret_arn: delivery.webhook_secret_arn,
        deploy_target: delivery.target,
        topic_kms_key,
        lambda_memory_mb: sizes.lambda_memory_mb,
        deploy_timeout_seconds: sizes.deploy_timeout_seconds,
        build_timeout_minutes: sizes.build_timeout_minutes,
        rollout_timeout_minutes: sizes.rollout_timeout_minutes,
        base_image_source: pick(given.base_image_source, file.base_image_source)
            .unwrap_or(BaseImageSource::DockerHub),
        stages,
    })
}

/// The alarms of the stages that shift traffic, which the deploy-handler reads between steps.
pub fn shift_alarms(stages: &[stages::StageConfig]) -> Vec<String> {
    let mut alarms: Vec<String> = stages
        .iter()
        .filter(|stage| stage.traffic_shift.is_some())
        .flat_map(|stage| stage.alarms.clone())
        .collect();
    alarms.sort();
    alarms.dedup();
    alarms
}

/// The secret of the token commit statuses are set with, checked: only the one given. The
/// webhook source's own token could set them (the version 1 source needs the OAuth scope `repo`,
/// CodePipeline User Guide, "GitHub (via OAuth app) source action reference", and `repo` "grants
/// full access to ... commit statuses", GitHub Docs, "Scopes for OAuth apps"), but statuses stay
/// opt-in: an environment deployed before they existed keeps its rule, its notifier, its grants
/// and its administrator's boundary unchanged on its next deploy. A connection's app
/// installation token never reaches bootstrap or the functions.
fn status_token_secret(given: Option<String>) -> Result<Option<String>> {
    if let Some(secret) = &given {
        secret_reference(secret, "--github-status-token-secret")?;
    }
    Ok(given)
}

/// Every traffic shift must end inside the rollout's bound, as the deploy-handler checks each
/// job (it refuses a shift whose waits are not less than `timeoutSeconds`): refused at plan
/// instead of at the first deploy to the stage.
fn check_shifts_fit(stages: &[stages::StageConfig], rollout_timeout_minutes: i32) -> Result<()> {
    let limit = u64::try_from(rollout_timeout_minutes).unwrap_or_default() * 60;
    for stage in stages {
        let (Some(raw), Some(shift)) = (&stage.traffic_shift, stage.shift()) else {
            continue;
        };
        let waits = shift.total_wait().as_secs();
        if waits >= limit {
            bail!(
                "stage `{}`: --traffic-shift {raw} waits {} minutes in all, not less than \
                 --rollout-timeout-minutes {rollout_timeout_minutes}: raise \
                 --rollout-timeout-minutes above {} or shorten the shift",
                stage.name,
                waits / 60,
                waits / 60
            );
        }
    }
    Ok(())
}

/// Stages run in a V2 pipeline only (stage rollback, conditions and the QUEUED execution mode are
/// V2 features: CodePipeline User Guide, "Pipeline types"), and the project runs the GitHub
/// version 1 source (OAuth app, webhook) only in V1 pipelines, as AWS no longer recommends it
/// for new pipelines (CodePipeline User Guide, "GitHub (via OAuth app)" action reference).
fn check_stage_inputs(source: &SourceInputs, delivery: &Delivery) -> Result<()> {
    if source.mode != SourceMode::Codeconnections {
        bail!(
            "stages need --source codeconnections: they run in a V2 pipeline, whose GitHub source is a connection (the webhook source stays on one Deploy stage)"
        );
    }
    if delivery.target.is_some() {
        bail!(
            "--deploy-target and --stage both say where the image goes: give the target as a stage (--stage NAME=TARGET) instead"
        );
    }
    if delivery.webhook_url.is_some() {
        bail!(
            "--deploy-webhook-url is one Deploy stage's delivery; with --stage every stage rolls out to its own target: drop one of them"
        );
    }
    Ok(())
}

impl Config {
    /// Every target the deploy-handler rolls out to: each stage's, or `--deploy-target`.
    pub fn rollout_targets(&self) -> Vec<&DeployTarget> {
        if self.stages.is_empty() {
            self.deploy_target.iter().collect()
        } else {
            self.stages.iter().map(|stage| &stage.target).collect()
        }
    }

    /// Checks what needs the account and region, known only once connected; before any call
    /// that changes anything.
    pub fn check_target(&self, target: &crate::aws::Target) -> Result<()> {
        if let Some(key) = &self.topic_kms_key {
            let region = kms_key_region(key)?;
            if region != target.region {
                bail!(
                    "--topic-kms-key `{key}` is in {region}, but the stack is in {}; SNS uses \
                     keys of its own region only: create the key in {} or deploy to {region}",
                    target.region,
                    target.region
                );
            }
        }
        let secrets = [
            (
                "--deploy-webhook-secret-arn",
                &self.deploy_webhook_secret_arn,
                "deploy-handler",
            ),
            (
                "--github-status-token-secret",
                &self.github_status_token_secret,
                "event-notifier",
            ),
        ];
        for (flag, secret, reader) in secrets {
            if let Some(secret) = secret
                && let Some((region, account)) = secret_reference(secret, flag)?
                && (region != target.region || account != target.account_id)
            {
                bail!(
                    "{flag} `{secret}` is in account {account} region {region}, but the stack is \
                     in account {} region {}: the {reader} reads the secret with its own role, so \
                     keep the secret in the stack's account and region",
                    target.account_id,
                    target.region
                );
            }
        }
        Ok(())
    }
}

/// The region of a KMS key ARN (`arn:PARTITION:kms:REGION:ACCOUNT:key/KEY-ID`). Aliases are
/// refused: IAM grants KMS use by key ARN, so the event-notifier's policy needs the key itself.
fn kms_key_region(raw: &str) -> Result<&str> {
    let fix = "give the ARN of a customer managed key, arn:aws:kms:REGION:ACCOUNT:key/KEY-ID, \
               whose key policy lets events.amazonaws.com and the account use it (README: Encryption)";
    if raw.contains("alias/") {
        bail!(
            "--topic-kms-key `{raw}` is an alias; {fix}. The AWS managed key alias/aws/sns cannot \
             be used: EventBridge cannot publish to a topic it encrypts"
        );
    }
    let parts: Vec<&str> = raw.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "kms", region, account, resource]
            if !partition.is_empty()
                && !region.is_empty()
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && resource
                    .strip_prefix("key/")
                    .is_some_and(|id| !id.is_empty() && !id.contains('/')) =>
        {
            Ok(region)
        }
        _ => bail!("--topic-kms-key `{raw}` is not a KMS key ARN; {fix}"),
    }
}

/// A Secrets Manager secret named by a name or an ARN of this account; the region and account of
/// an ARN, when it is one. The full ARN is resolved once connected (`secrets::resolve_arn`).
fn secret_reference<'a>(raw: &'a str, flag: &str) -> Result<Option<(&'a str, &'a str)>> {
    if let Some(rest) = raw.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(6, ':').collect();
        return match parts.as_slice() {
            [partition, "secretsmanager", region, account, "secret", name]
                if !partition.is_empty()
                    && !region.is_empty()
                    && account.len() == 12
                    && account.chars().all(|c| c.is_ascii_digit())
                    && !name.is_empty() =>
            {
                Ok(Some((region, account)))
            }
            _ => bail!(
                "{flag} `{raw}` is not a Secrets Manager secret ARN \
                 (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX); give that, or the \
                 secret's name"
            ),
        };
    }
    // Secrets Manager names: 1-512 of letters, digits and /_+=.@- (CreateSecret, Name).
    let valid = !raw.is_empty()
        && raw.len() <= 512
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c));
    if !valid {
        bail!(
            "{flag} `{raw}` is neither a secret ARN nor a secret name (1-512 letters, digits and \
             /_+=.@-)"
        );
    }
    Ok(None)
}

/// Parses `KEY=VALUE` (for `--tag`).
pub fn parse_tag(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("--tag `{raw}` is not KEY=VALUE"))
}

#[cfg(test)]
mod config_tests;
