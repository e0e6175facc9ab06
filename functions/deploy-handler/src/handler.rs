//! The job orchestration: parse, read the artifact, start (or poll) the deploy targets the
//! configuration selects (`deploy_target`), always report.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use tokio::time::Instant;

use crate::artifact::{ArtifactStore, read_image_artifact};
use crate::delivery::eventbridge::EventPublisher;
use crate::delivery::secret::SecretSource;
use crate::delivery::{DeploymentEvent, ImageFields, TargetError};
use crate::deploy_target::{self, KINDS, Plan, Resume, Started, Work};
use crate::event::{Artifact, EventError, Job, parse_job};
use crate::image::ImageRef;
use crate::image_platform::{ImageRegistry, RegistryError, registry_platform};
use crate::inflight;
use crate::params::UserParameters;
use crate::report::{
    FailureKind, FailureReport, JobReporter, PipelineContext, ReportError, ReportOutcome,
    SuccessReport,
};
use crate::rollout::RolloutApi;
use crate::transport::HttpTransport;

pub use crate::config::{DEFAULT_DEADLINE_MARGIN, Settings};
pub use crate::deploy_target::webhook::{ContinuationState, continuation_token};

/// Used when the runtime gives no deadline: Lambda's own maximum.
const LAMBDA_MAX_DURATION: Duration = Duration::from_secs(15 * 60);

/// Everything the handler talks to, each behind a narrow trait.
pub struct Deps {
    pub reporter: Arc<dyn JobReporter>,
    pub artifacts: Arc<dyn ArtifactStore>,
    pub http: Arc<dyn HttpTransport>,
    pub webhook_secret: Option<Arc<dyn SecretSource>>,
    pub events: Arc<dyn EventPublisher>,
    /// ECS and Lambda calls of a rollout (`DEPLOY_TARGET`); nothing is built until a job needs it.
    pub rollout: Arc<dyn RolloutApi>,
    /// ECR, asked what an image is built for when the artifact does not say.
    pub registry: Arc<dyn ImageRegistry>,
    pub settings: Settings,
}

impl std::fmt::Debug for Deps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deps")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The function's response (CodePipeline ignores it; it helps when reading invocation logs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub job_id: String,
    pub result: JobResult,
    pub report: ReportOutcome,
    pub summary: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobResult {
    Succeeded,
    InProgress,
    Failed,
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    NotAJob(EventError),
    /// Returning an error makes Lambda retry the asynchronous invocation, so the report gets another chance.
    #[error(transparent)]
    Report(#[from] ReportError),
}

impl From<HandlerError> for Diagnostic {
    fn from(err: HandlerError) -> Self {
        let error_type = match err {
            HandlerError::NotAJob(_) => "NotACodePipelineJob",
            HandlerError::Report(_) => "JobReportFailed",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: err.to_string(),
        }
    }
}

/// A failure to report, with the CodePipeline failure type it maps to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobError {
    pub kind: FailureKind,
    pub message: String,
}

impl JobError {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl From<TargetError> for JobError {
    fn from(err: TargetError) -> Self {
        Self::new(err.failure_kind(), err.to_string())
    }
}

/// What to tell CodePipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Final {
        summary: String,
        variables: BTreeMap<String, String>,
    },
    Continue {
        summary: String,
        token: String,
    },
    Fail(JobError),
}

/// Facts gathered while working, for the structured log line (kept even when the work times out).
#[derive(Debug, Default)]
struct Trace {
    pipeline: Option<String>,
    execution_id: Option<String>,
    image_uri: Option<String>,
    image_digest: Option<String>,
    commit: Option<String>,
    /// The selected deploy targets (`Plan::label`).
    target: String,
    /// The pipeline stage of the action (UserParameters `stage`), with stages.
    stage: Option<String>,
}

