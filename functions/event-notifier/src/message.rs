//! Pure formatting: a parsed event plus what enrichment found becomes one [`Notification`]:
//! an SNS subject, a body for people (email), a machine-readable JSON body (HTTPS, SQS) and the
//! message attributes subscription filter policies match on.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use crate::enrich::{Enrichment, FailedAction};
use crate::event::{Level, PipelineEvent};
use crate::text::{self, bounded, first_line, human_duration, url_segment};

/// Version of the machine-readable body; bump on incompatible changes.
pub const BODY_VERSION: &str = "1";
/// Message attribute names (all of SNS type `String`).
pub const ATTR_PIPELINE: &str = "pipeline";
pub const ATTR_STATE: &str = "state";
pub const ATTR_ENVIRONMENT: &str = "environment";
pub const ATTR_DETAIL_TYPE: &str = "detail_type";
/// `environment` attribute value when `PIPELINE_ENV` is unset (SNS rejects empty values).
pub const UNKNOWN_ENVIRONMENT: &str = "unknown";
const MAX_SUMMARY_CHARS: usize = 1000;
const MAX_CHATBOT_DESCRIPTION_CHARS: usize = 4000;

/// Formatting settings from the function's configuration.
#[derive(Clone, Debug, Default)]
pub struct MessageOptions {
    pub environment: Option<String>,
    /// Put the AWS Chatbot custom-notification format under the `https` key.
    pub chatbot: bool,
    /// Region for the console link when the event names none.
    pub fallback_region: Option<String>,
}

/// One SNS message, ready to publish.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    pub subject: String,
    /// For people: the `default` and `email` message.
    pub text: String,
    /// For systems: the `sqs` message (and `https`, unless the Chatbot format replaces it).
    pub body: Value,
    /// The whole `MessageStructure=json` message.
    pub message: String,
    pub attributes: BTreeMap<&'static str, String>,
}

/// The commit an execution built, from the event's trigger or from enrichment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Commit {
    id: Option<String>,
    message: Option<String>,
    repository: Option<String>,
    branch: Option<String>,
    tag: Option<String>,
    url: Option<String>,
}

pub fn format(
    event: &PipelineEvent,
    enrichment: &Enrichment,
    options: &MessageOptions,
) -> Notification {
    let facts = Facts::gather(event, enrichment, options);
    let out = human_text(event, enrichment, &facts);
    let body = machine_body(event, enrichment, &facts);
    let body_string = body.to_string();
    let https = if options.chatbot {
        chatbot(
            &facts.subject,
            event,
            &facts.environment,
            &facts.commit,
            &facts.failures,
            facts.unavailable,
            &facts.console_url,
        )
        .to_string()
    } else {
        body_string.clone()
    };
    let message =
        json!({"default": out, "email": out, "https": https, "sqs": body_string}).to_string();
    let attributes = BTreeMap::from([
        (ATTR_PIPELINE, event.pipeline.clone()),
        (ATTR_STATE, event.state.clone()),
        (ATTR_ENVIRONMENT, facts.environment),
        (ATTR_DETAIL_TYPE, event.detail_type.clone()),
    ]);
    Notification {
        subject: facts.subject,
        text: out,
        body,
        message,
        attributes,
    }
}

/// What both bodies say, worked out once.
struct Facts<'a> {
    failures: Vec<FailedAction>,
    subject: String,
    commit: Commit,
    trigger_type: Option<String>,
    trigger_detail: Option<String>,
    started: Option<String>,
    duration: Option<std::time::Duration>,
    console_url: String,
    environment: String,
    unavailable: Option<&'a str>,
}

impl<'a> Facts<'a> {
    fn gather(event: &PipelineEvent, enrichment: &'a Enrichment, options: &MessageOptions) -> Self {
        let failures = failures(event, enrichment);
        let subject = text::subject(&format!(
            "[{}] {}: {}",
            event.state,
            event.pipeline,
            headline(event, &failures)
        ));
        let (trigger_type, trigger_detail) = trigger(event, enrichment);
        let started = event
            .start_time
            .clone()
            .or_else(|| enrichment.started_at.clone());
        let duration = if event.level == Level::Pipeline && is_finished(&event.state) {
            started
                .as_deref()
                .zip(event.time.as_deref())
                .and_then(|(s, e)| text::elapsed(s, e))
        } else {
            None
        };
        Self {
            subject,
            commit: commit(event, enrichment),
            trigger_type,
            trigger_detail,
            started,
            duration,
            console_url: console_url(event, options.fallback_region.as_deref()),
            environment: options
                .environment
                .clone()
                .unwrap_or_else(|| UNKNOWN_ENVIRONMENT.to_owned()),
            unavailable: enrichment.unavailable.as_deref(),
            failures,
        }
    }
}

