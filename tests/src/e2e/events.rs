//! CodePipeline's state-change events as EventBridge receives them, and what EventBridge does
//! with them: match a rule's event pattern, and shape the input for a target with an input
//! transformer.

use anyhow::{Result, bail};
use serde_json::{Map, Value, json};

pub const PIPELINE_DETAIL_TYPE: &str = "CodePipeline Pipeline Execution State Change";
pub const STAGE_DETAIL_TYPE: &str = "CodePipeline Stage Execution State Change";
pub const ACTION_DETAIL_TYPE: &str = "CodePipeline Action Execution State Change";

/// The pipeline execution the events belong to.
#[derive(Clone, Debug)]
pub struct Execution {
    pub pipeline: String,
    pub pipeline_arn: String,
    pub execution_id: String,
    pub region: String,
    pub account: String,
    pub start_time: String,
    /// What started it: `(trigger-type, trigger-detail)`, e.g. the webhook's ARN.
    pub trigger: (&'static str, String),
}

/// Which part of the pipeline changed state.
#[derive(Clone, Debug)]
pub enum Level<'a> {
    Pipeline,
    Stage(&'a str),
    Action {
        stage: &'a str,
        action: &'a str,
        category: &'a str,
        provider: &'a str,
        owner: &'a str,
        /// `execution-result` of a finished action (summary, url, id, error code).
        result: Option<Value>,
    },
}

/// One event in the shape CodePipeline emits (see AWS's "CodePipeline event examples").
pub fn state_change(
    execution: &Execution,
    level: &Level<'_>,
    state: &str,
    id: &str,
    time: &str,
) -> Value {
    let mut detail = Map::new();
    detail.insert("pipeline".into(), json!(execution.pipeline));
    detail.insert("execution-id".into(), json!(execution.execution_id));
    detail.insert("start-time".into(), json!(execution.start_time));
    detail.insert("state".into(), json!(state));
    detail.insert("version".into(), json!(1.0));
    detail.insert("pipeline-execution-attempt".into(), json!(1.0));
    let detail_type = match level {
        Level::Pipeline => {
            detail.insert(
                "execution-trigger".into(),
                json!({"trigger-type": execution.trigger.0, "trigger-detail": execution.trigger.1}),
            );
            PIPELINE_DETAIL_TYPE
        }
        Level::Stage(stage) => {
            detail.insert("stage".into(), json!(stage));
            STAGE_DETAIL_TYPE
        }
        Level::Action {
            stage,
            action,
            category,
            provider,
            owner,
            result,
        } => {
            detail.insert("stage".into(), json!(stage));
            detail.insert("action".into(), json!(action));
            detail.insert("region".into(), json!(execution.region));
            detail.insert(
                "type".into(),
                json!({"owner": owner, "provider": provider, "category": category, "version": "1"}),
            );
            if let Some(result) = result {
                detail.insert("execution-result".into(), result.clone());
            }
            ACTION_DETAIL_TYPE
        }
    };
    json!({
        "version": "0",
        "id": id,
        "detail-type": detail_type,
        "source": "aws.codepipeline",
        "account": execution.account,
        "time": time,
        "region": execution.region,
        "resources": [execution.pipeline_arn],
        "detail": detail,
    })
}

/// EventBridge pattern matching for the pattern forms the product's rules use: nested objects
/// and arrays of literal values (an event array matches when any element does). Content
/// filters (`prefix`, `anything-but`, ...) are refused rather than guessed at.
pub fn pattern_matches(pattern: &Value, event: &Value) -> Result<bool> {
    let Some(fields) = pattern.as_object() else {
        bail!("an event pattern must be a JSON object, got {pattern}");
    };
    for (key, wanted) in fields {
        // `"$or": [pattern, ...]`: any of the patterns, each applied at this level (EventBridge
        // User Guide, "Content filtering in Amazon EventBridge event patterns": $or matching).
        if key == "$or" {
            let Some(alternatives) = wanted.as_array().filter(|a| !a.is_empty()) else {
                bail!("event pattern `$or` must be a non-empty array of patterns, got {wanted}");
            };
            let mut any = false;
            for alternative in alternatives {
                any |= pattern_matches(alternative, event)?;
            }
            if !any {
                return Ok(false);
            }
            continue;
        }
        let Some(actual) = event.get(key) else {
            return Ok(false);
        };
        let matched = match wanted {
            Value::Object(_) => pattern_matches(wanted, actual)?,
            Value::Array(values) => {
                if let Some(filter) = values.iter().find(|v| v.is_object()) {
                    bail!(
                        "event pattern field `{key}` uses the content filter {filter}, which this rehearsal does not evaluate; the emulator's TestEventPattern is needed for it"
                    );
                }
                match actual {
                    Value::Array(items) => items.iter().any(|item| values.contains(item)),
                    scalar => values.contains(scalar),
                }
            }
            other => {
                bail!("event pattern field `{key}` must be an array or an object, got {other}")
            }
        };
        if !matched {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Applies an input transformer: `input_paths` (name → JSONPath into the event) substituted
/// into `<name>` placeholders of `template`. A template that is a JSON string is delivered as
/// that string's text.
pub fn transform_input(
    event: &Value,
    input_paths: &[(String, String)],
    template: &str,
) -> Result<String> {
    let mut text = template.to_owned();
    for (name, path) in input_paths {
        let value = super::github::json_path_value(event, path)?;
        let replacement = match value {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        text = text.replace(&format!("<{name}>"), &replacement);
    }
    Ok(match serde_json::from_str::<Value>(&text) {
        Ok(Value::String(inner)) => inner,
        _ => text,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn execution() -> Execution {
        Execution {
            pipeline: "pipeline-demo".into(),
            pipeline_arn: "arn:aws:codepipeline:us-east-1:123456789012:pipeline-demo".into(),
            execution_id: "e-1".into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
            start_time: "2025-01-01T00:00:00Z".into(),
            trigger: (
                "Webhook",
                "arn:aws:codepipeline:us-east-1:123456789012:webhook:webhook-demo".into(),
            ),
        }
    }

    #[test]
    fn or_matches_when_any_alternative_matches_at_its_level() {
        let pattern = json!({
            "source": ["aws.codepipeline"],
            "$or": [
                {"detail-type": [PIPELINE_DETAIL_TYPE], "detail": {"state": ["FAILED"]}},
                {"detail-type": [STAGE_DETAIL_TYPE], "detail": {"state": ["STARTED"]}}
            ]
        });
        let event = |kind: &str, state: &str| json!({"source": "aws.codepipeline", "detail-type": kind, "detail": {"state": state}});
        assert!(pattern_matches(&pattern, &event(STAGE_DETAIL_TYPE, "STARTED")).unwrap());
        assert!(pattern_matches(&pattern, &event(PIPELINE_DETAIL_TYPE, "FAILED")).unwrap());
        assert!(!pattern_matches(&pattern, &event(PIPELINE_DETAIL_TYPE, "STARTED")).unwrap());
        assert!(!pattern_matches(&pattern, &event(ACTION_DETAIL_TYPE, "STARTED")).unwrap());
        assert!(
            pattern_matches(&json!({"$or": []}), &event(STAGE_DETAIL_TYPE, "STARTED")).is_err()
        );
    }

    fn rule() -> Value {
        json!({
            "source": ["aws.codepipeline"],
            "detail-type": [PIPELINE_DETAIL_TYPE, ACTION_DETAIL_TYPE],
            "resources": ["arn:aws:codepipeline:us-east-1:123456789012:pipeline-demo"],
            "detail": {"state": ["STARTED", "SUCCEEDED", "FAILED"]}
        })
    }

    #[test]
    fn rule_matches_pipeline_and_action_events_but_not_stage_or_other_pipelines() {
        let e = execution();
        let started = state_change(&e, &Level::Pipeline, "STARTED", "1", "t");
        assert!(pattern_matches(&rule(), &started).unwrap());
        let stage = state_change(&e, &Level::Stage("Build"), "STARTED", "2", "t");
        assert!(!pattern_matches(&rule(), &stage).unwrap());
        let superseded = state_change(&e, &Level::Pipeline, "SUPERSEDED", "3", "t");
        assert!(!pattern_matches(&rule(), &superseded).unwrap());
        let mut other = started.clone();
        other["resources"] = json!(["arn:aws:codepipeline:us-east-1:123456789012:pipeline-prod"]);
        assert!(!pattern_matches(&rule(), &other).unwrap());
        let action = Level::Action {
            stage: "Build",
            action: "Build",
            category: "Build",
            provider: "CodeBuild",
            owner: "AWS",
            result: Some(json!({"error-code": "JobFailed"})),
        };
        let failed = state_change(&e, &action, "FAILED", "4", "t");
        assert!(pattern_matches(&rule(), &failed).unwrap());
        assert_eq!(
            failed["detail"]["execution-result"]["error-code"],
            "JobFailed"
        );
        assert_eq!(failed["detail"]["type"]["version"], "1");
    }

    #[test]
    fn content_filters_are_refused_not_guessed() {
        let pattern = json!({"source": [{"prefix": "aws."}]});
        let err = pattern_matches(&pattern, &json!({"source": "aws.codepipeline"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("content filter"), "{err}");
    }

    #[test]
    fn input_transformer_fills_placeholders_and_unquotes_string_templates() {
        let event = state_change(
            &execution(),
            &Level::Pipeline,
            "FAILED",
            "1",
            "2025-01-01T00:01:00Z",
        );
        let paths = [
            ("pipeline".to_owned(), "$.detail.pipeline".to_owned()),
            ("execution".to_owned(), "$.detail.execution-id".to_owned()),
            ("time".to_owned(), "$.time".to_owned()),
        ];
        let text = transform_input(
            &event,
            &paths,
            "\"Pipeline <pipeline> FAILED at <time> (execution <execution>)\"",
        )
        .unwrap();
        assert_eq!(
            text,
            "Pipeline pipeline-demo FAILED at 2025-01-01T00:01:00Z (execution e-1)"
        );
    }
}
