//! What the rehearsal observed, step by step: the report tests and the demo's summary read.

use super::{github, grants};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// Everything the rehearsal observed, for tests and for the closing summary.
#[derive(Clone, Debug)]
pub struct DemoReport {
    /// `bootstrap deploy --output json`.
    pub outputs: Value,
    pub wrong_branch_push: PushCheck,
    pub runs: Vec<RunReport>,
    pub destroy: DestroyReport,
    /// Every grant of the pipeline's roles with the calls that used it.
    pub grants: Vec<grants::GrantUse>,
    /// The replayed mutation test and the scope lint of every exercised policy.
    pub audit: grants::Audit,
    /// The build ran with podman and the emulator's registry (not the stand-in `docker`).
    pub real_build: bool,
    pub total: Duration,
}

/// CodePipeline's checks of one push delivered to the webhook.
#[derive(Clone, Debug)]
pub struct PushCheck {
    pub git_ref: String,
    pub signature_valid: bool,
    pub filters: Vec<github::FilterVerdict>,
    /// Whether CodePipeline would start an execution.
    pub starts_execution: bool,
    /// AWS calls that changed something while the push was handled (none when nothing starts).
    pub mutating_calls: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct RunReport {
    pub label: String,
    pub commit: String,
    pub execution_id: String,
    pub push: PushCheck,
    pub source_key: String,
    pub source_version_id: Option<String>,
    pub build: BuildReport,
    /// The image under the build's tag in ECR after the run, if any.
    pub image: Option<EcrImage>,
    /// Whether ECR refused a second, different image under the same tag (tag immutability).
    pub retag_refused: Option<bool>,
    pub deploy: Option<DeployReport>,
    /// The image the team's service runs after the run (with a deploy target).
    pub team_image: Option<String>,
    /// `SUCCEEDED` or `FAILED`.
    pub pipeline_state: String,
    pub events: Vec<EventDelivery>,
    pub notifications: Vec<Notification>,
    /// CodePipeline job-result calls made during this run.
    pub job_result_calls: usize,
    pub duration: Duration,
}

#[derive(Clone, Debug)]
pub struct BuildReport {
    pub succeeded: bool,
    /// `(phase, failing command's first line)` when the build failed.
    pub failure: Option<(String, String)>,
    /// Every `docker` and `aws` call the build made, e.g. `["docker", "push", "…"]`.
    pub tool_calls: Vec<Vec<String>>,
    pub exported: BTreeMap<String, String>,
    pub output_key: Option<String>,
    pub log: String,
    /// `(image reference, digest)` of each push the real engine made (none with the stand-in).
    pub pushed: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EcrImage {
    pub tag: String,
    pub digest: String,
}

#[derive(Clone, Debug)]
pub struct DeployReport {
    pub job_id: String,
    /// The job as the emulator recorded it (`status`, `results`).
    pub job: Value,
    pub status: String,
    pub output_variables: BTreeMap<String, String>,
}

/// One state-change event and where EventBridge's rules sent it.
#[derive(Clone, Debug)]
pub struct EventDelivery {
    pub detail_type: String,
    pub state: String,
    pub what: String,
    pub matched_rules: Vec<String>,
    /// What each target answered, e.g. `event-notifier: published`.
    pub deliveries: Vec<String>,
}

/// One SNS message as a subscriber receives it.
#[derive(Clone, Debug)]
pub struct Notification {
    pub subject: Option<String>,
    /// The message (the notifier's machine-readable body, or the rule's plain text).
    pub message: String,
    pub attributes: BTreeMap<String, String>,
}

#[derive(Clone, Debug)]
pub struct DestroyReport {
    pub deleted: Vec<String>,
    pub remaining: Vec<String>,
    /// Anything of the environment still found by listing each service after destroy.
    pub leftovers: Vec<String>,
}