/// The body for people (email and the default message).
fn human_text(event: &PipelineEvent, enrichment: &Enrichment, facts: &Facts<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", sentence(event, &facts.failures));
    let mut field = |name: &str, value: &str| {
        let _ = writeln!(out, "{:<13}{}", format!("{name}:"), value);
    };
    field("Pipeline", &event.pipeline);
    field("Environment", &facts.environment);
    field("State", &event.state);
    if let Some(stage) = &event.stage {
        field("Stage", stage);
    }
    if let Some(action) = &event.action {
        match event
            .action_type
            .as_ref()
            .and_then(|t| t.provider.as_deref())
        {
            Some(provider) => field("Action", &format!("{action} ({provider})")),
            None => field("Action", action),
        }
    }
    if let Some(id) = &event.execution_id {
        match event.attempt {
            Some(attempt) if attempt > 1 => {
                field("Execution", &format!("{id} (attempt {attempt})"))
            }
            _ => field("Execution", id),
        }
    }
    if let Some(kind) = &facts.trigger_type {
        match &facts.trigger_detail {
            Some(detail) => field("Trigger", &format!("{kind} ({detail})")),
            None => field("Trigger", kind),
        }
    }
    if let Some(line) = commit_line(&facts.commit) {
        field("Commit", &line);
    }
    if let Some(repo) = commit_source(&facts.commit) {
        field("Source", &repo);
    }
    if let Some(url) = &facts.commit.url {
        field("Commit link", url);
    }
    if let Some(started) = &facts.started {
        field("Started", started);
    }
    if let Some(duration) = facts.duration {
        field("Duration", &human_duration(duration));
    }
    if let Some(comments) = &event.stop_comments {
        field("Stop reason", &bounded(comments, MAX_SUMMARY_CHARS));
    }
    if let Some(summary) = enrichment
        .execution
        .as_ref()
        .and_then(|e| e.status_summary.as_deref())
    {
        field("Summary", summary);
    }
    if !facts.failures.is_empty() {
        let _ = writeln!(out, "\nWhat failed:");
        for f in &facts.failures {
            let _ = writeln!(out, "  - {}", failure_line(f));
            if let Some(url) = &f.url {
                let _ = writeln!(out, "    {url}");
            }
        }
        if enrichment.more_failed_actions > 0 {
            let _ = writeln!(
                out,
                "  ... and {} more failed actions",
                enrichment.more_failed_actions
            );
        }
    }
    crate::approval::earlier_stages(event, enrichment, &mut out);
    if let Some(why) = facts.unavailable {
        let _ = writeln!(out, "\nFailure details unavailable: {why}");
    }
    let _ = writeln!(out, "\nOpen in the console: {}", facts.console_url);
    let _ = write!(out, "\nEvent {}", event.id);
    if let Some(time) = &event.time {
        let _ = write!(out, " at {time}");
    }
    out.push('\n');
    out
}

