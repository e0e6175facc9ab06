//! Configuration from the Lambda environment (names in `pipeline_common::env_vars`), checked
//! once at init so a bad value fails the cold start with a message that says how to fix it.

use std::collections::BTreeSet;

use pipeline_common::{EnvName, env_vars};

/// Pipeline-level states that notify when `NOTIFY_STATES` is unset.
pub const DEFAULT_NOTIFY_STATES: &str = "STARTED,SUCCEEDED,FAILED";
/// Pipeline states AWS documents; others are accepted (AWS adds states) but logged at init.
pub const DOCUMENTED_PIPELINE_STATES: &[&str] = &pipeline_common::PIPELINE_EXECUTION_STATES;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub topic_arn: String,
    /// Upper-case pipeline-level states that notify. Stage and action events notify only when FAILED.
    pub notify_states: BTreeSet<String>,
    pub environment: Option<String>,
    pub chatbot_format: bool,
    /// `AWS_REGION`, for console links of events without a region.
    pub region: Option<String>,
    /// Commit statuses on GitHub: set when `GITHUB_STATUS_TOKEN_SECRET` is.
    pub github: Option<GitHubSettings>,
}

/// Where commit statuses go and which secret holds the token (its ARN; never the token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitHubSettings {
    pub token_secret: String,
    pub target: crate::github::GitHubTarget,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "{name} is not set; set it to the ARN of the SNS topic to publish to (arn:aws:sns:REGION:ACCOUNT:NAME)"
    )]
    MissingTopic { name: &'static str },
    #[error(
        "{name}=`{value}` is not an SNS topic ARN; expected arn:PARTITION:sns:REGION:ACCOUNT:NAME"
    )]
    BadTopic { name: &'static str, value: String },
    #[error(
        "{name}=`{value}` lists no states; set a comma list such as {DEFAULT_NOTIFY_STATES}, or unset it for that default"
    )]
    EmptyStates { name: &'static str, value: String },
    #[error(
        "{name} contains `{state}`; states are letters and underscores, such as FAILED or SUPERSEDED"
    )]
    BadState { name: &'static str, state: String },
    #[error("{name}=`{value}` is not a boolean; use true or false")]
    BadBool { name: &'static str, value: String },
    #[error("{name}: {reason}")]
    BadEnvironment { name: &'static str, reason: String },
    #[error("{name}: {reason}")]
    BadGitHub { name: &'static str, reason: String },
}

impl Config {
    /// Reads the configuration through `var` (so tests need not touch the process environment).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let set = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let topic_arn = set(env_vars::NOTIFY_TOPIC_ARN).ok_or(ConfigError::MissingTopic {
            name: env_vars::NOTIFY_TOPIC_ARN,
        })?;
        if !is_topic_arn(&topic_arn) {
            return Err(ConfigError::BadTopic {
                name: env_vars::NOTIFY_TOPIC_ARN,
                value: topic_arn,
            });
        }
        let notify_states = match var(env_vars::NOTIFY_STATES) {
            None => parse_states(DEFAULT_NOTIFY_STATES)?,
            Some(raw) => parse_states(&raw)?,
        };
        let environment = match set(env_vars::PIPELINE_ENV) {
            None => None,
            Some(raw) => Some(
                EnvName::parse(&raw)
                    .map_err(|e| ConfigError::BadEnvironment {
                        name: env_vars::PIPELINE_ENV,
                        reason: e.to_string(),
                    })?
                    .to_string(),
            ),
        };
        let chatbot_format = match set(env_vars::NOTIFY_CHATBOT_FORMAT) {
            None => false,
            Some(raw) => match raw.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => {
                    return Err(ConfigError::BadBool {
                        name: env_vars::NOTIFY_CHATBOT_FORMAT,
                        value: raw,
                    });
                }
            },
        };
        Ok(Self {
            topic_arn,
            notify_states,
            environment,
            chatbot_format,
            region: set("AWS_REGION"),
            github: github_settings(&set)?,
        })
    }

    /// Configured states AWS does not document: probably typos, worth a warning at init.
    pub fn undocumented_states(&self) -> Vec<&str> {
        self.notify_states
            .iter()
            .map(String::as_str)
            .filter(|s| !DOCUMENTED_PIPELINE_STATES.contains(s))
            .collect()
    }
}

/// `GITHUB_STATUS_TOKEN_SECRET` turns commit statuses on; then `GITHUB_REPOSITORY` is required and
/// `GITHUB_API_URL` optional. Without the secret, the other two are ignored.
fn github_settings(
    set: &impl Fn(&str) -> Option<String>,
) -> Result<Option<GitHubSettings>, ConfigError> {
    let Some(token_secret) = set(env_vars::GITHUB_STATUS_TOKEN_SECRET) else {
        return Ok(None);
    };
    let repository = set(env_vars::GITHUB_REPOSITORY).ok_or(ConfigError::BadGitHub {
        name: env_vars::GITHUB_REPOSITORY,
        reason: format!(
            "not set, but {} is; set it to the repository whose commits get the statuses (owner/repo), or unset {} to set none",
            env_vars::GITHUB_STATUS_TOKEN_SECRET,
            env_vars::GITHUB_STATUS_TOKEN_SECRET
        ),
    })?;
    let api_url = set(env_vars::GITHUB_API_URL);
    let target =
        crate::github::GitHubTarget::parse(&repository, api_url.as_deref()).map_err(|reason| {
            ConfigError::BadGitHub {
                name: if reason.contains("owner/repo") {
                    env_vars::GITHUB_REPOSITORY
                } else {
                    env_vars::GITHUB_API_URL
                },
                reason,
            }
        })?;
    Ok(Some(GitHubSettings {
        token_secret,
        target,
    }))
}

