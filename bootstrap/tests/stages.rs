//! A pipeline with stages, against the emulator: two stages, an approval before production and a
//! bake alarm make the documented V2 shape; plan is then clean, a hand edit is found and
//! repaired, and destroy leaves nothing. The same for commit statuses (the notifier's token,
//! grant and stage events) and a Lambda stage's traffic shift (its UserParameters and the
//! deploy-handler's alarm reads).

mod common;

use aws_sdk_codepipeline::types::{PipelineDeclaration, Result as ConditionResult};
use common::{assert_code, changed, inventory, plan_json_with, setup, text};

const STAGES: [&str; 12] = [
    "--source",
    "codeconnections",
    "--stage",
    "staging=ecs:team/stg",
    "--stage",
    "prod=ecs:team/prod",
    "--approve-before",
    "prod",
    "--alarm",
    "prod=web-5xx",
    "--bake-minutes",
    "prod=15",
];

async fn team_services(config: &aws_config::SdkConfig) {
    let ecs = aws_sdk_ecs::Client::new(config);
    ecs.create_cluster()
        .cluster_name("team")
        .send()
        .await
        .expect("cluster");
    let registered = ecs
        .register_task_definition()
        .family("web")
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("app")
                .image("public.ecr.aws/nginx/nginx:1.27")
                .memory(256)
                .build(),
        )
        .send()
        .await
        .expect("task definition");
    let task_definition = registered
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .expect("arn")
        .to_owned();
    for service in ["stg", "prod"] {
        ecs.create_service()
            .cluster("team")
            .service_name(service)
            .task_definition(&task_definition)
            .desired_count(1)
            .send()
            .await
            .expect("service");
    }
}

async fn pipeline(config: &aws_config::SdkConfig) -> PipelineDeclaration {
    let codepipeline = aws_sdk_codepipeline::Client::new(config);
    let got = codepipeline
        .get_pipeline()
        .name("pipeline-dev")
        .send()
        .await
        .expect("GetPipeline");
    got.pipeline().expect("declaration").clone()
}

