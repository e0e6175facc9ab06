//! Rolling the built image out to a running service: an existing ECS service or an existing
//! Lambda container-image function (`DEPLOY_TARGET`). The first invocation of a job starts the
//! rollout; CodePipeline re-invokes the function with the continuation token, and each
//! re-invocation polls once and reports, until the rollout completed or failed.
//!
//! Every step is idempotent for one job id, so a re-delivered job continues the rollout it
//! started instead of starting a second one: the task definition revision is tagged with the
//! job id and looked for before registering; the function's code is updated only when it does
//! not hold the image yet, and publishing a version of unchanged code returns the existing one.
//! It is idempotent by content as well, so a stage rollback or a retried stage (new jobs with an
//! image that ran before) goes back to what ran it: the family's revision that is exactly the
//! wanted one, the published version that already runs the image with today's settings
//! (`lambda_versions`). A Lambda alias's traffic can move in steps (`lambda_shift`), the stage's
//! alarms read between them through `signed` (CloudWatch, hand-signed).

pub mod api;
pub mod ecs;
pub mod lambda;
pub mod lambda_shift;
mod lambda_versions;
pub mod sdk;
mod signed;

use std::collections::BTreeMap;

use pipeline_common::CpuArchitecture;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::BoxFuture;
use crate::report::FailureKind;
pub use api::{ApiError, AwsRequest};

/// Tag key carrying the CodePipeline job id on what a rollout registers.
pub const JOB_TAG: &str = "rust-pipeline:job-id";

pub use pipeline_common::DeployTarget as Target;

/// What a rollout in progress carries from one invocation to the next (the continuation token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum RolloutState {
    #[serde(rename_all = "camelCase")]
    Ecs {
        cluster: String,
        service: String,
        task_definition: String,
        previous: String,
        rollback: bool,
        started_at: String,
        /// The job that started the rollout: `DEPLOYMENT_ID` of every continuation.
        #[serde(default)]
        deployment_id: String,
    },
    #[serde(rename_all = "camelCase")]
    Lambda {
        function: String,
        alias: Option<String>,
        digest: String,
        previous_version: Option<String>,
        started_at: String,
        #[serde(default)]
        deployment_id: String,
        /// A gradual shift of the alias's traffic in progress (UserParameters `trafficShift`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shifting: Option<lambda_shift::Shifting>,
    },
}

impl RolloutState {
    /// When the job started the rollout (RFC 3339), for the rollout's time bound.
    pub fn started_at(&self) -> &str {
        match self {
            Self::Ecs { started_at, .. } | Self::Lambda { started_at, .. } => started_at,
        }
    }

    /// The id of the job that started the rollout (CodePipeline gives each continuation a new
    /// job id); empty in a token from before it was carried.
    pub fn deployment_id(&self) -> &str {
        match self {
            Self::Ecs { deployment_id, .. } | Self::Lambda { deployment_id, .. } => deployment_id,
        }
    }
}

/// Where a rollout stands after one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Still rolling out: report progress and come back with this state.
    InProgress {
        summary: String,
        state: RolloutState,
    },
    /// Done: the target runs the image.
    Done {
        summary: String,
        variables: BTreeMap<String, String>,
    },
    /// Failed (or refused): the job fails with this.
    Failed { kind: FailureKind, message: String },
}

impl Step {
    fn failed(kind: FailureKind, message: impl Into<String>) -> Self {
        Self::Failed {
            kind,
            message: message.into(),
        }
    }
}

/// The calls a rollout makes (shaped by [`api::ecs`] and [`api::lambda`]), behind one method
/// so the steps are tested against scripted answers.
pub trait RolloutApi: Send + Sync {
    fn call(&self, request: AwsRequest) -> BoxFuture<'_, Result<Value, ApiError>>;
}

/// The pinned image and the job a rollout works for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub job_id: &'a str,
    /// `REPOSITORY_URI@sha256:...`: what the target will run, whatever a tag points to later.
    pub image: &'a str,
    pub digest: &'a str,
    pub started_at: &'a str,
    /// What the build made the image for (`imageDetail.json`'s `ImageArchitecture`); None when
    /// the artifact does not say (an image reused from an earlier build, imagedefinitions.json).
    pub architecture: Option<CpuArchitecture>,
}

