//! Lambda rollout tests over scripted answers.
#![allow(clippy::unwrap_used)]

use super::super::fake::{FakeApi, error};
use super::*;

const IMAGE: &str = "1.dkr.ecr.us-east-1.amazonaws.com/app-dev@sha256:bb";
const FN: &str = "GET /2015-03-31/functions/api";

fn request() -> Request<'static> {
    Request {
        job_id: "job-1",
        image: IMAGE,
        digest: "sha256:bb",
        started_at: "2026-01-01T00:00:00Z",
        architecture: Some(CpuArchitecture::X86_64),
    }
}

fn function(status: &str, digest: &str) -> Value {
    json!({
        "Configuration": {"FunctionName": "api", "PackageType": "Image", "LastUpdateStatus": status,
            "LastUpdateStatusReason": "The image manifest or layer media type is not supported.",
            "LastUpdateStatusReasonCode": "ImageNotSupported", "CodeSha256": "c0de"},
        "Code": {"ImageUri": "1.dkr.ecr.us-east-1.amazonaws.com/app-dev:v1", "ResolvedImageUri": format!("1.dkr.ecr.us-east-1.amazonaws.com/app-dev@{digest}")}
    })
}

fn state() -> RolloutState {
    RolloutState::Lambda {
        function: "api".into(),
        alias: Some("live".into()),
        digest: "sha256:bb".into(),
        previous_version: Some("3".into()),
        started_at: "2026-01-01T00:00:00Z".into(),
        deployment_id: "job-1".into(),
        shifting: None,
    }
}

#[tokio::test]
async fn start_updates_the_code_and_remembers_the_alias_version() {
    let api = FakeApi::default();
    api.answer(FN, Ok(function("Successful", "sha256:aa")))
        .answer(
            "GET /2015-03-31/functions/api/aliases/live",
            Ok(json!({"FunctionVersion": "3"})),
        )
        .answer(
            "GET /2015-03-31/functions/api/versions",
            Ok(json!({"Versions": []})),
        )
        .answer("PUT /2015-03-31/functions/api/code", Ok(json!({})));
    let step = start(&api, "api", Some("live"), &request()).await;
    assert_eq!(
        step,
        Step::InProgress {
            summary: format!(
                "Updating Lambda function api to {IMAGE}; alias live stays on version 3 until the update succeeds"
            ),
            state: state()
        }
    );
    assert_eq!(
        api.calls_to("PUT /2015-03-31/functions/api/code")[0]["ImageUri"],
        IMAGE
    );
}

#[tokio::test]
async fn an_image_for_another_architecture_is_refused_before_the_code_changes() {
    // An arm64 function and an x86_64 image: Lambda would take it and fail every invoke.
    let api = FakeApi::default();
    let mut arm = function("Successful", "sha256:aa");
    arm["Configuration"]["Architectures"] = json!(["arm64"]);
    api.answer(FN, Ok(arm));
    let Step::Failed { kind, message } = start(&api, "api", Some("live"), &request()).await else {
        panic!("an x86_64 image must not roll out to an arm64 function")
    };
    assert_eq!(kind, FailureKind::ConfigurationError);
    assert!(
        message.contains(&format!(
            "the image {IMAGE} was built for x86_64 (linux/amd64)"
        )) && message.contains("the Lambda function api runs on arm64")
            && message.contains("so the build makes arm64 images (linux/arm64)"),
        "{message}"
    );
    // nothing else was asked: no alias read, no code update, no version
    assert_eq!(api.calls.lock().unwrap().len(), 1);

    // the other way round, and a matching image goes on
    let api = FakeApi::default();
    api.answer(FN, Ok(function("Successful", "sha256:aa")));
    let arm64 = Request {
        architecture: Some(CpuArchitecture::Arm64),
        ..request()
    };
    let Step::Failed { message, .. } = start(&api, "api", None, &arm64).await else {
        panic!("an arm64 image must not roll out to an x86_64 function")
    };
    assert!(message.contains("runs on x86_64"), "{message}");
    let api = FakeApi::default();
    let mut arm = function("Successful", "sha256:aa");
    arm["Configuration"]["Architectures"] = json!(["arm64"]);
    api.answer(FN, Ok(arm))
        .answer("PUT /2015-03-31/functions/api/code", Ok(json!({})));
    assert!(matches!(
        start(&api, "api", None, &arm64).await,
        Step::InProgress { .. }
    ));
}

#[tokio::test]
async fn a_redelivered_job_does_not_update_the_code_twice() {
    let api = FakeApi::default();
    api.answer(FN, Ok(function("InProgress", "sha256:bb")))
        .answer(
            "GET /2015-03-31/functions/api/aliases/live",
            Ok(json!({"FunctionVersion": "3"})),
        );
    assert!(matches!(
        start(&api, "api", Some("live"), &request()).await,
        Step::InProgress { .. }
    ));
    assert!(
        api.calls_to("PUT /2015-03-31/functions/api/code")
            .is_empty()
    );
}

#[tokio::test]
async fn wrong_or_missing_targets_are_configuration_errors() {
    let api = FakeApi::default();
    api.answer(FN, error("ResourceNotFoundException", "Function not found"));
    let Step::Failed { kind, message } = start(&api, "api", None, &request()).await else {
        panic!()
    };
    assert_eq!(kind, FailureKind::ConfigurationError);
    assert!(message.contains("does not exist (any more)"), "{message}");

    let api = FakeApi::default();
    let mut zip = function("Successful", "sha256:aa");
    zip["Configuration"]["PackageType"] = json!("Zip");
    api.answer(FN, Ok(zip));
    let Step::Failed { message, .. } = start(&api, "api", None, &request()).await else {
        panic!()
    };
    assert!(message.contains("packaged as a .zip"), "{message}");

    let api = FakeApi::default();
    api.answer(FN, Ok(function("Successful", "sha256:aa")))
        .answer(
            "GET /2015-03-31/functions/api/aliases/live",
            error("ResourceNotFoundException", "Alias not found"),
        );
    let Step::Failed { message, .. } = start(&api, "api", Some("live"), &request()).await else {
        panic!()
    };
    assert!(
        message.contains("has no alias live; create it"),
        "{message}"
    );
}

