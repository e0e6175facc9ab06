//! The parts of a configuration that are checked together: tags, notifications, how the Deploy
//! stage delivers, sizes, and the source mode's own options.

use super::check;
use super::{Layer, SourceMode, pick, secret_reference};
use anyhow::{Result, bail};
use pipeline_common::DeployTarget;
use std::collections::BTreeMap;

/// The file's `[tag]` table, then the flags (a flag wins over the file for the same key); a
/// key given twice on the command line is refused rather than silently dropped.
pub(super) fn merged_tags(
    given: Option<Vec<(String, String)>>,
    file: Option<Vec<(String, String)>>,
) -> Result<BTreeMap<String, String>> {
    let given = given.unwrap_or_default();
    let mut flags = BTreeMap::new();
    for (key, value) in &given {
        if flags.insert(key.clone(), value.clone()).is_some() {
            bail!("--tag {key} is given twice; give each key once");
        }
    }
    let mut tags: BTreeMap<String, String> = file.into_iter().flatten().collect();
    tags.extend(flags);
    check::tags(&tags)?;
    Ok(tags)
}

/// Who is told, and of which states.
pub(super) struct Notifications {
    pub(super) emails: Vec<String>,
    pub(super) urls: Vec<String>,
    pub(super) states: Vec<String>,
}

impl Notifications {
    pub(super) fn resolve(given: &Layer, file: &Layer) -> Result<Self> {
        let emails = pick(given.notify_email.clone(), file.notify_email.clone())
            .unwrap_or_default()
            .iter()
            .map(|raw| check::email(raw))
            .collect::<Result<_>>()?;
        let urls = pick(given.notify_url.clone(), file.notify_url.clone())
            .unwrap_or_default()
            .iter()
            .map(|raw| check::https_url("--notify-url", raw, "SNS delivers to HTTPS endpoints"))
            .collect::<Result<_>>()?;
        let states: Vec<String> =
            match pick(given.notify_states.clone(), file.notify_states.clone()) {
                Some(states) => states
                    .iter()
                    .map(|raw| check::notify_state(raw))
                    .collect::<Result<_>>()?,
                None => ["STARTED", "SUCCEEDED", "FAILED"]
                    .map(String::from)
                    .to_vec(),
            };
        if states.is_empty() {
            bail!(
                "--notify-states lists no state; give some of {}",
                pipeline_common::PIPELINE_EXECUTION_STATES.join(",")
            );
        }
        Ok(Self {
            emails,
            urls,
            states,
        })
    }
}

/// Where the Deploy stage sends the image: a target it rolls out itself, or a signed webhook.
pub(super) struct Delivery {
    pub(super) webhook_url: Option<String>,
    pub(super) webhook_secret_arn: Option<String>,
    pub(super) target: Option<DeployTarget>,
}

impl Delivery {
    pub(super) fn resolve(given: &Layer, file: &Layer) -> Result<Self> {
        let webhook_url = pick(
            given.deploy_webhook_url.clone(),
            file.deploy_webhook_url.clone(),
        )
        .map(|raw| {
            check::https_url(
                "--deploy-webhook-url",
                &raw,
                "the deployment event is signed, not encrypted",
            )
        })
        .transpose()?;
        let webhook_secret_arn = pick(
            given.deploy_webhook_secret_arn.clone(),
            file.deploy_webhook_secret_arn.clone(),
        );
        match (&webhook_url, &webhook_secret_arn) {
            (None, Some(_)) => bail!(
                "--deploy-webhook-secret-arn is given without --deploy-webhook-url; the secret signs \
                 the webhook's requests: give both, or neither"
            ),
            (Some(url), None) => bail!(
                "--deploy-webhook-url {url} is given without --deploy-webhook-secret-arn; every \
                 deployment event is signed, so the deploy-handler would fail each job: create a \
                 Secrets Manager secret with a random key and give its name or ARN too"
            ),
            (Some(_), Some(secret)) => {
                secret_reference(secret, "--deploy-webhook-secret-arn")?;
            }
            (None, None) => {}
        }
        let target = pick(given.deploy_target.clone(), file.deploy_target.clone())
            .map(|raw| DeployTarget::parse(&raw))
            .transpose()
            .map_err(|problem| anyhow::anyhow!("--deploy-target: {problem}"))?;
        if let (Some(target), Some(_)) = (&target, &webhook_url) {
            bail!(
                "--deploy-target {} and --deploy-webhook-url are both given; the Deploy stage either rolls the image \
                 out itself or hands it to your webhook: give one",
                target.spec()
            );
        }
        Ok(Self {
            webhook_url,
            webhook_secret_arn,
            target,
        })
    }
}

/// Memory and timeouts, each within what its service accepts.
pub(super) struct Sizes {
    pub(super) lambda_memory_mb: i32,
    pub(super) deploy_timeout_seconds: i32,
    pub(super) build_timeout_minutes: i32,
    pub(super) rollout_timeout_minutes: i32,
}

