//! The whole stack against the local emulator, through the real `bootstrap` binary: deploy from
//! nothing, a no-op re-deploy, drift repaired, two environments side by side, a foreign
//! resource, and destroy leaving nothing behind (bad input: tests/inputs.rs).

mod common;

use common::{assert_code, changed, plan_json, plan_json_with, setup, text};
use serde_json::Value;
use testkit::Emulator;

#[tokio::test(flavor = "multi_thread")]
async fn deploy_noop_drift_and_destroy() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("lifecycle", &emulator);
    let config = emulator.sdk_config().await;
    let s3 = testkit::s3_client(&config);
    let ecr = aws_sdk_ecr::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let bucket = format!("artifacts-{}-dev", testkit::ACCOUNT_ID);

    let (code, plan) = plan_json(&cli, "dev");
    assert_eq!(code, 2, "a fresh account needs changes");
    assert!(
        changed(&plan)
            .iter()
            .all(|(action, _, _)| action == "create")
    );
    assert!(
        plan["policies"]["codebuild-role-dev"]["inline"]["Statement"].is_array(),
        "plan prints the policies"
    );

    let deployed = cli.run(&[
        "deploy",
        "--env",
        "dev",
        "--github-repo",
        "octo/app",
        "--yes",
        "--output",
        "json",
    ]);
    assert_code(&deployed, 0);
    let outputs: Value =
        serde_json::from_slice(&deployed.stdout).expect("deploy prints outputs as JSON");
    assert_eq!(outputs["artifactBucket"], bucket.as_str());
    assert!(
        outputs["webhookUrl"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://")),
        "{outputs}"
    );
    assert!(
        !text(&deployed).contains("gh-token-for-tests"),
        "the GitHub token leaked"
    );

    // Read back what matters.
    let versioning = s3
        .get_bucket_versioning()
        .bucket(&bucket)
        .send()
        .await
        .expect("versioning");
    assert_eq!(versioning.status().map(|s| s.as_str()), Some("Enabled"));
    let repo = ecr
        .describe_repositories()
        .repository_names("app-dev")
        .send()
        .await
        .expect("repo");
    let repo = &repo.repositories()[0];
    assert_eq!(
        repo.image_tag_mutability().map(|m| m.as_str()),
        Some("IMMUTABLE")
    );
    assert_eq!(
        repo.image_scanning_configuration()
            .map(|c| c.scan_on_push()),
        Some(true)
    );

    // No-op: plan says nothing to do, deploy sends no mutating call.
    let (code, plan) = plan_json(&cli, "dev");
    assert_eq!(code, 0, "unexpected changes: {:?}", changed(&plan));
    emulator.clear_calls().expect("clear");
    assert_code(
        &cli.run(&[
            "deploy",
            "--env",
            "dev",
            "--github-repo",
            "octo/app",
            "--yes",
        ]),
        0,
    );
    let mutating = emulator.mutating_calls().expect("calls");
    assert!(mutating.is_empty(), "a no-op deploy mutated: {mutating:?}");

    // Drift on three resources: plan names exactly those fields, deploy puts them back.
    s3.put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .expect("drift versioning");
    ecr.put_image_tag_mutability()
        .repository_name("app-dev")
        .image_tag_mutability(aws_sdk_ecr::types::ImageTagMutability::Mutable)
        .send()
        .await
        .expect("drift mutability");
    logs.put_retention_policy()
        .log_group_name("/aws/codebuild/build-dev")
        .retention_in_days(1)
        .send()
        .await
        .expect("drift retention");
    let (code, plan) = plan_json(&cli, "dev");
    assert_eq!(code, 2);
    let mut drift = changed(&plan);
    drift.sort();
    assert_eq!(
        drift,
        vec![
            (
                "update".to_owned(),
                "/aws/codebuild/build-dev".to_owned(),
                vec!["retention_days".to_owned()]
            ),
            (
                "update".to_owned(),
                "app-dev".to_owned(),
                vec!["tag_immutable".to_owned()]
            ),
            (
                "update".to_owned(),
                bucket.clone(),
                vec!["versioning".to_owned()]
            ),
        ]
    );
    assert_code(
        &cli.run(&[
            "deploy",
            "--env",
            "dev",
            "--github-repo",
            "octo/app",
            "--yes",
        ]),
        0,
    );
    assert_eq!(plan_json(&cli, "dev").0, 0, "deploy repaired the drift");

    // Destroy: nothing left; a second destroy is a success.
    let destroyed = cli.run_env_only(&["destroy", "--env", "dev", "--yes", "--output", "json"]);
    assert_code(&destroyed, 0);
    let report: Value = serde_json::from_slice(&destroyed.stdout).expect("destroy json");
    assert_eq!(report["remaining"], serde_json::json!([]));
    let (code, plan) = plan_json(&cli, "dev");
    assert_eq!(code, 2);
    assert!(
        changed(&plan)
            .iter()
            .all(|(action, _, _)| action == "create"),
        "something survived destroy: {plan}"
    );
    assert!(
        s3.head_bucket().bucket(&bucket).send().await.is_err(),
        "bucket survived"
    );
    assert_code(&cli.run_env_only(&["destroy", "--env", "dev", "--yes"]), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_environments_live_side_by_side() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("side-by-side", &emulator);
    for env in ["blue", "green"] {
        assert_code(
            &cli.run(&["deploy", "--env", env, "--github-repo", "octo/app", "--yes"]),
            0,
        );
    }
    assert_code(&cli.run_env_only(&["destroy", "--env", "blue", "--yes"]), 0);
    let (code, plan) = plan_json(&cli, "green");
    assert_eq!(
        code,
        0,
        "destroying blue touched green: {:?}",
        changed(&plan)
    );
    assert_code(
        &cli.run_env_only(&["destroy", "--env", "green", "--yes"]),
        0,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_resource_with_our_name_is_never_touched() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("foreign", &emulator);
    let config = emulator.sdk_config().await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    logs.create_log_group()
        .log_group_name("/aws/codebuild/build-dev")
        .send()
        .await
        .expect("foreign group");
    logs.put_retention_policy()
        .log_group_name("/aws/codebuild/build-dev")
        .retention_in_days(7)
        .send()
        .await
        .expect("retention");
    emulator.clear_calls().expect("clear");
    let output = cli.run(&[
        "deploy",
        "--env",
        "dev",
        "--github-repo",
        "octo/app",
        "--yes",
    ]);
    assert_code(&output, 1);
    assert!(
        text(&output).contains("/aws/codebuild/build-dev") && text(&output).contains("not managed"),
        "{}",
        text(&output)
    );
    assert!(
        emulator.mutating_calls().expect("calls").is_empty(),
        "deploy changed something before refusing"
    );
    assert_code(&cli.run_env_only(&["destroy", "--env", "dev", "--yes"]), 0);
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix("/aws/codebuild/build-dev")
        .send()
        .await
        .expect("groups");
    assert_eq!(
        groups.log_groups()[0].retention_in_days(),
        Some(7),
        "destroy touched the foreign group"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_appear_in_no_output_plan_or_error() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("secrets", &emulator);
    let mut everything = String::new();
    for args in [
        vec![
            "deploy",
            "--env",
            "dev",
            "--github-repo",
            "octo/app",
            "--yes",
        ],
        vec![
            "plan",
            "--env",
            "dev",
            "--github-repo",
            "octo/app",
            "--output",
            "json",
        ],
        vec![
            "deploy",
            "--env",
            "dev",
            "--github-repo",
            "octo/app",
            "--branch",
            "release",
            "--yes",
            "--output",
            "json",
        ],
        vec![
            "deploy",
            "--env",
            "dev",
            "--github-repo",
            "octo/app",
            "--branch",
            "bad branch",
            "--yes",
        ],
    ] {
        everything.push_str(&text(&cli.run(&args)));
    }
    for args in [
        vec!["outputs", "--env", "dev", "--output", "json"],
        vec!["outputs", "--env", "dev"],
    ] {
        everything.push_str(&text(&cli.run_env_only(&args)));
    }
    let config = emulator.sdk_config().await;
    let secret = aws_sdk_secretsmanager::Client::new(&config)
        .get_secret_value()
        .secret_id("pipeline-webhook-secret-dev")
        .send()
        .await
        .expect("the webhook secret exists")
        .secret_string()
        .expect("string secret")
        .to_owned();
    assert!(
        secret.len() >= 64,
        "the webhook secret should be 32+ random bytes"
    );
    everything.push_str(&text(
        &cli.run_env_only(&["destroy", "--env", "dev", "--yes", "--output", "json"]),
    ));
    for leaked in ["gh-token-for-tests-0123456789", secret.as_str()] {
        assert!(
            !everything.contains(leaked),
            "a secret appeared in the output:\n{everything}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn switching_source_modes_converges_and_removes_the_old_trigger() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("switch", &emulator);
    let base = [
        "deploy",
        "--env",
        "dev",
        "--github-repo",
        "octo/app",
        "--yes",
        "--output",
        "json",
    ];
    assert_code(&cli.run(&base), 0);
    let config = emulator.sdk_config().await;
    let codepipeline = aws_sdk_codepipeline::Client::new(&config);
    let webhooks = codepipeline.list_webhooks().send().await.expect("webhooks");
    let webhook = webhooks.webhooks()[0].definition().expect("definition");
    assert_eq!(webhook.filters()[0].json_path(), "$.ref");
    assert_eq!(webhook.filters()[0].match_equals(), Some("refs/heads/main"));
    assert_eq!(webhook.authentication().as_str(), "GITHUB_HMAC");

    // To a CodeStar connection: the webhook and its secret go, a PENDING connection appears.
    let mut connections = base.to_vec();
    connections.extend([
        "--source",
        "codeconnections",
        "--file-path-include",
        "src/**",
    ]);
    let switched = cli.run(&connections);
    assert_code(&switched, 0);
    let outputs: Value = serde_json::from_slice(&switched.stdout).expect("outputs");
    assert_eq!(outputs["connectionStatus"], "PENDING", "{outputs}");
    assert!(outputs.get("webhookUrl").is_none(), "{outputs}");
    assert!(
        codepipeline
            .list_webhooks()
            .send()
            .await
            .expect("webhooks")
            .webhooks()
            .is_empty()
    );
    let pipeline = codepipeline
        .get_pipeline()
        .name("pipeline-dev")
        .send()
        .await
        .expect("pipeline");
    let declaration = pipeline.pipeline().expect("declaration");
    assert_eq!(declaration.pipeline_type().map(|t| t.as_str()), Some("V2"));
    let source = &declaration.stages()[0].actions()[0];
    assert_eq!(
        source.action_type_id().map(|t| t.provider()),
        Some("CodeStarSourceConnection")
    );
    let connection_arn = outputs["connectionArn"].as_str().expect("connection arn");
    assert_eq!(
        source
            .configuration()
            .and_then(|c| c.get("ConnectionArn"))
            .map(String::as_str),
        Some(connection_arn)
    );
    let plan = cli.run(&[
        "plan",
        "--env",
        "dev",
        "--github-repo",
        "octo/app",
        "--source",
        "codeconnections",
        "--file-path-include",
        "src/**",
    ]);
    assert_code(&plan, 0);

    // And back: the connection goes, the webhook returns.
    assert_code(&cli.run(&base), 0);
    assert_eq!(
        codepipeline
            .list_webhooks()
            .send()
            .await
            .expect("webhooks")
            .webhooks()
            .len(),
        1
    );
    let (code, plan) = plan_json(&cli, "dev");
    assert_eq!(code, 0, "{:?}", changed(&plan));
    assert_code(&cli.run_env_only(&["destroy", "--env", "dev", "--yes"]), 0);
    assert!(common::inventory(&emulator).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_topic_key_encrypts_the_topic_and_taking_it_away_converges() {
    const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("topic-key", &emulator);
    let config = emulator.sdk_config().await;
    let sns = aws_sdk_sns::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let topic_arn = format!(
        "arn:aws:sns:{}:{}:notifications-dev",
        testkit::REGION,
        testkit::ACCOUNT_ID
    );
    let observe = || async {
        let attributes = sns
            .get_topic_attributes()
            .topic_arn(&topic_arn)
            .send()
            .await
            .expect("topic")
            .attributes
            .unwrap_or_default();
        let policy = iam
            .get_role_policy()
            .role_name("event-notifier-role-dev")
            .policy_name("permissions")
            .send()
            .await
            .expect("notifier role policy")
            .policy_document;
        let policy =
            bootstrap::resources::util::percent_decode(&policy).expect("IAM policy encoding");
        (
            attributes
                .get("KmsMasterKeyId")
                .cloned()
                .filter(|key| !key.is_empty()),
            policy.contains("kms:GenerateDataKey") && policy.contains(KEY),
        )
    };
    let deploy = |extra: &[&str]| {
        let mut args = vec![
            "deploy",
            "--env",
            "dev",
            "--github-repo",
            "octo/app",
            "--yes",
        ];
        args.extend(extra);
        cli.run(&args)
    };
    assert_code(&deploy(&["--topic-kms-key", KEY]), 0);
    assert_eq!(observe().await, (Some(KEY.to_owned()), true));
    assert_code(&deploy(&[]), 0);
    assert_eq!(observe().await, (None, false));
    assert_code(&cli.run_env_only(&["destroy", "--env", "dev", "--yes"]), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_secret_named_by_name_is_granted_by_its_full_arn() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("webhook-secret", &emulator);
    let config = emulator.sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let created = secrets
        .create_secret()
        .name("team/deploy-hook")
        .secret_string("s3cr3t-value")
        .send()
        .await
        .expect("secret");
    let full_arn = created.arn().expect("arn").to_owned();
    assert!(
        full_arn.len() > full_arn.find("team/deploy-hook").expect("name") + 16,
        "Secrets Manager adds a random suffix: {full_arn}"
    );
    let output = cli.run(&[
        "deploy",
        "--env",
        "dev",
        "--github-repo",
        "octo/app",
        "--deploy-webhook-url",
        "https://deploy.example.com/hook",
        "--deploy-webhook-secret-arn",
        "team/deploy-hook",
        "--yes",
    ]);
    assert_code(&output, 0);
    let iam = aws_sdk_iam::Client::new(&config);
    let policy = iam
        .get_role_policy()
        .role_name("deploy-handler-role-dev")
        .policy_name("permissions")
        .send()
        .await
        .expect("policy");
    let document =
        bootstrap::resources::util::parse_policy(policy.policy_document()).expect("document");
    let granted: Vec<&Value> = document["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .filter(|s| s.to_string().contains("secretsmanager:GetSecretValue"))
        .collect();
    assert_eq!(granted.len(), 1, "{document}");
    assert_eq!(
        granted[0]["Resource"],
        serde_json::json!([full_arn]),
        "the grant must name the full ARN: a bare name never matches the secret"
    );
    let lambda = aws_sdk_lambda::Client::new(&config);
    let function = lambda
        .get_function_configuration()
        .function_name("deploy-handler-dev")
        .send()
        .await
        .expect("function");
    let env = function
        .environment()
        .and_then(|e| e.variables())
        .expect("environment");
    assert_eq!(
        env.get(pipeline_common::env_vars::DEPLOY_WEBHOOK_SECRET_ARN),
        Some(&full_arn)
    );
    assert_code(&cli.run_env_only(&["destroy", "--env", "dev", "--yes"]), 0);
    secrets
        .describe_secret()
        .secret_id(&full_arn)
        .send()
        .await
        .expect("destroy leaves the user's secret alone");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_permission_on_a_function_someone_else_owns_is_not_ours() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("foreign-permission", &emulator);
    let config = emulator.sdk_config().await;
    // Someone else's function with our notifier's name, and a statement with our statement id.
    let iam = aws_sdk_iam::Client::new(&config);
    let role = iam
        .create_role()
        .role_name("someone-elses-role")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .expect("role");
    let zip = std::fs::read(cli.workdir.join("lambda/event-notifier/bootstrap.zip")).expect("zip");
    let lambda = aws_sdk_lambda::Client::new(&config);
    lambda
        .create_function()
        .function_name("event-notifier-dev")
        .role(role.role().expect("role").arn())
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(zip.into())
                .build(),
        )
        .send()
        .await
        .expect("foreign function");
    lambda
        .add_permission()
        .function_name("event-notifier-dev")
        .statement_id(bootstrap::desired::EVENTS_PERMISSION_SID)
        .action("lambda:InvokeFunction")
        .principal("events.amazonaws.com")
        .send()
        .await
        .expect("their statement");
    emulator.clear_calls().expect("clear");
    let destroy = cli.run_env_only(&["destroy", "--env", "dev", "--yes"]);
    assert_code(&destroy, 0);
    assert!(
        text(&destroy).contains("not ours"),
        "the foreign function and its statement are listed as kept:\n{}",
        text(&destroy)
    );
    let policy = lambda
        .get_policy()
        .function_name("event-notifier-dev")
        .send()
        .await
        .expect("their function keeps its policy");
    assert!(
        policy
            .policy()
            .unwrap_or_default()
            .contains(bootstrap::desired::EVENTS_PERMISSION_SID),
        "destroy removed a statement from a function that is not ours"
    );
    let mutating = emulator.mutating_calls().expect("calls");
    assert!(
        mutating.is_empty(),
        "destroy touched someone else's: {mutating:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_target_is_checked_before_anything_changes() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("deploy-target", &emulator);
    let config = emulator.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let lambda = aws_sdk_lambda::Client::new(&config);

    // The team's things: a cluster, a service without a circuit breaker, a .zip function.
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
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("envoy")
                .image("public.ecr.aws/envoy:1")
                .memory(128)
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
    ecs.create_service()
        .cluster("team")
        .service_name("web")
        .task_definition(&task_definition)
        .desired_count(1)
        .send()
        .await
        .expect("service");
    ecs.create_service()
        .cluster("team")
        .service_name("bluegreen")
        .task_definition(&task_definition)
        .desired_count(1)
        .deployment_controller(
            aws_sdk_ecs::types::DeploymentController::builder()
                .r#type(aws_sdk_ecs::types::DeploymentControllerType::CodeDeploy)
                .build()
                .expect("controller"),
        )
        .send()
        .await
        .expect("blue/green service");
    let role = iam
        .create_role()
        .role_name("zip-fn")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .expect("role");
    lambda
        .create_function()
        .function_name("zipped")
        .role(role.role().expect("role").arn())
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(
                    std::fs::read(cli.artifacts.join("deploy-handler/bootstrap.zip")).expect("zip"),
                ))
                .build(),
        )
        .send()
        .await
        .expect("zip function");
    emulator.clear_calls().expect("clear");

    let plan = |target: &str| {
        cli.run(&[
            "plan",
            "--env",
            "dev",
            "--github-repo",
            "octo/app",
            "--deploy-target",
            target,
        ])
    };
    for (target, problem) in [
        ("ecs:nowhere/web", "there is no ECS cluster nowhere"),
        (
            "ecs:team/api",
            "there is no active ECS service api in cluster team",
        ),
        (
            "ecs:team/web/sidecar",
            "has no container `sidecar` (it has app, envoy)",
        ),
        (
            "ecs:team/bluegreen",
            "uses the CODE_DEPLOY (blue/green) deployment controller",
        ),
        ("lambda:missing", "there is no Lambda function missing"),
        ("lambda:zipped", "packaged as a .zip"),
        (
            "k8s:web",
            "--deploy-target: deploy target `k8s:web` has no kind",
        ),
    ] {
        let output = plan(target);
        assert_code(&output, 1);
        assert!(
            text(&output).contains(problem),
            "{target}: {}",
            text(&output)
        );
    }
    let deploy = cli.run(&[
        "deploy",
        "--env",
        "dev",
        "--github-repo",
        "octo/app",
        "--deploy-target",
        "ecs:team/api",
        "--yes",
    ]);
    assert_code(&deploy, 1);
    let mutating: Vec<_> = emulator
        .calls()
        .expect("calls")
        .into_iter()
        .filter(|c| c.mutating)
        .collect();
    assert!(
        mutating.is_empty(),
        "a bad target changed something: {mutating:?}"
    );

    // A service without the circuit breaker's rollback can be a target, with a warning.
    let output = plan("ecs:team/web/app");
    assert_code(&output, 2);
    assert!(
        text(&output).contains("warning: ECS service web (cluster team) has no deployment circuit breaker with rollback"),
        "{}",
        text(&output)
    );
    let (_, json) = plan_json_with(&cli, "dev", &["--deploy-target", "ecs:team/web/app"]);
    let statements = json["policies"]["deploy-handler-role-dev"]["inline"]["Statement"].clone();
    let sids: Vec<&str> = statements
        .as_array()
        .expect("statements")
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    assert!(
        sids.contains(&"RollOutToService") && sids.contains(&"RegisterRevisions"),
        "{sids:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_finishes_the_calls_in_flight_says_what_was_done_and_a_rerun_converges() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("interrupt", &emulator);
    // Slow every call down so the interrupt lands with steps in flight and steps still to come.
    emulator
        .set_faults(serde_json::json!({ "latency_ms": 60 }))
        .expect("latency");
    let deploy = [
        "deploy",
        "--env",
        "dev",
        "--github-repo",
        "octo/app",
        "--yes",
    ];
    let child = std::process::Command::new(common::BIN)
        .args(deploy)
        .arg("--artifacts-dir")
        .arg(&cli.artifacts)
        .envs(emulator.env())
        .env("GITHUB_TOKEN", "gh-token-for-tests-0123456789")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("bootstrap starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while emulator.mutating_calls().expect("calls").len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "deploy made no change in 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let signal = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(signal.success());
    let interrupted = child.wait_with_output().expect("bootstrap ends");
    assert_code(&interrupted, 1);
    let said = text(&interrupted);
    assert!(
        said.contains("interrupted: starting no new step")
            && said.contains("run the same command again and it converges")
            && said.contains("not started ("),
        "{said}"
    );
    emulator.clear_faults().expect("no latency");
    assert_code(&cli.run(&deploy), 0);
    let (code, _) = plan_json(&cli, "dev");
    assert_eq!(code, 0, "after the re-run nothing is left to do");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_call_is_announced_with_its_bound() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("retry-notice", &emulator);
    emulator
        .set_faults(serde_json::json!({ "throttle_probability": 0.3, "seed": 7 }))
        .expect("throttling");
    let planned = cli.run(&["plan", "--env", "dev", "--github-repo", "octo/app"]);
    assert_code(&planned, 2);
    let said = text(&planned);
    let notice = said
        .lines()
        .find(|line| line.contains("retrying "))
        .unwrap_or_else(|| panic!("no retry was announced:\n{said}"));
    // Throttling answers 400 (query and JSON protocols, with the code) or 503 (S3's SlowDown).
    let throttled = [" after HTTP 400", " after HTTP 429", " after HTTP 503"];
    assert!(throttled.iter().any(|t| notice.contains(t)), "{notice}");
    assert!(
        notice.contains("attempt 2 of 8") && notice.contains("gives up after attempt 8"),
        "{notice}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_first_deploys_at_once_in_codeconnections_mode_leave_one_connection() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("connection-race", &emulator);
    // Each run must see no connection and create its own: slow the calls so both lists happen
    // before either create.
    emulator
        .set_faults(serde_json::json!({ "latency_ms": 40 }))
        .expect("latency");
    let deploy = [
        "deploy",
        "--env",
        "dev",
        "--github-repo",
        "octo/app",
        "--source",
        "codeconnections",
        "--yes",
    ];
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| cli.run(&deploy));
        let second = scope.spawn(|| cli.run(&deploy));
        (first.join().expect("first"), second.join().expect("second"))
    });
    emulator.clear_faults().expect("no latency");
    for run in [&first, &second] {
        assert_code(run, 0);
    }
    assert_code(&cli.run(&deploy), 0);
    let config = emulator.sdk_config().await;
    let listed = aws_sdk_codestarconnections::Client::new(&config)
        .list_connections()
        .send()
        .await
        .expect("connections");
    let ours: Vec<&str> = listed
        .connections()
        .iter()
        .filter(|c| c.connection_name() == Some("github-dev"))
        .filter_map(|c| c.connection_arn())
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "one github-dev after the third deploy: {ours:?}"
    );
    let pipeline = aws_sdk_codepipeline::Client::new(&config)
        .get_pipeline()
        .name("pipeline-dev")
        .send()
        .await
        .expect("pipeline");
    let declaration = format!("{:?}", pipeline.pipeline());
    assert!(
        declaration.contains(ours[0]),
        "the pipeline uses the kept connection: {declaration}"
    );
    let (code, plan) = plan_json_with(&cli, "dev", &["--source", "codeconnections"]);
    assert_eq!(code, 0, "converged: {plan}");
}

/// Every stderr line of a `--progress json` run, parsed; a line that is not a JSON object with
/// an `event` fails the test.
fn progress_events(output: &std::process::Output) -> Vec<Value> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.trim().is_empty(), "no progress at all");
    stderr
        .lines()
        .map(|line| {
            let event: Value = serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("not a JSON line ({err}): {line}\n{stderr}"));
            assert!(event["event"].is_string(), "no event: {line}");
            assert!(event["at_ms"].is_u64(), "no at_ms: {line}");
            event
        })
        .collect()
}

/// The steps of a run: each `start` has its `finish` with the same resource, kind and action,
/// and the finish says how long the step took, how many requests it sent and how it ended.
fn finished_steps(events: &[Value], action: &str) -> Vec<Value> {
    let key = |e: &Value| {
        (
            e["resource"].clone(),
            e["kind"].clone(),
            e["action"].clone(),
        )
    };
    let starts: Vec<&Value> = events.iter().filter(|e| e["event"] == "start").collect();
    let finishes: Vec<&Value> = events.iter().filter(|e| e["event"] == "finish").collect();
    assert_eq!(starts.len(), finishes.len(), "{events:#?}");
    for finish in &finishes {
        assert!(finish["resource"].is_string() && finish["kind"].is_string());
        assert_eq!(finish["action"], action, "{finish}");
        assert!(finish["duration_ms"].is_u64(), "{finish}");
        assert!(finish["calls"].as_u64().is_some_and(|n| n >= 1), "{finish}");
        assert_eq!(finish["outcome"], "ok", "{finish}");
        let start = starts
            .iter()
            .find(|s| key(s) == key(finish))
            .unwrap_or_else(|| panic!("a finish without its start: {finish}"));
        assert!(start["at_ms"].as_u64() <= finish["at_ms"].as_u64());
    }
    finishes.into_iter().cloned().collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_json_gives_one_object_per_line_and_a_start_and_finish_per_step() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("progress-json", &emulator);
    let (_, plan) = plan_json(&cli, "dev");
    let creates = changed(&plan).len();
    emulator.clear_calls().expect("clear");
    let deployed = cli.run(&[
        "deploy",
        "--env",
        "dev",
        "--github-repo",
        "octo/app",
        "--yes",
        "--progress",
        "json",
    ]);
    assert_code(&deployed, 0);
    let events = progress_events(&deployed);
    let created = finished_steps(&events, "create");
    assert_eq!(created.len(), creates, "one step per planned create");
    let counted: u64 = created.iter().filter_map(|f| f["calls"].as_u64()).sum();
    let recorded = emulator.calls().expect("calls").len() as u64;
    assert!(
        counted < recorded,
        "the steps' requests ({counted}) are part of the run's ({recorded}, reads included)"
    );
    assert!(
        events.iter().any(|e| e["event"] == "message"),
        "the closing line is a message"
    );

    let destroyed = cli.run_env_only(&["destroy", "--env", "dev", "--yes", "--progress", "json"]);
    assert_code(&destroyed, 0);
    let deleted = finished_steps(&progress_events(&destroyed), "delete");
    assert_eq!(deleted.len(), creates);

    // An error is a message too.
    let failed = cli.run_env_only(&["outputs", "--env", "dev", "--progress", "json"]);
    assert_code(&failed, 1);
    let events = progress_events(&failed);
    assert!(
        events
            .iter()
            .any(|e| e["text"].as_str().is_some_and(|t| t.starts_with("error: "))),
        "{events:?}"
    );
}

/// Without the roles' permissions boundary, plan and deploy refuse before any write and say how
/// the administrator creates it; once it exists, deploy creates every role with it attached.
#[tokio::test(flavor = "multi_thread")]
async fn plan_and_deploy_refuse_without_the_permissions_boundary() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("boundary", &emulator);
    let plan = ["plan", "--env", "bnd", "--github-repo", "octo/app"];
    let deploy = [
        "deploy",
        "--env",
        "bnd",
        "--github-repo",
        "octo/app",
        "--yes",
    ];
    emulator.clear_calls().expect("calls cleared");
    for refused in [cli.run_as_is(&plan), cli.run_as_is(&deploy)] {
        assert_code(&refused, 1);
        let said = text(&refused);
        for fix in [
            "permissions boundary arn:aws:iam::123456789012:policy/pipeline-boundary-bnd does not exist",
            "bootstrap deployer-policy --env bnd --boundary",
            "aws iam create-policy --policy-name pipeline-boundary-bnd",
            "Nothing was changed",
        ] {
            assert!(said.contains(fix), "no `{fix}` in:\n{said}");
        }
    }
    assert_eq!(emulator.mutating_calls().expect("calls"), vec![]);

    assert_code(&cli.run(&deploy), 0);
    let iam = aws_sdk_iam::Client::new(&emulator.sdk_config().await);
    for role in [
        "codebuild-role-bnd",
        "codepipeline-role-bnd",
        "deploy-handler-role-bnd",
        "event-notifier-role-bnd",
    ] {
        let found = iam.get_role().role_name(role).send().await.expect("role");
        let boundary = found.role().and_then(|r| r.permissions_boundary());
        assert_eq!(
            boundary.and_then(|b| b.permissions_boundary_arn()),
            Some("arn:aws:iam::123456789012:policy/pipeline-boundary-bnd"),
            "{role}"
        );
    }
}

/// `--base-image-source pull-through-cache`: the rule and the build's registry exist after a
/// deploy, a plan of the same options has nothing to do, another source drops the rule, and
/// destroy removes the rule with the repositories its pulls created.
#[tokio::test(flavor = "multi_thread")]
async fn a_base_image_cache_is_created_with_the_environment_and_destroyed_with_it() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("base-image-cache", &emulator);
    let config = emulator.sdk_config().await;
    let ecr = aws_sdk_ecr::Client::new(&config);
    let codebuild = aws_sdk_codebuild::Client::new(&config);
    let rules = || async {
        ecr.describe_pull_through_cache_rules()
            .send()
            .await
            .expect("rules")
            .pull_through_cache_rules()
            .iter()
            .map(|rule| {
                (
                    rule.ecr_repository_prefix().unwrap_or_default().to_owned(),
                    rule.upstream_registry_url().unwrap_or_default().to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    let option = ["--base-image-source", "pull-through-cache"];
    let mut args = vec![
        "deploy",
        "--env",
        "dev",
        "--github-repo",
        "octo/app",
        "--yes",
    ];
    args.extend(option);
    assert_code(&cli.run(&args), 0);

    assert_eq!(
        rules().await,
        vec![("base-images-dev".to_owned(), "public.ecr.aws".to_owned())]
    );
    let project = codebuild
        .batch_get_projects()
        .names("build-dev")
        .send()
        .await
        .expect("project");
    let registry = project.projects()[0]
        .environment()
        .expect("environment")
        .environment_variables()
        .iter()
        .find(|v| v.name() == pipeline_common::codebuild_env::BASE_IMAGE_REGISTRY)
        .map(|v| v.value().to_owned());
    assert_eq!(
        registry.as_deref(),
        Some("123456789012.dkr.ecr.us-east-1.amazonaws.com/base-images-dev/docker/library")
    );
    let (code, _) = plan_json_with(&cli, "dev", &option);
    assert_eq!(code, 0, "deployed as planned: nothing to do");
    // Drift: the rule deleted by hand is planned back and deployed back.
    ecr.delete_pull_through_cache_rule()
        .ecr_repository_prefix("base-images-dev")
        .send()
        .await
        .expect("delete by hand");
    let (code, plan) = plan_json_with(&cli, "dev", &option);
    assert_eq!(code, 2);
    assert!(
        changed(&plan)
            .iter()
            .any(|(action, id, _)| action == "create" && id == "app-dev/base-images-dev"),
        "{plan}"
    );
    assert_code(&cli.run(&args), 0);
    assert_eq!(rules().await.len(), 1);
    let (code, plan) = plan_json_with(&cli, "dev", &["--base-image-source", "ecr-public"]);
    assert_eq!(code, 2);
    let changes = changed(&plan);
    assert!(
        changes
            .iter()
            .any(|(action, id, _)| action == "delete" && id.contains("app-dev/base-images-dev")),
        "{changes:?}"
    );

    // What the build's first pull through the rule creates (the emulator reaches no upstream).
    ecr.create_repository()
        .repository_name("base-images-dev/docker/library/python")
        .send()
        .await
        .expect("cached repository");
    assert_code(&cli.run_env_only(&["destroy", "--env", "dev", "--yes"]), 0);
    assert_eq!(rules().await, vec![]);
    let left = ecr
        .describe_repositories()
        .send()
        .await
        .expect("repositories");
    assert!(
        left.repositories().is_empty(),
        "destroy leaves no repository: {:?}",
        left.repositories()
    );
}
