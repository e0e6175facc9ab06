//! Traffic shift tests over scripted answers.
#![allow(clippy::unwrap_used)]

use super::super::fake::{FakeApi, error};
use super::*;

const ALIAS: &str = "PUT /2015-03-31/functions/api/aliases/live";

fn plan(shift: TrafficShift, alarms: &[&str]) -> ShiftPlan {
    ShiftPlan {
        shift,
        alarms: alarms.iter().map(|a| (*a).to_owned()).collect(),
    }
}

fn due_now(version: &str, weight: u8) -> Shifting {
    Shifting {
        version: version.to_owned(),
        weight,
        next_at: "2020-01-01T00:00:00Z".to_owned(),
    }
}

fn alarms(states: &[(&str, &str)]) -> Result<Value, super::super::ApiError> {
    let metric: Vec<Value> = states
        .iter()
        .map(|(name, state)| json!({"AlarmName": name, "StateValue": state, "StateReason": "Threshold Crossed: 3 errors"}))
        .collect();
    Ok(json!({"MetricAlarms": metric, "CompositeAlarms": []}))
}

#[tokio::test]
async fn a_linear_shift_steps_the_weight_then_makes_the_version_primary() {
    let api = FakeApi::default();
    api.answer(ALIAS, Ok(json!({})))
        .answer(ALIAS, Ok(json!({})))
        .answer(ALIAS, Ok(json!({})));
    let linear = TrafficShift::Linear {
        percent: 40,
        minutes: 3,
    };
    let shifting = begin(&api, "api", "live", "3", "4", linear).await.unwrap();
    assert_eq!((shifting.version.as_str(), shifting.weight), ("4", 40));
    assert!(!due(&shifting.next_at), "the next step waits 3 minutes");
    let plan = plan(linear, &[]);
    let Advanced::Waiting(waiting) = advance(&api, ("api", "live", "3"), &shifting, &plan)
        .await
        .unwrap()
    else {
        panic!("not due yet")
    };
    assert_eq!(waiting, shifting);
    let Advanced::Stepped(stepped) = advance(&api, ("api", "live", "3"), &due_now("4", 40), &plan)
        .await
        .unwrap()
    else {
        panic!("due: the next step")
    };
    assert_eq!(stepped.weight, 80);
    assert!(matches!(
        advance(&api, ("api", "live", "3"), &due_now("4", 80), &plan)
            .await
            .unwrap(),
        Advanced::Finished
    ));
    let calls = api.calls_to(ALIAS);
    assert_eq!(
        calls[0],
        json!({"FunctionVersion": "3", "RoutingConfig": {"AdditionalVersionWeights": {"4": 0.4}}})
    );
    assert_eq!(
        calls[1],
        json!({"FunctionVersion": "3", "RoutingConfig": {"AdditionalVersionWeights": {"4": 0.8}}})
    );
    assert_eq!(
        calls[2],
        json!({"FunctionVersion": "4", "RoutingConfig": {"AdditionalVersionWeights": {}}})
    );
}

#[tokio::test]
async fn an_alarm_in_alarm_sends_all_traffic_back_and_fails_naming_it() {
    let api = FakeApi::default();
    api.answer(
        "DescribeAlarms",
        alarms(&[("api-errors", "ALARM"), ("api-p99", "OK")]),
    )
    .answer(ALIAS, Ok(json!({})));
    let plan = plan(
        TrafficShift::Canary {
            percent: 10,
            minutes: 5,
        },
        &["api-errors", "api-p99"],
    );
    let Err(Step::Failed { kind, message }) =
        advance(&api, ("api", "live", "3"), &due_now("4", 10), &plan).await
    else {
        panic!("an alarm fails the shift")
    };
    assert_eq!(kind, FailureKind::JobFailed);
    assert!(
        message.contains(
            "alarm api-errors (Threshold Crossed: 3 errors) went into ALARM while version 4"
        ) && message.contains("all traffic is back on version 3"),
        "{message}"
    );
    assert_eq!(
        api.calls_to(ALIAS)[0],
        json!({"FunctionVersion": "3", "RoutingConfig": {"AdditionalVersionWeights": {}}})
    );
    assert_eq!(
        api.calls_to("DescribeAlarms")[0]["AlarmNames"],
        json!(["api-errors", "api-p99"])
    );
}

#[tokio::test]
async fn quiet_alarms_let_the_shift_go_on_and_missing_or_unreadable_ones_fail_it() {
    let api = FakeApi::default();
    api.answer("DescribeAlarms", alarms(&[("api-errors", "OK")]))
        .answer(ALIAS, Ok(json!({})));
    let canary = plan(
        TrafficShift::Canary {
            percent: 10,
            minutes: 5,
        },
        &["api-errors"],
    );
    assert!(matches!(
        advance(&api, ("api", "live", "3"), &due_now("4", 10), &canary)
            .await
            .unwrap(),
        Advanced::Finished
    ));

    let api = FakeApi::default();
    api.answer("DescribeAlarms", alarms(&[]))
        .answer(ALIAS, Ok(json!({})));
    let Err(Step::Failed { kind, message }) =
        advance(&api, ("api", "live", "3"), &due_now("4", 10), &canary).await
    else {
        panic!("a missing alarm is a configuration error")
    };
    assert_eq!(kind, FailureKind::ConfigurationError);
    assert!(
        message.contains("do not exist in CloudWatch")
            && message.contains("all traffic is back on version 3"),
        "{message}"
    );

    let api = FakeApi::default();
    api.answer(ALIAS, Ok(json!({}))).answer(
        "DescribeAlarms",
        error(
            "AccessDenied",
            "not authorized to perform: cloudwatch:DescribeAlarms",
        ),
    );
    let Err(Step::Failed { kind, .. }) =
        advance(&api, ("api", "live", "3"), &due_now("4", 10), &canary).await
    else {
        panic!("an unreadable alarm fails the job")
    };
    assert_eq!(kind, FailureKind::PermissionError);
    assert_eq!(
        api.calls_to(ALIAS)[0],
        json!({"FunctionVersion": "3", "RoutingConfig": {"AdditionalVersionWeights": {}}}),
        "the traffic goes back to the previous version"
    );
}
