//! Lenient parsing of CodePipeline EventBridge events into a typed view.
//!
//! AWS's own sample events do not agree on field types (`type.version` is a string in some
//! and a number in others, `account` is sometimes a number, `version` a float), and the set
//! of states grows over time. So the event is read field by field from `serde_json::Value`:
//! whatever is missing or oddly typed becomes `None` instead of failing the whole event.

use serde_json::Value;

/// EventBridge `source` of every CodePipeline event.
pub const CODEPIPELINE_SOURCE: &str = "aws.codepipeline";
pub const PIPELINE_DETAIL_TYPE: &str = "CodePipeline Pipeline Execution State Change";
pub const STAGE_DETAIL_TYPE: &str = "CodePipeline Stage Execution State Change";
pub const ACTION_DETAIL_TYPE: &str = "CodePipeline Action Execution State Change";

/// Which part of a pipeline execution changed state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Pipeline,
    Stage,
    Action,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Pipeline => "pipeline",
            Level::Stage => "stage",
            Level::Action => "action",
        }
    }
}

/// How the execution was started, and the commit when the event names it
/// (`detail.execution-trigger`; pipelines with V2 triggers carry the commit there).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trigger {
    pub trigger_type: Option<String>,
    pub trigger_detail: Option<String>,
    pub commit_id: Option<String>,
    pub commit_message: Option<String>,
    pub repository: Option<String>,
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub author: Option<String>,
    pub provider: Option<String>,
}

/// What an action reported when it finished (`detail.execution-result`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutionResult {
    pub summary: Option<String>,
    pub url: Option<String>,
    pub external_id: Option<String>,
    pub error_code: Option<String>,
}

/// `detail.type` of an action event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActionType {
    pub owner: Option<String>,
    pub category: Option<String>,
    pub provider: Option<String>,
}

/// A failed action named by a processed (notification-rule) event's `additionalAttributes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportedFailure {
    pub action: String,
    pub information: Option<String>,
}

/// The typed view of one CodePipeline state-change event.
#[derive(Clone, Debug, PartialEq)]
pub struct PipelineEvent {
    pub id: String,
    pub level: Level,
    pub detail_type: String,
    pub time: Option<String>,
    pub region: Option<String>,
    pub account: Option<String>,
    pub pipeline: String,
    pub execution_id: Option<String>,
    /// Upper-cased; an open set (AWS adds states over time).
    pub state: String,
    pub stage: Option<String>,
    pub action: Option<String>,
    pub start_time: Option<String>,
    pub attempt: Option<u64>,
    pub trigger: Option<Trigger>,
    pub execution_result: Option<ExecutionResult>,
    pub action_type: Option<ActionType>,
    pub stop_comments: Option<String>,
    pub failed_stage: Option<String>,
    pub reported_failures: Vec<ReportedFailure>,
}

/// Why an event was not turned into a [`PipelineEvent`]; logged, never retried.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error(
        "the event is not a JSON object; the rule target must pass the whole EventBridge event (no input transformer)"
    )]
    NotAnObject,
    #[error(
        "event source `{0}` is not `aws.codepipeline`; narrow the EventBridge rule to source aws.codepipeline"
    )]
    UnrelatedSource(String),
    #[error(
        "detail type `{0}` is not a CodePipeline execution state change; narrow the EventBridge rule's detail-type"
    )]
    UnrelatedDetailType(String),
    #[error("the event has no `{0}`; it does not look like a CodePipeline state-change event")]
    MissingField(&'static str),
}

/// The event id for logs, even from events that fail to parse.
pub fn event_id(raw: &Value) -> Option<&str> {
    raw.get("id").and_then(Value::as_str)
}