fn parse_states(raw: &str) -> Result<BTreeSet<String>, ConfigError> {
    let mut states = BTreeSet::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !item.chars().all(|c| c.is_ascii_alphabetic() || c == '_') {
            return Err(ConfigError::BadState {
                name: env_vars::NOTIFY_STATES,
                state: item.to_owned(),
            });
        }
        states.insert(item.to_ascii_uppercase());
    }
    if states.is_empty() {
        return Err(ConfigError::EmptyStates {
            name: env_vars::NOTIFY_STATES,
            value: raw.to_owned(),
        });
    }
    Ok(states)
}

fn is_topic_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "sns"
        && parts[3..].iter().all(|p| !p.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:notifications-dev";

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_only_the_topic_is_set() {
        let c = config(&[("NOTIFY_TOPIC_ARN", TOPIC)]).expect("valid");
        assert_eq!(
            c.notify_states,
            ["FAILED", "STARTED", "SUCCEEDED"].map(String::from).into()
        );
        assert!(!c.chatbot_format);
        assert_eq!(c.environment, None);
    }

    #[test]
    fn topic_is_required_and_must_be_an_sns_arn() {
        let missing = config(&[]).expect_err("missing");
        assert!(
            missing.to_string().contains("NOTIFY_TOPIC_ARN is not set"),
            "{missing}"
        );
        let bad = config(&[("NOTIFY_TOPIC_ARN", "notifications-dev")]).expect_err("bad");
        assert!(
            bad.to_string()
                .contains("arn:PARTITION:sns:REGION:ACCOUNT:NAME"),
            "{bad}"
        );
        assert!(config(&[("NOTIFY_TOPIC_ARN", "arn:aws:sqs:eu-west-1:1:q")]).is_err());
    }

    #[test]
    fn states_are_trimmed_upper_cased_and_validated() {
        let c = config(&[
            ("NOTIFY_TOPIC_ARN", TOPIC),
            ("NOTIFY_STATES", " failed , SUPERSEDED,"),
        ])
        .expect("valid");
        assert_eq!(
            c.notify_states,
            ["FAILED", "SUPERSEDED"].map(String::from).into()
        );
        assert!(matches!(
            config(&[("NOTIFY_TOPIC_ARN", TOPIC), ("NOTIFY_STATES", " , ")]),
            Err(ConfigError::EmptyStates { .. })
        ));
        assert!(matches!(
            config(&[
                ("NOTIFY_TOPIC_ARN", TOPIC),
                ("NOTIFY_STATES", "FAILED;STARTED")
            ]),
            Err(ConfigError::BadState { .. })
        ));
    }

    #[test]
    fn github_settings_need_a_repository_and_a_safe_url() {
        let off = config(&[("NOTIFY_TOPIC_ARN", TOPIC), ("GITHUB_REPOSITORY", "a/b")]).unwrap();
        assert_eq!(off.github, None);
        let secret = (
            "GITHUB_STATUS_TOKEN_SECRET",
            "arn:aws:secretsmanager:eu-west-1:1:secret:gh-AbCdEf",
        );
        let on = config(&[
            ("NOTIFY_TOPIC_ARN", TOPIC),
            secret,
            ("GITHUB_REPOSITORY", "octo-org/app"),
        ])
        .unwrap();
        let github = on.github.unwrap();
        assert_eq!(github.target.api_url, "https://api.github.com");
        assert_eq!(github.target.repository, "octo-org/app");
        let missing = config(&[("NOTIFY_TOPIC_ARN", TOPIC), secret]).unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("GITHUB_REPOSITORY: not set"),
            "{missing}"
        );
        let bad_repo = config(&[
            ("NOTIFY_TOPIC_ARN", TOPIC),
            secret,
            ("GITHUB_REPOSITORY", "app"),
        ])
        .unwrap_err();
        assert!(
            bad_repo.to_string().starts_with("GITHUB_REPOSITORY:"),
            "{bad_repo}"
        );
        let plain = config(&[
            ("NOTIFY_TOPIC_ARN", TOPIC),
            secret,
            ("GITHUB_REPOSITORY", "a/b"),
            ("GITHUB_API_URL", "http://ghe.example.com/api/v3"),
        ])
        .unwrap_err();
        assert!(plain.to_string().starts_with("GITHUB_API_URL:"), "{plain}");
    }

    #[test]
    fn undocumented_states_are_kept_but_reported() {
        let c = config(&[
            ("NOTIFY_TOPIC_ARN", TOPIC),
            ("NOTIFY_STATES", "FAILD,FAILED"),
        ])
        .expect("valid");
        assert_eq!(c.undocumented_states(), vec!["FAILD"]);
    }

    #[test]
    fn chatbot_flag_and_environment_are_checked() {
        let c = config(&[
            ("NOTIFY_TOPIC_ARN", TOPIC),
            ("NOTIFY_CHATBOT_FORMAT", "TRUE"),
            ("PIPELINE_ENV", "dev"),
        ])
        .expect("valid");
        assert!(c.chatbot_format);
        assert_eq!(c.environment.as_deref(), Some("dev"));
        let bad = config(&[
            ("NOTIFY_TOPIC_ARN", TOPIC),
            ("NOTIFY_CHATBOT_FORMAT", "maybe"),
        ])
        .expect_err("bad bool");
        assert!(bad.to_string().contains("use true or false"), "{bad}");
        assert!(matches!(
            config(&[("NOTIFY_TOPIC_ARN", TOPIC), ("PIPELINE_ENV", "Dev")]),
            Err(ConfigError::BadEnvironment { .. })
        ));
    }
}
