//! One invocation: parse, filter, de-duplicate, enrich failures, format, publish.
//!
//! Malformed or unrelated events are logged and acknowledged (retrying cannot fix them); a
//! failed publish is an error, so Lambda's async retries and on-failure destination take over.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use tracing::{info, warn};

use crate::commit_status::{CommitStatuses, STATUS_BUDGET};
use crate::config::Config;
use crate::dedupe::RecentIds;
use crate::enrich::{Enrichment, ExecutionLookup, enrich};
use crate::event::{Level, PipelineEvent, event_id, parse};
use crate::message::{MessageOptions, format};
use crate::publish::{PublishError, Publisher};

/// Upper bound on the CodePipeline lookups for one failed execution.
pub const ENRICH_BUDGET: Duration = Duration::from_secs(3);
/// Time kept for publishing when the Lambda deadline is near.
pub const PUBLISH_RESERVE: Duration = Duration::from_secs(2);

/// Everything an invocation needs; built once per cold start.
#[derive(Debug)]
pub struct Deps<L, P> {
    pub config: Config,
    pub lookup: L,
    pub publisher: P,
    pub recent: Mutex<RecentIds>,
    pub enrich_budget: Duration,
    /// Commit statuses on GitHub, when configured (`GITHUB_STATUS_TOKEN_SECRET`).
    pub github: Option<CommitStatuses>,
}

impl<L, P> Deps<L, P> {
    pub fn new(config: Config, lookup: L, publisher: P) -> Self {
        Self {
            config,
            lookup,
            publisher,
            recent: Mutex::new(RecentIds::default()),
            enrich_budget: ENRICH_BUDGET,
            github: None,
        }
    }

    /// Sets commit statuses on GitHub for stage events, besides notifying.
    #[must_use]
    pub fn with_github(mut self, github: CommitStatuses) -> Self {
        self.github = Some(github);
        self
    }
}

