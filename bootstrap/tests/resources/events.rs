//! EventBridge rule module against the local emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{Fixture, operations, spec_of, tags};
use bootstrap::model::{RuleSpec, RuleTarget, Spec};
use bootstrap::resources::{Ctx, events};
use serde_json::json;

async fn observed(ctx: Ctx<'_>, name: &str) -> Option<RuleSpec> {
    events::observe(ctx, name).await.unwrap().map(spec_of)
}

#[tokio::test]
async fn rule_lifecycle_converges_targets_and_tags() {
    let fx = Fixture::start().await;
    let (emu, clients, ctx) = (&fx.emu, &fx.clients, fx.ctx());
    let name = "pipeline-failed-dev";
    let notifier = RuleTarget {
        id: "notifier".into(),
        arn: "arn:aws:lambda:us-east-1:123456789012:function:event-notifier-dev".into(),
        max_event_age_seconds: 3600,
        max_retry_attempts: 4,
        input_paths: None,
        input_template: None,
    };
    let topic = RuleTarget {
        id: "topic".into(),
        arn: "arn:aws:sns:us-east-1:123456789012:notifications-dev".into(),
        max_event_age_seconds: 7200,
        max_retry_attempts: 2,
        input_paths: Some([("pipeline".into(), "$.detail.pipeline".into())].into()),
        input_template: Some(r#""Pipeline <pipeline> failed""#.into()),
    };
    let spec = RuleSpec {
        name: name.into(),
        description: "Pipeline failures".into(),
        event_pattern: json!({"source": ["aws.codepipeline"], "detail": {"state": ["FAILED"], "pipeline": ["pipeline-dev"]}}),
        targets: vec![notifier.clone(), topic.clone()],
        tags: tags([("project", "pipeline")]),
    };

    assert_eq!(observed(ctx, name).await, None);
    events::create(ctx, &spec).await.unwrap();
    let observation = events::observe(ctx, name).await.unwrap().unwrap();
    assert_eq!(
        observation.arn.as_deref(),
        Some("arn:aws:events:us-east-1:123456789012:rule/pipeline-failed-dev")
    );
    assert_eq!(observation.status.as_deref(), Some("ENABLED"));
    assert_eq!(observation.spec, Spec::Rule(spec.clone()));

    emu.clear_calls().unwrap();
    events::update(ctx, &spec, &observed(ctx, name).await.unwrap())
        .await
        .unwrap();
    assert_eq!(operations(emu), Vec::<String>::new());
    events::create(ctx, &spec).await.unwrap();
    assert_eq!(
        observed(ctx, name).await.unwrap(),
        spec,
        "creating again converges"
    );

    // Drift: a target removed and a tag removed behind our back.
    clients
        .events
        .remove_targets()
        .rule(name)
        .ids("topic")
        .send()
        .await
        .unwrap();
    clients
        .events
        .untag_resource()
        .resource_arn(observation.arn.clone().unwrap())
        .tag_keys("project")
        .send()
        .await
        .unwrap();
    let drifted = observed(ctx, name).await.unwrap();
    assert_eq!(drifted.targets, vec![notifier.clone()]);
    assert!(drifted.tags.is_empty());

    // Desired: new pattern, the notifier replaced by another target, the topic back.
    let mut changed = spec.clone();
    changed.event_pattern =
        json!({"source": ["aws.codepipeline"], "detail": {"state": ["FAILED", "STOPPED"]}});
    let queue = RuleTarget {
        id: "archive".into(),
        arn: "arn:aws:sqs:us-east-1:123456789012:archive".into(),
        ..notifier.clone()
    };
    changed.targets = vec![queue, topic.clone()];
    emu.clear_calls().unwrap();
    events::update(ctx, &changed, &drifted).await.unwrap();
    assert_eq!(
        operations(emu),
        ["PutRule", "PutTargets", "RemoveTargets", "TagResource"]
    );
    assert_eq!(observed(ctx, name).await.unwrap(), changed);

    events::delete(ctx, name).await.unwrap();
    assert_eq!(observed(ctx, name).await, None);
    events::delete(ctx, name).await.unwrap();
}
