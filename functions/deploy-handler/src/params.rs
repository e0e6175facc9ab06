//! The action's `UserParameters`: an optional JSON object with a small, documented set of keys.

use serde::Deserialize;

use crate::rollout::lambda_shift::{MAX_ALARM_NAME_LEN, MAX_ALARMS, ShiftPlan, TrafficShift};

/// CodePipeline's limit for an action configuration value.
pub const MAX_USER_PARAMETERS_LEN: usize = 1000;
/// Upper bound for `timeoutSeconds`: CodePipeline gives an action at most 24 hours in all.
pub const MAX_TIMEOUT_SECONDS: u64 = 24 * 60 * 60;
/// A rollout's bound when `timeoutSeconds` is absent: one hour, well below CodePipeline's own
/// limit for a Lambda invoke action ("If not successful after 24 hours, CodePipeline sets the
/// Lambda invoke action state to failed"; CodePipeline User Guide, "Quotas in AWS CodePipeline",
/// https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html), so a rollout that never
/// ends (no circuit breaker, tasks failing forever) fails with what still runs, not a bare timeout.
/// bootstrap's `--rollout-timeout-minutes` defaults to the same hour.
pub const DEFAULT_ROLLOUT_TIMEOUT_SECONDS: u64 = 60 * 60;
const MAX_NAME_LEN: usize = 128;

/// Keys accepted in `UserParameters` (see README): all optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UserParameters {
    /// Environment named in the deployment event (default: the function's `PIPELINE_ENV`).
    pub environment: Option<String>,
    /// Service to deploy; selects the container in `imagedefinitions.json` (default `app`).
    pub service: Option<String>,
    /// Overrides `DEPLOY_WEBHOOK_URL` for this action.
    pub webhook_url: Option<String>,
    /// Longest a long (202 Accepted) deployment or a rollout may stay in progress before the job
    /// fails (a rollout's default: [`DEFAULT_ROLLOUT_TIMEOUT_SECONDS`]).
    pub timeout_seconds: Option<u64>,
    /// Where this action rolls the image out (`ecs:CLUSTER/SERVICE[/CONTAINER]` or
    /// `lambda:FUNCTION[:ALIAS]`); overrides `DEPLOY_TARGET`, so one function serves every stage
    /// of a pipeline with stages.
    pub target: Option<String>,
    /// The pipeline stage this action belongs to, named in logs and summaries.
    pub stage: Option<String>,
    /// How a Lambda alias's traffic moves to the new version: `all-at-once` (the default),
    /// `canaryP-Mm` or `linearP-Mm` ([`TrafficShift::parse`]).
    pub traffic_shift: Option<String>,
    /// CloudWatch alarms read between the steps of a Lambda traffic shift: one in ALARM sends
    /// all traffic back to the previous version and fails the job.
    pub alarms: Option<Vec<String>>,
    /// Debug builds only: panic inside the handler, to prove the panic hook reports the job.
    #[cfg(debug_assertions)]
    #[serde(default)]
    pub panic_for_test: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    #[error(
        "UserParameters is {len} characters; CodePipeline allows at most {MAX_USER_PARAMETERS_LEN}: \
         shorten the action's UserParameters"
    )]
    TooLong { len: usize },
    #[error(
        "UserParameters is not a valid JSON object ({problem}); set it to e.g. \
         {{\"environment\": \"dev\", \"service\": \"app\"}} with only the keys \
         environment, service, webhookUrl, timeoutSeconds, target, stage, trafficShift, alarms"
    )]
    Invalid { problem: String },
    #[error("UserParameters key `{key}` {problem}")]
    BadValue { key: &'static str, problem: String },
}