pub async fn handle(
    event: LambdaEvent<serde_json::Value>,
    deps: &Deps,
) -> Result<Outcome, HandlerError> {
    let started = Instant::now();
    let (payload, context) = event.into_parts();
    let job = match parse_job(&payload) {
        Ok(job) => job,
        Err(EventError::Malformed { job_id, problem }) => {
            let in_flight = inflight::enter(&job_id);
            let error = JobError::new(
                FailureKind::JobFailed,
                format!(
                    "the job event is malformed ({problem}); this is not a shape CodePipeline sends, see the function's logs"
                ),
            );
            let outcome = report(deps, &job_id, Decision::Fail(error)).await;
            in_flight.finish();
            return outcome.map(|(outcome, _)| outcome);
        }
        Err(err @ EventError::NotAJob(_)) => {
            tracing::error!(error = %err, "not a CodePipeline job; nothing to report to");
            return Err(HandlerError::NotAJob(err));
        }
    };

    let in_flight = inflight::enter(&job.id);
    let work_deadline = work_deadline(context.deadline, deps.settings.deadline_margin);
    let mut trace = Trace {
        target: "none".to_owned(),
        ..Trace::default()
    };
    let decision =
        match tokio::time::timeout_at(work_deadline, work(&job, deps, work_deadline, &mut trace))
            .await
        {
            Ok(decision) => decision,
            Err(_elapsed) => deadline_decision(&job, deps.settings.deadline_margin),
        };
    let result = report(deps, &job.id, decision).await;
    in_flight.finish();

    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let outcome_label = match &result {
        Ok((outcome, _)) => match outcome.result {
            JobResult::Succeeded => "succeeded",
            JobResult::InProgress => "in_progress",
            JobResult::Failed => "failed",
        },
        Err(_) => "report_failed",
    };
    let failure_message = result
        .as_ref()
        .ok()
        .and_then(|(_, failure)| failure.as_ref().map(|f| f.message.as_str()));
    tracing::info!(
        pipeline = trace.pipeline.as_deref(),
        execution_id = trace.execution_id.as_deref(),
        job_id = %job.id,
        image_uri = trace.image_uri.as_deref(),
        image_digest = trace.image_digest.as_deref(),
        commit = trace.commit.as_deref(),
        target = trace.target.as_str(),
        stage = trace.stage.as_deref(),
        outcome = outcome_label,
        report = result.as_ref().ok().map(|(o, _)| format!("{:?}", o.report)).as_deref(),
        failure = failure_message,
        duration_ms,
        "deployment"
    );
    result.map(|(outcome, _)| outcome)
}

/// When the work ran out of time: keep a long deployment going, otherwise fail loudly.
fn deadline_decision(job: &Job, margin: Duration) -> Decision {
    if let Some(token) = job.data.continuation_token.clone() {
        return Decision::Continue {
            summary: "Deployment still in progress (status check ran out of time; checking again)"
                .to_owned(),
            token,
        };
    }
    Decision::Fail(JobError::new(
        FailureKind::JobFailed,
        format!(
            "deploy-handler stopped {} ms before its Lambda deadline without finishing the deployment request; \
             raise the function's timeout or make the deployment target answer faster (a long deployment should \
             answer 202 Accepted with a Location to poll)",
            margin.as_millis()
        ),
    ))
}