/// The machine-readable body: absent facts are left out rather than null.
fn machine_body(event: &PipelineEvent, enrichment: &Enrichment, facts: &Facts<'_>) -> Value {
    let mut body = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            body.insert(key.to_owned(), value);
        }
    };
    put("version", Some(json!(BODY_VERSION)));
    put("eventId", Some(json!(event.id)));
    put("detailType", Some(json!(event.detail_type)));
    put("level", Some(json!(event.level.as_str())));
    put("pipeline", Some(json!(event.pipeline)));
    put("environment", Some(json!(facts.environment)));
    put("state", Some(json!(event.state)));
    put("subject", Some(json!(facts.subject)));
    put("stage", event.stage.as_ref().map(|s| json!(s)));
    put("action", event.action.as_ref().map(|s| json!(s)));
    put(
        "actionProvider",
        event
            .action_type
            .as_ref()
            .and_then(|t| t.provider.as_ref())
            .map(|s| json!(s)),
    );
    put(
        "actionCategory",
        event
            .action_type
            .as_ref()
            .and_then(|t| t.category.as_ref())
            .map(|s| json!(s)),
    );
    put("executionId", event.execution_id.as_ref().map(|s| json!(s)));
    put("attempt", event.attempt.map(|a| json!(a)));
    put("time", event.time.as_ref().map(|s| json!(s)));
    put("region", event.region.as_ref().map(|s| json!(s)));
    put("account", event.account.as_ref().map(|s| json!(s)));
    put("startTime", facts.started.as_ref().map(|s| json!(s)));
    put(
        "durationSeconds",
        facts.duration.map(|d| json!(d.as_secs())),
    );
    if facts.trigger_type.is_some() || facts.trigger_detail.is_some() {
        put(
            "trigger",
            Some(json!({"type": facts.trigger_type, "detail": facts.trigger_detail})),
        );
    }
    if facts.commit != Commit::default() {
        let mut c = Map::new();
        for (key, value) in [
            ("id", &facts.commit.id),
            ("message", &facts.commit.message),
            ("repository", &facts.commit.repository),
            ("branch", &facts.commit.branch),
            ("tag", &facts.commit.tag),
            ("url", &facts.commit.url),
        ] {
            if let Some(value) = value {
                c.insert(key.to_owned(), json!(value));
            }
        }
        put("commit", Some(Value::Object(c)));
    }
    put(
        "stopReason",
        event
            .stop_comments
            .as_ref()
            .map(|s| json!(bounded(s, MAX_SUMMARY_CHARS))),
    );
    if !facts.failures.is_empty() {
        put("failures", Some(json!(facts.failures)));
    }
    if enrichment.more_failed_actions > 0 {
        put("moreFailures", Some(json!(enrichment.more_failed_actions)));
    }
    put(
        "failureDetailsUnavailable",
        facts.unavailable.map(|s| json!(s)),
    );
    put("consoleUrl", Some(json!(facts.console_url)));
    for (key, value) in crate::approval::body_fields(event, enrichment) {
        put(key, Some(json!(value)));
    }
    Value::Object(body)
}

/// Pipeline-level states after which the execution does not continue.
pub fn is_finished(state: &str) -> bool {
    matches!(
        state,
        "SUCCEEDED" | "FAILED" | "STOPPED" | "SUPERSEDED" | "CANCELED" | "ABANDONED"
    )
}

fn state_words(state: &str) -> String {
    state.to_ascii_lowercase().replace('_', " ")
}

fn headline(event: &PipelineEvent, failures: &[FailedAction]) -> String {
    if let Some(approval) = crate::approval::headline(event) {
        return approval;
    }
    let state = state_words(&event.state);
    match event.level {
        Level::Pipeline if event.state == "FAILED" => {
            match failures
                .first()
                .map(|f| f.stage.as_str())
                .or(event.failed_stage.as_deref())
            {
                Some(stage) => format!("{stage} {state}"),
                None => format!("execution {state}"),
            }
        }
        Level::Pipeline => format!("execution {state}"),
        Level::Stage => format!("stage {} {state}", event.stage.as_deref().unwrap_or("?")),
        Level::Action => format!(
            "{}/{} {state}",
            event.stage.as_deref().unwrap_or("?"),
            event.action.as_deref().unwrap_or("?")
        ),
    }
}

fn sentence(event: &PipelineEvent, failures: &[FailedAction]) -> String {
    if let Some(approval) = crate::approval::sentence(event) {
        return approval;
    }
    let state = state_words(&event.state);
    match event.level {
        Level::Pipeline => match failures.first() {
            Some(f) if event.state == "FAILED" => format!(
                "Pipeline {} {state} in stage {}, action {}.",
                event.pipeline, f.stage, f.action
            ),
            _ => format!("Pipeline {} execution {state}.", event.pipeline),
        },
        Level::Stage => format!(
            "Stage {} of pipeline {} {state}.",
            event.stage.as_deref().unwrap_or("?"),
            event.pipeline
        ),
        Level::Action => format!(
            "Action {} in stage {} of pipeline {} {state}.",
            event.action.as_deref().unwrap_or("?"),
            event.stage.as_deref().unwrap_or("?"),
            event.pipeline
        ),
    }
}

