//! SNS topics for pipeline notifications, with their access policy, encryption key and
//! subscriptions. Email subscriptions wait for the recipient to confirm them.

use super::errors::{self, absent_as_none, gone_is_done};
use super::tags::{model_tags, retag_with, sdk_tags};
use super::{Ctx, util};
use crate::model::{Kind, Observed, ResourceId, Subscription, TopicSpec};
use crate::policies::deployer::Scope;
use crate::policies::statement;
use crate::retry::while_principals_propagate;
use anyhow::{Context, Result};
use aws_sdk_sns::error::ProvideErrorMetadata;
use aws_sdk_sns::operation::{
    delete_topic::DeleteTopicError, get_topic_attributes::GetTopicAttributesError,
    unsubscribe::UnsubscribeError,
};
use serde_json::Value;
use std::collections::HashMap;

super::resource!(
    /// SNS topics.
    TopicResource: Topic(TopicSpec), depends on []
);

/// What SNS reports as the ARN of a subscription nobody has confirmed yet.
const PENDING_CONFIRMATION: &str = "PendingConfirmation";

errors::variants! {
    NotFound:
    GetTopicAttributesError => is_not_found_exception,
    UnsubscribeError => is_not_found_exception,
    DeleteTopicError => is_not_found_exception,
}

/// A subscription as listed, with the ARN needed to remove it (`None` while pending).
struct Listed {
    subscription: Subscription,
    arn: Option<String>,
}

async fn list_subscriptions(ctx: Ctx<'_>, topic_arn: &str) -> Result<Vec<Listed>> {
    let sns = &ctx.clients.sns;
    let list = sns.list_subscriptions_by_topic().topic_arn(topic_arn);
    let items = list.into_paginator().items().send().try_collect().await;
    let items = items.context("listing the topic's subscriptions")?;
    let mut listed: Vec<Listed> = items
        .into_iter()
        .map(|s| Listed {
            subscription: Subscription {
                protocol: s.protocol().unwrap_or_default().to_owned(),
                endpoint: s.endpoint().unwrap_or_default().to_owned(),
            },
            arn: s
                .subscription_arn()
                .filter(|arn| *arn != PENDING_CONFIRMATION)
                .map(str::to_owned),
        })
        .collect();
    listed.sort_by(|a, b| a.subscription.cmp(&b.subscription));
    Ok(listed)
}

pub async fn observe(ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
    let sns = &ctx.clients.sns;
    let arn = ctx.target.arn("sns", name);
    // The three reads name the topic's ARN only: one round (an absent topic fails them all).
    let (answer, listed, listed_subscriptions) = futures::join!(
        sns.get_topic_attributes().topic_arn(&arn).send(),
        sns.list_tags_for_resource().resource_arn(&arn).send(),
        list_subscriptions(ctx, &arn),
    );
    let Some(attributes) = absent_as_none(answer)? else {
        return Ok(None);
    };
    let attributes = attributes.attributes().cloned().unwrap_or_default();
    let tags = model_tags(listed.context("reading the topic's tags")?.tags());
    let policy = attributes
        .get("Policy")
        .map(|text| serde_json::from_str(text).context("the topic policy is not JSON"))
        .transpose()?
        .unwrap_or_default();
    let mut subscriptions: Vec<Subscription> = listed_subscriptions?
        .into_iter()
        .map(|l| l.subscription)
        .collect();
    subscriptions.dedup();
    let spec = TopicSpec {
        name: name.to_owned(),
        policy,
        kms_key_id: attributes
            .get("KmsMasterKeyId")
            .filter(|k| !k.is_empty())
            .cloned(),
        subscriptions,
        tags: tags.clone(),
    };
    Ok(Some(Observed::of(spec, Some(arn))))
}

/// SNS checks a topic policy's principals when it is set (CreateTopic's `Policy` attribute and
/// SetTopicAttributes): a role IAM has not propagated yet is refused with `InvalidParameter`
/// "Invalid parameter: Policy Error: PrincipalNotFound" (terraform-provider-aws #26041). That
/// code covers every bad parameter, hence the message.
fn is_principal_propagation<E: ProvideErrorMetadata>(err: &E) -> bool {
    util::has_code_and_message(err, "InvalidParameter", "PrincipalNotFound")
}

pub async fn create(ctx: Ctx<'_>, spec: &TopicSpec) -> Result<()> {
    let mut attributes = HashMap::new();
    if !spec.policy.is_null() {
        attributes.insert(
            "Policy".to_owned(),
            serde_json::to_string(&spec.policy).context("serialising the topic policy")?,
        );
    }
    if let Some(key) = &spec.kms_key_id {
        attributes.insert("KmsMasterKeyId".to_owned(), key.clone());
    }
    // CreateTopic is idempotent for the same name, attributes and tags, so a crash-and-retry
    // lands here again harmlessly; the observe below converges whatever differs.
    let id = ResourceId::new(Kind::Topic, &spec.name);
    let tags = sdk_tags(&spec.tags)?;
    let arn = while_principals_propagate(
        ctx.progress,
        &id,
        &spec.policy,
        is_principal_propagation,
        || {
            ctx.clients
                .sns
                .create_topic()
                .name(&spec.name)
                .set_attributes(Some(attributes.clone()))
                .set_tags(Some(tags.clone()))
                .send()
        },
    )
    .await?
    .topic_arn()
    .map(str::to_owned)
    .unwrap_or_else(|| ctx.target.arn("sns", &spec.name));
    let existing: Vec<Subscription> = list_subscriptions(ctx, &arn)
        .await?
        .into_iter()
        .map(|l| l.subscription)
        .collect();
    for wanted in spec.subscriptions.iter().filter(|s| !existing.contains(s)) {
        subscribe(ctx, &arn, wanted).await?;
    }
    Ok(())
}

