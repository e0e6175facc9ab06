//! ECS rollout tests over scripted answers.
#![allow(clippy::unwrap_used)]

use super::super::fake::{FakeApi, error};
use super::*;

pub(super) const OLD: &str = "arn:aws:ecs:us-east-1:1:task-definition/web:3";
pub(super) const NEW: &str = "arn:aws:ecs:us-east-1:1:task-definition/web:4";
/// The rollout's bound (the default timeoutSeconds).
pub(super) const BOUND: u64 = 3600;
pub(super) const IMAGE: &str = "1.dkr.ecr.us-east-1.amazonaws.com/app-dev@sha256:aa";

pub(super) fn request() -> Request<'static> {
    Request {
        job_id: "job-1",
        image: IMAGE,
        digest: "sha256:aa",
        started_at: "2026-01-01T00:00:00Z",
        architecture: Some(CpuArchitecture::X86_64),
    }
}

pub(super) fn service(task_definition: &str, deployments: Value, rollback: bool) -> Value {
    json!({"services": [{
        "serviceName": "web", "status": "ACTIVE", "taskDefinition": task_definition,
        "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": true, "rollback": rollback}},
        "deployments": deployments
    }]})
}

pub(super) fn definition(arn: &str, image: &str, job: Option<&str>) -> Value {
    let mut tags = vec![json!({"key": "team", "value": "web"})];
    if let Some(job) = job {
        tags.push(json!({"key": JOB_TAG, "value": job}));
    }
    json!({"taskDefinition": {
        "taskDefinitionArn": arn, "family": "web", "revision": 3, "status": "ACTIVE",
        "taskRoleArn": "arn:aws:iam::1:role/web-task", "networkMode": "awsvpc", "cpu": "256", "memory": "512",
        "containerDefinitions": [
            {"name": "app", "image": image, "essential": true},
            {"name": "sidecar", "image": "public.ecr.aws/x/envoy:1"}
        ]
    }, "tags": tags})
}

pub(super) fn state(rollback: bool) -> RolloutState {
    RolloutState::Ecs {
        cluster: "prod".into(),
        service: "web".into(),
        task_definition: NEW.into(),
        previous: OLD.into(),
        rollback,
        started_at: "2026-01-01T00:00:00Z".into(),
        deployment_id: "job-1".into(),
    }
}

#[tokio::test]
async fn start_registers_a_revision_with_only_the_image_changed_and_updates_the_service() {
    let api = FakeApi::default();
    api.answer("DescribeServices", Ok(service(OLD, json!([]), true)))
        .answer(
            "DescribeTaskDefinition",
            Ok(definition(OLD, "old@sha256:00", None)),
        )
        .answer(
            "ListTaskDefinitions",
            Ok(json!({"taskDefinitionArns": [OLD]})),
        )
        .answer(
            "DescribeTaskDefinition",
            Ok(definition(OLD, "old@sha256:00", None)),
        )
        .answer(
            "RegisterTaskDefinition",
            Ok(json!({"taskDefinition": {"taskDefinitionArn": NEW}})),
        )
        .answer("UpdateService", Ok(json!({})));
    let step = start(&api, "prod", "web", None, &request(), BOUND).await;
    assert_eq!(
        step,
        Step::InProgress {
            summary: format!(
                "Rolling out {IMAGE} to ECS service web (cluster prod): web:4 replaces web:3; watched by the \
                 circuit breaker (rollback on)"
            ),
            state: state(true)
        }
    );
    let registered = &api.calls_to("RegisterTaskDefinition")[0];
    assert_eq!(registered["containerDefinitions"][0]["image"], IMAGE);
    assert_eq!(
        registered["containerDefinitions"][1]["image"],
        "public.ecr.aws/x/envoy:1"
    );
    assert_eq!(registered["taskRoleArn"], "arn:aws:iam::1:role/web-task");
    assert!(registered.get("taskDefinitionArn").is_none() && registered.get("status").is_none());
    assert_eq!(
        registered["tags"],
        json!([{"key": "team", "value": "web"}, {"key": JOB_TAG, "value": "job-1"}])
    );
    assert_eq!(api.calls_to("UpdateService")[0]["taskDefinition"], NEW);
}

