//! Configuration from the Lambda environment (names in `pipeline_common::env_vars`), read once
//! at init. Reading never fails: a function that cannot start reports nothing and leaves the
//! pipeline waiting, so a bad value is kept as a [`ConfigProblem`] that names the variable and
//! the fix, logged at init, and either replaced by its default or reported by the first job.

use std::time::Duration;

use pipeline_common::{DeployTarget, env_vars};

use crate::delivery::secret::WebhookSecret;
use crate::s3_artifact::S3Endpoint;
use crate::transport::aws::Endpoints;

/// Default reserve before the Lambda deadline, for reporting the result.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_millis(5000);
/// The region when neither the environment nor a profile names one.
const DEFAULT_REGION: &str = "us-east-1";

/// What the handler reads per job.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub deadline_margin: Duration,
    /// `PIPELINE_ENV`: default environment and the pipeline name when job details are unavailable.
    pub pipeline_env: Option<String>,
    pub webhook_url: Option<String>,
    pub event_bus: Option<String>,
    /// `DEPLOY_TARGET`: the ECS service or Lambda function the image is rolled out to (parsed
    /// per job too, so a bad value fails the job with a message instead of the function's start).
    pub deploy_target: Option<String>,
}

/// Where the webhook's HMAC secret comes from.
#[derive(Clone, Debug)]
pub enum SecretSetting {
    /// `DEPLOY_WEBHOOK_SECRET_ARN`: a Secrets Manager secret id, read at first use.
    SecretsManager(String),
    /// `DEPLOY_WEBHOOK_SECRET`: the secret itself.
    Inline(WebhookSecret),
    None,
}

/// Everything `main.rs` wires from the environment.
#[derive(Clone, Debug)]
pub struct Config {
    pub settings: Settings,
    pub webhook_secret: SecretSetting,
    /// `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_ECS`, `AWS_ENDPOINT_URL_LAMBDA`: the
    /// service-specific endpoints (AWS SDKs and Tools Reference Guide, "Service-specific
    /// endpoints"); `AWS_ENDPOINT_URL` comes through the SDK's shared configuration.
    pub s3_endpoint: Option<String>,
    pub ecs_endpoint: Option<String>,
    pub lambda_endpoint: Option<String>,
}

/// A value the function runs without, or with its default; each says how to fix it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigProblem {
    #[error(
        "{name}=`{value}` is not a whole number of milliseconds; using {default_ms} ms: set it to a number such as 5000, or unset it"
    )]
    BadNumber {
        name: &'static str,
        value: String,
        default_ms: u128,
    },
    #[error("{name}: {problem}; every job will fail until it is fixed (or unset)")]
    BadTarget { name: &'static str, problem: String },
    #[error(
        "{target} and {webhook} are both set; every job will fail until one is unset (one Deploy action rolls out one way)"
    )]
    TargetAndWebhook {
        target: &'static str,
        webhook: &'static str,
    },
    #[error(
        "{webhook} is set but neither {arn} nor {secret} is; webhook deliveries will fail until one holds the HMAC secret"
    )]
    WebhookWithoutSecret {
        webhook: &'static str,
        arn: &'static str,
        secret: &'static str,
    },
}

impl Config {
    /// Reads the configuration through `var` (so tests need not touch the process environment).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> (Self, Vec<ConfigProblem>) {
        let set = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut problems = Vec::new();
        let deadline_margin = match set(env_vars::DEPLOY_DEADLINE_MARGIN_MS) {
            None => DEFAULT_DEADLINE_MARGIN,
            Some(value) => value.parse::<u64>().map_or_else(
                |_| {
                    problems.push(ConfigProblem::BadNumber {
                        name: env_vars::DEPLOY_DEADLINE_MARGIN_MS,
                        value,
                        default_ms: DEFAULT_DEADLINE_MARGIN.as_millis(),
                    });
                    DEFAULT_DEADLINE_MARGIN
                },
                Duration::from_millis,
            ),
        };
        let settings = Settings {
            deadline_margin,
            pipeline_env: set(env_vars::PIPELINE_ENV),
            webhook_url: set(env_vars::DEPLOY_WEBHOOK_URL),
            event_bus: set(env_vars::DEPLOY_EVENT_BUS),
            deploy_target: set(env_vars::DEPLOY_TARGET),
        };
        let webhook_secret = match (
            set(env_vars::DEPLOY_WEBHOOK_SECRET_ARN),
            set(env_vars::DEPLOY_WEBHOOK_SECRET),
        ) {
            (Some(secret_id), _) => SecretSetting::SecretsManager(secret_id),
            (None, Some(secret)) => SecretSetting::Inline(WebhookSecret::new(secret)),
            (None, None) => SecretSetting::None,
        };
        problems.extend(target_problems(&settings, &webhook_secret));
        let config = Self {
            settings,
            webhook_secret,
            s3_endpoint: set("AWS_ENDPOINT_URL_S3"),
            ecs_endpoint: set("AWS_ENDPOINT_URL_ECS"),
            lambda_endpoint: set("AWS_ENDPOINT_URL_LAMBDA"),
        };
        (config, problems)
    }

    /// S3's endpoint: `AWS_ENDPOINT_URL_S3`, else the shared endpoint, else AWS's.
    pub fn s3(&self, region: Option<&str>, shared_endpoint: Option<&str>) -> S3Endpoint {
        S3Endpoint::new(
            region.unwrap_or(DEFAULT_REGION),
            self.s3_endpoint
                .clone()
                .or_else(|| shared_endpoint.map(str::to_owned)),
        )
    }

    /// The rollouts' endpoints, each its own variable first, then the shared endpoint.
    pub fn rollout(&self, region: Option<&str>, shared_endpoint: Option<&str>) -> Endpoints {
        let shared = || shared_endpoint.map(str::to_owned);
        Endpoints {
            region: region.unwrap_or(DEFAULT_REGION).to_owned(),
            ecs: self.ecs_endpoint.clone().or_else(shared),
            lambda: self.lambda_endpoint.clone().or_else(shared),
        }
    }
}