fn work_deadline(deadline_epoch_ms: u64, margin: Duration) -> Instant {
    let now = Instant::now();
    if deadline_epoch_ms == 0 {
        return now + LAMBDA_MAX_DURATION.saturating_sub(margin);
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let remaining = Duration::from_millis(
        u64::try_from(u128::from(deadline_epoch_ms).saturating_sub(now_ms)).unwrap_or(0),
    );
    now + remaining.saturating_sub(margin)
}

async fn report(
    deps: &Deps,
    job_id: &str,
    decision: Decision,
) -> Result<(Outcome, Option<JobError>), HandlerError> {
    let external_execution_id = job_id.to_owned();
    let (result, summary, failure, put) = match decision {
        Decision::Final { summary, variables } => {
            let report = SuccessReport::Final {
                summary: summary.clone(),
                external_execution_id,
                output_variables: variables,
            };
            (
                JobResult::Succeeded,
                summary,
                None,
                deps.reporter.succeed(job_id, report),
            )
        }
        Decision::Continue { summary, token } => {
            let report = SuccessReport::Continue {
                summary: summary.clone(),
                external_execution_id,
                continuation_token: token,
            };
            (
                JobResult::InProgress,
                summary,
                None,
                deps.reporter.succeed(job_id, report),
            )
        }
        Decision::Fail(error) => {
            let report = FailureReport {
                kind: error.kind,
                message: error.message.clone(),
                external_execution_id,
            };
            let summary = format!("{}: {}", error.kind.as_str(), error.message);
            (
                JobResult::Failed,
                summary,
                Some(error),
                deps.reporter.fail(job_id, report),
            )
        }
    };
    let report = put.await?;
    match report {
        ReportOutcome::AlreadyFinished => {
            tracing::info!(
                job_id,
                "CodePipeline already has this job's result (a re-delivered job)"
            )
        }
        ReportOutcome::JobNotFound => tracing::warn!(
            job_id,
            "CodePipeline no longer knows this job; nothing to report to"
        ),
        ReportOutcome::Accepted => {}
    }
    Ok((
        Outcome {
            job_id: job_id.to_owned(),
            result,
            report,
            summary,
        },
        failure,
    ))
}

async fn work(job: &Job, deps: &Deps, deadline: Instant, trace: &mut Trace) -> Decision {
    let decision = match try_work(job, deps, deadline, trace).await {
        Ok(decision) => decision,
        Err(error) => Decision::Fail(error),
    };
    match trace.stage.as_deref() {
        Some(stage) => decision.in_stage(stage),
        None => decision,
    }
}

impl Decision {
    /// The decision as the stage's own: its summary or failure message starts with the stage's
    /// name (one function serves every stage, and the execution's details show each action's
    /// summary), and a final success exports it as `STAGE`.
    fn in_stage(self, stage: &str) -> Self {
        match self {
            Self::Final {
                summary,
                mut variables,
            } => {
                variables.insert(
                    pipeline_common::pipeline_variables::STAGE.to_owned(),
                    stage.to_owned(),
                );
                Self::Final {
                    summary: format!("Stage {stage}: {summary}"),
                    variables,
                }
            }
            Self::Continue { summary, token } => Self::Continue {
                summary: format!("Stage {stage}: {summary}"),
                token,
            },
            Self::Fail(error) => Self::Fail(JobError::new(
                error.kind,
                format!("stage {stage}: {}", error.message),
            )),
        }
    }
}

/// The job's steps in order: its parameters and targets, the image, then a poll of the
/// deployment in progress or the start of a new one.
async fn try_work(
    job: &Job,
    deps: &Deps,
    deadline: Instant,
    trace: &mut Trace,
) -> Result<Decision, JobError> {
    let params = UserParameters::parse(job.user_parameters())
        .map_err(|e| JobError::new(FailureKind::ConfigurationError, e.to_string()))?;
    if params.wants_test_panic() {
        panic!("panic requested by UserParameters panicForTest (debug builds only)");
    }
    trace.stage = params.stage.clone();
    let plan = Plan::new(&deps.settings, &params);
    trace.target = plan.label();
    let plan = plan.with_target(&deps.settings, &params)?;
    trace.target = plan.label();

    let input = job.input_artifact().ok_or_else(|| {
        JobError::new(
            FailureKind::ConfigurationError,
            "the Deploy action has no input artifact; give it the build stage's output artifact as input",
        )
    })?;
    trace.commit = input.revision.clone();
    let mut image = read_image(job, deps, &params, input, deadline).await?;
    trace.image_uri = Some(image.uri.clone());
    trace.image_digest = image.digest.clone();
    let variables = output_variables(&image, input.revision.as_deref(), &job.id);

    if let Some(token) = job.data.continuation_token.as_deref() {
        let resume = Resume {
            job_id: &job.id,
            token,
            params: &params,
            image: &image,
            variables: &variables,
            deadline,
        };
        return deploy_target::owner_of(token).poll(deps, &resume).await;
    }

    // Before anything starts (a continuation polls what this check already let through).
    if plan.target.is_some() && image.architecture.is_none() {
        image.architecture = registry_architecture(deps, &image).await?;
    }
    let event = deployment_event(job, deps, &params, &image, input, trace).await;
    let described = format!(
        "{image}{} to {}",
        input
            .revision
            .as_deref()
            .map(|c| format!(" (commit {c})"))
            .unwrap_or_default(),
        event
            .environment
            .as_deref()
            .unwrap_or("the target environment")
    );
    let work = Work {
        job_id: &job.id,
        plan: &plan,
        params: &params,
        image: &image,
        event: &event,
        described: &described,
        variables: &variables,
        deadline,
    };
    start_targets(deps, &work).await
}

/// Reads the image the build produced from the input artifact, with the job's credentials.
async fn read_image(
    job: &Job,
    deps: &Deps,
    params: &UserParameters,
    input: &Artifact,
    deadline: Instant,
) -> Result<ImageRef, JobError> {
    let location = input
        .location
        .as_ref()
        .filter(|l| l.kind.as_deref().is_none_or(|k| k == "S3"))
        .and_then(|l| l.s3_location.as_ref())
        .ok_or_else(|| {
            JobError::new(
                FailureKind::ConfigurationError,
                "the input artifact is not stored in S3; the pipeline's artifact store must be an S3 bucket",
            )
        })?;
    let credentials = job.data.artifact_credentials.as_ref().ok_or_else(|| {
        JobError::new(
            FailureKind::PermissionError,
            "the job carries no artifactCredentials, so the input artifact cannot be read; CodePipeline always \
             sends them to an Invoke action: check the action's configuration",
        )
    })?;
    let zip = deps
        .artifacts
        .fetch(
            location,
            credentials,
            job.data.encryption_key.as_ref(),
            deadline,
        )
        .await
        .map_err(|e| JobError::new(e.failure_kind(), e.to_string()))?;
    let artifact = read_image_artifact(&zip, params.service())
        .map_err(|e| JobError::new(e.failure_kind(), e.to_string()))?;
    Ok(artifact.image)
}

/// What the registry says the image is built for, when the artifact does not: the rollout then
/// refuses a mismatch as it refuses a labelled one. An unreadable registry fails the job rather
/// than deploying an image that may not start (exec format error) and reporting success.
async fn registry_architecture(
    deps: &Deps,
    image: &ImageRef,
) -> Result<Option<pipeline_common::CpuArchitecture>, JobError> {
    let platform = registry_platform(deps.registry.as_ref(), image)
        .await
        .map_err(|e| {
            let kind = match e {
                RegistryError::Denied { .. } => FailureKind::PermissionError,
                RegistryError::Failed { .. } => FailureKind::JobFailed,
            };
            JobError::new(kind, e.to_string())
        })?;
    platform
        .architecture(image)
        .map_err(|problem| JobError::new(FailureKind::JobFailed, problem))
}

/// The event every target receives, with the pipeline and execution when CodePipeline says.
async fn deployment_event(
    job: &Job,
    deps: &Deps,
    params: &UserParameters,
    image: &ImageRef,
    input: &Artifact,
    trace: &mut Trace,
) -> DeploymentEvent {
    let PipelineContext {
        pipeline_name,
        execution_id,
    } = deps
        .reporter
        .pipeline_context(&job.id)
        .await
        .unwrap_or_default();
    trace.pipeline =
        pipeline_name.or_else(|| pipeline_from_env(deps.settings.pipeline_env.as_deref()));
    trace.execution_id = execution_id;
    DeploymentEvent {
        deployment_id: job.id.clone(),
        pipeline: trace.pipeline.clone(),
        execution_id: trace.execution_id.clone(),
        image: ImageFields {
            uri: image.uri.clone(),
            repository: image.repository.clone(),
            tag: image.tag.clone(),
            digest: image.digest.clone(),
        },
        commit: input.revision.clone(),
        environment: params
            .environment
            .clone()
            .or_else(|| deps.settings.pipeline_env.clone()),
        service: params.service().to_owned(),
        requested_at: now_rfc3339(),
    }
}

/// Starts the selected targets in [`KINDS`]' order until one takes the deployment.
async fn start_targets(deps: &Deps, work: &Work<'_>) -> Result<Decision, JobError> {
    let mut delivered = Vec::new();
    for kind in KINDS.into_iter().filter(|kind| kind.selected(work.plan)) {
        match kind.start(deps, work).await? {
            Started::Delivered { to } => delivered.push(to),
            Started::Decided(decision) => return Ok(decision),
        }
    }
    let described = work.described;
    let summary = if delivered.is_empty() {
        format!(
            "Deployment of {described} recorded only: no DEPLOY_WEBHOOK_URL or DEPLOY_EVENT_BUS is configured, \
             so nothing was triggered"
        )
    } else {
        format!(
            "Deployment of {described} requested via {}",
            delivered.join(" and ")
        )
    };
    Ok(Decision::Final {
        summary,
        variables: work.variables.clone(),
    })
}

pub fn output_variables(
    image: &ImageRef,
    commit: Option<&str>,
    deployment_id: &str,
) -> BTreeMap<String, String> {
    use pipeline_common::pipeline_variables as names;
    let mut variables = BTreeMap::from([
        (names::IMAGE_URI.to_owned(), image.uri.clone()),
        (names::DEPLOYMENT_ID.to_owned(), deployment_id.to_owned()),
    ]);
    let optional = [
        (names::IMAGE_TAG, image.tag.as_deref()),
        (names::IMAGE_DIGEST, image.digest.as_deref()),
        (names::COMMIT_ID, commit),
    ];
    for (name, value) in optional {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            variables.insert(name.to_owned(), value.to_owned());
        }
    }
    variables
}

fn pipeline_from_env(env: Option<&str>) -> Option<String> {
    pipeline_common::EnvName::parse(env?)
        .ok()
        .map(|e| e.names().pipeline())
}

fn now_rfc3339() -> String {
    DateTime::from(SystemTime::now())
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

pub(crate) fn elapsed_since(rfc3339: &str) -> Option<Duration> {
    let started = DateTime::from_str(rfc3339, Format::DateTime).ok()?;
    let started = SystemTime::try_from(started).ok()?;
    SystemTime::now().duration_since(started).ok()
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