fn deploy_args() -> Vec<&'static str> {
    let mut args = vec![
        "deploy",
        "--env",
        "dev",
        "--github-repo",
        "octo/app",
        "--yes",
        "--output",
        "json",
    ];
    args.extend(STAGES);
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stages_with_an_approval_and_a_bake_make_the_v2_shape_and_converge() {
    let emulator = testkit::Emulator::start().expect("emulator");
    let cli = setup("stages", &emulator);
    let config = emulator.sdk_config().await;
    team_services(&config).await;

    assert_code(&cli.run(&deploy_args()), 0);
    let declaration = pipeline(&config).await;
    let names: Vec<&str> = declaration.stages().iter().map(|s| s.name()).collect();
    assert_eq!(
        names,
        ["Source", "Build", "staging", "Approve-prod", "prod"]
    );
    assert_eq!(declaration.pipeline_type().map(|t| t.as_str()), Some("V2"));
    assert_eq!(
        declaration.execution_mode().map(|m| m.as_str()),
        Some("QUEUED")
    );
    let approval = &declaration.stages()[3].actions()[0];
    let approval_type = approval.action_type_id().expect("type");
    assert_eq!(
        (approval_type.category().as_str(), approval_type.provider()),
        ("Approval", "Manual")
    );
    let prod = &declaration.stages()[4];
    let parameters: serde_json::Value = serde_json::from_str(
        prod.actions()[0]
            .configuration()
            .and_then(|c| c.get("UserParameters"))
            .expect("UserParameters"),
    )
    .expect("JSON");
    assert_eq!(parameters["target"], "ecs:team/prod");
    assert_eq!(parameters["stage"], "prod");
    assert_eq!(prod.actions()[0].namespace(), Some("Deploy-prod"));
    assert_eq!(
        prod.on_failure().and_then(|f| f.result()),
        Some(&ConditionResult::Rollback)
    );
    let condition = &prod.on_success().expect("bake").conditions()[0];
    assert_eq!(condition.result(), Some(&ConditionResult::Rollback));
    let rule = &condition.rules()[0];
    assert_eq!(
        rule.rule_type_id().expect("rule type").provider(),
        "CloudWatchAlarm"
    );
    let rule_config = rule.configuration().expect("configuration");
    assert_eq!(
        rule_config.get("AlarmName").map(String::as_str),
        Some("web-5xx")
    );
    assert_eq!(rule_config.get("WaitTime").map(String::as_str), Some("15"));
    assert!(declaration.stages()[2].on_success().is_none());

    // The deploy-handler may roll out to both services; the pipeline role reads the alarm.
    let iam = aws_sdk_iam::Client::new(&config);
    let role_policy = |role: &'static str| {
        let iam = iam.clone();
        async move {
            let got = iam
                .get_role_policy()
                .role_name(role)
                .policy_name(bootstrap::model::INLINE_POLICY_NAME)
                .send()
                .await
                .expect("role policy");
            bootstrap::resources::util::percent_decode(got.policy_document())
                .expect("IAM policy encoding")
        }
    };
    let handler = role_policy("deploy-handler-role-dev").await;
    assert!(handler.contains("service/team/stg") && handler.contains("service/team/prod"));
    assert!(
        role_policy("codepipeline-role-dev")
            .await
            .contains("alarm:web-5xx")
    );

    // The approval's action events reach the notifier whatever pipeline states notify.
    let rule = pipeline_common::EnvName::parse("dev")
        .expect("env")
        .names()
        .events_rule();
    let events = aws_sdk_eventbridge::Client::new(&config);
    let described = events
        .describe_rule()
        .name(&rule)
        .send()
        .await
        .expect("rule");
    let pattern: serde_json::Value =
        serde_json::from_str(described.event_pattern().expect("pattern")).expect("JSON");
    let states = pattern["detail"]["state"].to_string();
    assert!(
        states.contains("STARTED") && states.contains("SUCCEEDED"),
        "{states}"
    );

    let (code, plan) = plan_json_with(&cli, "dev", &STAGES);
    assert_eq!(code, 0, "{plan}");
    assert!(changed(&plan).is_empty(), "{:?}", changed(&plan));

    // Someone removes the bake by hand: plan shows the pipeline changed, deploy puts it back.
    let codepipeline = aws_sdk_codepipeline::Client::new(&config);
    let mut edited = declaration.clone();
    let mut stages = edited.stages().to_vec();
    stages[4].on_success = None;
    edited.stages = stages;
    codepipeline
        .update_pipeline()
        .pipeline(edited)
        .send()
        .await
        .expect("hand edit");
    let (_, plan) = plan_json_with(&cli, "dev", &STAGES);
    assert_eq!(
        changed(&plan)
            .iter()
            .map(|(action, name, _)| (action.as_str(), name.as_str()))
            .collect::<Vec<_>>(),
        [("update", "pipeline-dev")]
    );
    assert_code(&cli.run(&deploy_args()), 0);
    assert!(pipeline(&config).await.stages()[4].on_success().is_some());

    assert_code(&cli.run(&["destroy", "--env", "dev", "--yes"]), 0);
    assert_eq!(inventory(&emulator).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stages_are_refused_before_any_call_where_they_cannot_run() {
    let emulator = testkit::Emulator::start().expect("emulator");
    let cli = setup("stages-refused", &emulator);
    for (extra, expected) in [
        (
            vec!["--stage", "staging=ecs:team/stg"],
            "stages need --source codeconnections",
        ),
        (
            vec![
                "--source",
                "codeconnections",
                "--stage",
                "staging=ecs:team/stg",
                "--deploy-target",
                "ecs:team/prod",
            ],
            "--deploy-target and --stage",
        ),
        (
            vec![
                "--source",
                "codeconnections",
                "--stage",
                "staging=ecs:team/stg",
                "--approve-before",
                "prod",
            ],
            "not one of",
        ),
    ] {
        let mut args = vec!["plan", "--env", "dev", "--github-repo", "octo/app"];
        args.extend(extra);
        let output = cli.run(&args);
        assert_ne!(output.status.code(), Some(0), "{}", text(&output));
        assert!(text(&output).contains(expected), "{}", text(&output));
    }
    assert!(emulator.mutating_calls().expect("calls").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_approver_policy_answers_the_approval_and_nothing_else() {
    let emulator = testkit::Emulator::start().expect("emulator");
    let cli = setup("approver", &emulator);
    let mut args = vec!["approver-policy", "--env", "dev", "--output", "json"];
    args.extend(STAGES);
    let output = cli.run(&args);
    assert_code(&output, 0);
    let policy: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON policy");
    let arn = |resource: &str| format!("arn:aws:codepipeline:us-east-1:123456789012:{resource}");
    let ask = |action: &str, resource: &str| serde_json::json!({ "action": action, "resource": arn(resource), "keys": {} });
    let requests = [
        ask(
            "codepipeline:PutApprovalResult",
            "pipeline-dev/Approve-prod/Approval",
        ),
        ask("codepipeline:GetPipelineState", "pipeline-dev"),
        ask("codepipeline:ListPipelineExecutions", "pipeline-dev"),
        // Another environment's approval, another action, and what an approver must not do.
        ask(
            "codepipeline:PutApprovalResult",
            "pipeline-prod/Approve-prod/Approval",
        ),
        ask("codepipeline:PutApprovalResult", "pipeline-dev/prod/Deploy"),
        ask("codepipeline:StartPipelineExecution", "pipeline-dev"),
        ask("codepipeline:UpdatePipeline", "pipeline-dev"),
        ask("codepipeline:RetryStageExecution", "pipeline-dev"),
        ask("codepipeline:GetPipelineState", "pipeline-prod"),
    ];
    let decisions = emulator
        .iam_evaluate(&[policy], &requests)
        .expect("evaluated");
    let allowed: Vec<bool> = decisions
        .iter()
        .map(|d| d["allowed"].as_bool().unwrap_or(false))
        .collect();
    assert_eq!(
        allowed,
        [true, true, true, false, false, false, false, false, false],
        "{decisions:?}"
    );

    // A stage without an approval is refused, naming those with one, before any call.
    let mut only = args.clone();
    only.extend(["--for-stage", "staging"]);
    let refused = cli.run(&only);
    assert_ne!(refused.status.code(), Some(0));
    assert!(text(&refused).contains("[\"prod\"]"), "{}", text(&refused));
}

/// Commit statuses and a canary stage: the token's secret (made by the team, not by bootstrap),
/// a staging ECS service and a production Lambda alias on one image of the team's registry.
const STATUS_AND_SHIFT: [&str; 14] = [
    "--source",
    "codeconnections",
    "--stage",
    "staging=ecs:team/stg",
    "--stage",
    "prod=lambda:api:live",
    "--alarm",
    "prod=api-errors",
    "--traffic-shift",
    "prod=canary10-5m",
    "--github-status-token-secret",
    "team/gh-status",
    "--rollout-timeout-minutes",
    "30",
];

/// The production Lambda: a container-image function with a published version behind `live`.
async fn api_function(config: &aws_config::SdkConfig) {
    let ecr = aws_sdk_ecr::Client::new(config);
    ecr.create_repository()
        .repository_name("team-api")
        .send()
        .await
        .expect("repository");
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
                   "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654,
                    "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"}]
    });
    ecr.put_image()
        .repository_name("team-api")
        .image_tag("v1")
        .image_manifest(manifest.to_string())
        .send()
        .await
        .expect("image");
    let lambda_pulls = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]});
    ecr.set_repository_policy()
        .repository_name("team-api")
        .policy_text(lambda_pulls.to_string())
        .send()
        .await
        .expect("repository policy");
    let role = aws_sdk_iam::Client::new(config)
        .create_role()
        .role_name("api-fn")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .expect("role");
    let lambda = aws_sdk_lambda::Client::new(config);
    let image = format!(
        "{}.dkr.ecr.{}.amazonaws.com/team-api:v1",
        testkit::ACCOUNT_ID,
        testkit::REGION
    );
    lambda
        .create_function()
        .function_name("api")
        .role(role.role().expect("role").arn())
        .package_type(aws_sdk_lambda::types::PackageType::Image)
        .architectures(aws_sdk_lambda::types::Architecture::X8664)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .image_uri(image)
                .build(),
        )
        .publish(true)
        .send()
        .await
        .expect("function");
    lambda
        .create_alias()
        .function_name("api")
        .name("live")
        .function_version("1")
        .send()
        .await
        .expect("alias");
}