/// What every job would refuse, said once at init as well.
fn target_problems(settings: &Settings, secret: &SecretSetting) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    if let Some(raw) = &settings.deploy_target
        && let Err(problem) = DeployTarget::parse(raw)
    {
        problems.push(ConfigProblem::BadTarget {
            name: env_vars::DEPLOY_TARGET,
            problem: problem.to_string(),
        });
    }
    if settings.deploy_target.is_some() && settings.webhook_url.is_some() {
        problems.push(ConfigProblem::TargetAndWebhook {
            target: env_vars::DEPLOY_TARGET,
            webhook: env_vars::DEPLOY_WEBHOOK_URL,
        });
    }
    if settings.webhook_url.is_some() && matches!(secret, SecretSetting::None) {
        problems.push(ConfigProblem::WebhookWithoutSecret {
            webhook: env_vars::DEPLOY_WEBHOOK_URL,
            arn: env_vars::DEPLOY_WEBHOOK_SECRET_ARN,
            secret: env_vars::DEPLOY_WEBHOOK_SECRET,
        });
    }
    problems
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> (Config, Vec<ConfigProblem>) {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn nothing_set_is_a_recording_only_function_with_defaults() {
        let (config, problems) = read(&[]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(config.settings.deadline_margin, DEFAULT_DEADLINE_MARGIN);
        assert!(config.settings.webhook_url.is_none() && config.settings.deploy_target.is_none());
        assert!(matches!(config.webhook_secret, SecretSetting::None));
        assert_eq!(
            config.s3(None, None).object_url("artifacts-1", "k"),
            "https://artifacts-1.s3.us-east-1.amazonaws.com/k"
        );
    }

    #[test]
    fn values_are_trimmed_and_blank_ones_are_unset() {
        let (config, problems) = read(&[
            (env_vars::DEPLOY_DEADLINE_MARGIN_MS, " 1500 "),
            (env_vars::PIPELINE_ENV, "  "),
            (env_vars::DEPLOY_EVENT_BUS, " default "),
        ]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(config.settings.deadline_margin, Duration::from_millis(1500));
        assert_eq!(config.settings.pipeline_env, None);
        assert_eq!(config.settings.event_bus.as_deref(), Some("default"));
    }

    #[test]
    fn a_bad_margin_keeps_the_default_and_says_how_to_fix_it() {
        let (config, problems) = read(&[(env_vars::DEPLOY_DEADLINE_MARGIN_MS, "5s")]);
        assert_eq!(config.settings.deadline_margin, DEFAULT_DEADLINE_MARGIN);
        let message = problems[0].to_string();
        assert!(
            message.starts_with("DEPLOY_DEADLINE_MARGIN_MS=`5s` is not a whole number")
                && message.contains("using 5000 ms")
                && message.contains("such as 5000"),
            "{message}"
        );
    }

    #[test]
    fn target_problems_are_named_at_init() {
        let (config, problems) = read(&[(env_vars::DEPLOY_TARGET, "kubernetes:web")]);
        assert_eq!(
            config.settings.deploy_target.as_deref(),
            Some("kubernetes:web"),
            "kept, so each job fails with the same message"
        );
        let message = problems[0].to_string();
        assert!(
            message.starts_with("DEPLOY_TARGET: ") && message.contains("ecs:CLUSTER/SERVICE"),
            "{message}"
        );

        let (_, problems) = read(&[
            (env_vars::DEPLOY_TARGET, "ecs:prod/web"),
            (env_vars::DEPLOY_WEBHOOK_URL, "https://deploy.example.com/"),
            (env_vars::DEPLOY_WEBHOOK_SECRET, "k"),
        ]);
        assert_eq!(
            problems,
            [ConfigProblem::TargetAndWebhook {
                target: "DEPLOY_TARGET",
                webhook: "DEPLOY_WEBHOOK_URL"
            }]
        );

        let (_, problems) = read(&[(env_vars::DEPLOY_WEBHOOK_URL, "https://deploy.example.com/")]);
        let message = problems[0].to_string();
        assert!(
            message.contains("DEPLOY_WEBHOOK_SECRET_ARN nor DEPLOY_WEBHOOK_SECRET"),
            "{message}"
        );
    }

    #[test]
    fn the_secret_id_wins_over_the_inline_secret_which_is_never_printed() {
        let (config, _) = read(&[
            (env_vars::DEPLOY_WEBHOOK_SECRET_ARN, "hook-secret"),
            (env_vars::DEPLOY_WEBHOOK_SECRET, "hunter2"),
        ]);
        assert!(
            matches!(&config.webhook_secret, SecretSetting::SecretsManager(id) if id == "hook-secret")
        );
        let (config, _) = read(&[(env_vars::DEPLOY_WEBHOOK_SECRET, "hunter2")]);
        assert!(matches!(config.webhook_secret, SecretSetting::Inline(_)));
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn service_endpoints_win_over_the_shared_one() {
        let (config, _) = read(&[
            ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000"),
            ("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:9001"),
        ]);
        let shared = Some("http://127.0.0.1:5000");
        assert_eq!(
            config.s3(Some("eu-west-1"), shared).object_url("b", "k"),
            "http://127.0.0.1:9000/b/k"
        );
        assert_eq!(
            config.rollout(Some("eu-west-1"), shared),
            Endpoints {
                region: "eu-west-1".into(),
                ecs: Some("http://127.0.0.1:5000".into()),
                lambda: Some("http://127.0.0.1:9001".into()),
            }
        );
    }
}