/// Reads a CodePipeline state-change event; accepts the EventBridge form (`detail-type`) and the
/// notification-rule "processed" form (`detailType`, `additionalAttributes`).
pub fn parse(raw: &Value) -> Result<PipelineEvent, Rejection> {
    if !raw.is_object() {
        return Err(Rejection::NotAnObject);
    }
    let source = text(raw, "source").ok_or(Rejection::MissingField("source"))?;
    if source != CODEPIPELINE_SOURCE {
        return Err(Rejection::UnrelatedSource(source));
    }
    let detail_type = text(raw, "detail-type")
        .or_else(|| text(raw, "detailType"))
        .ok_or(Rejection::MissingField("detail-type"))?;
    let level = match detail_type.as_str() {
        PIPELINE_DETAIL_TYPE => Level::Pipeline,
        STAGE_DETAIL_TYPE => Level::Stage,
        ACTION_DETAIL_TYPE => Level::Action,
        _ => return Err(Rejection::UnrelatedDetailType(detail_type)),
    };
    // Processed events carry no `id`; their notification rule ARN plus time is the next best key.
    let id = text(raw, "id")
        .or_else(|| {
            let rule = text(raw, "notificationRuleArn")?;
            Some(format!("{rule}@{}", text(raw, "time").unwrap_or_default()))
        })
        .ok_or(Rejection::MissingField("id"))?;
    let detail = raw
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or(Rejection::MissingField("detail"))?;
    let pipeline = text(detail, "pipeline").ok_or(Rejection::MissingField("detail.pipeline"))?;
    let state = text(detail, "state")
        .ok_or(Rejection::MissingField("detail.state"))?
        .to_ascii_uppercase();
    let stage = text(detail, "stage");
    let action = text(detail, "action");
    if level != Level::Pipeline && stage.is_none() {
        return Err(Rejection::MissingField("detail.stage"));
    }
    if level == Level::Action && action.is_none() {
        return Err(Rejection::MissingField("detail.action"));
    }
    let additional = raw.get("additionalAttributes");
    Ok(PipelineEvent {
        id,
        level,
        detail_type,
        time: text(raw, "time"),
        region: text(raw, "region").or_else(|| text(detail, "region")),
        account: text(raw, "account"),
        pipeline,
        execution_id: text(detail, "execution-id"),
        state,
        stage,
        action,
        start_time: text(detail, "start-time"),
        attempt: detail
            .get("pipeline-execution-attempt")
            .and_then(whole_number),
        trigger: detail
            .get("execution-trigger")
            .filter(|t| t.is_object())
            .map(parse_trigger),
        execution_result: detail
            .get("execution-result")
            .filter(|r| r.is_object())
            .map(|r| ExecutionResult {
                summary: text(r, "external-execution-summary"),
                url: text(r, "external-execution-url"),
                external_id: text(r, "external-execution-id"),
                error_code: text(r, "error-code"),
            }),
        action_type: detail
            .get("type")
            .filter(|t| t.is_object())
            .map(|t| ActionType {
                owner: text(t, "owner"),
                category: text(t, "category"),
                provider: text(t, "provider"),
            }),
        stop_comments: text(detail, "stop-execution-comments"),
        failed_stage: additional.and_then(|a| text(a, "failedStage")),
        reported_failures: additional
            .and_then(|a| a.get("failedActions"))
            .and_then(Value::as_array)
            .map(|failures| {
                failures
                    .iter()
                    .filter_map(|f| {
                        Some(ReportedFailure {
                            action: text(f, "action")?,
                            information: text(f, "additionalInformation"),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}

fn parse_trigger(t: &Value) -> Trigger {
    Trigger {
        trigger_type: text(t, "trigger-type"),
        trigger_detail: text(t, "trigger-detail"),
        commit_id: text(t, "commit-id"),
        commit_message: text(t, "commit-message"),
        repository: text(t, "full-repository-name"),
        branch: text(t, "branch-name"),
        tag: text(t, "tag-name"),
        author: text(t, "author-display-name").or_else(|| text(t, "author-id")),
        provider: text(t, "provider-type"),
    }
}

/// A non-empty string field; numbers are accepted too (AWS samples show `account` as a number).
fn text(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) => {
            let trimmed = s.trim();
            (!trimmed.is_empty()).then(|| trimmed.to_owned())
        }
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `pipeline-execution-attempt` arrives as `1.0`; keep it only when it is a whole number.
fn whole_number(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        let f = value.as_f64()?;
        (f.fract() == 0.0 && (0.0..=1e9).contains(&f)).then_some(f as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pipeline_event(state: &str) -> Value {
        json!({
            "version": "0", "id": "evt-1", "detail-type": PIPELINE_DETAIL_TYPE,
            "source": "aws.codepipeline", "account": "123456789012", "time": "2024-05-01T10:05:00Z",
            "region": "eu-west-1", "resources": [],
            "detail": {"pipeline": "pipeline-dev", "execution-id": "exec-1", "state": state, "version": 1.0}
        })
    }

    #[test]
    fn reads_states_outside_the_documented_set_and_normalises_case() {
        let event =
            parse(&pipeline_event("paused_for_review")).expect("unknown states are accepted");
        assert_eq!(event.state, "PAUSED_FOR_REVIEW");
        assert_eq!(event.level, Level::Pipeline);
    }

    #[test]
    fn rejects_other_sources_and_detail_types_with_a_reason() {
        let mut other = pipeline_event("FAILED");
        other["source"] = json!("aws.codebuild");
        assert_eq!(
            parse(&other),
            Err(Rejection::UnrelatedSource("aws.codebuild".into()))
        );
        let mut other = pipeline_event("FAILED");
        other["detail-type"] = json!("CodeBuild Build State Change");
        assert!(matches!(
            parse(&other),
            Err(Rejection::UnrelatedDetailType(_))
        ));
        assert_eq!(parse(&json!([1, 2])), Err(Rejection::NotAnObject));
    }

    #[test]
    fn stage_and_action_events_need_their_names() {
        let mut stage = pipeline_event("FAILED");
        stage["detail-type"] = json!(STAGE_DETAIL_TYPE);
        assert_eq!(parse(&stage), Err(Rejection::MissingField("detail.stage")));
        let mut action = pipeline_event("FAILED");
        action["detail-type"] = json!(ACTION_DETAIL_TYPE);
        action["detail"]["stage"] = json!("Build");
        assert_eq!(
            parse(&action),
            Err(Rejection::MissingField("detail.action"))
        );
    }

    #[test]
    fn oddly_typed_fields_become_none_instead_of_failing() {
        let mut event = pipeline_event("FAILED");
        event["detail"]["execution-id"] = json!({"nested": true});
        event["detail"]["pipeline-execution-attempt"] = json!(1.5);
        event["detail"]["execution-trigger"] = json!("not an object");
        event["account"] = json!(123456789012_u64);
        let parsed = parse(&event).expect("parses");
        assert_eq!(parsed.execution_id, None);
        assert_eq!(parsed.attempt, None);
        assert_eq!(parsed.trigger, None);
        assert_eq!(parsed.account.as_deref(), Some("123456789012"));
    }

    #[test]
    fn blank_pipeline_name_is_missing() {
        let mut event = pipeline_event("FAILED");
        event["detail"]["pipeline"] = json!("   ");
        assert_eq!(
            parse(&event),
            Err(Rejection::MissingField("detail.pipeline"))
        );
    }
}