/// Refuses an image built for another CPU architecture than the target runs on, before anything
/// changes: Lambda takes such an image (`LastUpdateStatus: Successful`) and then fails every invoke
/// with `Runtime.InvalidEntrypoint` / "exec format error" (aws/aws-lambda-base-images#26,
/// aws/aws-lambda-dotnet#1281); ECS tasks of it exit at once with "exec format error"
/// (runatlantis/atlantis#2001). Publishing the version and moving the alias, or rolling the
/// service, would report that outage as a success.
fn wrong_architecture(
    request: &Request<'_>,
    target: &str,
    runs_on: CpuArchitecture,
) -> Option<Step> {
    let built_for = request.architecture?;
    (built_for != runs_on).then(|| {
        Step::failed(
            FailureKind::ConfigurationError,
            format!(
                "the image {} was built for {} ({}) but {target} runs on {runs_on}: it would not start there \
                 (exec format error), so nothing was rolled out. Run `bootstrap deploy` again with this \
                 --deploy-target so the build makes {runs_on} images ({}), then re-run the pipeline; or \
                 change the target's architecture to {built_for}",
                request.image,
                built_for,
                built_for.docker_platform(),
                runs_on.docker_platform(),
            ),
        )
    })
}

/// How a failed call reads in the job's failure: a denial names what to grant.
fn call_failed(what: &str, err: &ApiError) -> Step {
    if err.is_access_denied() {
        return Step::failed(
            FailureKind::PermissionError,
            format!(
                "{what} was refused: {err}; the deploy-handler's role lacks the grant (bootstrap grants \
                 it for the configured --deploy-target: run `bootstrap deploy` again if the target changed)"
            ),
        );
    }
    Step::failed(FailureKind::JobFailed, format!("{what} failed: {err}"))
}

#[cfg(test)]
pub(crate) mod fake {
    //! A scripted [`RolloutApi`]: answers by operation, records every call.
    use super::*;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct FakeApi {
        answers: Mutex<BTreeMap<String, VecDeque<Result<Value, ApiError>>>>,
        pub calls: Mutex<Vec<(String, Value)>>,
    }

    impl FakeApi {
        /// Queues an answer for `key`: an ECS operation name, or `METHOD path` for Lambda.
        pub fn answer(&self, key: &str, answer: Result<Value, ApiError>) -> &Self {
            self.answers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(key.to_owned())
                .or_default()
                .push_back(answer);
            self
        }

        pub fn calls_to(&self, key: &str) -> Vec<Value> {
            self.calls
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .collect()
        }

        fn next(&self, key: String, body: Value) -> Result<Value, ApiError> {
            self.calls
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((key.clone(), body));
            self.answers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get_mut(&key)
                .and_then(VecDeque::pop_front)
                .unwrap_or_else(|| panic!("no scripted answer for {key}"))
        }
    }

    pub fn error(code: &str, message: &str) -> Result<Value, ApiError> {
        Err(ApiError {
            code: code.to_owned(),
            message: message.to_owned(),
            status: 400,
        })
    }

    impl RolloutApi for FakeApi {
        fn call(&self, request: AwsRequest) -> BoxFuture<'_, Result<Value, ApiError>> {
            let answer = self.next(request.name(), request.body.unwrap_or(Value::Null));
            Box::pin(async move { answer })
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_state_round_trips_through_a_token() {
        let state = RolloutState::Lambda {
            function: "api".into(),
            alias: Some("live".into()),
            digest: "sha256:ab".into(),
            previous_version: Some("3".into()),
            started_at: "2026-01-01T00:00:00Z".into(),
            deployment_id: "job-1".into(),
            shifting: None,
        };
        let token = serde_json::to_string(&state).unwrap();
        assert!(token.contains(r#""kind":"lambda""#), "{token}");
        assert_eq!(serde_json::from_str::<RolloutState>(&token).unwrap(), state);
        assert!(token.contains(r#""deploymentId":"job-1""#), "{token}");
    }
}