impl UserParameters {
    /// `None` or blank means "no parameters": every key has a default.
    pub fn parse(raw: Option<&str>) -> Result<Self, ParamsError> {
        let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(Self::default());
        };
        let len = raw.chars().count();
        if len > MAX_USER_PARAMETERS_LEN {
            return Err(ParamsError::TooLong { len });
        }
        let params: Self = serde_json::from_str(raw).map_err(|e| ParamsError::Invalid {
            problem: e.to_string(),
        })?;
        params.validate()?;
        Ok(params)
    }

    fn validate(&self) -> Result<(), ParamsError> {
        for (key, value) in [
            ("environment", &self.environment),
            ("service", &self.service),
            ("stage", &self.stage),
        ] {
            if let Some(value) = value
                && (value.is_empty()
                    || value.len() > MAX_NAME_LEN
                    || value.chars().any(char::is_control))
            {
                return Err(ParamsError::BadValue {
                    key,
                    problem: format!(
                        "must be 1-{MAX_NAME_LEN} printable characters; got {value:?}"
                    ),
                });
            }
        }
        if let Some(raw) = &self.traffic_shift {
            TrafficShift::parse(raw).map_err(|problem| ParamsError::BadValue {
                key: "trafficShift",
                problem,
            })?;
        }
        if let Some(alarms) = &self.alarms {
            let bad = alarms.iter().find(|name| {
                name.is_empty()
                    || name.chars().count() > MAX_ALARM_NAME_LEN
                    || name.chars().any(char::is_control)
            });
            if alarms.is_empty() || alarms.len() > MAX_ALARMS || bad.is_some() {
                return Err(ParamsError::BadValue {
                    key: "alarms",
                    problem: format!(
                        "must list 1-{MAX_ALARMS} CloudWatch alarm names of 1-{MAX_ALARM_NAME_LEN} printable \
                         characters; got {alarms:?}"
                    ),
                });
            }
        }
        if let Some(seconds) = self.timeout_seconds
            && !(1..=MAX_TIMEOUT_SECONDS).contains(&seconds)
        {
            return Err(ParamsError::BadValue {
                key: "timeoutSeconds",
                problem: format!("must be between 1 and {MAX_TIMEOUT_SECONDS}; got {seconds}"),
            });
        }
        Ok(())
    }

    /// How long a rollout (`DEPLOY_TARGET`) may stay in progress: `timeoutSeconds`, else
    /// [`DEFAULT_ROLLOUT_TIMEOUT_SECONDS`].
    pub fn rollout_timeout_seconds(&self) -> u64 {
        self.timeout_seconds
            .unwrap_or(DEFAULT_ROLLOUT_TIMEOUT_SECONDS)
    }

    /// The Lambda traffic shift and the alarms it watches (all at once, none, when absent).
    pub fn shift_plan(&self) -> ShiftPlan {
        ShiftPlan {
            shift: self
                .traffic_shift
                .as_deref()
                .and_then(|raw| TrafficShift::parse(raw).ok())
                .unwrap_or_default(),
            alarms: self.alarms.clone().unwrap_or_default(),
        }
    }

    /// Whether the action asks for a gradual shift or alarms, which only a Lambda alias takes.
    pub fn wants_shift(&self) -> bool {
        self.traffic_shift.is_some() || self.alarms.is_some()
    }

    pub fn service(&self) -> &str {
        self.service.as_deref().unwrap_or("app")
    }

    #[cfg(debug_assertions)]
    pub fn wants_test_panic(&self) -> bool {
        self.panic_for_test
    }

    #[cfg(not(debug_assertions))]
    pub fn wants_test_panic(&self) -> bool {
        false
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_names_its_target_and_itself() {
        let params = UserParameters::parse(Some(
            r#"{"environment":"dev","stage":"prod","target":"ecs:prod/web"}"#,
        ))
        .unwrap();
        assert_eq!(params.target.as_deref(), Some("ecs:prod/web"));
        assert_eq!(params.stage.as_deref(), Some("prod"));
        let err = UserParameters::parse(Some(r#"{"stage":""}"#)).unwrap_err();
        assert!(err.to_string().contains("`stage`"), "{err}");
    }

    #[test]
    fn a_traffic_shift_and_its_alarms_are_read_and_checked() {
        let params = UserParameters::parse(Some(
            r#"{"trafficShift":"linear25-2m","alarms":["api-errors","api-p99"]}"#,
        ))
        .unwrap();
        let plan = params.shift_plan();
        assert_eq!(
            plan.shift,
            TrafficShift::Linear {
                percent: 25,
                minutes: 2
            }
        );
        assert_eq!(plan.alarms, ["api-errors", "api-p99"]);
        assert_eq!(UserParameters::default().shift_plan(), ShiftPlan::default());
        for bad in [
            r#"{"trafficShift":"canary0-5m"}"#,
            r#"{"trafficShift":"canary100-5m"}"#,
            r#"{"trafficShift":"linear10-0m"}"#,
            r#"{"trafficShift":"bluegreen"}"#,
            r#"{"alarms":[]}"#,
            r#"{"alarms":[""]}"#,
        ] {
            let err = UserParameters::parse(Some(bad)).unwrap_err();
            assert!(matches!(err, ParamsError::BadValue { .. }), "{bad}: {err}");
        }
        let err = UserParameters::parse(Some(r#"{"trafficShift":"canary"}"#)).unwrap_err();
        assert!(
            err.to_string()
                .contains("accepted: all-at-once, canaryP-Mm or linearP-Mm"),
            "{err}"
        );
    }

    #[test]
    fn absent_or_blank_means_defaults() {
        assert_eq!(
            UserParameters::parse(None).unwrap(),
            UserParameters::default()
        );
        assert_eq!(
            UserParameters::parse(Some("  ")).unwrap(),
            UserParameters::default()
        );
        assert_eq!(UserParameters::default().service(), "app");
        assert_eq!(
            UserParameters::default().rollout_timeout_seconds(),
            DEFAULT_ROLLOUT_TIMEOUT_SECONDS
        );
    }

    #[test]
    fn reads_every_documented_key() {
        let p = UserParameters::parse(Some(
            r#"{"environment":"prod","service":"api","webhookUrl":"https://deploy.example.com/hook","timeoutSeconds":900}"#,
        ))
        .unwrap();
        assert_eq!(p.environment.as_deref(), Some("prod"));
        assert_eq!(p.service(), "api");
        assert_eq!(
            p.webhook_url.as_deref(),
            Some("https://deploy.example.com/hook")
        );
        assert_eq!(p.timeout_seconds, Some(900));
        assert!(!p.wants_test_panic());
    }

    #[test]
    fn rejects_unknown_keys_bad_json_and_overlong_text() {
        let unknown = UserParameters::parse(Some(r#"{"enviroment":"dev"}"#)).unwrap_err();
        assert!(
            unknown.to_string().contains("unknown field `enviroment`"),
            "{unknown}"
        );
        assert!(unknown.to_string().contains("only the keys"), "{unknown}");

        let not_json = UserParameters::parse(Some("environment=dev")).unwrap_err();
        assert!(
            matches!(not_json, ParamsError::Invalid { .. }),
            "{not_json}"
        );

        let array = UserParameters::parse(Some("[1]")).unwrap_err();
        assert!(matches!(array, ParamsError::Invalid { .. }), "{array}");

        let long = format!(r#"{{"service":"{}"}}"#, "a".repeat(1000));
        assert_eq!(
            UserParameters::parse(Some(&long)).unwrap_err(),
            ParamsError::TooLong { len: long.len() }
        );
    }

    #[test]
    fn rejects_out_of_range_values() {
        for bad in [
            r#"{"timeoutSeconds":0}"#,
            r#"{"timeoutSeconds":86401}"#,
            r#"{"service":""}"#,
        ] {
            let err = UserParameters::parse(Some(bad)).unwrap_err();
            assert!(matches!(err, ParamsError::BadValue { .. }), "{bad}: {err}");
        }
        assert!(UserParameters::parse(Some(r#"{"timeoutSeconds":-1}"#)).is_err());
    }

    #[test]
    fn test_panic_key_is_accepted_only_in_debug_builds() {
        let parsed = UserParameters::parse(Some(r#"{"panicForTest":true}"#));
        if cfg!(debug_assertions) {
            assert!(parsed.unwrap().wants_test_panic());
        } else {
            assert!(parsed.is_err());
        }
    }
}
