//! The EventBridge delivery: a `Deployment Requested` event on the configured bus, behind
//! [`EventPublisher`] so the handler is tested without AWS. Its source names the function's
//! environment (`rust-pipeline.deploy-handler.<env>`, `ResourceNames::deployment_event_source`):
//! the function's role may put events of that source only, so no environment can emit events
//! shaped like another's.

use aws_sdk_eventbridge::error::ProvideErrorMetadata as _;

use super::TargetError;
use crate::BoxFuture;

pub trait EventPublisher: Send + Sync {
    fn publish<'a>(
        &'a self,
        bus: &'a str,
        detail_json: &'a str,
    ) -> BoxFuture<'a, Result<(), TargetError>>;
}

#[derive(Debug, Clone)]
pub struct EventBridgePublisher {
    client: aws_sdk_eventbridge::Client,
    /// The events' source, from `PIPELINE_ENV`; `None` when that is unset or not an environment
    /// name, which fails every delivery with the fix.
    source: Option<String>,
}

impl EventBridgePublisher {
    /// A publisher for the environment `pipeline_env` (the function's `PIPELINE_ENV`).
    pub fn new(client: aws_sdk_eventbridge::Client, pipeline_env: Option<&str>) -> Self {
        let source = pipeline_env
            .and_then(|env| pipeline_common::EnvName::parse(env).ok())
            .map(|env| env.names().deployment_event_source());
        Self { client, source }
    }
}

impl EventPublisher for EventBridgePublisher {
    fn publish<'a>(
        &'a self,
        bus: &'a str,
        detail_json: &'a str,
    ) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async move {
            let Some(source) = self.source.as_deref() else {
                return Err(TargetError::Configuration(format!(
                    "{} is not set to the environment's name, which the deployment event's source \
                     carries (the role may emit only that source); set it as bootstrap does",
                    pipeline_common::env_vars::PIPELINE_ENV
                )));
            };
            let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .event_bus_name(bus)
                .source(source)
                .detail_type(pipeline_common::DEPLOYMENT_REQUESTED_DETAIL_TYPE)
                .detail(detail_json)
                .build();
            let output = self.client.put_events().entries(entry).send().await.map_err(|err| {
                let detail = aws_smithy_types::error::display::DisplayErrorContext(&err).to_string();
                // EventBridge models no AccessDenied type for PutEvents: the code is all there is.
                if err.code() == Some("AccessDeniedException") {
                    TargetError::Permission(format!(
                        "the function's role may not put events on bus {bus} ({detail}); grant it events:PutEvents"
                    ))
                } else if err.code() == Some("ResourceNotFoundException") {
                    TargetError::Configuration(format!("the event bus {bus} does not exist ({detail}); fix DEPLOY_EVENT_BUS"))
                } else {
                    TargetError::Failed(format!("could not publish the deployment event to bus {bus}: {detail}; retry the stage"))
                }
            })?;
            if output.failed_entry_count() > 0 {
                let entry = output.entries().first();
                let code = entry.and_then(|e| e.error_code()).unwrap_or("unknown");
                let message = entry
                    .and_then(|e| e.error_message())
                    .unwrap_or("no message");
                return Err(TargetError::Failed(format!(
                    "EventBridge rejected the deployment event on bus {bus}: {code}: {message}; check the bus and the function's permissions"
                )));
            }
            Ok(())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
    use aws_sdk_eventbridge::types::PutEventsResultEntry;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    #[tokio::test]
    async fn eventbridge_failed_entries_are_failures() {
        let ok = mock!(aws_sdk_eventbridge::Client::put_events)
            .match_requests(|req| {
                let entry = &req.entries()[0];
                entry.source() == Some("rust-pipeline.deploy-handler.dev")
                    && entry.detail_type() == Some("Deployment Requested")
                    && entry.event_bus_name() == Some("bus")
                    && entry.detail() == Some("{}")
            })
            .then_output(|| PutEventsOutput::builder().failed_entry_count(0).build());
        let failed = mock!(aws_sdk_eventbridge::Client::put_events).then_output(|| {
            PutEventsOutput::builder()
                .failed_entry_count(1)
                .entries(
                    PutEventsResultEntry::builder()
                        .error_code("InternalFailure")
                        .error_message("boom")
                        .build(),
                )
                .build()
        });
        let client = mock_client!(aws_sdk_eventbridge, RuleMode::Sequential, [&ok, &failed]);
        let publisher = EventBridgePublisher::new(client, Some("dev"));
        publisher.publish("bus", "{}").await.unwrap();
        let err = publisher.publish("bus", "{}").await.unwrap_err();
        assert!(err.to_string().contains("InternalFailure: boom"), "{err}");
        assert_eq!(ok.num_calls(), 1);
    }

    #[tokio::test]
    async fn without_an_environment_nothing_is_sent() {
        let any = mock!(aws_sdk_eventbridge::Client::put_events)
            .then_output(|| PutEventsOutput::builder().failed_entry_count(0).build());
        let client = mock_client!(aws_sdk_eventbridge, RuleMode::Sequential, [&any]);
        for env in [None, Some("Not An Env")] {
            let publisher = EventBridgePublisher::new(client.clone(), env);
            let err = publisher.publish("bus", "{}").await.unwrap_err();
            assert!(matches!(err, TargetError::Configuration(_)), "{err}");
            assert!(err.to_string().contains("PIPELINE_ENV"), "{err}");
        }
        assert_eq!(any.num_calls(), 0);
    }
}
