//! Best-effort CodePipeline lookups that explain a failed execution: which actions failed and
//! why (`ListActionExecutions`), what started it and which commit it built
//! (`GetPipelineExecution`). Bounded in time; a failure here never stops the notification.

use std::future::Future;
use std::time::Duration;

use aws_sdk_codepipeline::error::ProvideErrorMetadata;
use aws_sdk_codepipeline::types::{
    ActionExecutionDetail, ActionExecutionFilter, ActionExecutionStatus,
};
use aws_smithy_types::date_time::Format;
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::text::bounded;

/// Longest failure summary or commit message kept from CodePipeline (SNS messages are capped at 256 KB).
const MAX_DETAIL_CHARS: usize = 1000;
/// The Build action's output variable naming the pushed image's digest (buildspec.yml).
pub const IMAGE_DIGEST_VARIABLE: &str = "IMAGE_DIGEST";
/// More failed actions than this in one execution are summarised as a count.
pub const MAX_FAILED_ACTIONS: usize = 10;

/// The commit a source action fetched.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SourceRevision {
    pub artifact: Option<String>,
    pub revision_id: Option<String>,
    pub summary: Option<String>,
    pub url: Option<String>,
}

/// What `GetPipelineExecution` says about the execution.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutionInfo {
    pub trigger_type: Option<String>,
    pub trigger_detail: Option<String>,
    pub status_summary: Option<String>,
    pub revisions: Vec<SourceRevision>,
}

/// One action execution, as `ListActionExecutions` reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActionRecord {
    pub stage: String,
    pub action: String,
    pub provider: Option<String>,
    pub failed: bool,
    /// The action finished successfully (what an approval message shows of earlier stages).
    pub succeeded: bool,
    pub summary: Option<String>,
    pub error_code: Option<String>,
    pub url: Option<String>,
    /// RFC 3339.
    pub start_time: Option<String>,
    /// The `IMAGE_DIGEST` output variable (buildspec.yml's `exported-variables`), when the
    /// action set one: the image the Build stage pushed and every stage deploys.
    pub image_digest: Option<String>,
}

/// A failed action, as shown in the notification.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FailedAction {
    pub stage: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(rename = "errorCode", skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Everything learned beyond the event itself; empty when no lookup was attempted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Enrichment {
    pub execution: Option<ExecutionInfo>,
    pub failed_actions: Vec<FailedAction>,
    /// How many failed actions were left out beyond [`MAX_FAILED_ACTIONS`].
    pub more_failed_actions: usize,
    /// Earliest action start (RFC 3339): the execution's start when the event has none.
    pub started_at: Option<String>,
    /// Why some details are missing, for the reader: "failure details unavailable: <why>".
    pub unavailable: Option<String>,
    /// The execution's actions that succeeded, in CodePipeline's order, with their summaries
    /// (the image a stage deployed): what an approval is asked after.
    pub succeeded_actions: Vec<FailedAction>,
    /// The image digest a succeeded action exported (`IMAGE_DIGEST`): what an approval promotes.
    pub image_digest: Option<String>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("CodePipeline has no pipeline `{0}` (deleted or renamed since the event)")]
    PipelineNotFound(String),
    #[error("CodePipeline has no execution `{0}` (older than its execution history)")]
    ExecutionNotFound(String),
    #[error("access denied to codepipeline:{0}; grant it on the pipeline to the notifier's role")]
    AccessDenied(&'static str),
    #[error("codepipeline:{operation} failed: {message}")]
    Failed {
        operation: &'static str,
        message: String,
    },
}

/// The two CodePipeline reads enrichment needs, narrow so tests can stand in for AWS.
pub trait ExecutionLookup: Send + Sync {
    fn execution(
        &self,
        pipeline: &str,
        execution_id: &str,
    ) -> impl Future<Output = Result<ExecutionInfo, LookupError>> + Send;
    fn actions(
        &self,
        pipeline: &str,
        execution_id: &str,
    ) -> impl Future<Output = Result<Vec<ActionRecord>, LookupError>> + Send;
}

/// Runs both lookups concurrently within `budget`, keeping whatever succeeded.
pub async fn enrich<L: ExecutionLookup>(
    lookup: &L,
    pipeline: &str,
    execution_id: &str,
    budget: Duration,
) -> Enrichment {
    let both = async {
        tokio::join!(
            lookup.execution(pipeline, execution_id),
            lookup.actions(pipeline, execution_id)
        )
    };
    let Ok((execution, actions)) = tokio::time::timeout(budget, both).await else {
        return Enrichment {
            unavailable: Some(format!(
                "CodePipeline did not answer within {} ms",
                budget.as_millis()
            )),
            ..Enrichment::default()
        };
    };
    let mut enrichment = Enrichment::default();
    let mut problems = Vec::new();
    match execution {
        Ok(info) => enrichment.execution = Some(info),
        Err(e) => problems.push(e.to_string()),
    }
    match actions {
        Ok(records) => {
            enrichment.started_at =
                earliest(records.iter().filter_map(|r| r.start_time.as_deref()));
            enrichment.image_digest = records
                .iter()
                .filter(|r| r.succeeded)
                .find_map(|r| r.image_digest.clone());
            enrichment.succeeded_actions = records
                .iter()
                .filter(|r| r.succeeded)
                .map(|r| FailedAction {
                    stage: r.stage.clone(),
                    action: r.action.clone(),
                    provider: r.provider.clone(),
                    summary: r.summary.clone(),
                    ..FailedAction::default()
                })
                .collect();
            let failed: Vec<FailedAction> = records
                .into_iter()
                .filter(|r| r.failed)
                .map(|r| FailedAction {
                    stage: r.stage,
                    action: r.action,
                    provider: r.provider,
                    summary: r.summary,
                    error_code: r.error_code,
                    url: r.url,
                })
                .collect();
            enrichment.more_failed_actions = failed.len().saturating_sub(MAX_FAILED_ACTIONS);
            enrichment.failed_actions = failed.into_iter().take(MAX_FAILED_ACTIONS).collect();
        }
        Err(e) => problems.push(e.to_string()),
    }
    if !problems.is_empty() {
        enrichment.unavailable = Some(problems.join("; "));
    }
    enrichment
}

fn earliest<'a>(times: impl Iterator<Item = &'a str>) -> Option<String> {
    use time::{OffsetDateTime, format_description::well_known::Rfc3339};
    times
        .filter_map(|t| {
            OffsetDateTime::parse(t, &Rfc3339)
                .ok()
                .map(|parsed| (parsed, t))
        })
        .min_by_key(|(parsed, _)| *parsed)
        .map(|(_, t)| t.to_owned())
}

