//! A webhook as a deploy target (`DEPLOY_WEBHOOK_URL` or UserParameters' `webhookUrl`): the
//! signed event is POSTed; a `202 Accepted` with a Location makes the job a long deployment,
//! polled from its continuation token until the receiver reports the result.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Plan, Resume, Started, TargetKind, Work};
use crate::BoxFuture;
use crate::delivery::secret::WebhookSecret;
use crate::delivery::webhook::{
    StatusKind, WebhookOutcome, poll_status, post_deployment, validate_webhook_url,
};
use crate::handler::{Decision, Deps, JobError, elapsed_since};
use crate::report::{FailureKind, MAX_CONTINUATION_TOKEN_CHARS};

#[derive(Debug)]
pub struct Webhook;

/// What a long deployment's continuation token carries (JSON, at most 2048 characters).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContinuationState {
    pub location: String,
    pub deployment_id: String,
    pub started_at: String,
}

impl TargetKind for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn selected(&self, plan: &Plan) -> bool {
        plan.webhook_url.is_some()
    }

    /// Its tokens carry no `kind`: it claims whatever the other kinds do not, and a token that
    /// is not its own fails in [`TargetKind::poll`] with a message that says so.
    fn owns(&self, _token: &str) -> bool {
        true
    }

    fn start<'a>(
        &'a self,
        deps: &'a Deps,
        work: &'a Work<'a>,
    ) -> BoxFuture<'a, Result<Started, JobError>> {
        Box::pin(start(deps, work))
    }

    fn poll<'a>(
        &'a self,
        deps: &'a Deps,
        resume: &'a Resume<'a>,
    ) -> BoxFuture<'a, Result<Decision, JobError>> {
        Box::pin(poll(deps, resume))
    }
}

async fn start(deps: &Deps, work: &Work<'_>) -> Result<Started, JobError> {
    let raw_url = work.plan.webhook_url.as_deref().unwrap_or_default();
    let url = validate_webhook_url(raw_url)?;
    let secret = webhook_secret(deps).await?;
    let outcome =
        post_deployment(deps.http.as_ref(), &url, &secret, work.event, work.deadline).await?;
    match outcome {
        WebhookOutcome::Done => Ok(Started::Delivered {
            to: format!("webhook {}", url_for_humans(&url)),
        }),
        WebhookOutcome::Accepted { status_url } => {
            let state = ContinuationState {
                location: status_url.to_string(),
                deployment_id: work.job_id.to_owned(),
                started_at: work.event.requested_at.clone(),
            };
            let token = continuation_token(&state)?;
            Ok(Started::Decided(Decision::Continue {
                summary: format!(
                    "Deployment of {} accepted by the webhook; waiting for {}",
                    work.described, state.location
                ),
                token,
            }))
        }
    }
}

async fn poll(deps: &Deps, resume: &Resume<'_>) -> Result<Decision, JobError> {
    let image = resume.image;
    let state: ContinuationState = serde_json::from_str(resume.token).map_err(|e| {
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
        resume.deadline,
    )
    .await?;
    let message = status
        .message
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    match status.status {
        StatusKind::Succeeded => {
            // The deployment's id is the first job's, whichever continuation job finishes it.
            let mut variables = resume.variables.clone();
            variables.insert(
                pipeline_common::pipeline_variables::DEPLOYMENT_ID.to_owned(),
                state.deployment_id.clone(),
            );
            Ok(Decision::Final {
                summary: format!("Deployment of {image} succeeded{message}"),
                variables,
            })
        }
        StatusKind::Failed => Err(JobError::new(
            FailureKind::JobFailed,
            format!(
                "the deployment of {image} failed{message} (reported by {})",
                state.location
            ),
        )),
        StatusKind::InProgress => {
            if let Some(limit) = resume.params.timeout_seconds
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
            tracing::info!(job_id = %resume.job_id, location = %state.location, "deployment still in progress");
            Ok(Decision::Continue {
                summary: format!("Deployment of {image} in progress{message}"),
                token: resume.token.to_owned(),
            })
        }
    }
}

async fn webhook_secret(deps: &Deps) -> Result<WebhookSecret, JobError> {
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

/// Scheme, host and path: never the query string, which might carry a token.
fn url_for_humans(url: &hyper::Uri) -> String {
    format!(
        "{}://{}{}",
        url.scheme_str().unwrap_or("https"),
        url.authority().map(|a| a.as_str()).unwrap_or(""),
        url.path()
    )
}