#[tokio::test]
async fn a_redelivered_job_reuses_its_revision_and_registers_nothing() {
    let api = FakeApi::default();
    // Re-delivered after RegisterTaskDefinition but before UpdateService.
    api.answer("DescribeServices", Ok(service(OLD, json!([]), true)))
        .answer(
            "DescribeTaskDefinition",
            Ok(definition(OLD, "old@sha256:00", None)),
        )
        .answer(
            "ListTaskDefinitions",
            Ok(json!({"taskDefinitionArns": [NEW, OLD]})),
        )
        .answer(
            "DescribeTaskDefinition",
            Ok(definition(NEW, IMAGE, Some("job-1"))),
        )
        .answer("UpdateService", Ok(json!({})));
    let step = start(&api, "prod", "web", None, &request(), BOUND).await;
    assert!(matches!(step, Step::InProgress { .. }), "{step:?}");
    assert!(api.calls_to("RegisterTaskDefinition").is_empty());
    assert_eq!(api.calls_to("UpdateService")[0]["taskDefinition"], NEW);

    // Re-delivered after UpdateService: the service already runs the job's revision.
    let api = FakeApi::default();
    api.answer(
        "DescribeServices",
        Ok(service(NEW, json!([{"status": "PRIMARY", "taskDefinition": NEW, "rolloutState": "IN_PROGRESS"}, {"status": "ACTIVE", "taskDefinition": OLD}]), true)),
    )
    .answer("DescribeTaskDefinition", Ok(definition(NEW, IMAGE, Some("job-1"))));
    let step = start(&api, "prod", "web", None, &request(), BOUND).await;
    assert!(
        matches!(step, Step::InProgress { state: RolloutState::Ecs { ref previous, .. }, .. } if previous == OLD),
        "{step:?}"
    );
    assert!(api.calls_to("UpdateService").is_empty());
}

#[tokio::test]
async fn a_rollback_reuses_the_revision_that_ran_the_older_image_and_registers_nothing() {
    // web:3 ran IMAGE (job-1); web:4 runs a newer image (job-2). A stage rollback (a new job,
    // job-3, with the older artifact) deploys IMAGE again: web:3 is web:4 but for the image.
    let api = FakeApi::default();
    let rolled_back = Request {
        job_id: "job-3",
        ..request()
    };
    api.answer("DescribeServices", Ok(service(NEW, json!([]), true)))
        .answer(
            "DescribeTaskDefinition",
            Ok(definition(NEW, "newer@sha256:bb", Some("job-2"))),
        )
        .answer(
            "ListTaskDefinitions",
            Ok(json!({"taskDefinitionArns": [NEW, OLD]})),
        )
        .answer(
            "DescribeTaskDefinition",
            Ok(definition(NEW, "newer@sha256:bb", Some("job-2"))),
        )
        .answer(
            "DescribeTaskDefinition",
            Ok(definition(OLD, IMAGE, Some("job-1"))),
        )
        .answer("UpdateService", Ok(json!({})));
    let step = start(&api, "prod", "web", None, &rolled_back, BOUND).await;
    let Step::InProgress {
        state:
            RolloutState::Ecs {
                task_definition,
                previous,
                ..
            },
        ..
    } = step
    else {
        panic!("{step:?}")
    };
    assert_eq!((task_definition.as_str(), previous.as_str()), (OLD, NEW));
    assert!(api.calls_to("RegisterTaskDefinition").is_empty());
    assert_eq!(api.calls_to("UpdateService")[0]["taskDefinition"], OLD);

    // The older revision differs in more than the image (the team raised the memory since):
    // it is not reused, a revision with today's parameters and the older image is registered.
    let api = FakeApi::default();
    let mut bigger = definition(NEW, "newer@sha256:bb", Some("job-2"));
    bigger["taskDefinition"]["memory"] = json!("1024");
    api.answer("DescribeServices", Ok(service(NEW, json!([]), true)))
        .answer("DescribeTaskDefinition", Ok(bigger.clone()))
        .answer(
            "ListTaskDefinitions",
            Ok(json!({"taskDefinitionArns": [NEW, OLD]})),
        )
        .answer("DescribeTaskDefinition", Ok(bigger))
        .answer(
            "DescribeTaskDefinition",
            Ok(definition(OLD, IMAGE, Some("job-1"))),
        )
        .answer(
            "RegisterTaskDefinition",
            Ok(json!({"taskDefinition": {"taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/web:5"}})),
        )
        .answer("UpdateService", Ok(json!({})));
    let step = start(&api, "prod", "web", None, &rolled_back, BOUND).await;
    assert!(matches!(step, Step::InProgress { .. }), "{step:?}");
    let registered = &api.calls_to("RegisterTaskDefinition")[0];
    assert_eq!(
        (
            registered["memory"].as_str(),
            registered["containerDefinitions"][0]["image"].as_str()
        ),
        (Some("1024"), Some(IMAGE))
    );
}