/// Source actions backed by a connection put `{"ProviderType":..,"CommitMessage":..}` in the
/// revision summary; show the message, not the JSON.
pub fn readable_revision_summary(summary: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(summary)
        .ok()
        .and_then(|v| {
            v.get("CommitMessage")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        });
    bounded(message.as_deref().unwrap_or(summary), MAX_DETAIL_CHARS)
}

/// [`ExecutionLookup`] over the AWS SDK client.
#[derive(Clone, Debug)]
pub struct CodePipelineLookup {
    client: aws_sdk_codepipeline::Client,
}

impl CodePipelineLookup {
    pub fn new(client: aws_sdk_codepipeline::Client) -> Self {
        Self { client }
    }
}

fn sdk_failure<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &'static str,
    err: &aws_sdk_codepipeline::error::SdkError<E>,
) -> LookupError {
    // CodePipeline models no AccessDeniedException type for these operations; the code is all there is.
    if err.code() == Some("AccessDeniedException") {
        return LookupError::AccessDenied(operation);
    }
    LookupError::Failed {
        operation,
        message: DisplayErrorContext(err).to_string(),
    }
}

impl ExecutionLookup for CodePipelineLookup {
    async fn execution(
        &self,
        pipeline: &str,
        execution_id: &str,
    ) -> Result<ExecutionInfo, LookupError> {
        let out = self
            .client
            .get_pipeline_execution()
            .pipeline_name(pipeline)
            .pipeline_execution_id(execution_id)
            .send()
            .await
            .map_err(|err| match err.as_service_error() {
                Some(e) if e.is_pipeline_not_found_exception() => {
                    LookupError::PipelineNotFound(pipeline.to_owned())
                }
                Some(e) if e.is_pipeline_execution_not_found_exception() => {
                    LookupError::ExecutionNotFound(execution_id.to_owned())
                }
                _ => sdk_failure("GetPipelineExecution", &err),
            })?;
        let Some(execution) = out.pipeline_execution() else {
            return Ok(ExecutionInfo::default());
        };
        Ok(ExecutionInfo {
            trigger_type: execution
                .trigger()
                .and_then(|t| t.trigger_type())
                .map(|t| t.as_str().to_owned()),
            trigger_detail: execution
                .trigger()
                .and_then(|t| t.trigger_detail())
                .map(str::to_owned),
            status_summary: execution
                .status_summary()
                .map(|s| bounded(s, MAX_DETAIL_CHARS)),
            revisions: execution
                .artifact_revisions()
                .iter()
                .map(|r| SourceRevision {
                    artifact: r.name().map(str::to_owned),
                    revision_id: r.revision_id().map(str::to_owned),
                    summary: r.revision_summary().map(readable_revision_summary),
                    url: r.revision_url().map(str::to_owned),
                })
                .collect(),
        })
    }