async fn subscribe(ctx: Ctx<'_>, topic_arn: &str, subscription: &Subscription) -> Result<()> {
    let Subscription { protocol, endpoint } = subscription;
    let sns = &ctx.clients.sns;
    let request = sns.subscribe().topic_arn(topic_arn);
    let answer = request.protocol(protocol).endpoint(endpoint).send().await;
    let answer = answer.with_context(|| format!("subscribing {protocol} {endpoint}"))?;
    if protocol == "email" || answer.subscription_arn() == Some(PENDING_CONFIRMATION) {
        ctx.progress.line(&format!(
            "{endpoint} must confirm the subscription to {topic_arn}: AWS sent a confirmation \
             message; notifications reach it only after the link in that message is followed"
        ));
    }
    Ok(())
}

pub async fn update(ctx: Ctx<'_>, desired: &TopicSpec, observed: &TopicSpec) -> Result<()> {
    let sns = &ctx.clients.sns;
    let arn = ctx.target.arn("sns", &desired.name);
    if desired.policy != observed.policy {
        let text = if desired.policy.is_null() {
            String::new()
        } else {
            serde_json::to_string(&desired.policy).context("serialising the topic policy")?
        };
        let id = ResourceId::new(Kind::Topic, &desired.name);
        while_principals_propagate(
            ctx.progress,
            &id,
            &desired.policy,
            is_principal_propagation,
            || {
                sns.set_topic_attributes()
                    .topic_arn(&arn)
                    .attribute_name("Policy")
                    .attribute_value(&text)
                    .send()
            },
        )
        .await
        .context("setting the topic policy")?;
    }
    if desired.kms_key_id != observed.kms_key_id {
        // An empty key id turns encryption at rest off.
        sns.set_topic_attributes()
            .topic_arn(&arn)
            .attribute_name("KmsMasterKeyId")
            .attribute_value(desired.kms_key_id.clone().unwrap_or_default())
            .send()
            .await
            .context("setting the topic's KMS key")?;
    }
    if desired.subscriptions != observed.subscriptions {
        let listed = list_subscriptions(ctx, &arn).await?;
        for wanted in desired
            .subscriptions
            .iter()
            .filter(|s| !listed.iter().any(|l| &l.subscription == *s))
        {
            subscribe(ctx, &arn, wanted).await?;
        }
        for extra in listed
            .iter()
            .filter(|l| !desired.subscriptions.contains(&l.subscription))
        {
            let Some(subscription_arn) = &extra.arn else {
                ctx.progress.line(&format!(
                    "cannot remove the pending subscription {} {} from {arn}: SNS gives unconfirmed \
                     subscriptions no ARN; it expires by itself after 3 days unless confirmed",
                    extra.subscription.protocol, extra.subscription.endpoint
                ));
                continue;
            };
            let removed = sns
                .unsubscribe()
                .subscription_arn(subscription_arn)
                .send()
                .await;
            gone_is_done(removed).with_context(|| format!("unsubscribing {subscription_arn}"))?;
        }
    }
    retag_with!(sns, resource_arn(&arn), &desired.tags, &observed.tags).await
}

/// Deletes the topic and with it every subscription. DeleteTopic of an absent topic succeeds.
pub async fn delete(ctx: Ctx<'_>, name: &str) -> Result<()> {
    let arn = ctx.target.arn("sns", name);
    gone_is_done(ctx.clients.sns.delete_topic().topic_arn(&arn).send().await)
}

/// What the deployer needs for the notification topic; Unsubscribe names a subscription, which
/// SNS authorises on `*` (it checks the topic behind it).
pub fn deployer_grants(scope: &Scope<'_>) -> Vec<Value> {
    vec![
        statement(
            "RemoveSubscribers",
            &["sns:Unsubscribe"],
            vec!["*".to_owned()],
        ),
        statement(
            "NotificationTopic",
            &[
                "sns:CreateTopic",
                "sns:DeleteTopic",
                "sns:GetTopicAttributes",
                "sns:ListSubscriptionsByTopic",
                "sns:ListTagsForResource",
                "sns:SetTopicAttributes",
                "sns:Subscribe",
                "sns:TagResource",
                "sns:UntagResource",
            ],
            vec![
                scope
                    .target
                    .arn("sns", &scope.env.names().notification_topic()),
            ],
        ),
    ]
}
