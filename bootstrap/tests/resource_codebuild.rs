//! CodeBuild project module against the local emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bootstrap::aws::{Clients, Target};
use bootstrap::model::{ProjectSpec, Spec, Tags};
use bootstrap::progress::Progress;
use bootstrap::resources::{Ctx, Inputs, codebuild};

async fn create_role(clients: &Clients, name: &str) -> String {
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    clients
        .iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn
}

async fn observed(ctx: Ctx<'_>, name: &str) -> Option<ProjectSpec> {
    codebuild::observe(ctx, name)
        .await
        .unwrap()
        .map(|o| match o.spec {
            Spec::Project(s) => s,
            other => panic!("observed another kind: {other:?}"),
        })
}

fn operations(emu: &testkit::Emulator) -> Vec<String> {
    emu.mutating_calls()
        .unwrap()
        .into_iter()
        .map(|c| c.operation)
        .collect()
}

fn project(name: &str, role_arn: &str) -> ProjectSpec {
    ProjectSpec {
        name: name.into(),
        service_role_arn: role_arn.into(),
        image: "aws/codebuild/amazonlinux2-x86_64-standard:5.0".into(),
        compute_type: "BUILD_GENERAL1_SMALL".into(),
        environment_type: "LINUX_CONTAINER".into(),
        privileged_mode: true,
        environment: [
            ("ECR_REPOSITORY".into(), "app-dev".into()),
            ("AWS_ACCOUNT_ID".into(), "123456789012".into()),
        ]
        .into(),
        buildspec: "buildspec.yml".into(),
        log_group: "/pipeline/dev/build".into(),
        timeout_minutes: 30,
        queued_timeout_minutes: 60,
        cache_modes: vec![
            "LOCAL_DOCKER_LAYER_CACHE".into(),
            "LOCAL_SOURCE_CACHE".into(),
        ],
        tags: Tags::from([("project".into(), "pipeline".into())]),
    }
}

#[tokio::test]
async fn project_lifecycle_converges_drift() {
    let emu = testkit::Emulator::start().unwrap();
    let config = emu.sdk_config().await;
    let clients = Clients::new(&config);
    let target = Target {
        account_id: testkit::ACCOUNT_ID.into(),
        region: "us-east-1".into(),
    };
    let progress = Progress::quiet();
    let inputs = Inputs::default();
    let ctx = Ctx {
        clients: &clients,
        target: &target,
        progress: &progress,
        inputs: &inputs,
    };
    let role_arn = create_role(&clients, "build-role").await;
    let name = "build-dev";
    let spec = project(name, &role_arn);

    assert_eq!(observed(ctx, name).await, None);
    codebuild::create(ctx, &spec).await.unwrap();
    let observation = codebuild::observe(ctx, name).await.unwrap().unwrap();
    assert_eq!(
        observation.arn.as_deref(),
        Some("arn:aws:codebuild:us-east-1:123456789012:project/build-dev")
    );
    assert_eq!(observation.spec, Spec::Project(spec.clone()));

    emu.clear_calls().unwrap();
    codebuild::update(ctx, &spec, &observed(ctx, name).await.unwrap())
        .await
        .unwrap();
    assert_eq!(operations(&emu), Vec::<String>::new());
    codebuild::create(ctx, &spec).await.unwrap();
    assert_eq!(
        observed(ctx, name).await.unwrap(),
        spec,
        "creating again converges"
    );

    // Drift: privileged mode turned off behind our back.
    let current = clients
        .codebuild
        .batch_get_projects()
        .names(name)
        .send()
        .await
        .unwrap()
        .projects
        .unwrap()
        .remove(0);
    let mut environment = current.environment.clone().unwrap();
    environment.privileged_mode = Some(false);
    clients
        .codebuild
        .update_project()
        .name(name)
        .environment(environment)
        .send()
        .await
        .unwrap();
    let drifted = observed(ctx, name).await.unwrap();
    assert!(!drifted.privileged_mode);

    let mut changed = spec.clone();
    changed.environment.insert("EXTRA".into(), "1".into());
    changed.timeout_minutes = 45;
    changed.cache_modes = vec![];
    changed.tags.insert("owner".into(), "platform".into());
    emu.clear_calls().unwrap();
    codebuild::update(ctx, &changed, &drifted).await.unwrap();
    assert_eq!(operations(&emu), ["UpdateProject"]);
    assert_eq!(observed(ctx, name).await.unwrap(), changed);

    codebuild::delete(ctx, name).await.unwrap();
    assert_eq!(observed(ctx, name).await, None);
    codebuild::delete(ctx, name).await.unwrap();
}

#[tokio::test]
async fn create_waits_out_iam_propagation() {
    let emu = testkit::Emulator::start().unwrap();
    let config = emu.sdk_config().await;
    let clients = Clients::new(&config);
    let target = Target {
        account_id: testkit::ACCOUNT_ID.into(),
        region: "us-east-1".into(),
    };
    let progress = Progress::quiet();
    let inputs = Inputs::default();
    let ctx = Ctx {
        clients: &clients,
        target: &target,
        progress: &progress,
        inputs: &inputs,
    };
    emu.set_faults(serde_json::json!({"iam_propagation_seconds": 1.5}))
        .unwrap();
    let role_arn = create_role(&clients, "fresh-build-role").await;
    let spec = project("fresh", &role_arn);
    codebuild::create(ctx, &spec).await.unwrap();
    assert!(
        emu.faults().unwrap()["propagation_rejections"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert_eq!(observed(ctx, "fresh").await.unwrap(), spec);
}