/// What failed, best source first: CodePipeline's action list, the action event's own result,
/// then a processed event's `additionalAttributes`.
fn failures(event: &PipelineEvent, enrichment: &Enrichment) -> Vec<FailedAction> {
    if !enrichment.failed_actions.is_empty() {
        return enrichment.failed_actions.clone();
    }
    if event.level == Level::Action && event.state == "FAILED" {
        let result = event.execution_result.clone().unwrap_or_default();
        return vec![FailedAction {
            stage: event.stage.clone().unwrap_or_default(),
            action: event.action.clone().unwrap_or_default(),
            provider: event.action_type.as_ref().and_then(|t| t.provider.clone()),
            summary: result.summary.map(|s| bounded(&s, MAX_SUMMARY_CHARS)),
            error_code: result.error_code,
            url: result.url,
        }];
    }
    event
        .reported_failures
        .iter()
        .map(|f| FailedAction {
            stage: event.failed_stage.clone().unwrap_or_default(),
            action: f.action.clone(),
            summary: f
                .information
                .as_deref()
                .map(|s| bounded(s, MAX_SUMMARY_CHARS)),
            ..FailedAction::default()
        })
        .collect()
}

fn failure_line(f: &FailedAction) -> String {
    let mut line = if f.stage.is_empty() {
        f.action.clone()
    } else {
        format!("{} / {}", f.stage, f.action)
    };
    if let Some(provider) = &f.provider {
        let _ = write!(line, " ({provider})");
    }
    match &f.summary {
        Some(summary) => {
            let _ = write!(line, ": {}", summary.replace('\n', " "));
        }
        None => line.push_str(": no summary reported"),
    }
    if let Some(code) = &f.error_code {
        let _ = write!(line, " [{code}]");
    }
    line
}

fn commit(event: &PipelineEvent, enrichment: &Enrichment) -> Commit {
    let from_event = event.trigger.as_ref().map(|t| Commit {
        id: t.commit_id.clone(),
        message: t.commit_message.clone(),
        repository: t.repository.clone(),
        branch: t.branch.clone(),
        tag: t.tag.clone(),
        url: None,
    });
    let revision = enrichment
        .execution
        .as_ref()
        .and_then(|e| e.revisions.iter().find(|r| r.revision_id.is_some()));
    let mut commit = from_event.unwrap_or_default();
    if let Some(r) = revision {
        // Only the revision's own commit may lend its link; never attach it to another commit.
        if commit.id.is_none() {
            commit.id = r.revision_id.clone();
            commit.message = commit.message.or_else(|| r.summary.clone());
            commit.url = r.url.clone();
        } else if commit.id == r.revision_id {
            commit.url = r.url.clone();
        }
    }
    commit
}

fn commit_line(commit: &Commit) -> Option<String> {
    let message = commit.message.as_deref().map(|m| first_line(m, 200));
    match (&commit.id, message) {
        (Some(id), Some(m)) => Some(format!("{id} \"{m}\"")),
        (Some(id), None) => Some(id.clone()),
        (None, Some(m)) => Some(format!("\"{m}\"")),
        (None, None) => None,
    }
}

fn commit_source(commit: &Commit) -> Option<String> {
    let reference = commit
        .branch
        .as_ref()
        .map(|b| format!("branch {b}"))
        .or_else(|| commit.tag.as_ref().map(|t| format!("tag {t}")));
    match (&commit.repository, reference) {
        (Some(repo), Some(r)) => Some(format!("{repo} ({r})")),
        (Some(repo), None) => Some(repo.clone()),
        (None, r) => r,
    }
}

fn trigger(event: &PipelineEvent, enrichment: &Enrichment) -> (Option<String>, Option<String>) {
    let from_event = event
        .trigger
        .as_ref()
        .map(|t| (t.trigger_type.clone(), t.trigger_detail.clone()));
    let from_lookup = enrichment
        .execution
        .as_ref()
        .map(|e| (e.trigger_type.clone(), e.trigger_detail.clone()));
    match (from_event, from_lookup) {
        (Some((Some(kind), detail)), _) => (Some(kind), detail),
        (_, Some((kind, detail))) if kind.is_some() => (kind, detail),
        (Some(from_event), _) => from_event,
        _ => (None, None),
    }
}

/// The execution's timeline in the CodePipeline console (the pipeline view without an execution id).
pub fn console_url(event: &PipelineEvent, fallback_region: Option<&str>) -> String {
    let region = event.region.as_deref().or(fallback_region);
    let host = match region {
        Some(r) => format!("https://{}.console.aws.amazon.com", url_segment(r)),
        None => "https://console.aws.amazon.com".to_owned(),
    };
    let query = region
        .map(|r| format!("?region={}", url_segment(r)))
        .unwrap_or_default();
    let pipeline = url_segment(&event.pipeline);
    match &event.execution_id {
        Some(id) => format!(
            "{host}/codesuite/codepipeline/pipelines/{pipeline}/executions/{}/timeline{query}",
            url_segment(id)
        ),
        None => format!("{host}/codesuite/codepipeline/pipelines/{pipeline}/view{query}"),
    }
}