fn status_and_shift_deploy() -> Vec<&'static str> {
    let mut args = vec![
        "deploy",
        "--env",
        "dev",
        "--github-repo",
        "octo/app",
        "--yes",
        "--output",
        "json",
    ];
    args.extend(STATUS_AND_SHIFT);
    args
}

/// A role's inline policy statement with `sid`.
async fn role_statement(
    config: &aws_config::SdkConfig,
    role: &str,
    sid: &str,
) -> serde_json::Value {
    let got = aws_sdk_iam::Client::new(config)
        .get_role_policy()
        .role_name(role)
        .policy_name(bootstrap::model::INLINE_POLICY_NAME)
        .send()
        .await
        .expect("role policy");
    let document = bootstrap::resources::util::parse_policy(got.policy_document()).expect("policy");
    document["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("no {sid} in {document}"))
        .clone()
}

async fn events_pattern(config: &aws_config::SdkConfig) -> serde_json::Value {
    let described = aws_sdk_eventbridge::Client::new(config)
        .describe_rule()
        .name("pipeline-events-dev")
        .send()
        .await
        .expect("rule");
    serde_json::from_str(described.event_pattern().expect("pattern")).expect("JSON")
}

async fn notifier(
    config: &aws_config::SdkConfig,
) -> aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput {
    aws_sdk_lambda::Client::new(config)
        .get_function_configuration()
        .function_name("event-notifier-dev")
        .send()
        .await
        .expect("notifier")
}

/// What the deploy wired: the notifier's token, repository, timeout and grant, the stage events
/// in the rule, and the canary with its alarm in production's UserParameters and handler grant.
async fn assert_status_and_shift_wired(config: &aws_config::SdkConfig, secret_arn: &str) {
    let function = notifier(config).await;
    let env = function
        .environment()
        .and_then(|e| e.variables())
        .expect("environment");
    let var = |key: &str| env.get(key).map(String::as_str);
    assert_eq!(var("GITHUB_STATUS_TOKEN_SECRET"), Some(secret_arn));
    assert_eq!(var("GITHUB_REPOSITORY"), Some("octo/app"));
    assert_eq!(function.timeout(), Some(30));
    let read = role_statement(config, "event-notifier-role-dev", "ReadCommitStatusToken").await;
    assert_eq!(
        read["Action"],
        serde_json::json!(["secretsmanager:GetSecretValue"])
    );
    assert_eq!(read["Resource"], serde_json::json!([secret_arn]));

    let pattern = events_pattern(config).await;
    let stage_branch = pattern["$or"]
        .as_array()
        .and_then(|branches| {
            branches.iter().find(|b| {
                b["detail-type"] == serde_json::json!(["CodePipeline Stage Execution State Change"])
            })
        })
        .unwrap_or_else(|| panic!("no stage events in {pattern}"));
    let states = stage_branch["detail"]["state"].to_string();
    for state in [
        "STARTED",
        "SUCCEEDED",
        "FAILED",
        "CANCELED",
        "STOPPED",
        "RESUMED",
    ] {
        assert!(states.contains(state), "{state} not in {states}");
    }

    let declaration = pipeline(config).await;
    let parameters = |stage: usize| -> serde_json::Value {
        let action = &declaration.stages()[stage].actions()[0];
        let raw = action.configuration().and_then(|c| c.get("UserParameters"));
        serde_json::from_str(raw.expect("UserParameters")).expect("JSON")
    };
    assert!(
        parameters(2).get("trafficShift").is_none(),
        "staging shifts nothing"
    );
    let prod = parameters(3);
    assert_eq!(prod["trafficShift"], "canary10-5m");
    assert_eq!(prod["alarms"], serde_json::json!(["api-errors"]));
    let watch = role_statement(config, "deploy-handler-role-dev", "WatchShiftAlarms").await;
    assert_eq!(
        watch["Action"],
        serde_json::json!(["cloudwatch:DescribeAlarms"])
    );
    assert_eq!(
        watch["Resource"],
        serde_json::json!([format!(
            "arn:aws:cloudwatch:{}:{}:alarm:api-errors",
            testkit::REGION,
            testkit::ACCOUNT_ID
        )])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_statuses_and_a_canary_stage_are_wired_converge_and_go_with_destroy() {
    let emulator = testkit::Emulator::start().expect("emulator");
    let cli = setup("stages-status-shift", &emulator);
    let config = emulator.sdk_config().await;
    team_services(&config).await;
    api_function(&config).await;

    // The token's secret is the team's: plan refuses a missing one with the command to make it.
    let (code, printed) = plan_json_code(&cli);
    assert_ne!(code, 0, "{printed}");
    assert!(
        printed.contains("aws secretsmanager create-secret"),
        "{printed}"
    );
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let created = secrets
        .create_secret()
        .name("team/gh-status")
        .secret_string("ghp_status_token_for_tests")
        .send()
        .await
        .expect("secret");
    let secret_arn = created.arn().expect("arn").to_owned();

    assert_code(&cli.run(&status_and_shift_deploy()), 0);
    assert_status_and_shift_wired(&config, &secret_arn).await;
    let (code, plan) = plan_json_with(&cli, "dev", &STATUS_AND_SHIFT);
    assert_eq!(code, 0, "{plan}");

    // Someone drops the repository from the notifier and the stage events from the rule.
    let mut env = notifier(&config)
        .await
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .expect("environment");
    env.remove("GITHUB_REPOSITORY");
    aws_sdk_lambda::Client::new(&config)
        .update_function_configuration()
        .function_name("event-notifier-dev")
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .set_variables(Some(env))
                .build(),
        )
        .send()
        .await
        .expect("hand edit of the notifier");
    let pattern = events_pattern(&config).await;
    let without_stages = serde_json::json!({
        "source": pattern["source"],
        "resources": pattern["resources"],
        "detail-type": pattern["$or"][0]["detail-type"],
        "detail": pattern["$or"][0]["detail"],
    });
    aws_sdk_eventbridge::Client::new(&config)
        .put_rule()
        .name("pipeline-events-dev")
        .event_pattern(without_stages.to_string())
        .send()
        .await
        .expect("hand edit of the rule");
    let (_, plan) = plan_json_with(&cli, "dev", &STATUS_AND_SHIFT);
    let mut updated: Vec<String> = changed(&plan)
        .into_iter()
        .map(|(_, name, _)| name)
        .collect();
    updated.sort();
    assert_eq!(
        updated,
        ["event-notifier-dev", "pipeline-events-dev"],
        "{plan}"
    );
    assert_code(&cli.run(&status_and_shift_deploy()), 0);
    assert_status_and_shift_wired(&config, &secret_arn).await;

    assert_code(&cli.run(&["destroy", "--env", "dev", "--yes"]), 0);
    // nothing of the environment: what is left is the team's own
    assert_eq!(
        inventory(&emulator).await,
        [
            "function api",
            "repository team-api",
            "role api-fn",
            "secret team/gh-status"
        ]
    );
    secrets
        .describe_secret()
        .secret_id(&secret_arn)
        .send()
        .await
        .expect("destroy leaves the team's secret alone");
}

/// `plan` with the statuses and the shift: its exit code and everything it printed.
fn plan_json_code(cli: &common::Cli<'_>) -> (i32, String) {
    let mut args = vec!["plan", "--env", "dev", "--github-repo", "octo/app"];
    args.extend(STATUS_AND_SHIFT);
    let output = cli.run(&args);
    (output.status.code().unwrap_or(-1), text(&output))
}

/// Credentials of a role holding exactly `policy`, assumed through the emulator, so that every
/// request made with them is judged by its IAM evaluator.
async fn session_env(
    emulator: &testkit::Emulator,
    policy: &serde_json::Value,
) -> Vec<(String, String)> {
    let admin = emulator.sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&admin);
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:root", testkit::ACCOUNT_ID)},
        "Action": "sts:AssumeRole"}]});
    let role = iam
        .create_role()
        .role_name("bootstrap-deployer-dev")
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .expect("CreateRole");
    iam.put_role_policy()
        .role_name("bootstrap-deployer-dev")
        .policy_name("deployer")
        .policy_document(policy.to_string())
        .send()
        .await
        .expect("PutRolePolicy");
    let assumed = aws_sdk_sts::Client::new(&admin)
        .assume_role()
        .role_arn(role.role().expect("role").arn())
        .role_session_name("deployer-dev")
        .send()
        .await
        .expect("AssumeRole");
    let credentials = assumed.credentials().expect("credentials");
    let mut env = emulator.env();
    env.extend([
        (
            "AWS_ACCESS_KEY_ID".to_owned(),
            credentials.access_key_id().to_owned(),
        ),
        (
            "AWS_SECRET_ACCESS_KEY".to_owned(),
            credentials.secret_access_key().to_owned(),
        ),
        (
            "AWS_SESSION_TOKEN".to_owned(),
            credentials.session_token().to_owned(),
        ),
    ]);
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployer_policy_alone_deploys_and_destroys_statuses_and_a_shift() {
    let emulator = testkit::Emulator::start().expect("emulator");
    let cli = setup("stages-status-shift-deployer", &emulator);
    let config = emulator.sdk_config().await;
    team_services(&config).await;
    api_function(&config).await;
    aws_sdk_secretsmanager::Client::new(&config)
        .create_secret()
        .name("team/gh-status")
        .secret_string("ghp_status_token_for_tests")
        .send()
        .await
        .expect("secret");
    // The administrator's part: the boundary (made before this plan) and the deployer's policy.
    assert_eq!(plan_json_code(&cli).0, 2);
    let mut policy_args = vec!["deployer-policy", "--env", "dev"];
    policy_args.extend(STATUS_AND_SHIFT);
    policy_args.extend(["--output", "json"]);
    let printed = cli.run_env_only(&policy_args);
    assert_code(&printed, 0);
    let policy = serde_json::from_slice(&printed.stdout).expect("the policy is JSON");
    let deployer = session_env(&emulator, &policy).await;

    let as_deployer = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_bootstrap"))
            .args(args)
            .arg("--artifacts-dir")
            .arg(&cli.artifacts)
            .envs(deployer.clone())
            .output()
            .expect("bootstrap runs")
    };
    let mut deploy = status_and_shift_deploy();
    deploy.retain(|arg| *arg != "json" && *arg != "--output");
    assert_code(&as_deployer(&deploy), 0);
    let secret_arn = aws_sdk_secretsmanager::Client::new(&config)
        .describe_secret()
        .secret_id("team/gh-status")
        .send()
        .await
        .expect("secret")
        .arn()
        .expect("arn")
        .to_owned();
    assert_status_and_shift_wired(&config, &secret_arn).await;
    assert_code(&as_deployer(&["destroy", "--env", "dev", "--yes"]), 0);
}
