//! The job orchestration: parse, read the artifact, trigger the deployment, always report.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::artifact::{ArtifactStore, read_image_artifact};
use crate::event::{EventError, Job, parse_job};
use crate::image::ImageRef;
use crate::inflight;
use crate::params::UserParameters;
use crate::report::{
    FailureKind, FailureReport, JobReporter, MAX_CONTINUATION_TOKEN_CHARS, PipelineContext,
    ReportError, ReportOutcome, SuccessReport,
};
use crate::rollout::{self, RolloutApi, RolloutState, Step, Target};
use crate::targets::{
    DeploymentEvent, EventPublisher, HttpTransport, ImageFields, SecretSource, StatusKind,
    TargetError, WebhookOutcome, poll_status, post_deployment, validate_webhook_url,
};

/// Default reserve before the Lambda deadline, for reporting the result.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_millis(5000);
/// Used when the runtime gives no deadline: Lambda's own maximum.
const LAMBDA_MAX_DURATION: Duration = Duration::from_secs(15 * 60);

/// Configuration read from the environment once, at init.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub deadline_margin: Duration,
    /// `PIPELINE_ENV`: default environment and the pipeline name when job details are unavailable.
    pub pipeline_env: Option<String>,
    pub webhook_url: Option<String>,
    pub event_bus: Option<String>,
    /// `DEPLOY_TARGET`: the ECS service or Lambda function the image is rolled out to (parsed
    /// per job, so a bad value fails the job with a message instead of the function's start).
    pub deploy_target: Option<String>,
}