/// AWS Chatbot custom notification: `client-markdown` title and description.
fn chatbot(
    subject: &str,
    event: &PipelineEvent,
    environment: &str,
    commit: &Commit,
    failures: &[FailedAction],
    unavailable: Option<&str>,
    console_url: &str,
) -> Value {
    let mut d = format!(
        "*Pipeline:* {} ({environment})\n*State:* {}",
        event.pipeline, event.state
    );
    if let Some(line) = commit_line(commit) {
        let _ = write!(d, "\n*Commit:* {line}");
    }
    for f in failures {
        let _ = write!(d, "\n- {}", failure_line(f));
    }
    if let Some(why) = unavailable {
        let _ = write!(d, "\n_Failure details unavailable: {why}_");
    }
    let _ = write!(d, "\n<{console_url}|Open in the console>");
    json!({
        "version": "1.0",
        "source": "custom",
        "id": event.id,
        "content": {
            "textType": "client-markdown",
            "title": subject,
            "description": bounded(&d, MAX_CHATBOT_DESCRIPTION_CHARS),
        },
        "metadata": {"enableCustomActions": false},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::{ExecutionInfo, SourceRevision};
    use crate::event::parse;

    fn event(state: &str, extra: Value) -> PipelineEvent {
        let mut raw = json!({
            "version": "0", "id": "evt-1", "detail-type": "CodePipeline Pipeline Execution State Change",
            "source": "aws.codepipeline", "account": "123456789012", "time": "2024-05-01T10:05:00Z",
            "region": "eu-west-1",
            "detail": {"pipeline": "pipeline-dev", "execution-id": "exec-1", "state": state,
                       "start-time": "2024-05-01T10:00:00.000Z"}
        });
        if let (Some(detail), Some(extra)) = (raw["detail"].as_object_mut(), extra.as_object()) {
            detail.extend(extra.clone());
        }
        parse(&raw).expect("test event parses")
    }

    fn options() -> MessageOptions {
        MessageOptions {
            environment: Some("dev".into()),
            ..MessageOptions::default()
        }
    }

    #[test]
    fn failed_pipeline_subject_names_the_failed_stage() {
        let enrichment = Enrichment {
            failed_actions: vec![FailedAction {
                stage: "Build".into(),
                action: "BuildImage".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let n = format(&event("FAILED", json!({})), &enrichment, &options());
        assert_eq!(n.subject, "[FAILED] pipeline-dev: Build failed");
        assert!(
            n.text
                .contains("  - Build / BuildImage: no summary reported"),
            "{}",
            n.text
        );
        assert!(n.text.contains("Duration:    5m 00s"), "{}", n.text);
    }

    #[test]
    fn message_has_every_protocol_key_and_https_sqs_carry_the_body_as_a_string() {
        let n = format(
            &event("SUCCEEDED", json!({})),
            &Enrichment::default(),
            &options(),
        );
        let message: Value = serde_json::from_str(&n.message).expect("message is JSON");
        assert_eq!(message["default"], json!(n.text));
        assert_eq!(message["email"], json!(n.text));
        for key in ["https", "sqs"] {
            let inner: Value =
                serde_json::from_str(message[key].as_str().expect("string")).expect("inner JSON");
            assert_eq!(inner, n.body, "{key}");
        }
        assert_eq!(n.body["durationSeconds"], json!(300));
        assert_eq!(
            n.body["consoleUrl"],
            json!(
                "https://eu-west-1.console.aws.amazon.com/codesuite/codepipeline/pipelines/pipeline-dev/executions/exec-1/timeline?region=eu-west-1"
            )
        );
        assert_eq!(n.attributes[ATTR_ENVIRONMENT], "dev");
        assert_eq!(n.attributes[ATTR_STATE], "SUCCEEDED");
    }

    #[test]
    fn started_runs_have_no_duration_and_unset_environment_is_unknown() {
        let n = format(
            &event("STARTED", json!({})),
            &Enrichment::default(),
            &MessageOptions::default(),
        );
        assert!(!n.text.contains("Duration"));
        assert!(n.body.get("durationSeconds").is_none());
        assert_eq!(n.attributes[ATTR_ENVIRONMENT], UNKNOWN_ENVIRONMENT);
    }

    #[test]
    fn commit_comes_from_the_event_trigger_before_enrichment() {
        let e = event(
            "FAILED",
            json!({"execution-trigger": {"trigger-type": "WebhookV2", "commit-id": "abc123",
                                         "commit-message": "Fix it\n\nlong body", "branch-name": "main",
                                         "full-repository-name": "acme/app"}}),
        );
        let enrichment = Enrichment {
            execution: Some(ExecutionInfo {
                revisions: vec![SourceRevision {
                    revision_id: Some("other".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let n = format(&e, &enrichment, &options());
        assert!(
            n.text.contains("Commit:      abc123 \"Fix it\""),
            "{}",
            n.text
        );
        assert!(
            n.text.contains("Source:      acme/app (branch main)"),
            "{}",
            n.text
        );
        assert_eq!(n.body["commit"]["id"], json!("abc123"));
    }

    #[test]
    fn commit_falls_back_to_the_source_revision() {
        let enrichment = Enrichment {
            execution: Some(ExecutionInfo {
                trigger_type: Some("Webhook".into()),
                revisions: vec![SourceRevision {
                    revision_id: Some("deadbeef".into()),
                    summary: Some("Bump deps".into()),
                    url: Some("https://example.invalid/commit/deadbeef".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let n = format(&event("FAILED", json!({})), &enrichment, &options());
        assert!(
            n.text.contains("Commit:      deadbeef \"Bump deps\""),
            "{}",
            n.text
        );
        assert!(n.text.contains("Trigger:     Webhook"), "{}", n.text);
        assert_eq!(
            n.body["commit"]["url"],
            json!("https://example.invalid/commit/deadbeef")
        );
    }

    #[test]
    fn unavailable_details_are_said_in_text_and_body() {
        let enrichment = Enrichment {
            unavailable: Some("timed out".into()),
            ..Default::default()
        };
        let n = format(&event("FAILED", json!({})), &enrichment, &options());
        assert_eq!(n.subject, "[FAILED] pipeline-dev: execution failed");
        assert!(n.text.contains("Failure details unavailable: timed out"));
        assert_eq!(n.body["failureDetailsUnavailable"], json!("timed out"));
    }

    #[test]
    fn chatbot_format_replaces_only_the_https_body() {
        let opts = MessageOptions {
            chatbot: true,
            ..options()
        };
        let n = format(&event("FAILED", json!({})), &Enrichment::default(), &opts);
        let message: Value = serde_json::from_str(&n.message).expect("JSON");
        let https: Value =
            serde_json::from_str(message["https"].as_str().expect("string")).expect("JSON");
        assert_eq!(https["version"], json!("1.0"));
        assert_eq!(https["source"], json!("custom"));
        assert_eq!(https["content"]["textType"], json!("client-markdown"));
        assert_eq!(https["content"]["title"], json!(n.subject));
        let sqs: Value =
            serde_json::from_str(message["sqs"].as_str().expect("string")).expect("JSON");
        assert_eq!(sqs, n.body);
    }

    #[test]
    fn hostile_names_cannot_break_the_subject_or_the_link() {
        let mut raw = json!({
            "id": "x", "source": "aws.codepipeline", "detail-type": "CodePipeline Pipeline Execution State Change",
            "detail": {"pipeline": format!("evil\r\nBcc: x {}", "p".repeat(200)), "state": "FAILED", "execution-id": "a/b?c"}
        });
        raw["region"] = json!("us-east-1");
        let n = format(
            &parse(&raw).expect("parses"),
            &Enrichment::default(),
            &options(),
        );
        assert!(text::is_valid_subject(&n.subject), "{}", n.subject);
        assert!(
            n.body["consoleUrl"]
                .as_str()
                .expect("url")
                .contains("/executions/a%2Fb%3Fc/timeline")
        );
    }

    #[test]
    fn without_a_region_the_link_uses_the_fallback_or_the_global_console() {
        let mut e = event("FAILED", json!({}));
        e.region = None;
        assert!(
            console_url(&e, Some("eu-north-1"))
                .starts_with("https://eu-north-1.console.aws.amazon.com/")
        );
        e.execution_id = None;
        assert_eq!(
            console_url(&e, None),
            "https://console.aws.amazon.com/codesuite/codepipeline/pipelines/pipeline-dev/view"
        );
    }
}