#[tokio::test]
async fn a_missing_service_or_container_is_a_configuration_error_that_says_what_to_fix() {
    let api = FakeApi::default();
    api.answer(
        "DescribeServices",
        Ok(json!({"services": [], "failures": [{"reason": "MISSING"}]})),
    );
    let Step::Failed { kind, message } = start(&api, "prod", "web", None, &request(), BOUND).await
    else {
        panic!()
    };
    assert_eq!(kind, FailureKind::ConfigurationError);
    assert!(
        message.contains("does not exist (any more) in cluster prod"),
        "{message}"
    );

    let api = FakeApi::default();
    api.answer("DescribeServices", Ok(service(OLD, json!([]), true)))
        .answer("DescribeTaskDefinition", Ok(definition(OLD, "old", None)));
    let Step::Failed { kind, message } =
        start(&api, "prod", "web", Some("api"), &request(), BOUND).await
    else {
        panic!()
    };
    assert_eq!(kind, FailureKind::ConfigurationError);
    assert!(
        message.contains("no container `api` (it has app, sidecar)")
            && message.contains("--deploy-target ecs:prod/web/CONTAINER"),
        "{message}"
    );

    let api = FakeApi::default();
    api.answer("DescribeServices", Ok(service(OLD, json!([]), true)))
        .answer("DescribeTaskDefinition", Ok(definition(OLD, "old", None)))
        .answer("ListTaskDefinitions", Ok(json!({"taskDefinitionArns": []})))
        .answer(
            "RegisterTaskDefinition",
            Ok(json!({"taskDefinition": {"taskDefinitionArn": NEW}})),
        )
        .answer(
            "UpdateService",
            error("ServiceNotActiveException", "Service was deleted."),
        );
    let Step::Failed { kind, message } = start(&api, "prod", "web", None, &request(), BOUND).await
    else {
        panic!()
    };
    assert_eq!(kind, FailureKind::ConfigurationError);
    assert!(
        message.contains("was deleted during the deployment"),
        "{message}"
    );
}

#[tokio::test]
async fn a_denied_call_is_a_permission_error_naming_the_call() {
    let api = FakeApi::default();
    api.answer(
        "DescribeServices",
        error(
            "AccessDeniedException",
            "User: x is not authorized to perform: ecs:DescribeServices",
        ),
    );
    let Step::Failed { kind, message } = start(&api, "prod", "web", None, &request(), BOUND).await
    else {
        panic!()
    };
    assert_eq!(kind, FailureKind::PermissionError);
    assert!(
        message.contains("DescribeServices prod/web was refused"),
        "{message}"
    );
}

#[tokio::test]
async fn poll_follows_the_rollout_to_completed() {
    let api = FakeApi::default();
    api.answer("DescribeServices", Ok(service(NEW, json!([{"status": "PRIMARY", "taskDefinition": NEW, "rolloutState": "IN_PROGRESS", "runningCount": 1, "desiredCount": 2}]), true)))
        .answer("DescribeServices", Ok(service(NEW, json!([{"status": "PRIMARY", "taskDefinition": NEW, "rolloutState": "COMPLETED"}]), true)));
    let step = poll(&api, &state(true), IMAGE).await;
    assert!(
        matches!(&step, Step::InProgress { summary, .. } if summary.contains("1/2 tasks of web:4 running")),
        "{step:?}"
    );
    let Step::Done { variables, summary } = poll(&api, &state(true), IMAGE).await else {
        panic!()
    };
    assert!(summary.contains("rollout completed"), "{summary}");
    assert_eq!(variables["NEW_REVISION"], NEW);
    assert_eq!(variables["PREVIOUS_REVISION"], OLD);
    assert_eq!(variables["TARGET"], "ecs:prod/web");
}