#[tokio::test]
async fn poll_waits_then_publishes_and_moves_the_alias() {
    let api = FakeApi::default();
    api.answer(FN, Ok(function("InProgress", "sha256:bb")))
        .answer(FN, Ok(function("Successful", "sha256:bb")))
        .answer(
            "POST /2015-03-31/functions/api/versions",
            Ok(json!({"Version": "4"})),
        )
        .answer("PUT /2015-03-31/functions/api/aliases/live", Ok(json!({})));
    assert!(matches!(
        poll(&api, &state(), IMAGE, &ShiftPlan::default()).await,
        Step::InProgress { .. }
    ));
    let Step::Done { summary, variables } =
        poll(&api, &state(), IMAGE, &ShiftPlan::default()).await
    else {
        panic!()
    };
    assert!(
        summary.contains("as version 4; alias live moved from version 3"),
        "{summary}"
    );
    assert_eq!(variables["NEW_REVISION"], "4");
    assert_eq!(variables["PREVIOUS_REVISION"], "3");
    assert_eq!(
        api.calls_to("POST /2015-03-31/functions/api/versions")[0]["CodeSha256"],
        "c0de"
    );
    assert_eq!(
        api.calls_to("PUT /2015-03-31/functions/api/aliases/live")[0]["FunctionVersion"],
        "4"
    );
}

#[tokio::test]
async fn a_failed_update_names_the_reason_and_keeps_the_alias() {
    let api = FakeApi::default();
    api.answer(FN, Ok(function("Failed", "sha256:bb")));
    let Step::Failed { kind, message } = poll(&api, &state(), IMAGE, &ShiftPlan::default()).await
    else {
        panic!()
    };
    assert_eq!(kind, FailureKind::JobFailed);
    assert!(
        message.contains(
            "media type is not supported. (ImageNotSupported); alias live stays on version 3"
        ),
        "{message}"
    );
    assert!(
        api.calls_to("POST /2015-03-31/functions/api/versions")
            .is_empty()
    );
}

#[tokio::test]
async fn an_image_refused_at_once_keeps_the_alias_as_a_failed_update_does() {
    let api = FakeApi::default();
    api.answer(FN, Ok(function("Successful", "sha256:aa")))
        .answer(
            "GET /2015-03-31/functions/api/aliases/live",
            Ok(json!({"FunctionVersion": "3"})),
        )
        .answer(
            "GET /2015-03-31/functions/api/versions",
            Ok(json!({"Versions": []})),
        )
        .answer(
            "PUT /2015-03-31/functions/api/code",
            error(
                "InvalidParameterValueException",
                "The image manifest, config or layer media type for the source image x is not supported.",
            ),
        );
    let Step::Failed { kind, message } = start(&api, "api", Some("live"), &request()).await else {
        panic!()
    };
    assert_eq!(kind, FailureKind::JobFailed);
    assert!(
        message.contains(
            "media type for the source image x is not supported.; alias live stays on version 3"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn a_function_whose_last_update_failed_gets_the_same_image_again() {
    let api = FakeApi::default();
    api.answer(FN, Ok(function("Failed", "sha256:bb")))
        .answer(
            "GET /2015-03-31/functions/api/aliases/live",
            Ok(json!({"FunctionVersion": "3"})),
        )
        .answer(
            "GET /2015-03-31/functions/api/versions",
            Ok(json!({"Versions": []})),
        )
        .answer("PUT /2015-03-31/functions/api/code", Ok(json!({})));
    let step = start(&api, "api", Some("live"), &request()).await;
    assert!(matches!(step, Step::InProgress { .. }), "{step:?}");
    assert_eq!(
        api.calls_to("PUT /2015-03-31/functions/api/code")[0]["ImageUri"],
        IMAGE
    );
}

#[tokio::test]
async fn a_gradual_shift_begins_once_the_version_is_published_and_the_token_carries_it() {
    let api = FakeApi::default();
    api.answer(FN, Ok(function("Successful", "sha256:bb")))
        .answer(
            "POST /2015-03-31/functions/api/versions",
            Ok(json!({"Version": "4"})),
        )
        .answer("PUT /2015-03-31/functions/api/aliases/live", Ok(json!({})));
    let plan = ShiftPlan {
        shift: TrafficShift::Canary {
            percent: 10,
            minutes: 5,
        },
        alarms: vec!["api-errors".to_owned()],
    };
    let Step::InProgress { summary, state } = poll(&api, &state(), IMAGE, &plan).await else {
        panic!("the shift goes on in continuations")
    };
    assert!(
        summary.contains("10% of its traffic, the rest on version 3")
            && summary.contains("watching alarms api-errors"),
        "{summary}"
    );
    let RolloutState::Lambda {
        shifting: Some(shifting),
        ..
    } = &state
    else {
        panic!("{state:?}")
    };
    assert_eq!((shifting.version.as_str(), shifting.weight), ("4", 10));
    let token = serde_json::to_string(&state).unwrap();
    assert_eq!(serde_json::from_str::<RolloutState>(&token).unwrap(), state);
    assert_eq!(
        api.calls_to("PUT /2015-03-31/functions/api/aliases/live")[0]["RoutingConfig"],
        json!({"AdditionalVersionWeights": {"4": 0.1}})
    );
}
