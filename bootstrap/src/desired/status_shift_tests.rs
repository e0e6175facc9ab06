//! Commit statuses and traffic shifts in the desired state: what each adds (the notifier's
//! environment, grant and stage events; the stage's UserParameters and the deploy-handler's alarm
//! reads), and that without them the desired state is the one before.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::config::{Layer, resolve};
use serde_json::Value;
use std::path::PathBuf;

const STATUS_SECRET_ARN: &str =
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:gh-status-AbCdEf";

fn target() -> Target {
    Target {
        account_id: "123456789012".into(),
        region: "eu-west-1".into(),
    }
}

fn zips() -> Zips {
    let zip = LambdaZip {
        package: crate::artifacts::Package::File(PathBuf::from("x.zip")),
        code_sha256: "abc=".into(),
        architecture: "arm64".into(),
    };
    Zips {
        deploy_handler: zip.clone(),
        event_notifier: zip,
    }
}

/// Two stages, prod a Lambda alias with an alarm; `shift` adds `--traffic-shift prod=...`.
fn config(shift: Option<&str>, status_secret: Option<&str>) -> Config {
    let given = Layer {
        env: Some("dev".into()),
        github_repo: Some("octo/app".into()),
        source: Some(SourceMode::Codeconnections),
        stage: Some(vec![
            "staging=ecs:stg/web".into(),
            "prod=lambda:api:live".into(),
        ]),
        alarm: Some(vec!["prod=api-errors".into()]),
        traffic_shift: shift.map(|shift| vec![format!("prod={shift}")]),
        github_status_token_secret: status_secret.map(str::to_owned),
        ..Layer::default()
    };
    resolve(given, Layer::default()).unwrap()
}

fn late(status: bool) -> Late {
    Late {
        github_status_token_secret_arn: status.then(|| STATUS_SECRET_ARN.to_owned()),
        ..Late::default()
    }
}

fn find<'a>(desired: &'a [Desired], kind: Kind, name: &str) -> &'a Spec {
    &desired
        .iter()
        .find(|d| d.id.kind == kind && d.id.name == name)
        .unwrap()
        .spec
}

fn sids(policy: &Value) -> Vec<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn without_statuses_or_shifts_nothing_changes() {
    let desired = build(&config(None, None), &target(), &zips(), &late(false));
    let n = EnvName::parse("dev").unwrap();
    let n = n.names();
    let Spec::Rule(rule) = find(&desired, Kind::Rule, &n.events_rule()) else {
        panic!("rule");
    };
    // the pattern every environment had before commit statuses
    assert_eq!(
        rule.event_pattern,
        json!({
            "source": ["aws.codepipeline"],
            "detail-type": ["CodePipeline Pipeline Execution State Change", "CodePipeline Action Execution State Change"],
            "resources": ["arn:aws:codepipeline:eu-west-1:123456789012:pipeline-dev"],
            "detail": { "state": ["STARTED", "SUCCEEDED", "FAILED"] }
        })
    );
    let Spec::Function(notifier) = find(&desired, Kind::Function, &n.event_notifier()) else {
        panic!("notifier");
    };
    assert_eq!(
        notifier.environment.keys().collect::<Vec<_>>(),
        ["NOTIFY_STATES", "NOTIFY_TOPIC_ARN", "PIPELINE_ENV"]
    );
    for role in [n.event_notifier_role(), n.deploy_handler_role()] {
        let Spec::Role(role) = find(&desired, Kind::Role, &role) else {
            panic!("role");
        };
        let ids = sids(&role.inline_policy);
        assert!(
            !ids.contains(&"ReadCommitStatusToken".to_owned()),
            "{ids:?}"
        );
        assert!(!ids.contains(&"WatchShiftAlarms".to_owned()), "{ids:?}");
    }
    let Spec::Pipeline(pipeline) = find(&desired, Kind::Pipeline, &n.pipeline()) else {
        panic!("pipeline");
    };
    for stage in &pipeline.stages {
        let parameters: Value = serde_json::from_str(&stage.user_parameters).unwrap();
        assert_eq!(
            parameters.as_object().unwrap().keys().collect::<Vec<_>>(),
            [
                "environment",
                "service",
                "timeoutSeconds",
                "stage",
                "target"
            ]
        );
    }
}