#[tokio::test]
async fn a_failed_rollout_says_why_and_whether_it_rolled_back() {
    let failed = json!({"status": "ACTIVE", "taskDefinition": NEW, "rolloutState": "FAILED",
        "rolloutStateReason": "ECS deployment circuit breaker: tasks failed to start.", "failedTasks": 3});
    let api = FakeApi::default();
    api.answer("DescribeServices", Ok(service(OLD, json!([{"status": "PRIMARY", "taskDefinition": OLD, "rolloutState": "IN_PROGRESS"}, failed.clone()]), true)));
    let Step::Failed { kind, message } = poll(&api, &state(true), IMAGE).await else {
        panic!()
    };
    assert_eq!(kind, FailureKind::JobFailed);
    assert!(
        message.contains(
            "tasks failed to start. (3 tasks failed to start); ECS rolled the service back to web:3"
        ),
        "{message}"
    );

    let api = FakeApi::default();
    api.answer("DescribeServices", Ok(service(NEW, json!([failed]), false)));
    let Step::Failed { message, .. } = poll(&api, &state(false), IMAGE).await else {
        panic!()
    };
    assert!(
        message.contains("NOT rolled back and stays on web:4"),
        "{message}"
    );
}

#[tokio::test]
async fn a_vanished_deployment_is_judged_by_what_the_service_runs() {
    let api = FakeApi::default();
    api.answer(
        "DescribeServices",
        Ok(service(
            "arn:aws:ecs:us-east-1:1:task-definition/web:9",
            json!([]),
            true,
        )),
    );
    let Step::Failed { message, .. } = poll(&api, &state(true), IMAGE).await else {
        panic!()
    };
    assert!(
        message.contains("another deployment replaced this one"),
        "{message}"
    );

    let api = FakeApi::default();
    api.answer("DescribeServices", Ok(service(NEW, json!([]), true)));
    assert!(matches!(
        poll(&api, &state(true), IMAGE).await,
        Step::Done { .. }
    ));
}

#[tokio::test]
async fn a_service_deployed_by_codedeploy_or_an_external_controller_is_refused_before_registering()
{
    for (controller, says) in [
        ("CODE_DEPLOY", "CodeDeploy's own CodePipeline action"),
        ("EXTERNAL", "task sets"),
    ] {
        let api = FakeApi::default();
        let mut described = service(OLD, json!([]), true);
        described["services"][0]["deploymentController"] = json!({ "type": controller });
        api.answer("DescribeServices", Ok(described));
        let Step::Failed { kind, message } =
            start(&api, "prod", "web", None, &request(), BOUND).await
        else {
            panic!("{controller} was not refused")
        };
        assert_eq!(kind, FailureKind::ConfigurationError);
        assert!(
            message.contains(says) && message.contains("--deployment-controller type=ECS"),
            "{message}"
        );
        assert!(api.calls_to("DescribeTaskDefinition").is_empty());
        assert!(api.calls_to("RegisterTaskDefinition").is_empty());
    }

    // A controller changed under the rollout: UpdateService's refusal says the same.
    let api = FakeApi::default();
    api.answer("DescribeServices", Ok(service(OLD, json!([]), true)))
        .answer("DescribeTaskDefinition", Ok(definition(OLD, "old", None)))
        .answer("ListTaskDefinitions", Ok(json!({"taskDefinitionArns": []})))
        .answer(
            "RegisterTaskDefinition",
            Ok(json!({"taskDefinition": {"taskDefinitionArn": NEW}})),
        )
        .answer(
            "UpdateService",
            error(
                "InvalidParameterException",
                "Unable to update task definition on services with a CODE_DEPLOY deployment controller. Use AWS CodeDeploy to trigger a new deployment.",
            ),
        );
    let Step::Failed { kind, message } = start(&api, "prod", "web", None, &request(), BOUND).await
    else {
        panic!()
    };
    assert_eq!(kind, FailureKind::ConfigurationError);
    assert!(message.contains("CODE_DEPLOY (blue/green)"), "{message}");
}

