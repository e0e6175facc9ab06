//! ECS rollouts watched by deployment alarms and blue/green bakes, over scripted answers.
#![allow(clippy::unwrap_used)]

use super::super::fake::FakeApi;
use super::tests::{BOUND, IMAGE, NEW, OLD, definition, request, service, state};
use super::*;

/// The team's service (circuit breaker with rollback) with `config` merged into its
/// deploymentConfiguration.
fn watched_service(task_definition: &str, deployments: Value, config: Value) -> Value {
    let mut answer = service(task_definition, deployments, true);
    let merged = &mut answer["services"][0]["deploymentConfiguration"];
    for (key, value) in config.as_object().unwrap() {
        merged[key] = value.clone();
    }
    answer
}

fn alarms(rollback: bool) -> Value {
    json!({"alarms": {"alarmNames": ["web-5xx", "web-latency"], "enable": true, "rollback": rollback}})
}

#[test]
fn the_watchers_are_read_from_the_deployment_configuration() {
    let blue_green = json!({"alarms": {"alarmNames": ["web-5xx"], "enable": true, "rollback": true},
        "strategy": "BLUE_GREEN", "bakeTimeInMinutes": 10});
    let watch = Watch::of(&watched_service(OLD, json!([]), blue_green)["services"][0]);
    assert_eq!(watch.bake_seconds(), Some(600));
    assert_eq!(
        watch.describe(),
        "watched by the circuit breaker (rollback on), the deployment alarms web-5xx (rollback on), a \
         blue/green bake of 10 minutes"
    );
    // Alarms not enabled do not watch; nothing that rolls back is said so.
    let off = json!({"deploymentConfiguration": {
        "deploymentCircuitBreaker": {"enable": true, "rollback": false},
        "alarms": {"alarmNames": ["web-5xx"], "enable": false, "rollback": true}}});
    assert_eq!(
        Watch::of(&off).describe(),
        "watched by the circuit breaker (rollback off); a failed rollout is not rolled back"
    );
    assert!(Watch::of(&json!({})).describe().contains("neither is on"));
}

#[tokio::test]
async fn the_in_progress_summaries_say_what_watches_the_rollout() {
    let api = FakeApi::default();
    let in_progress = json!([{"status": "PRIMARY", "taskDefinition": NEW, "rolloutState": "IN_PROGRESS",
        "runningCount": 2, "desiredCount": 2}]);
    api.answer(
        "DescribeServices",
        Ok(watched_service(NEW, in_progress, alarms(true))),
    );
    let Step::InProgress { summary, .. } = poll(&api, &state(true), IMAGE).await else {
        panic!()
    };
    assert!(
        summary.ends_with(
            "watched by the circuit breaker (rollback on), the deployment alarms web-5xx, web-latency (rollback on)"
        ),
        "{summary}"
    );
}

#[tokio::test]
async fn a_deployment_failed_by_an_alarm_names_the_alarms_and_the_rollback() {
    let failed = json!({"status": "ACTIVE", "taskDefinition": NEW, "rolloutState": "FAILED",
        "rolloutStateReason": "ECS deployment alarms: alarm web-5xx is in ALARM state.", "failedTasks": 0});
    let rolling_back =
        json!({"status": "PRIMARY", "taskDefinition": OLD, "rolloutState": "IN_PROGRESS"});
    let api = FakeApi::default();
    api.answer(
        "DescribeServices",
        Ok(watched_service(
            OLD,
            json!([rolling_back, failed.clone()]),
            alarms(true),
        )),
    );
    let Step::Failed { kind, message } = poll(&api, &state(true), IMAGE).await else {
        panic!()
    };
    assert_eq!(kind, FailureKind::JobFailed);
    assert!(
        message.contains(
            "failed: ECS failed the deployment on its deployment alarms (web-5xx, web-latency): ECS deployment \
             alarms: alarm web-5xx is in ALARM state.; ECS rolled the service back to web:3"
        ),
        "{message}"
    );
    // The alarms' rollback off (the breaker's on): not rolled back, and what to turn on.
    let api = FakeApi::default();
    api.answer(
        "DescribeServices",
        Ok(watched_service(NEW, json!([failed]), alarms(false))),
    );
    let Step::Failed { message, .. } = poll(&api, &state(true), IMAGE).await else {
        panic!()
    };
    assert!(
        message.contains(
            "NOT rolled back and stays on web:4: turn on the deployment alarms' rollback"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn a_rollback_on_an_alarm_quotes_the_event_that_says_so() {
    let mut rolled_back = watched_service(
        OLD,
        json!([{"status": "PRIMARY", "taskDefinition": OLD, "rolloutState": "COMPLETED"}]),
        alarms(true),
    );
    rolled_back["services"][0]["events"] = json!([
        {"message": "(service web) has reached a steady state."},
        {"message": "(service web) rolling back to deployment ecs-svc/1."},
        {"message": "(service web) (deployment ecs-svc/2) deployment failed: alarm detected."},
    ]);
    let api = FakeApi::default();
    api.answer("DescribeServices", Ok(rolled_back));
    let Step::Failed { message, .. } = poll(&api, &state(true), IMAGE).await else {
        panic!()
    };
    assert!(
        message.contains("deployment alarms (web-5xx, web-latency): (service web) (deployment ecs-svc/2) deployment failed: alarm detected.; ECS rolled the service back to web:3"),
        "{message}"
    );
}

#[tokio::test]
async fn a_bake_that_cannot_end_inside_the_rollouts_bound_is_refused_before_anything_changes() {
    let api = FakeApi::default();
    let blue_green = json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 60});
    api.answer(
        "DescribeServices",
        Ok(watched_service(OLD, json!([]), blue_green)),
    );
    let Step::Failed { kind, message } = start(&api, "prod", "web", None, &request(), BOUND).await
    else {
        panic!()
    };
    assert_eq!(kind, FailureKind::ConfigurationError);
    assert!(
        message.contains(
            "ECS service web (cluster prod) bakes each BLUE_GREEN deployment for 60 minutes (3600 s, \
             deploymentConfiguration bakeTimeInMinutes), not less than the rollout's bound of 3600 s \
             (UserParameters timeoutSeconds"
        ),
        "{message}"
    );
    assert!(api.calls_to("RegisterTaskDefinition").is_empty());
    assert!(api.calls_to("UpdateService").is_empty());

    // A shorter bake fits: the rollout starts and its summary names the bake.
    let api = FakeApi::default();
    let blue_green = json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 59});
    api.answer(
        "DescribeServices",
        Ok(watched_service(OLD, json!([]), blue_green)),
    )
    .answer(
        "DescribeTaskDefinition",
        Ok(definition(OLD, "old@sha256:00", None)),
    )
    .answer("ListTaskDefinitions", Ok(json!({"taskDefinitionArns": []})))
    .answer(
        "RegisterTaskDefinition",
        Ok(json!({"taskDefinition": {"taskDefinitionArn": NEW}})),
    )
    .answer("UpdateService", Ok(json!({})));
    let Step::InProgress { summary, .. } =
        start(&api, "prod", "web", None, &request(), BOUND).await
    else {
        panic!()
    };
    assert!(
        summary.ends_with("a blue/green bake of 59 minutes"),
        "{summary}"
    );
}
