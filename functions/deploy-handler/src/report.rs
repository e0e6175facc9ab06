//! Reporting the job result to CodePipeline, behind the narrow [`JobReporter`] trait.

use std::collections::BTreeMap;

use aws_sdk_codepipeline::types::{ExecutionDetails, FailureDetails, FailureType};

use crate::BoxFuture;

/// CodePipeline's limit for `failureDetails.message` is 5000; stay strictly below it.
pub const MAX_FAILURE_MESSAGE_CHARS: usize = 4999;
/// CodePipeline's limit for `executionDetails.summary`.
pub const MAX_SUMMARY_CHARS: usize = 2048;
/// CodePipeline's limit for a continuation token.
pub const MAX_CONTINUATION_TOKEN_CHARS: usize = 2048;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    JobFailed,
    ConfigurationError,
    PermissionError,
    RevisionUnavailable,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::JobFailed => "JobFailed",
            Self::ConfigurationError => "ConfigurationError",
            Self::PermissionError => "PermissionError",
            Self::RevisionUnavailable => "RevisionUnavailable",
        }
    }

    fn sdk_type(self) -> FailureType {
        match self {
            Self::JobFailed => FailureType::JobFailed,
            Self::ConfigurationError => FailureType::ConfigurationError,
            Self::PermissionError => FailureType::PermissionError,
            Self::RevisionUnavailable => FailureType::RevisionUnavailable,
        }
    }
}

/// What a successful put carries: either a continuation token or, on the final call, output variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SuccessReport {
    Final {
        summary: String,
        external_execution_id: String,
        output_variables: BTreeMap<String, String>,
    },
    Continue {
        summary: String,
        external_execution_id: String,
        continuation_token: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureReport {
    pub kind: FailureKind,
    pub message: String,
    pub external_execution_id: String,
}

/// How CodePipeline took the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportOutcome {
    Accepted,
    /// The job was already finished (a re-delivered job): nothing left to do.
    AlreadyFinished,
    /// The job no longer exists (expired or never existed): nobody to report to.
    JobNotFound,
}

#[derive(Debug, thiserror::Error)]
#[error("could not report the result of job {job_id} to CodePipeline: {detail}")]
pub struct ReportError {
    pub job_id: String,
    pub detail: String,
}

/// Where job results go.
pub trait JobReporter: Send + Sync {
    fn succeed<'a>(
        &'a self,
        job_id: &'a str,
        report: SuccessReport,
    ) -> BoxFuture<'a, Result<ReportOutcome, ReportError>>;
    fn fail<'a>(
        &'a self,
        job_id: &'a str,
        report: FailureReport,
    ) -> BoxFuture<'a, Result<ReportOutcome, ReportError>>;
    /// Pipeline name and execution id, when the job details can be read (best effort).
    fn pipeline_context<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Option<PipelineContext>>;
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PipelineContext {
    pub pipeline_name: Option<String>,
    pub execution_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CodePipelineReporter {
    client: aws_sdk_codepipeline::Client,
}

impl CodePipelineReporter {
    pub fn new(client: aws_sdk_codepipeline::Client) -> Self {
        Self { client }
    }
}

impl JobReporter for CodePipelineReporter {
    fn succeed<'a>(
        &'a self,
        job_id: &'a str,
        report: SuccessReport,
    ) -> BoxFuture<'a, Result<ReportOutcome, ReportError>> {
        Box::pin(async move {
            let mut request = self.client.put_job_success_result().job_id(job_id);
            match report {
                SuccessReport::Final {
                    summary,
                    external_execution_id,
                    output_variables,
                } => {
                    request = request
                        .execution_details(execution_details(&summary, &external_execution_id));
                    for (name, value) in output_variables {
                        request = request.output_variables(name, value);
                    }
                }
                SuccessReport::Continue {
                    summary,
                    external_execution_id,
                    continuation_token,
                } => {
                    request = request
                        .execution_details(execution_details(&summary, &external_execution_id))
                        .continuation_token(continuation_token);
                }
            }
            match request.send().await {
                Ok(_) => Ok(ReportOutcome::Accepted),
                Err(err) => match err.as_service_error() {
                    Some(e) if e.is_invalid_job_state_exception() => {
                        Ok(ReportOutcome::AlreadyFinished)
                    }
                    Some(e) if e.is_job_not_found_exception() => Ok(ReportOutcome::JobNotFound),
                    _ => Err(report_error(job_id, &err)),
                },
            }
        })
    }

    fn fail<'a>(
        &'a self,
        job_id: &'a str,
        report: FailureReport,
    ) -> BoxFuture<'a, Result<ReportOutcome, ReportError>> {
        Box::pin(async move {
            let result = put_failure(&self.client, job_id, &report).await;
            match result {
                Ok(_) => Ok(ReportOutcome::Accepted),
                Err(err) => match err.as_service_error() {
                    Some(e) if e.is_invalid_job_state_exception() => {
                        Ok(ReportOutcome::AlreadyFinished)
                    }
                    Some(e) if e.is_job_not_found_exception() => Ok(ReportOutcome::JobNotFound),
                    _ => Err(report_error(job_id, &err)),
                },
            }
        })
    }

    fn pipeline_context<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Option<PipelineContext>> {
        Box::pin(async move {
            // Only enriches the deployment event, so one quick attempt is enough.
            let result = self
                .client
                .get_job_details()
                .job_id(job_id)
                .customize()
                .config_override(
                    aws_sdk_codepipeline::config::Config::builder()
                        .retry_config(aws_sdk_codepipeline::config::retry::RetryConfig::disabled())
                        .timeout_config(
                            aws_sdk_codepipeline::config::timeout::TimeoutConfig::builder()
                                .operation_timeout(std::time::Duration::from_secs(2))
                                .build(),
                        ),
                )
                .send()
                .await;
            match result {
                Ok(output) => {
                    let context = output.job_details()?.data()?.pipeline_context()?;
                    Some(PipelineContext {
                        pipeline_name: context.pipeline_name().map(str::to_owned),
                        execution_id: context.pipeline_execution_id().map(str::to_owned),
                    })
                }
                Err(err) => {
                    tracing::info!(
                        error = %aws_smithy_types::error::display::DisplayErrorContext(&err),
                        "job details unavailable (codepipeline:GetJobDetails); the event omits the execution id"
                    );
                    None
                }
            }
        })
    }
}