#[tokio::test]
async fn without_a_rollout_state_the_service_is_done_when_stable_as_the_waiter_judges_it() {
    // Behind a Classic Load Balancer ECS reports no rolloutState.
    let counts = |deployments: Value, running: u64| {
        let mut answer = service(NEW, deployments, true);
        answer["services"][0]["runningCount"] = json!(running);
        answer["services"][0]["desiredCount"] = json!(2);
        answer
    };
    let api = FakeApi::default();
    api.answer(
        "DescribeServices",
        Ok(counts(
            json!([{"id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": NEW, "runningCount": 0, "desiredCount": 2},
                   {"id": "ecs-svc/1", "status": "ACTIVE", "taskDefinition": OLD, "runningCount": 2, "desiredCount": 2}]),
            2,
        )),
    )
    .answer(
        "DescribeServices",
        Ok(counts(
            json!([{"id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": NEW, "runningCount": 1, "desiredCount": 2}]),
            1,
        )),
    )
    .answer(
        "DescribeServices",
        Ok(counts(
            json!([{"id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": NEW, "runningCount": 2, "desiredCount": 2}]),
            2,
        )),
    );
    for _ in 0..2 {
        let step = poll(&api, &state(true), IMAGE).await;
        assert!(
            matches!(&step, Step::InProgress { summary, .. } if summary.contains("deployment ecs-svc/2")),
            "{step:?}"
        );
    }
    assert!(matches!(
        poll(&api, &state(true), IMAGE).await,
        Step::Done { .. }
    ));
}

#[tokio::test]
async fn a_rollback_quotes_the_event_that_says_why_not_the_newest() {
    let mut rolled_back = service(
        OLD,
        json!([{"status": "PRIMARY", "taskDefinition": OLD, "rolloutState": "COMPLETED"}]),
        true,
    );
    rolled_back["services"][0]["events"] = json!([
        {"message": "(service web) has reached a steady state."},
        {"message": "(service web) (deployment ecs-svc/1) deployment completed."},
        {"message": "(service web) rolling back to deployment ecs-svc/1."},
        {"message": "(service web) (deployment ecs-svc/2) deployment failed: tasks failed to start."},
    ]);
    let api = FakeApi::default();
    api.answer("DescribeServices", Ok(rolled_back));
    let Step::Failed { message, .. } = poll(&api, &state(true), IMAGE).await else {
        panic!()
    };
    assert!(
        message.contains("deployment failed: tasks failed to start.")
            && !message.contains("steady state"),
        "{message}"
    );
    assert!(
        message.contains("ECS rolled the service back to web:3"),
        "{message}"
    );
}

