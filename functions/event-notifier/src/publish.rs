//! Publishing a [`Notification`] to the SNS topic, behind a narrow trait.

use std::future::Future;

use aws_sdk_sns::types::MessageAttributeValue;
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::message::Notification;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("SNS topic {topic} does not exist; check NOTIFY_TOPIC_ARN")]
    TopicNotFound { topic: String },
    #[error(
        "not allowed to publish to {topic}; grant sns:Publish on it to the notifier's role (and kms:GenerateDataKey/Decrypt if the topic is encrypted)"
    )]
    NotAuthorized { topic: String },
    #[error(
        "SNS rejected the message for {topic}: {message}; this is a notifier bug, report it with the event id"
    )]
    Rejected { topic: String, message: String },
    #[error("publishing to {topic} failed: {message}; Lambda retries the event")]
    Failed { topic: String, message: String },
}

/// Where notifications go.
pub trait Publisher: Send + Sync {
    /// Publishes and returns the SNS message id.
    fn publish(
        &self,
        notification: &Notification,
    ) -> impl Future<Output = Result<String, PublishError>> + Send;
}

/// [`Publisher`] over the AWS SDK SNS client.
#[derive(Clone, Debug)]
pub struct SnsPublisher {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsPublisher {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: String) -> Self {
        Self { client, topic_arn }
    }
}

impl Publisher for SnsPublisher {
    async fn publish(&self, n: &Notification) -> Result<String, PublishError> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&n.subject)
            .message_structure("json")
            .message(&n.message);
        for (name, value) in &n.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| PublishError::Rejected {
                    topic: self.topic_arn.clone(),
                    message: e.to_string(),
                })?;
            request = request.message_attributes(*name, attribute);
        }
        let topic = || self.topic_arn.clone();
        let out = request
            .send()
            .await
            .map_err(|err| match err.as_service_error() {
                Some(e) if e.is_not_found_exception() => {
                    PublishError::TopicNotFound { topic: topic() }
                }
                Some(e)
                    if e.is_authorization_error_exception()
                        || e.is_kms_access_denied_exception() =>
                {
                    PublishError::NotAuthorized { topic: topic() }
                }
                Some(e)
                    if e.is_invalid_parameter_exception()
                        || e.is_invalid_parameter_value_exception() =>
                {
                    PublishError::Rejected {
                        topic: topic(),
                        message: DisplayErrorContext(&err).to_string(),
                    }
                }
                _ => PublishError::Failed {
                    topic: topic(),
                    message: DisplayErrorContext(&err).to_string(),
                },
            })?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::Enrichment;
    use crate::event::parse;
    use crate::message::{MessageOptions, format};
    use aws_sdk_sns::operation::publish::{PublishError as SdkPublishError, PublishOutput};
    use aws_sdk_sns::types::error::{AuthorizationErrorException, NotFoundException};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use serde_json::json;

    const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:notifications-dev";

    fn notification() -> Notification {
        let raw = json!({"id": "e", "source": "aws.codepipeline",
            "detail-type": "CodePipeline Pipeline Execution State Change",
            "detail": {"pipeline": "pipeline-dev", "state": "FAILED", "execution-id": "x"}});
        format(
            &parse(&raw).expect("parses"),
            &Enrichment::default(),
            &MessageOptions::default(),
        )
    }

    #[tokio::test]
    async fn sends_subject_json_structure_and_string_attributes() {
        let n = notification();
        let expected_message = n.message.clone();
        let rule = mock!(aws_sdk_sns::Client::publish)
            .match_requests(move |r| {
                let attrs = r.message_attributes().expect("attributes");
                r.topic_arn() == Some(TOPIC)
                    && r.subject() == Some("[FAILED] pipeline-dev: execution failed")
                    && r.message_structure() == Some("json")
                    && r.message() == Some(expected_message.as_str())
                    && attrs.len() == 4
                    && attrs["state"].data_type() == "String"
                    && attrs["state"].string_value() == Some("FAILED")
                    && attrs["detail_type"].string_value()
                        == Some("CodePipeline Pipeline Execution State Change")
            })
            .then_output(|| PublishOutput::builder().message_id("m-1").build());
        let client = mock_client!(aws_sdk_sns, [&rule]);
        let id = SnsPublisher::new(client, TOPIC.into())
            .publish(&n)
            .await
            .expect("published");
        assert_eq!(id, "m-1");
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn missing_topic_and_denied_publish_name_the_fix() {
        let missing = mock!(aws_sdk_sns::Client::publish).then_error(|| {
            SdkPublishError::NotFoundException(NotFoundException::builder().message("nope").build())
        });
        let denied = mock!(aws_sdk_sns::Client::publish).then_error(|| {
            SdkPublishError::AuthorizationErrorException(
                AuthorizationErrorException::builder().build(),
            )
        });
        let client = mock_client!(aws_sdk_sns, RuleMode::Sequential, [&missing, &denied]);
        let publisher = SnsPublisher::new(client, TOPIC.into());
        let first = publisher
            .publish(&notification())
            .await
            .expect_err("topic missing");
        assert!(matches!(first, PublishError::TopicNotFound { .. }));
        assert!(
            first.to_string().contains("check NOTIFY_TOPIC_ARN"),
            "{first}"
        );
        let second = publisher
            .publish(&notification())
            .await
            .expect_err("denied");
        assert!(second.to_string().contains("grant sns:Publish"), "{second}");
    }
}