    async fn actions(
        &self,
        pipeline: &str,
        execution_id: &str,
    ) -> Result<Vec<ActionRecord>, LookupError> {
        let out = self
            .client
            .list_action_executions()
            .pipeline_name(pipeline)
            .filter(
                ActionExecutionFilter::builder()
                    .pipeline_execution_id(execution_id)
                    .build(),
            )
            .send()
            .await
            .map_err(|err| match err.as_service_error() {
                Some(e) if e.is_pipeline_not_found_exception() => {
                    LookupError::PipelineNotFound(pipeline.to_owned())
                }
                Some(e) if e.is_pipeline_execution_not_found_exception() => {
                    LookupError::ExecutionNotFound(execution_id.to_owned())
                }
                _ => sdk_failure("ListActionExecutions", &err),
            })?;
        Ok(out
            .action_execution_details()
            .iter()
            .map(action_record)
            .collect())
    }
}

fn action_record(detail: &ActionExecutionDetail) -> ActionRecord {
    let result = detail.output().and_then(|o| o.execution_result());
    ActionRecord {
        stage: detail.stage_name().unwrap_or("(unknown stage)").to_owned(),
        action: detail
            .action_name()
            .unwrap_or("(unknown action)")
            .to_owned(),
        provider: detail
            .input()
            .and_then(|i| i.action_type_id())
            .map(|t| t.provider().to_owned()),
        failed: detail.status() == Some(&ActionExecutionStatus::Failed),
        succeeded: detail.status() == Some(&ActionExecutionStatus::Succeeded),
        summary: result
            .and_then(|r| {
                r.external_execution_summary()
                    .or_else(|| r.error_details().and_then(|e| e.message()))
            })
            .map(|s| bounded(s, MAX_DETAIL_CHARS)),
        error_code: result
            .and_then(|r| r.error_details())
            .and_then(|e| e.code())
            .map(str::to_owned),
        url: result
            .and_then(|r| r.external_execution_url())
            .map(str::to_owned),
        start_time: detail
            .start_time()
            .and_then(|t| t.fmt(Format::DateTime).ok()),
        // ListActionExecutions reports an action's `outputVariables` (CodePipeline API Reference,
        // "ActionExecutionOutput"); only a sha256 digest is taken, bounded like any detail.
        image_digest: detail
            .output()
            .and_then(|o| o.output_variables())
            .and_then(|vars| vars.get(IMAGE_DIGEST_VARIABLE))
            .filter(|d| d.starts_with("sha256:"))
            .map(|d| bounded(d, MAX_DETAIL_CHARS)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_codepipeline::operation::get_pipeline_execution::{
        GetPipelineExecutionError, GetPipelineExecutionOutput,
    };
    use aws_sdk_codepipeline::operation::list_action_executions::ListActionExecutionsOutput;
    use aws_sdk_codepipeline::types::error::PipelineExecutionNotFoundException;
    use aws_sdk_codepipeline::types::{
        ActionCategory, ActionExecutionInput, ActionExecutionOutput, ActionExecutionResult,
        ActionOwner, ActionTypeId, ArtifactRevision, ErrorDetails, ExecutionTrigger,
        PipelineExecution, TriggerType,
    };
    use aws_smithy_mocks::{mock, mock_client};
    use aws_smithy_types::DateTime;

    struct Slow;
    impl ExecutionLookup for Slow {
        async fn execution(&self, _: &str, _: &str) -> Result<ExecutionInfo, LookupError> {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(ExecutionInfo::default())
        }
        async fn actions(&self, _: &str, _: &str) -> Result<Vec<ActionRecord>, LookupError> {
            Ok(vec![])
        }
    }

    #[tokio::test]
    async fn a_slow_lookup_is_cut_off_at_the_budget_and_says_so() {
        let started = std::time::Instant::now();
        let got = enrich(&Slow, "p", "e", Duration::from_millis(150)).await;
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(150) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
        assert_eq!(
            got.unavailable.as_deref(),
            Some("CodePipeline did not answer within 150 ms")
        );
        assert!(got.failed_actions.is_empty());
    }

    fn failed_build_detail() -> ActionExecutionDetail {
        ActionExecutionDetail::builder()
            .stage_name("Build")
            .action_name("BuildImage")
            .status(ActionExecutionStatus::Failed)
            .start_time(DateTime::from_secs(1_714_557_600))
            .input(
                ActionExecutionInput::builder()
                    .action_type_id(
                        ActionTypeId::builder()
                            .category(ActionCategory::Build)
                            .owner(ActionOwner::Aws)
                            .provider("CodeBuild")
                            .version("1")
                            .build()
                            .expect("all required fields set"),
                    )
                    .build(),
            )
            .output(
                ActionExecutionOutput::builder()
                    .execution_result(
                        ActionExecutionResult::builder()
                            .external_execution_summary("Build failed: cargo test exited 101")
                            .external_execution_url("https://example.invalid/build/1")
                            .error_details(ErrorDetails::builder().code("JobFailed").build())
                            .build(),
                    )
                    .build(),
            )
            .build()
    }

    #[tokio::test]
    async fn sdk_lookup_reports_failed_actions_commit_and_start() {
        let get = mock!(aws_sdk_codepipeline::Client::get_pipeline_execution)
            .match_requests(|r| r.pipeline_name() == Some("pipeline-dev") && r.pipeline_execution_id() == Some("e-1"))
            .then_output(|| {
                GetPipelineExecutionOutput::builder()
                    .pipeline_execution(
                        PipelineExecution::builder()
                            .trigger(
                                ExecutionTrigger::builder()
                                    .trigger_type(TriggerType::Webhook)
                                    .trigger_detail("arn:aws:codepipeline:eu-west-1:1:webhook:w")
                                    .build(),
                            )
                            .artifact_revisions(
                                ArtifactRevision::builder()
                                    .name("SourceArtifact")
                                    .revision_id("0123456789abcdef")
                                    .revision_summary(r#"{"ProviderType":"GitHub","CommitMessage":"Fix the flaky test"}"#)
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            });
        let list = mock!(aws_sdk_codepipeline::Client::list_action_executions)
            .match_requests(|r| r.filter().and_then(|f| f.pipeline_execution_id()) == Some("e-1"))
            .then_output(|| {
                ListActionExecutionsOutput::builder()
                    .action_execution_details(
                        ActionExecutionDetail::builder()
                            .stage_name("Source")
                            .action_name("Source")
                            .status(ActionExecutionStatus::Succeeded)
                            .start_time(DateTime::from_secs(1_714_557_500))
                            .build(),
                    )
                    .action_execution_details(failed_build_detail())
                    .build()
            });
        let client = mock_client!(aws_sdk_codepipeline, [&get, &list]);
        let got = enrich(
            &CodePipelineLookup::new(client),
            "pipeline-dev",
            "e-1",
            Duration::from_secs(3),
        )
        .await;
        assert_eq!(got.unavailable, None);
        assert_eq!(
            got.failed_actions,
            vec![FailedAction {
                stage: "Build".into(),
                action: "BuildImage".into(),
                provider: Some("CodeBuild".into()),
                summary: Some("Build failed: cargo test exited 101".into()),
                error_code: Some("JobFailed".into()),
                url: Some("https://example.invalid/build/1".into()),
            }]
        );
        assert_eq!(got.started_at.as_deref(), Some("2024-05-01T09:58:20Z"));
        let execution = got.execution.expect("execution info");
        assert_eq!(execution.trigger_type.as_deref(), Some("Webhook"));
        assert_eq!(
            execution.revisions[0].summary.as_deref(),
            Some("Fix the flaky test")
        );
        assert_eq!(get.num_calls(), 1);
        assert_eq!(list.num_calls(), 1);
    }

    #[tokio::test]
    async fn one_failed_lookup_keeps_the_other_and_names_the_problem() {
        let get = mock!(aws_sdk_codepipeline::Client::get_pipeline_execution).then_error(|| {
            GetPipelineExecutionError::PipelineExecutionNotFoundException(
                PipelineExecutionNotFoundException::builder()
                    .message("gone")
                    .build(),
            )
        });
        let list = mock!(aws_sdk_codepipeline::Client::list_action_executions).then_output(|| {
            ListActionExecutionsOutput::builder()
                .action_execution_details(failed_build_detail())
                .build()
        });
        let client = mock_client!(aws_sdk_codepipeline, [&get, &list]);
        let got = enrich(
            &CodePipelineLookup::new(client),
            "pipeline-dev",
            "e-9",
            Duration::from_secs(3),
        )
        .await;
        assert_eq!(got.failed_actions.len(), 1);
        assert_eq!(got.execution, None);
        assert_eq!(
            got.unavailable.as_deref(),
            Some("CodePipeline has no execution `e-9` (older than its execution history)")
        );
    }

    #[test]
    fn plain_revision_summaries_are_kept() {
        assert_eq!(
            readable_revision_summary("Added LICENSE.txt"),
            "Added LICENSE.txt"
        );
        assert_eq!(readable_revision_summary(r#"{"CommitMessage":"x"}"#), "x");
    }
}