#[test]
fn statuses_give_the_notifier_the_token_the_repository_and_the_stage_events() {
    let config = config(None, Some("gh-status"));
    let desired = build(&config, &target(), &zips(), &late(true));
    let n = config.env.names();
    let Spec::Function(notifier) = find(&desired, Kind::Function, &n.event_notifier()) else {
        panic!("notifier");
    };
    assert_eq!(
        notifier.environment["GITHUB_STATUS_TOKEN_SECRET"],
        STATUS_SECRET_ARN
    );
    assert_eq!(notifier.environment["GITHUB_REPOSITORY"], "octo/app");
    assert_eq!(notifier.timeout_seconds, NOTIFIER_TIMEOUT_SECONDS);
    let Spec::Role(role) = find(&desired, Kind::Role, &n.event_notifier_role()) else {
        panic!("role");
    };
    let grant = role.inline_policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "ReadCommitStatusToken")
        .unwrap();
    assert_eq!(grant["Action"], json!(["secretsmanager:GetSecretValue"]));
    assert_eq!(grant["Resource"], json!([STATUS_SECRET_ARN]));
    let Spec::Rule(rule) = find(&desired, Kind::Rule, &n.events_rule()) else {
        panic!("rule");
    };
    let branches = rule.event_pattern["$or"].as_array().unwrap();
    assert_eq!(branches.len(), 2);
    assert_eq!(
        branches[1]["detail-type"],
        json!(["CodePipeline Stage Execution State Change"])
    );
    assert_eq!(
        branches[1]["detail"]["state"],
        json!(notifications::STAGE_STATES)
    );
    assert_eq!(
        rule.event_pattern["resources"],
        json!(["arn:aws:codepipeline:eu-west-1:123456789012:pipeline-dev"])
    );
}

#[test]
fn a_shift_goes_into_its_stages_user_parameters_with_its_alarms_and_the_handler_reads_them() {
    let config = config(Some("canary10-5m"), None);
    let desired = build(&config, &target(), &zips(), &late(false));
    let n = config.env.names();
    let Spec::Pipeline(pipeline) = find(&desired, Kind::Pipeline, &n.pipeline()) else {
        panic!("pipeline");
    };
    let parameters: Vec<Value> = pipeline
        .stages
        .iter()
        .map(|stage| serde_json::from_str(&stage.user_parameters).unwrap())
        .collect();
    assert!(
        parameters[0].get("trafficShift").is_none(),
        "staging shifts nothing"
    );
    assert_eq!(parameters[1]["trafficShift"], "canary10-5m");
    assert_eq!(parameters[1]["alarms"], json!(["api-errors"]));
    let Spec::Role(role) = find(&desired, Kind::Role, &n.deploy_handler_role()) else {
        panic!("role");
    };
    let grant = role.inline_policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "WatchShiftAlarms")
        .unwrap();
    assert_eq!(grant["Action"], json!(["cloudwatch:DescribeAlarms"]));
    assert_eq!(
        grant["Resource"],
        json!(["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:api-errors"])
    );
}

#[test]
fn commit_statuses_are_set_only_when_a_status_secret_is_given() {
    let layer = |source: SourceMode| Layer {
        env: Some("dev".into()),
        github_repo: Some("octo/app".into()),
        source: Some(source),
        github_token_secret: (source == SourceMode::GithubWebhook).then(|| "gh-token".into()),
        ..Layer::default()
    };
    // The webhook source's token is not taken for statuses: an existing environment stays as it is.
    let webhook = resolve(layer(SourceMode::GithubWebhook), Layer::default()).unwrap();
    assert_eq!(webhook.github_status_token_secret, None);
    let connection = resolve(layer(SourceMode::Codeconnections), Layer::default()).unwrap();
    assert_eq!(connection.github_status_token_secret, None);
    let given = Layer {
        github_status_token_secret: Some("gh-status".into()),
        ..layer(SourceMode::Codeconnections)
    };
    let given = resolve(given, Layer::default()).unwrap();
    assert_eq!(
        given.github_status_token_secret.as_deref(),
        Some("gh-status")
    );
}

#[test]
fn a_shift_longer_than_the_rollout_bound_is_refused_naming_both() {
    let given = Layer {
        env: Some("dev".into()),
        github_repo: Some("octo/app".into()),
        source: Some(SourceMode::Codeconnections),
        stage: Some(vec!["prod=lambda:api:live".into()]),
        traffic_shift: Some(vec!["prod=linear10-10m".into()]),
        rollout_timeout_minutes: Some(60),
        ..Layer::default()
    };
    let err = resolve(given.clone(), Layer::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("linear10-10m waits 90 minutes"), "{err}");
    assert!(err.contains("--rollout-timeout-minutes 60"), "{err}");
    let fits = Layer {
        rollout_timeout_minutes: Some(91),
        ..given
    };
    assert!(resolve(fits, Layer::default()).is_ok());
}

#[test]
fn user_parameters_over_codepipelines_limit_are_refused_before_any_call() {
    let alarms: Vec<String> = (0..8)
        .map(|i| format!("prod={}", "a".repeat(120) + &i.to_string()))
        .collect();
    let given = Layer {
        env: Some("dev".into()),
        github_repo: Some("octo/app".into()),
        source: Some(SourceMode::Codeconnections),
        stage: Some(vec!["prod=lambda:api:live".into()]),
        alarm: Some(alarms),
        traffic_shift: Some(vec!["prod=canary10-5m".into()]),
        ..Layer::default()
    };
    let err = resolve(given.clone(), Layer::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("CodePipeline takes at most 1000"), "{err}");
    // the same alarms bake a stage without a shift: they stay out of its UserParameters
    let unshifted = Layer {
        traffic_shift: None,
        ..given
    };
    assert!(resolve(unshifted, Layer::default()).is_ok());
}