/// The failure put on its own, so the panic hook can send it from a fresh runtime.
pub async fn put_failure(
    client: &aws_sdk_codepipeline::Client,
    job_id: &str,
    report: &FailureReport,
) -> Result<
    aws_sdk_codepipeline::operation::put_job_failure_result::PutJobFailureResultOutput,
    aws_sdk_codepipeline::error::SdkError<
        aws_sdk_codepipeline::operation::put_job_failure_result::PutJobFailureResultError,
    >,
> {
    let mut details = FailureDetails::builder()
        .r#type(report.kind.sdk_type())
        .message(failure_message(&report.message));
    if !report.external_execution_id.is_empty() {
        details = details.external_execution_id(report.external_execution_id.clone());
    }
    let details = details
        .build()
        .map_err(aws_sdk_codepipeline::error::SdkError::construction_failure)?;
    client
        .put_job_failure_result()
        .job_id(job_id)
        .failure_details(details)
        .send()
        .await
}

fn execution_details(summary: &str, external_execution_id: &str) -> ExecutionDetails {
    ExecutionDetails::builder()
        .summary(truncate_chars(summary, MAX_SUMMARY_CHARS))
        .external_execution_id(external_execution_id)
        .build()
}

fn report_error<E: std::error::Error + 'static>(job_id: &str, err: &E) -> ReportError {
    ReportError {
        job_id: job_id.to_owned(),
        detail: aws_smithy_types::error::display::DisplayErrorContext(err).to_string(),
    }
}

/// A non-empty failure message within CodePipeline's limit.
pub fn failure_message(message: &str) -> String {
    let message = if message.trim().is_empty() {
        "deploy-handler failed without a message; see the function's logs"
    } else {
        message
    };
    truncate_chars(message, MAX_FAILURE_MESSAGE_CHARS)
}

