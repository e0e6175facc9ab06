//! What the two rollout kinds (ECS, Lambda) share: the image pinned by digest, the rollout's
//! step turned into the job's decision, and the time bound of a rollout still in progress.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Resume, Work};
use crate::handler::{Decision, JobError, elapsed_since};
use crate::image::ImageRef;
use crate::report::{FailureKind, MAX_CONTINUATION_TOKEN_CHARS};
use crate::rollout::{self, RolloutState, Step};

/// `REGISTRY/REPOSITORY@DIGEST` and the digest: a rollout runs exactly the built image,
/// whatever a tag points to later.
pub fn pinned(image: &ImageRef) -> Result<(String, &str), JobError> {
    let Some(digest) = image.digest.as_deref() else {
        return Err(JobError::new(
            FailureKind::ConfigurationError,
            format!(
                "the artifact names {image} without a digest; a rollout pins the image by digest, so the build must \
                 write imageDetail.json with ImageDigest (buildspec.yml does)"
            ),
        ));
    };
    Ok((
        format!("{}/{}@{digest}", image.registry, image.repository),
        digest,
    ))
}

/// The rollout request of a new job.
pub fn request<'a>(work: &'a Work<'a>, pinned: &'a str, digest: &'a str) -> rollout::Request<'a> {
    rollout::Request {
        job_id: work.job_id,
        image: pinned,
        digest,
        started_at: &work.event.requested_at,
        architecture: work.image.architecture,
    }
}

/// The image as a poll's summaries show it: pinned when the artifact has a digest.
pub fn shown(image: &ImageRef) -> String {
    match &image.digest {
        Some(digest) => format!("{}/{}@{digest}", image.registry, image.repository),
        None => image.uri.clone(),
    }
}

/// The state a rollout token carries.
pub fn state(token: &str) -> Option<RolloutState> {
    serde_json::from_str(token).ok()
}

/// A poll's step as the job's decision, failing a rollout that outlived its bound
/// (`timeoutSeconds`, else [`crate::params::DEFAULT_ROLLOUT_TIMEOUT_SECONDS`]) with what still
/// runs (the step's summary: the ECS deployment and its tasks, the Lambda update status).
/// `DEPLOYMENT_ID` is the id of the job that started the rollout, which the token carries.
pub fn polled(step: Step, state: &RolloutState, resume: &Resume<'_>) -> Decision {
    let limit = resume.params.rollout_timeout_seconds();
    if let Step::InProgress { summary, .. } = &step
        && let Some(elapsed) = elapsed_since(state.started_at())
        && elapsed > Duration::from_secs(limit)
    {
        return Decision::Fail(JobError::new(
            FailureKind::JobFailed,
            format!(
                "the rollout of {} is still in progress after {} s, beyond its bound of {limit} s (UserParameters \
                 timeoutSeconds, bootstrap --rollout-timeout-minutes); still running: {summary}. It goes on without \
                 the pipeline: fix or roll back the target, or raise the bound",
                resume.image,
                elapsed.as_secs()
            ),
        ));
    }
    let mut variables = resume.variables.clone();
    if !state.deployment_id().is_empty() {
        variables.insert(
            pipeline_common::pipeline_variables::DEPLOYMENT_ID.to_owned(),
            state.deployment_id().to_owned(),
        );
    }
    decision(step, variables)
}

/// A rollout's step as the job's decision: a continuation token, the final variables, or the
/// failure.
pub fn decision(step: Step, mut variables: BTreeMap<String, String>) -> Decision {
    match step {
        Step::InProgress { summary, state } => match serde_json::to_string(&state) {
            Ok(token) if token.chars().count() <= MAX_CONTINUATION_TOKEN_CHARS => {
                Decision::Continue { summary, token }
            }
            Ok(token) => Decision::Fail(JobError::new(
                FailureKind::ConfigurationError,
                format!(
                    "the rollout's state is {} characters, over a continuation token's {MAX_CONTINUATION_TOKEN_CHARS}: \
                     shorten the cluster, service or function names",
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