/// Everything the handler talks to, each behind a narrow trait.
pub struct Deps {
    pub reporter: Arc<dyn JobReporter>,
    pub artifacts: Arc<dyn ArtifactStore>,
    pub http: Arc<dyn HttpTransport>,
    pub webhook_secret: Option<Arc<dyn SecretSource>>,
    pub events: Arc<dyn EventPublisher>,
    /// ECS and Lambda calls of a rollout (`DEPLOY_TARGET`); nothing is built until a job needs it.
    pub rollout: Arc<dyn RolloutApi>,
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
    fn new(kind: FailureKind, message: impl Into<String>) -> Self {
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
enum Decision {
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

/// What a long deployment's continuation token carries (JSON, at most 2048 characters).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContinuationState {
    pub location: String,
    pub deployment_id: String,
    pub started_at: String,
}

/// Facts gathered while working, for the structured log line (kept even when the work times out).
#[derive(Debug, Default)]
struct Trace {
    pipeline: Option<String>,
    execution_id: Option<String>,
    image_uri: Option<String>,
    image_digest: Option<String>,
    commit: Option<String>,
    target: &'static str,
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
        target: "none",
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
        target = trace.target,
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
    match try_work(job, deps, deadline, trace).await {
        Ok(decision) => decision,
        Err(error) => Decision::Fail(error),
    }
}

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
    let webhook_url = params
        .webhook_url
        .clone()
        .or_else(|| deps.settings.webhook_url.clone());
    trace.target = match (&webhook_url, &deps.settings.event_bus) {
        (Some(_), Some(_)) => "webhook+eventbridge",
        (Some(_), None) => "webhook",
        (None, Some(_)) => "eventbridge",
        (None, None) => "none",
    };
    let target = deps
        .settings
        .deploy_target
        .as_deref()
        .map(Target::parse)
        .transpose()
        .map_err(|problem| {
            JobError::new(
                FailureKind::ConfigurationError,
                format!("DEPLOY_TARGET: {problem}"),
            )
        })?;
    if let Some(target) = &target {
        if webhook_url.is_some() {
            return Err(JobError::new(
                FailureKind::ConfigurationError,
                format!(
                    "both a deploy target ({}) and a deployment webhook are configured; one Deploy action rolls                      out one way: drop the webhook or the target",
                    target.spec()
                ),
            ));
        }
        trace.target = match target {
            Target::Ecs { .. } => "ecs",
            Target::Lambda { .. } => "lambda",
        };
    }

    let input = job.input_artifact().ok_or_else(|| {
        JobError::new(
            FailureKind::ConfigurationError,
            "the Deploy action has no input artifact; give it the build stage's output artifact as input",
        )
    })?;
    trace.commit = input.revision.clone();
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
    let image = artifact.image;
    trace.image_uri = Some(image.uri.clone());
    trace.image_digest = image.digest.clone();
    let variables = output_variables(&image, input.revision.as_deref(), &job.id);

    if let Some(token) = job.data.continuation_token.as_deref() {
        if let Ok(state) = serde_json::from_str::<RolloutState>(token) {
            return Ok(continue_rollout(deps, &params, &state, &image, variables).await);
        }
        return continue_long_deployment(job, deps, &params, token, &image, variables, deadline)
            .await;
    }

    let context = deps
        .reporter
        .pipeline_context(&job.id)
        .await
        .unwrap_or_default();
    let PipelineContext {
        pipeline_name,
        execution_id,
    } = context;
    trace.pipeline =
        pipeline_name.or_else(|| pipeline_from_env(deps.settings.pipeline_env.as_deref()));
    trace.execution_id = execution_id;
    let environment = params
        .environment
        .clone()
        .or_else(|| deps.settings.pipeline_env.clone());
    let event = DeploymentEvent {
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
        environment: environment.clone(),
        service: params.service().to_owned(),
        requested_at: now_rfc3339(),
    };
    let env_label = environment.as_deref().unwrap_or("the target environment");
    let commit_label = input
        .revision
        .as_deref()
        .map(|c| format!(" (commit {c})"))
        .unwrap_or_default();

    let mut delivered = Vec::new();
    if let Some(bus) = deps.settings.event_bus.as_deref() {
        let detail = serde_json::to_string(&event).map_err(|e| {
            JobError::new(
                FailureKind::JobFailed,
                format!("cannot encode the deployment event: {e}"),
            )
        })?;
        deps.events.publish(bus, &detail).await?;
        delivered.push(format!("EventBridge bus {bus}"));
    }
    if let Some(target) = &target {
        let Some(digest) = image.digest.as_deref() else {
            return Err(JobError::new(
                FailureKind::ConfigurationError,
                format!(
                    "the artifact names {image} without a digest; a rollout pins the image by digest, so the build must                      write imageDetail.json with ImageDigest (buildspec.yml does)"
                ),
            ));
        };
        let pinned = format!("{}/{}@{digest}", image.registry, image.repository);
        let request = rollout::Request {
            job_id: &job.id,
            image: &pinned,
            digest,
            default_container: params.service(),
            started_at: &event.requested_at,
        };
        let step = rollout::start(deps.rollout.as_ref(), target, &request).await;
        return Ok(rollout_decision(step, variables));
    }
    if let Some(raw_url) = webhook_url.as_deref() {
        let url = validate_webhook_url(raw_url)?;
        let secret = webhook_secret(deps).await?;
        match post_deployment(deps.http.as_ref(), &url, &secret, &event, deadline).await? {
            WebhookOutcome::Done => delivered.push(format!("webhook {}", url_for_humans(&url))),
            WebhookOutcome::Accepted { status_url } => {
                let state = ContinuationState {
                    location: status_url.to_string(),
                    deployment_id: job.id.clone(),
                    started_at: event.requested_at.clone(),
                };
                let token = continuation_token(&state)?;
                return Ok(Decision::Continue {
                    summary: format!(
                        "Deployment of {image}{commit_label} to {env_label} accepted by the webhook; waiting for {}",
                        state.location
                    ),
                    token,
                });
            }
        }
    }
    let summary = if delivered.is_empty() {
        format!(
            "Deployment of {image}{commit_label} to {env_label} recorded only: no DEPLOY_WEBHOOK_URL or \
             DEPLOY_EVENT_BUS is configured, so nothing was triggered"
        )
    } else {
        format!(
            "Deployment of {image}{commit_label} to {env_label} requested via {}",
            delivered.join(" and ")
        )
    };
    Ok(Decision::Final { summary, variables })
}

async fn continue_long_deployment(
    job: &Job,
    deps: &Deps,
    params: &UserParameters,
    token: &str,
    image: &ImageRef,
    variables: BTreeMap<String, String>,
    deadline: Instant,
) -> Result<Decision, JobError> {
    let state: ContinuationState = serde_json::from_str(token).map_err(|e| {
        JobError::new(
            FailureKind::JobFailed,
            format!("the continuation token is not one this function issued ({e}); re-run the stage to start a fresh deployment"),
        )
    })?;
    let status_url = validate_webhook_url(&state.location)?;
    let secret = webhook_secret(deps).await?;
    let status = poll_status(
        deps.http.as_ref(),
        &status_url,
        &secret,
        &state.deployment_id,
        deadline,
    )
    .await?;
    let message = status
        .message
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    match status.status {
        StatusKind::Succeeded => Ok(Decision::Final {
            summary: format!("Deployment of {image} succeeded{message}"),
            variables,
        }),
        StatusKind::Failed => Err(JobError::new(
            FailureKind::JobFailed,
            format!(
                "the deployment of {image} failed{message} (reported by {})",
                state.location
            ),
        )),
        StatusKind::InProgress => {
            if let Some(limit) = params.timeout_seconds
                && let Some(elapsed) = elapsed_since(&state.started_at)
                && elapsed > Duration::from_secs(limit)
            {
                return Err(JobError::new(
                    FailureKind::JobFailed,
                    format!(
                        "the deployment of {image} is still in progress after {} s, beyond UserParameters \
                         timeoutSeconds {limit}; investigate the deployment or raise timeoutSeconds",
                        elapsed.as_secs()
                    ),
                ));
            }
            tracing::info!(job_id = %job.id, location = %state.location, "deployment still in progress");
            Ok(Decision::Continue {
                summary: format!("Deployment of {image} in progress{message}"),
                token: token.to_owned(),
            })
        }
    }
}

/// One poll of a rollout in progress, failing it when it outlives `timeoutSeconds`.
async fn continue_rollout(
    deps: &Deps,
    params: &UserParameters,
    state: &RolloutState,
    image: &ImageRef,
    variables: BTreeMap<String, String>,
) -> Decision {
    let shown = match &image.digest {
        Some(digest) => format!("{}/{}@{digest}", image.registry, image.repository),
        None => image.uri.clone(),
    };
    let step = rollout::poll(deps.rollout.as_ref(), state, &shown).await;
    let started_at = match state {
        RolloutState::Ecs { started_at, .. } | RolloutState::Lambda { started_at, .. } => {
            started_at
        }
    };
    if let Step::InProgress { .. } = step
        && let Some(limit) = params.timeout_seconds
        && let Some(elapsed) = elapsed_since(started_at)
        && elapsed > Duration::from_secs(limit)
    {
        return Decision::Fail(JobError::new(
            FailureKind::JobFailed,
            format!(
                "the rollout of {image} is still in progress after {} s, beyond UserParameters timeoutSeconds {limit};                  it goes on without the pipeline: watch the target, or raise timeoutSeconds",
                elapsed.as_secs()
            ),
        ));
    }
    rollout_decision(step, variables)
}

fn rollout_decision(step: Step, mut variables: BTreeMap<String, String>) -> Decision {
    match step {
        Step::InProgress { summary, state } => match serde_json::to_string(&state) {
            Ok(token) if token.chars().count() <= MAX_CONTINUATION_TOKEN_CHARS => {
                Decision::Continue { summary, token }
            }
            Ok(token) => Decision::Fail(JobError::new(
                FailureKind::ConfigurationError,
                format!(
                    "the rollout's state is {} characters, over a continuation token's {MAX_CONTINUATION_TOKEN_CHARS}:                      shorten the cluster, service or function names",
                    token.chars().count()
                ),
            )),
            Err(e) => Decision::Fail(JobError::new(
                FailureKind::JobFailed,
                format!("cannot encode the rollout's state: {e}"),
            )),
        },
        Step::Done {
            summary,
            variables: rollout_variables,
        } => {
            variables.extend(rollout_variables);
            Decision::Final { summary, variables }
        }
        Step::Failed { kind, message } => Decision::Fail(JobError::new(kind, message)),
    }
}

async fn webhook_secret(deps: &Deps) -> Result<crate::targets::WebhookSecret, JobError> {
    let source = deps.webhook_secret.as_ref().ok_or_else(|| {
        JobError::new(
            FailureKind::ConfigurationError,
            "a deployment webhook is configured but no signing secret: set DEPLOY_WEBHOOK_SECRET_ARN (a Secrets \
             Manager secret) or DEPLOY_WEBHOOK_SECRET on the function",
        )
    })?;
    Ok(source.secret().await?)
}

pub fn continuation_token(state: &ContinuationState) -> Result<String, JobError> {
    let token = serde_json::to_string(state).map_err(|e| {
        JobError::new(
            FailureKind::JobFailed,
            format!("cannot encode the continuation token: {e}"),
        )
    })?;
    if token.chars().count() > MAX_CONTINUATION_TOKEN_CHARS {
        return Err(JobError::new(
            FailureKind::JobFailed,
            format!(
                "the webhook's status Location is too long for a CodePipeline continuation token ({} > {MAX_CONTINUATION_TOKEN_CHARS} \
                 characters); make the receiver answer with a shorter Location",
                token.chars().count()
            ),
        ));
    }
    Ok(token)
}

pub fn output_variables(
    image: &ImageRef,
    commit: Option<&str>,
    deployment_id: &str,
) -> BTreeMap<String, String> {
    let mut variables = BTreeMap::from([
        ("IMAGE_URI".to_owned(), image.uri.clone()),
        ("DEPLOYMENT_ID".to_owned(), deployment_id.to_owned()),
    ]);
    let optional = [
        ("IMAGE_TAG", image.tag.as_deref()),
        ("IMAGE_DIGEST", image.digest.as_deref()),
        ("COMMIT_ID", commit),
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

/// Scheme, host and path: never the query string, which might carry a token.
fn url_for_humans(url: &hyper::Uri) -> String {
    format!(
        "{}://{}{}",
        url.scheme_str().unwrap_or("https"),
        url.authority().map(|a| a.as_str()).unwrap_or(""),
        url.path()
    )
}

fn now_rfc3339() -> String {
    DateTime::from(SystemTime::now())
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

fn elapsed_since(rfc3339: &str) -> Option<Duration> {
    let started = DateTime::from_str(rfc3339, Format::DateTime).ok()?;
    let started = SystemTime::try_from(started).ok()?;
    SystemTime::now().duration_since(started).ok()
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