/// At most `max` characters, cut on a char boundary, marked with `…` when cut.
pub fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let keep = max.saturating_sub(1);
    let mut out: String = text.chars().take(keep).collect();
    if max > 0 {
        out.push('…');
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use aws_sdk_codepipeline::operation::put_job_failure_result::{
        PutJobFailureResultError, PutJobFailureResultOutput,
    };
    use aws_sdk_codepipeline::operation::put_job_success_result::{
        PutJobSuccessResultError, PutJobSuccessResultOutput,
    };
    use aws_sdk_codepipeline::types::error::{InvalidJobStateException, JobNotFoundException};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    #[test]
    fn truncation_respects_char_boundaries_and_limits() {
        assert_eq!(truncate_chars("héllo", 10), "héllo");
        assert_eq!(truncate_chars("héllo", 3), "hé…");
        let long = "é".repeat(6000);
        let cut = failure_message(&long);
        assert_eq!(cut.chars().count(), MAX_FAILURE_MESSAGE_CHARS);
        assert!(cut.chars().count() < 5000);
        assert!(!failure_message("  ").is_empty());
    }

    fn final_report() -> SuccessReport {
        SuccessReport::Final {
            summary: "s".repeat(3000),
            external_execution_id: "job-1".into(),
            output_variables: BTreeMap::from([("IMAGE_URI".to_owned(), "u".to_owned())]),
        }
    }

    #[tokio::test]
    async fn success_sends_variables_and_bounded_summary() {
        let rule = mock!(aws_sdk_codepipeline::Client::put_job_success_result)
            .match_requests(|req| {
                req.job_id() == Some("job-1")
                    && req.continuation_token().is_none()
                    && req
                        .output_variables()
                        .and_then(|v| v.get("IMAGE_URI"))
                        .map(String::as_str)
                        == Some("u")
                    && req
                        .execution_details()
                        .and_then(|d| d.summary())
                        .map(|s| s.chars().count())
                        == Some(MAX_SUMMARY_CHARS)
            })
            .then_output(|| PutJobSuccessResultOutput::builder().build());
        let client = mock_client!(aws_sdk_codepipeline, RuleMode::Sequential, [&rule]);
        let outcome = CodePipelineReporter::new(client)
            .succeed("job-1", final_report())
            .await
            .unwrap();
        assert_eq!(outcome, ReportOutcome::Accepted);
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn continuation_carries_token_and_no_variables() {
        let rule = mock!(aws_sdk_codepipeline::Client::put_job_success_result)
            .match_requests(|req| {
                req.continuation_token() == Some("tok") && req.output_variables().is_none()
            })
            .then_output(|| PutJobSuccessResultOutput::builder().build());
        let client = mock_client!(aws_sdk_codepipeline, RuleMode::Sequential, [&rule]);
        let report = SuccessReport::Continue {
            summary: "in progress".into(),
            external_execution_id: "job-1".into(),
            continuation_token: "tok".into(),
        };
        assert_eq!(
            CodePipelineReporter::new(client)
                .succeed("job-1", report)
                .await
                .unwrap(),
            ReportOutcome::Accepted
        );
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn redelivered_and_unknown_jobs_are_not_errors() {
        let done = mock!(aws_sdk_codepipeline::Client::put_job_success_result).then_error(|| {
            PutJobSuccessResultError::InvalidJobStateException(
                InvalidJobStateException::builder().message("done").build(),
            )
        });
        let gone = mock!(aws_sdk_codepipeline::Client::put_job_failure_result).then_error(|| {
            PutJobFailureResultError::JobNotFoundException(JobNotFoundException::builder().build())
        });
        let done_fail =
            mock!(aws_sdk_codepipeline::Client::put_job_failure_result).then_error(|| {
                PutJobFailureResultError::InvalidJobStateException(
                    InvalidJobStateException::builder().build(),
                )
            });
        let client = mock_client!(
            aws_sdk_codepipeline,
            RuleMode::Sequential,
            [&done, &gone, &done_fail]
        );
        let reporter = CodePipelineReporter::new(client);
        assert_eq!(
            reporter.succeed("j", final_report()).await.unwrap(),
            ReportOutcome::AlreadyFinished
        );
        let failure = FailureReport {
            kind: FailureKind::JobFailed,
            message: "m".into(),
            external_execution_id: "j".into(),
        };
        assert_eq!(
            reporter.fail("j", failure.clone()).await.unwrap(),
            ReportOutcome::JobNotFound
        );
        assert_eq!(
            reporter.fail("j", failure).await.unwrap(),
            ReportOutcome::AlreadyFinished
        );
    }

    #[tokio::test]
    async fn failure_sends_type_and_other_errors_propagate() {
        let ok = mock!(aws_sdk_codepipeline::Client::put_job_failure_result)
            .match_requests(|req| {
                req.failure_details()
                    .map(|d| (d.r#type().clone(), d.message().to_owned()))
                    == Some((FailureType::PermissionError, "denied".to_owned()))
            })
            .then_output(|| PutJobFailureResultOutput::builder().build());
        let throttled = mock!(aws_sdk_codepipeline::Client::put_job_failure_result)
            .then_error(|| PutJobFailureResultError::unhandled("ThrottlingException"));
        let client = mock_client!(
            aws_sdk_codepipeline,
            RuleMode::Sequential,
            [&ok, &throttled]
        );
        let reporter = CodePipelineReporter::new(client);
        let failure = FailureReport {
            kind: FailureKind::PermissionError,
            message: "denied".into(),
            external_execution_id: "j".into(),
        };
        assert_eq!(
            reporter.fail("j", failure.clone()).await.unwrap(),
            ReportOutcome::Accepted
        );
        let err = reporter.fail("j", failure).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("could not report the result of job j"),
            "{err}"
        );
    }
}