/// CodePipeline fails a Lambda invoke action not finished after 24 hours (CodePipeline User
/// Guide, "Quotas in AWS CodePipeline"); a rollout's bound must end it first, with its reason.
pub const MAX_ROLLOUT_TIMEOUT_MINUTES: i32 = 24 * 60 - 1;
/// The bound when none is given: one hour (the deploy-handler's own default too).
pub const DEFAULT_ROLLOUT_TIMEOUT_MINUTES: i32 = 60;

impl Sizes {
    pub(super) fn resolve(given: &Layer, file: &Layer) -> Result<Self> {
        let lambda_memory_mb = pick(given.lambda_memory_mb, file.lambda_memory_mb).unwrap_or(128);
        if !(128..=10240).contains(&lambda_memory_mb) {
            bail!("--lambda-memory-mb {lambda_memory_mb} is outside Lambda's 128..=10240");
        }
        let deploy_timeout_seconds =
            pick(given.deploy_timeout_seconds, file.deploy_timeout_seconds).unwrap_or(120);
        if !(10..=900).contains(&deploy_timeout_seconds) {
            bail!(
                "--deploy-timeout-seconds {deploy_timeout_seconds} is outside 10..=900 (Lambda's limit is 900)"
            );
        }
        let build_timeout_minutes =
            pick(given.build_timeout_minutes, file.build_timeout_minutes).unwrap_or(30);
        if !(5..=2160).contains(&build_timeout_minutes) {
            bail!(
                "--build-timeout-minutes {build_timeout_minutes} is outside CodeBuild's 5..=2160"
            );
        }
        let rollout_timeout_minutes =
            pick(given.rollout_timeout_minutes, file.rollout_timeout_minutes)
                .unwrap_or(DEFAULT_ROLLOUT_TIMEOUT_MINUTES);
        if !(1..=MAX_ROLLOUT_TIMEOUT_MINUTES).contains(&rollout_timeout_minutes) {
            bail!(
                "--rollout-timeout-minutes {rollout_timeout_minutes} is outside 1..={MAX_ROLLOUT_TIMEOUT_MINUTES}: \
                 CodePipeline fails a Lambda invoke action after 24 hours, so the rollout's own bound must come first"
            );
        }
        Ok(Self {
            lambda_memory_mb,
            deploy_timeout_seconds,
            build_timeout_minutes,
            rollout_timeout_minutes,
        })
    }
}

/// The source mode and the options that belong to it; an option of the other mode is refused,
/// not ignored.
pub(super) struct SourceInputs {
    pub(super) mode: SourceMode,
    pub(super) github_token_secret: Option<String>,
    pub(super) connection_arn: Option<String>,
    pub(super) file_path_includes: Vec<String>,
    pub(super) file_path_excludes: Vec<String>,
}

impl SourceInputs {
    pub(super) fn resolve(given: &Layer, file: &Layer) -> Result<Self> {
        let mode = pick(given.source, file.source).unwrap_or(SourceMode::GithubWebhook);
        let inputs = Self {
            mode,
            github_token_secret: pick(
                given.github_token_secret.clone(),
                file.github_token_secret.clone(),
            ),
            connection_arn: pick(given.connection_arn.clone(), file.connection_arn.clone()),
            file_path_includes: pick(
                given.file_path_includes.clone(),
                file.file_path_includes.clone(),
            )
            .unwrap_or_default(),
            file_path_excludes: pick(
                given.file_path_excludes.clone(),
                file.file_path_excludes.clone(),
            )
            .unwrap_or_default(),
        };
        let connection_only = [
            ("--connection-arn", inputs.connection_arn.is_some()),
            ("--file-path-include", !inputs.file_path_includes.is_empty()),
            ("--file-path-exclude", !inputs.file_path_excludes.is_empty()),
        ];
        match mode {
            SourceMode::GithubWebhook => {
                if let Some((flag, _)) = connection_only.iter().find(|(_, given)| *given) {
                    bail!(
                        "{flag} applies to --source codeconnections only (the GitHub webhook source \
                         starts on every push to the branch): add --source codeconnections, or drop {flag}"
                    );
                }
            }
            SourceMode::Codeconnections => {
                if inputs.github_token_secret.is_some() {
                    bail!(
                        "--github-token-secret applies to --source github-webhook only (a connection \
                         needs no token): drop it, or use --source github-webhook"
                    );
                }
            }
        }
        let is_connection = |arn: &str| {
            arn.starts_with("arn:")
                && (arn.contains(":codestar-connections:") || arn.contains(":codeconnections:"))
        };
        if let Some(arn) = inputs
            .connection_arn
            .as_deref()
            .filter(|arn| !is_connection(arn))
        {
            bail!("--connection-arn `{arn}` is not a CodeStar/CodeConnections connection ARN");
        }
        Ok(inputs)
    }
}
