//! Notifications as a subscriber receives them: an SQS queue subscribed to the deployed SNS
//! topic, drained after each run, and each message rendered as its email would read.

use super::context::{Clients, RunContext};
use super::report::{EventDelivery, Notification};
use super::support::Narrator;
use anyhow::{Context, Result};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The SQS queue subscribed to the notification topic: what an email subscriber would get.
pub(super) struct Inbox {
    queue_url: String,
    subscription_arn: String,
}

/// Subscribes a new SQS queue to the topic (SNS envelopes, not raw messages).
pub(super) async fn subscribe_inbox(clients: &Clients, topic_arn: &str) -> Result<Inbox> {
    let queue_url = clients
        .sqs
        .create_queue()
        .queue_name("demo-notification-inbox")
        .send()
        .await?
        .queue_url()
        .context("CreateQueue returned no URL")?
        .to_owned();
    let attributes = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await?;
    let queue_arn = attributes
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .context("the inbox queue has no ARN")?
        .clone();
    let subscription = clients
        .sns
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .attributes("RawMessageDelivery", "false")
        .send()
        .await
        .with_context(|| format!("subscribing the inbox to {topic_arn}"))?;
    Ok(Inbox {
        queue_url,
        subscription_arn: subscription
            .subscription_arn()
            .unwrap_or_default()
            .to_owned(),
    })
}

/// Reads every SNS envelope that reached the inbox, waiting up to 10 s for at least `expected`.
async fn drain_inbox(ctx: &RunContext<'_>, expected: usize) -> Result<Vec<Notification>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    loop {
        let received = ctx
            .clients
            .sqs
            .receive_message()
            .queue_url(&ctx.inbox.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await?;
        for message in received.messages() {
            let envelope: Value = serde_json::from_str(message.body().unwrap_or("{}"))
                .context("an SNS envelope that is not JSON")?;
            out.push(Notification {
                subject: envelope["Subject"].as_str().map(str::to_owned),
                message: envelope["Message"].as_str().unwrap_or_default().to_owned(),
                attributes: envelope["MessageAttributes"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v["Value"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect(),
            });
            if let Some(handle) = message.receipt_handle() {
                ctx.clients
                    .sqs
                    .delete_message()
                    .queue_url(&ctx.inbox.queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await?;
            }
        }
        if (received.messages().is_empty() && out.len() >= expected) || Instant::now() > deadline {
            return Ok(out);
        }
    }
}

/// A notification as its email would read: subject, then the facts of the message.
pub fn render_notification(notification: &Notification) -> String {
    let subject = notification
        .subject
        .clone()
        .unwrap_or_else(|| "AWS Notification Message".to_owned());
    let mut text = format!("Subject: {subject}\n");
    match serde_json::from_str::<Value>(&notification.message) {
        Ok(body) if body.is_object() => {
            for (label, value) in [
                ("Pipeline", &body["pipeline"]),
                ("Environment", &body["environment"]),
                ("State", &body["state"]),
                ("Stage", &body["stage"]),
                ("Action", &body["action"]),
                ("Execution", &body["executionId"]),
                ("Commit", &body["commit"]["id"]),
                ("Message", &body["commit"]["message"]),
                ("Repository", &body["commit"]["repository"]),
            ] {
                if let Some(value) = value.as_str() {
                    text.push_str(&format!("{label}: {value}\n"));
                }
            }
            for failure in body["failures"].as_array().into_iter().flatten() {
                text.push_str(&format!(
                    "Failed: {}/{}: {} ({})\n",
                    failure["stage"].as_str().unwrap_or("?"),
                    failure["action"].as_str().unwrap_or("?"),
                    failure["summary"].as_str().unwrap_or(""),
                    failure["errorCode"].as_str().unwrap_or("")
                ));
            }
            if let Some(url) = body["consoleUrl"].as_str() {
                text.push_str(&format!("Details: {url}\n"));
            }
        }
        _ => text.push_str(&notification.message),
    }
    text
}

/// Waits for as many notifications as the run's deliveries published and shows each as its
/// email would read.
pub(super) async fn received(
    ctx: &RunContext<'_>,
    events: &[EventDelivery],
) -> Result<Vec<Notification>> {
    let published = events
        .iter()
        .flat_map(|e| &e.deliveries)
        .filter(|x| x.ends_with(": published"))
        .count();
    let notifications = drain_inbox(ctx, published).await?;
    ctx.say.say(&format!(
        "{} notification(s) arrived at the subscription:",
        notifications.len()
    ));
    for notification in &notifications {
        ctx.say.block(&render_notification(notification));
    }
    ctx.say.simulated("on AWS, EventBridge invokes the event-notifier and publishes to SNS itself; here each event CodePipeline would emit is matched against the deployed rules and delivered the same way");
    Ok(notifications)
}

/// Removes the rehearsal's own subscription and queue, which are not part of the environment.
pub(super) async fn unsubscribe_inbox(
    clients: &Clients,
    inbox: &Inbox,
    say: &Narrator,
) -> Result<()> {
    say.step("Cleaning up the demo's own subscription");
    clients
        .sns
        .unsubscribe()
        .subscription_arn(&inbox.subscription_arn)
        .send()
        .await?;
    clients
        .sqs
        .delete_queue()
        .queue_url(&inbox.queue_url)
        .send()
        .await?;
    Ok(())
}
