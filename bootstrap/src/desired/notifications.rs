//! The notification pieces: the EventBridge rules and the permission letting the first invoke
//! the event-notifier.

use super::*;

/// The EventBridge rules and the permission letting the first invoke the notifier.
pub(super) fn events(s: &Stack<'_>, out: &mut Vec<Desired>) {
    let Stack {
        config,
        target,
        n,
        arns,
        tags,
        ..
    } = s;
    let mut push = |kind, name, spec, depends_on| out.push(desired(kind, name, spec, depends_on));

    let pipeline_arn = arns.pipeline.clone();
    let notify_states = rule_states(config);
    push(
        Kind::Rule,
        n.events_rule(),
        Spec::Rule(RuleSpec {
            name: n.events_rule(),
            description: format!("{} state changes to the event-notifier", n.pipeline()),
            event_pattern: events_pattern(&pipeline_arn, &notify_states, s.late),
            targets: vec![RuleTarget {
                id: "event-notifier".to_owned(),
                arn: target.arn("lambda", &format!("function:{}", n.event_notifier())),
                max_event_age_seconds: 3600,
                max_retry_attempts: 8,
                input_paths: None,
                input_template: None,
            }],
            tags: tags.clone(),
        }),
        vec![id(Kind::Function, n.event_notifier())],
    );
    push(
        Kind::Rule,
        n.failed_rule(),
        Spec::Rule(RuleSpec {
            name: n.failed_rule(),
            description: format!(
                "{} FAILED straight to SNS, so failure mail arrives even if the notifier is broken",
                n.pipeline()
            ),
            event_pattern: json!({
                "source": ["aws.codepipeline"],
                "detail-type": ["CodePipeline Pipeline Execution State Change"],
                "resources": [arns.pipeline],
                "detail": { "state": ["FAILED"] }
            }),
            targets: vec![RuleTarget {
                id: "notifications-topic".to_owned(),
                arn: arns.topic.clone(),
                max_event_age_seconds: 3600,
                max_retry_attempts: 8,
                input_paths: Some(BTreeMap::from([
                    ("pipeline".to_owned(), "$.detail.pipeline".to_owned()),
                    ("execution".to_owned(), "$.detail.execution-id".to_owned()),
                    ("time".to_owned(), "$.time".to_owned()),
                ])),
                input_template: Some(format!(
                    "\"Pipeline <pipeline> FAILED at <time> (execution <execution>). Details: https://{region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/<pipeline>/executions/<execution>/timeline?region={region}\"",
                    region = target.region
                )),
            }],
            tags: tags.clone(),
        }),
        vec![id(Kind::Topic, n.notification_topic())],
    );

    push(
        Kind::Permission,
        format!("{}/{EVENTS_PERMISSION_SID}", n.event_notifier()),
        Spec::Permission(PermissionSpec {
            function_name: n.event_notifier(),
            statement_id: EVENTS_PERMISSION_SID.to_owned(),
            principal: "events.amazonaws.com".to_owned(),
            source_arn: target.arn("events", &format!("rule/{}", n.events_rule())),
            source_account: target.account_id.clone(),
        }),
        vec![id(Kind::Function, n.event_notifier())],
    );
}

/// The stage states CodePipeline documents for "CodePipeline Stage Execution State Change"
/// events (CodePipeline User Guide, "Monitoring CodePipeline events", stage-level states); the
/// event-notifier sets a commit status for each (STOPPING and STOPPED: `error`).
pub const STAGE_STATES: [&str; 7] = [
    "STARTED",
    "SUCCEEDED",
    "RESUMED",
    "FAILED",
    "CANCELED",
    "STOPPING",
    "STOPPED",
];

/// The events rule's pattern: pipeline and action events in the notifying states and, when the
/// notifier sets commit statuses, every stage event of the pipeline too, through `$or` in the
/// same rule (EventBridge User Guide, "Content filtering in Amazon EventBridge event patterns",
/// "Or matching"): one rule, one target and one invoke permission, so commit statuses add no
/// resource, and EventBridge does not charge for AWS service events on the default bus either
/// way; a second rule would only add one more of each to keep in step. Without statuses the
/// pattern is exactly the one before.
fn events_pattern(pipeline_arn: &str, notify_states: &[&str], late: &Late) -> serde_json::Value {
    let pipeline_events = json!({
        "detail-type": ["CodePipeline Pipeline Execution State Change", "CodePipeline Action Execution State Change"],
        "detail": { "state": notify_states }
    });
    if late.github_status_token_secret_arn.is_none() {
        return json!({
            "source": ["aws.codepipeline"],
            "detail-type": pipeline_events["detail-type"],
            "resources": [pipeline_arn],
            "detail": pipeline_events["detail"]
        });
    }
    json!({
        "source": ["aws.codepipeline"],
        "resources": [pipeline_arn],
        "$or": [
            pipeline_events,
            {
                "detail-type": ["CodePipeline Stage Execution State Change"],
                "detail": { "state": STAGE_STATES }
            }
        ]
    })
}

/// The states the events rule passes: those that notify, FAILED always; and when a stage asks for
/// approval, STARTED and SUCCEEDED too: an approval asks for someone when its action starts and
/// tells when it ends, whatever pipeline states notify (the notifier filters pipeline-level
/// events by NOTIFY_STATES itself).
fn rule_states(config: &Config) -> Vec<&str> {
    let mut states: Vec<&str> = config.notify_states.iter().map(String::as_str).collect();
    let mut add = |state| {
        if !states.contains(&state) {
            states.push(state);
        }
    };
    add("FAILED");
    if config.stages.iter().any(|stage| stage.approve) {
        add("STARTED");
        add("SUCCEEDED");
    }
    states
}
