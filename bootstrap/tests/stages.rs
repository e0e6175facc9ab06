//! A pipeline with stages, against the emulator: two stages, an approval before production and a
//! bake alarm make the documented V2 shape; plan is then clean, a hand edit is found and
//! repaired, and destroy leaves nothing.

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