/// What an invocation did; the Lambda response, so tests and logs can tell the cases apart.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Published {
        event_id: String,
        message_id: String,
    },
    /// The event's state is not one that notifies.
    Filtered { event_id: String, state: String },
    /// Already published by this instance (EventBridge delivers at least once).
    Duplicate { event_id: String },
    /// Not a CodePipeline state-change event.
    Ignored {
        event_id: Option<String>,
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Publish(#[from] PublishError),
}

impl From<HandlerError> for Diagnostic {
    fn from(err: HandlerError) -> Self {
        let error_type = match &err {
            HandlerError::Publish(PublishError::TopicNotFound { .. }) => {
                "PublishError.TopicNotFound"
            }
            HandlerError::Publish(PublishError::NotAuthorized { .. }) => {
                "PublishError.NotAuthorized"
            }
            HandlerError::Publish(PublishError::Rejected { .. }) => "PublishError.Rejected",
            HandlerError::Publish(PublishError::Failed { .. }) => "PublishError.Failed",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: err.to_string(),
        }
    }
}

/// Whether an event notifies: pipeline-level events when their state is configured
/// (`NOTIFY_STATES`); manual approvals when they start and end; other stage and action events
/// only when FAILED.
pub fn should_notify(event: &PipelineEvent, config: &Config) -> bool {
    if crate::approval::is_approval(event) {
        return crate::approval::notifies(event);
    }
    match event.level {
        Level::Pipeline => config.notify_states.contains(&event.state),
        Level::Stage | Level::Action => event.state == "FAILED",
    }
}

pub async fn handle<L: ExecutionLookup, P: Publisher>(
    event: LambdaEvent<Value>,
    deps: &Deps<L, P>,
) -> Result<Outcome, HandlerError> {
    let (raw, context) = event.into_parts();
    let parsed = match parse(&raw) {
        Ok(parsed) => parsed,
        Err(rejection) => {
            let id = event_id(&raw).map(str::to_owned);
            warn!(event_id = id.as_deref().unwrap_or("(none)"), reason = %rejection, "ignoring event");
            return Ok(Outcome::Ignored {
                event_id: id,
                reason: rejection.to_string(),
            });
        }
    };
    // Every stage state moves its commit status, whether or not it notifies; GitHub's answer
    // (or silence) is logged and never fails the invocation.
    if let Some(github) = &deps.github {
        let budget = enrich_budget(STATUS_BUDGET, context.deadline, SystemTime::now());
        let region = deps.config.region.as_deref();
        github.report(&parsed, &deps.lookup, region, budget).await;
    }
    if !should_notify(&parsed, &deps.config) {
        info!(event_id = %parsed.id, pipeline = %parsed.pipeline, state = %parsed.state, level = parsed.level.as_str(), "state does not notify");
        return Ok(Outcome::Filtered {
            event_id: parsed.id,
            state: parsed.state,
        });
    }
    if lock(&deps.recent).contains(&parsed.id) {
        info!(event_id = %parsed.id, "already published; skipping the duplicate delivery");
        return Ok(Outcome::Duplicate {
            event_id: parsed.id,
        });
    }

    // A failed execution is enriched with what failed; an approval asked for, with the commit
    // and what the earlier stages deployed.
    let asks_approval = crate::approval::is_approval(&parsed) && parsed.state == "STARTED";
    let enrichment = if (parsed.level == Level::Pipeline && parsed.state == "FAILED")
        || asks_approval
    {
        match &parsed.execution_id {
            Some(execution_id) => {
                let budget = enrich_budget(deps.enrich_budget, context.deadline, SystemTime::now());
                let found = enrich(&deps.lookup, &parsed.pipeline, execution_id, budget).await;
                if let Some(why) = &found.unavailable {
                    warn!(event_id = %parsed.id, reason = %why, "failure details unavailable");
                }
                found
            }
            None => Enrichment {
                unavailable: Some("the event names no execution id to look up".to_owned()),
                ..Enrichment::default()
            },
        }
    } else {
        Enrichment::default()
    };

    let options = MessageOptions {
        environment: deps.config.environment.clone(),
        chatbot: deps.config.chatbot_format,
        fallback_region: deps.config.region.clone(),
    };
    let notification = format(&parsed, &enrichment, &options);
    let message_id = deps
        .publisher
        .publish(&notification)
        .await
        .inspect_err(|e| {
            warn!(event_id = %parsed.id, error = %e, "publish failed");
        })?;
    lock(&deps.recent).record(&parsed.id);
    info!(
        event_id = %parsed.id, pipeline = %parsed.pipeline, state = %parsed.state,
        level = parsed.level.as_str(), message_id = %message_id, subject = %notification.subject,
        "published"
    );
    Ok(Outcome::Published {
        event_id: parsed.id,
        message_id,
    })
}

/// The lookup budget, shrunk so publishing still fits before the Lambda deadline
/// (`deadline_ms` is epoch milliseconds; 0 means unknown).
pub fn enrich_budget(budget: Duration, deadline_ms: u64, now: SystemTime) -> Duration {
    if deadline_ms == 0 {
        return budget;
    }
    let deadline = UNIX_EPOCH + Duration::from_millis(deadline_ms);
    let remaining = deadline.duration_since(now).unwrap_or(Duration::ZERO);
    budget.min(remaining.saturating_sub(PUBLISH_RESERVE))
}

fn lock(recent: &Mutex<RecentIds>) -> std::sync::MutexGuard<'_, RecentIds> {
    // A panic elsewhere cannot leave the id set inconsistent; keep using it.
    recent
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::{ActionRecord, ExecutionInfo, LookupError};
    use crate::message::Notification;
    use lambda_runtime::Context;
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct FakeLookup {
        calls: AtomicUsize,
        fail: bool,
    }
    impl ExecutionLookup for FakeLookup {
        async fn execution(&self, _: &str, _: &str) -> Result<ExecutionInfo, LookupError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.fail {
                return Err(LookupError::AccessDenied("GetPipelineExecution"));
            }
            Ok(ExecutionInfo::default())
        }
        async fn actions(&self, _: &str, _: &str) -> Result<Vec<ActionRecord>, LookupError> {
            if self.fail {
                return Err(LookupError::AccessDenied("ListActionExecutions"));
            }
            Ok(vec![ActionRecord {
                stage: "Build".into(),
                action: "BuildImage".into(),
                failed: true,
                summary: Some("tests failed".into()),
                ..Default::default()
            }])
        }
    }

    #[derive(Default)]
    struct FakePublisher {
        sent: Mutex<Vec<Notification>>,
        fail: bool,
    }
    impl Publisher for FakePublisher {
        async fn publish(&self, n: &Notification) -> Result<String, PublishError> {
            if self.fail {
                return Err(PublishError::Failed {
                    topic: "t".into(),
                    message: "throttled".into(),
                });
            }
            let mut sent = self.sent.lock().expect("not poisoned");
            sent.push(n.clone());
            Ok(format!("m-{}", sent.len()))
        }
    }

    fn deps(lookup: FakeLookup, publisher: FakePublisher) -> Deps<FakeLookup, FakePublisher> {
        let config = Config::from_lookup(|name| match name {
            "NOTIFY_TOPIC_ARN" => {
                Some("arn:aws:sns:eu-west-1:123456789012:notifications-dev".into())
            }
            "PIPELINE_ENV" => Some("dev".into()),
            _ => None,
        })
        .expect("valid config");
        Deps::new(config, lookup, publisher)
    }

    fn raw(id: &str, detail_type: &str, detail: Value) -> LambdaEvent<Value> {
        LambdaEvent::new(
            json!({"version": "0", "id": id, "detail-type": detail_type, "source": "aws.codepipeline",
                   "account": "123456789012", "time": "2024-05-01T10:05:00Z", "region": "eu-west-1",
                   "resources": [], "detail": detail}),
            Context::default(),
        )
    }

    fn pipeline(id: &str, state: &str) -> LambdaEvent<Value> {
        raw(
            id,
            "CodePipeline Pipeline Execution State Change",
            json!({"pipeline": "pipeline-dev", "execution-id": "exec-1", "state": state}),
        )
    }

    fn sent(d: &Deps<FakeLookup, FakePublisher>) -> Vec<Notification> {
        d.publisher.sent.lock().expect("not poisoned").clone()
    }

    fn approval(id: &str, state: &str) -> LambdaEvent<Value> {
        raw(
            id,
            "CodePipeline Action Execution State Change",
            json!({"pipeline": "pipeline-dev", "execution-id": "exec-1", "stage": "Approve-prod",
                   "action": "Approval", "state": state,
                   "type": {"owner": "AWS", "category": "Approval", "provider": "Manual", "version": "1"}}),
        )
    }

    #[tokio::test]
    async fn an_approval_asked_is_enriched_and_its_end_published_without_lookups() {
        let d = deps(FakeLookup::default(), FakePublisher::default());
        handle(approval("a1", "STARTED"), &d).await.expect("ok");
        assert_eq!(d.lookup.calls.load(Ordering::SeqCst), 1);
        handle(approval("a2", "SUCCEEDED"), &d).await.expect("ok");
        assert_eq!(d.lookup.calls.load(Ordering::SeqCst), 1);
        let subjects: Vec<String> = sent(&d).into_iter().map(|n| n.subject).collect();
        assert_eq!(
            subjects,
            [
                "[STARTED] pipeline-dev: approval needed to deploy to prod",
                "[SUCCEEDED] pipeline-dev: deploy to prod approved"
            ]
        );
        // A non-approval action that starts still does not notify.
        let other = raw(
            "a3",
            "CodePipeline Action Execution State Change",
            json!({"pipeline": "pipeline-dev", "execution-id": "exec-1", "stage": "prod",
                   "action": "Deploy", "state": "STARTED",
                   "type": {"owner": "AWS", "category": "Invoke", "provider": "Lambda", "version": "1"}}),
        );
        assert!(matches!(
            handle(other, &d).await.expect("ok"),
            Outcome::Filtered { .. }
        ));
    }

    #[tokio::test]
    async fn failed_pipeline_is_enriched_and_published() {
        let d = deps(FakeLookup::default(), FakePublisher::default());
        let outcome = handle(pipeline("e1", "FAILED"), &d).await.expect("ok");
        assert_eq!(
            outcome,
            Outcome::Published {
                event_id: "e1".into(),
                message_id: "m-1".into()
            }
        );
        let sent = sent(&d);
        assert_eq!(sent[0].subject, "[FAILED] pipeline-dev: Build failed");
        assert!(sent[0].text.contains("tests failed"));
        assert_eq!(d.lookup.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn enrichment_failure_still_publishes_and_says_why() {
        let d = deps(
            FakeLookup {
                fail: true,
                ..Default::default()
            },
            FakePublisher::default(),
        );
        handle(pipeline("e1", "FAILED"), &d)
            .await
            .expect("published anyway");
        let text = &sent(&d)[0].text;
        assert!(
            text.contains(
                "Failure details unavailable: access denied to codepipeline:GetPipelineExecution"
            ),
            "{text}"
        );
    }

    #[tokio::test]
    async fn succeeded_pipeline_is_not_enriched() {
        let d = deps(FakeLookup::default(), FakePublisher::default());
        handle(pipeline("e1", "SUCCEEDED"), &d).await.expect("ok");
        assert_eq!(d.lookup.calls.load(Ordering::SeqCst), 0);
        assert_eq!(sent(&d).len(), 1);
    }

    #[tokio::test]
    async fn states_outside_notify_states_and_non_failed_stage_events_are_filtered() {
        let d = deps(FakeLookup::default(), FakePublisher::default());
        let superseded = handle(pipeline("e1", "SUPERSEDED"), &d).await.expect("ok");
        assert_eq!(
            superseded,
            Outcome::Filtered {
                event_id: "e1".into(),
                state: "SUPERSEDED".into()
            }
        );
        let stage_started = raw(
            "e2",
            "CodePipeline Stage Execution State Change",
            json!({"pipeline": "pipeline-dev", "stage": "Build", "state": "STARTED"}),
        );
        assert!(matches!(
            handle(stage_started, &d).await,
            Ok(Outcome::Filtered { .. })
        ));
        let stage_failed = raw(
            "e3",
            "CodePipeline Stage Execution State Change",
            json!({"pipeline": "pipeline-dev", "stage": "Build", "state": "FAILED"}),
        );
        assert!(matches!(
            handle(stage_failed, &d).await,
            Ok(Outcome::Published { .. })
        ));
        assert_eq!(sent(&d).len(), 1);
    }

    #[tokio::test]
    async fn the_same_event_id_publishes_once() {
        let d = deps(FakeLookup::default(), FakePublisher::default());
        handle(pipeline("dup", "STARTED"), &d).await.expect("ok");
        let again = handle(pipeline("dup", "STARTED"), &d).await.expect("ok");
        assert_eq!(
            again,
            Outcome::Duplicate {
                event_id: "dup".into()
            }
        );
        assert_eq!(sent(&d).len(), 1);
    }

    #[tokio::test]
    async fn a_failed_publish_is_an_error_and_does_not_mark_the_id_seen() {
        let d = deps(
            FakeLookup::default(),
            FakePublisher {
                fail: true,
                ..Default::default()
            },
        );
        let err = handle(pipeline("e1", "STARTED"), &d)
            .await
            .expect_err("publish failed");
        let diagnostic = Diagnostic::from(err);
        assert_eq!(diagnostic.error_type, "PublishError.Failed");
        assert!(
            !d.recent.lock().expect("not poisoned").contains("e1"),
            "a retry must publish"
        );
    }

    #[tokio::test]
    async fn malformed_and_unrelated_events_are_acknowledged() {
        let d = deps(FakeLookup::default(), FakePublisher::default());
        for event in [
            json!("just a string"),
            json!({"id": "x", "source": "aws.s3"}),
            json!({}),
            json!({"id": "y", "source": "aws.codepipeline",
                             "detail-type": "CodePipeline Pipeline Execution State Change", "detail": []}),
        ] {
            let outcome = handle(LambdaEvent::new(event, Context::default()), &d)
                .await
                .expect("acknowledged");
            assert!(matches!(outcome, Outcome::Ignored { .. }), "{outcome:?}");
        }
        assert!(sent(&d).is_empty());
    }

    #[test]
    fn enrich_budget_leaves_room_to_publish_before_the_deadline() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(enrich_budget(ENRICH_BUDGET, 0, now), ENRICH_BUDGET);
        assert_eq!(
            enrich_budget(ENRICH_BUDGET, 1_000_000 + 60_000, now),
            ENRICH_BUDGET
        );
        assert_eq!(
            enrich_budget(ENRICH_BUDGET, 1_000_000 + 3_500, now),
            Duration::from_millis(1_500)
        );
        assert_eq!(
            enrich_budget(ENRICH_BUDGET, 1_000_000 - 10, now),
            Duration::ZERO
        );
    }
}