/// A task definition as teams run them: the app beside a FireLens log router and an agent
/// sidecar, secrets, an EFS volume, a runtime platform.
fn team_definition() -> Value {
    json!({
        "taskDefinitionArn": OLD, "family": "web", "revision": 3, "status": "ACTIVE",
        "requiresAttributes": [{"name": "ecs.capability.efsAuth"}], "compatibilities": ["EC2", "FARGATE"],
        "registeredAt": 1_700_000_000, "registeredBy": "arn:aws:iam::1:role/admin",
        "taskRoleArn": "arn:aws:iam::1:role/web-task", "executionRoleArn": "arn:aws:iam::1:role/web-exec",
        "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "512", "memory": "1024",
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "volumes": [{"name": "shared", "efsVolumeConfiguration": {"fileSystemId": "fs-12345678", "transitEncryption": "ENABLED"}}],
        "containerDefinitions": [
            {"name": "log_router", "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable", "essential": true,
             "firelensConfiguration": {"type": "fluentbit"}},
            {"name": "app", "image": "1.dkr.ecr.us-east-1.amazonaws.com/app-dev@sha256:00", "essential": true,
             "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdEf"}],
             "mountPoints": [{"sourceVolume": "shared", "containerPath": "/data"}],
             "logConfiguration": {"logDriver": "awsfirelens", "options": {"Name": "cloudwatch"}},
             "dependsOn": [{"containerName": "log_router", "condition": "START"}]},
            {"name": "datadog-agent", "image": "public.ecr.aws/datadog/agent:7", "essential": false,
             "secrets": [{"name": "DD_API_KEY", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/dd"}]}
        ]
    })
}

#[test]
fn the_new_revision_is_the_old_one_but_for_the_app_containers_image() {
    let definition = team_definition();
    let names: Vec<&str> = definition["containerDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let index = pipeline_common::pick_container(&names, None, "prod", "web").unwrap();
    assert_eq!(index, 1);
    let tags = json!([{"key": "team", "value": "web"}]);
    let body = revision_body(&definition, &tags, index, IMAGE, "job-1");

    let mut expected = definition.clone();
    for read_only in [
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
    ] {
        expected.as_object_mut().unwrap().remove(read_only);
    }
    expected["containerDefinitions"][1]["image"] = json!(IMAGE);
    expected["tags"] = json!([{"key": "team", "value": "web"}, {"key": JOB_TAG, "value": "job-1"}]);
    assert_eq!(body, expected);
}

#[tokio::test]
async fn a_task_with_sidecars_rolls_out_to_app_whatever_the_service_parameter_says() {
    let mut described = json!({"taskDefinition": team_definition(), "tags": []});
    described["taskDefinition"]["taskDefinitionArn"] = json!(OLD);
    let api = FakeApi::default();
    api.answer("DescribeServices", Ok(service(OLD, json!([]), true)))
        .answer("DescribeTaskDefinition", Ok(described))
        .answer("ListTaskDefinitions", Ok(json!({"taskDefinitionArns": []})))
        .answer(
            "RegisterTaskDefinition",
            Ok(json!({"taskDefinition": {"taskDefinitionArn": NEW}})),
        )
        .answer("UpdateService", Ok(json!({})));
    let step = start(&api, "prod", "web", None, &request(), BOUND).await;
    assert!(matches!(step, Step::InProgress { .. }), "{step:?}");
    let registered = &api.calls_to("RegisterTaskDefinition")[0];
    assert_eq!(registered["containerDefinitions"][1]["image"], IMAGE);
    assert_eq!(
        registered["containerDefinitions"][0]["image"],
        "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"
    );
}

#[tokio::test]
async fn an_image_for_another_architecture_is_refused_before_a_revision_is_registered() {
    // ARM64 tasks and an x86_64 image: every task would exit with "exec format error".
    let api = FakeApi::default();
    let mut arm = definition(
        OLD,
        "1.dkr.ecr.us-east-1.amazonaws.com/app-dev@sha256:00",
        None,
    );
    arm["taskDefinition"]["runtimePlatform"] =
        json!({"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"});
    api.answer("DescribeServices", Ok(service(OLD, json!([]), true)))
        .answer("DescribeTaskDefinition", Ok(arm));
    let Step::Failed { kind, message } = start(&api, "prod", "web", None, &request(), BOUND).await
    else {
        panic!("an x86_64 image must not roll out to ARM64 tasks")
    };
    assert_eq!(kind, FailureKind::ConfigurationError);
    assert!(
        message.contains("was built for x86_64 (linux/amd64)")
            && message.contains("ECS service web (cluster prod, web:3) runs on arm64"),
        "{message}"
    );
    assert!(api.calls_to("RegisterTaskDefinition").is_empty());
    assert!(api.calls_to("UpdateService").is_empty());

    // tasks without a runtimePlatform run X86_64: an arm64 image is refused there too
    let api = FakeApi::default();
    api.answer("DescribeServices", Ok(service(OLD, json!([]), true)))
        .answer(
            "DescribeTaskDefinition",
            Ok(definition(
                OLD,
                "1.dkr.ecr.us-east-1.amazonaws.com/app-dev@sha256:00",
                None,
            )),
        );
    let arm64 = Request {
        architecture: Some(CpuArchitecture::Arm64),
        ..request()
    };
    let Step::Failed { message, .. } = start(&api, "prod", "web", None, &arm64, BOUND).await else {
        panic!("an arm64 image must not roll out to X86_64 tasks")
    };
    assert!(message.contains("runs on x86_64"), "{message}");
}
