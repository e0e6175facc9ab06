//! Progress on stderr: one line per resource as it moves, with the elapsed time; or, with
//! `--progress json`, one JSON object per line: `start` and `finish` of every step (with its
//! duration, the AWS requests it sent and its outcome), and every other line as a `message`.

use crate::model::ResourceId;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::{Value, json};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// Set once by `main` from `--progress`: every progress line of the process is then JSON.
static JSON_LINES: AtomicBool = AtomicBool::new(false);

/// When the process started, for the JSON lines' `at_ms`.
static STARTED: OnceLock<Instant> = OnceLock::new();

/// Makes every progress line of this process a JSON object (`--progress json`); call it first.
pub fn use_json_lines(on: bool) {
    STARTED.get_or_init(Instant::now);
    JSON_LINES.store(on, Ordering::SeqCst);
}

/// Milliseconds since the process started (since the first progress line, at the latest).
fn at_ms() -> u64 {
    let started = STARTED.get_or_init(Instant::now);
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn json_lines() -> bool {
    JSON_LINES.load(Ordering::SeqCst)
}

/// A line that is always shown (a warning, an error, a note): as is, or as a `message` object.
pub fn notice(text: &str) {
    if json_lines() {
        eprintln!(
            "{}",
            json!({ "event": "message", "text": text.trim(), "at_ms": at_ms() })
        );
    } else {
        eprintln!("{text}");
    }
}

/// What a step does to its resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepAction {
    Create,
    Update,
    Delete,
}

impl StepAction {
    pub fn as_str(self) -> &'static str {
        match self {
            StepAction::Create => "create",
            StepAction::Update => "update",
            StepAction::Delete => "delete",
        }
    }

    /// The text line's verb while it runs.
    fn running(self) -> &'static str {
        match self {
            StepAction::Create => "creating",
            StepAction::Update => "updating",
            StepAction::Delete => "deleting",
        }
    }
}

tokio::task_local! {
    /// The AWS requests the step running on this task has sent so far.
    static STEP_CALLS: Arc<AtomicUsize>;
}

/// An SDK interceptor that counts each request (every attempt, retries included) for the step
/// whose task sends it. The SDK runs interceptors inside the `send()` future, so on the task
/// that polls it.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallCount;

impl Intercept for CallCount {
    fn name(&self) -> &'static str {
        "CallCount"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Outside a step (observing, the outputs) there is nothing to count for.
        let _ = STEP_CALLS.try_with(|calls| calls.fetch_add(1, Ordering::Relaxed));
        Ok(())
    }
}

#[derive(Debug)]
pub struct Progress {
    quiet: bool,
    started: Instant,
}

impl Progress {
    /// Text progress, shown unless `quiet`; JSON lines are always shown.
    pub fn new(quiet: bool) -> Self {
        Self {
            quiet: quiet && !json_lines(),
            started: Instant::now(),
        }
    }

    pub fn quiet() -> Self {
        Self {
            quiet: true,
            started: Instant::now(),
        }
    }

    /// e.g. `[  1.2s] unchanged   s3 bucket artifacts-123456789012-dev`.
    pub fn resource(&self, id: &ResourceId, state: &str) {
        self.emit(
            || format!("{state:<11} {id}"),
            || json!({ "event": "note", "state": state, "resource": id.name, "kind": id.kind.label() }),
        );
    }

    /// A state with a detail, e.g. `waiting  lambda function x: IAM role not assumable yet`.
    pub fn resource_detail(&self, id: &ResourceId, state: &str, detail: &str) {
        self.emit(
            || format!("{state:<11} {id}: {detail}"),
            || {
                json!({ "event": "note", "state": state, "resource": id.name,
                        "kind": id.kind.label(), "detail": detail })
            },
        );
    }

    pub fn line(&self, text: &str) {
        self.emit(
            || text.to_owned(),
            || json!({ "event": "message", "text": text }),
        );
    }

    pub fn elapsed(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    /// Runs one step on `id`, announcing its start and its finish: how long it took, how many
    /// AWS requests it sent and whether it succeeded. `detail` (the fields an update changes)
    /// shows on the start.
    pub async fn step<T>(
        &self,
        id: &ResourceId,
        action: StepAction,
        detail: Option<&str>,
        work: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        let mut start = step_event("start", id, action);
        if let Some(detail) = detail {
            start["detail"] = json!(detail);
        }
        self.emit(
            || match detail {
                Some(detail) => format!("{:<11} {id}: {detail}", action.running()),
                None => format!("{:<11} {id}", action.running()),
            },
            || start,
        );
        let calls = Arc::new(AtomicUsize::new(0));
        let began = Instant::now();
        let result = STEP_CALLS.scope(calls.clone(), work).await;
        let took = began.elapsed();
        let mut finish = step_event("finish", id, action);
        finish["duration_ms"] = json!(u64::try_from(took.as_millis()).unwrap_or(u64::MAX));
        finish["calls"] = json!(calls.load(Ordering::Relaxed));
        finish["outcome"] = json!(if result.is_ok() { "ok" } else { "error" });
        if let Err(err) = &result {
            finish["error"] = json!(crate::error_report(err));
        }
        // The text form says nothing of a failure here: the command reports every failed step
        // together at its end.
        if result.is_ok() || json_lines() {
            self.emit(
                || match action {
                    StepAction::Delete => format!("{:<11} {id}", "deleted"),
                    _ => format!("{:<11} {id}: {took:.1?}", "done"),
                },
                || finish,
            );
        }
        result
    }

    /// Prints the text line (with the command's elapsed time) or the JSON object (with `at_ms`).
    fn emit(&self, text: impl FnOnce() -> String, object: impl FnOnce() -> Value) {
        if json_lines() {
            let mut object = object();
            object["at_ms"] = json!(at_ms());
            eprintln!("{object}");
        } else if !self.quiet {
            eprintln!(
                "[{:>6.1}s] {}",
                self.started.elapsed().as_secs_f64(),
                text()
            );
        }
    }
}

fn step_event(event: &str, id: &ResourceId, action: StepAction) -> Value {
    json!({
        "event": event,
        "resource": id.name,
        "kind": id.kind.label(),
        "action": action.as_str(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;

    #[test]
    fn step_events_name_the_resource_kind_and_action() {
        let id = ResourceId::new(Kind::Bucket, "artifacts-1-dev");
        let event = step_event("finish", &id, StepAction::Update);
        assert_eq!(event["resource"], "artifacts-1-dev");
        assert_eq!(event["kind"], Kind::Bucket.label());
        assert_eq!(event["action"], "update");
    }
}
