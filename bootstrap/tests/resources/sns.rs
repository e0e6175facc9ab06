//! The SNS topic module against the local emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{Fixture, assert_no_op_update, spec_of, tags};
use bootstrap::model::{Subscription, TopicSpec};
use bootstrap::resources::sns;
use serde_json::json;

fn notifications_topic(name: &str) -> TopicSpec {
    let arn = format!("arn:aws:sns:us-east-1:123456789012:{name}");
    TopicSpec {
        name: name.into(),
        policy: json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "EventBridgePublish",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": arn
            }]
        }),
        kms_key_id: Some("alias/aws/sns".into()),
        subscriptions: vec![
            Subscription {
                protocol: "email".into(),
                endpoint: "team@example.com".into(),
            },
            Subscription {
                protocol: "https".into(),
                endpoint: "https://hooks.example.com/pipeline".into(),
            },
        ],
        tags: tags([("pipeline:env", "dev")]),
    }
}

fn observed_spec(observed: Option<bootstrap::model::Observed>) -> TopicSpec {
    spec_of(observed.expect("topic exists"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_create_converge_delete() {
    let fx = Fixture::start().await;
    let (emu, clients, ctx) = (&fx.emu, &fx.clients, fx.ctx());
    let name = "pipeline-dev-notifications";
    let arn = format!("arn:aws:sns:us-east-1:123456789012:{name}");

    assert!(sns::observe(ctx, name).await.unwrap().is_none());
    let desired = notifications_topic(name);
    sns::create(ctx, &desired).await.unwrap();
    let observed = sns::observe(ctx, name).await.unwrap().unwrap();
    assert_eq!(observed.arn.as_deref(), Some(arn.as_str()));
    assert_eq!(observed.tags, desired.tags);
    let observed = observed_spec(Some(observed));
    assert_eq!(observed, desired);

    assert_no_op_update::<sns::TopicResource>(emu, ctx, &desired, &observed).await;

    // Creating again (crash recovery) neither fails nor duplicates subscriptions.
    sns::create(ctx, &desired).await.unwrap();
    assert_eq!(
        observed_spec(sns::observe(ctx, name).await.unwrap()),
        desired
    );

    // Drift: the policy edited and a subscription removed behind the bootstrap's back.
    let raw = &clients.sns;
    raw.set_topic_attributes()
        .topic_arn(&arn)
        .attribute_name("Policy")
        .attribute_value(json!({"Version": "2012-10-17", "Statement": []}).to_string())
        .send()
        .await
        .unwrap();
    let listed = raw
        .list_subscriptions_by_topic()
        .topic_arn(&arn)
        .send()
        .await
        .unwrap();
    let https = listed
        .subscriptions()
        .iter()
        .find(|s| s.protocol() == Some("https"))
        .unwrap();
    raw.unsubscribe()
        .subscription_arn(https.subscription_arn().unwrap())
        .send()
        .await
        .unwrap();
    let drifted = observed_spec(sns::observe(ctx, name).await.unwrap());
    assert_eq!(drifted.policy["Statement"], json!([]));
    assert_eq!(
        drifted.subscriptions,
        vec![Subscription {
            protocol: "email".into(),
            endpoint: "team@example.com".into()
        }]
    );

    // Desired changes: another key, the email recipient replaced, tags changed.
    let mut changed = desired.clone();
    changed.kms_key_id = None;
    changed.subscriptions = vec![
        Subscription {
            protocol: "email".into(),
            endpoint: "oncall@example.com".into(),
        },
        Subscription {
            protocol: "https".into(),
            endpoint: "https://hooks.example.com/pipeline".into(),
        },
    ];
    changed.tags.insert("team".into(), "platform".into());
    emu.clear_calls().unwrap();
    sns::update(ctx, &changed, &drifted).await.unwrap();
    let mut operations: Vec<String> = emu
        .mutating_calls()
        .unwrap()
        .into_iter()
        .map(|c| c.operation)
        .collect();
    operations.sort();
    assert_eq!(
        operations,
        [
            "SetTopicAttributes",
            "SetTopicAttributes",
            "Subscribe",
            "Subscribe",
            "TagResource",
            "Unsubscribe"
        ],
        "policy and key, two missing subscriptions, one extra, one tag"
    );
    assert_eq!(
        observed_spec(sns::observe(ctx, name).await.unwrap()),
        changed
    );

    sns::delete(ctx, name).await.unwrap();
    assert!(sns::observe(ctx, name).await.unwrap().is_none());
    sns::delete(ctx, name)
        .await
        .expect("deleting an absent topic succeeds");
}
