//! CodeBuild project module against the local emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{Fixture, create_role, operations, our_tags, spec_of};
use bootstrap::desired::BUILD_CACHE_MODE;
use bootstrap::model::{ProjectSpec, Spec};
use bootstrap::plan::differences;
use bootstrap::resources::{Ctx, codebuild};

async fn observed(ctx: Ctx<'_>, name: &str) -> Option<ProjectSpec> {
    codebuild::observe(ctx, name).await.unwrap().map(spec_of)
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
        cache_modes: vec![BUILD_CACHE_MODE.into()],
        tags: our_tags([("project", "pipeline")]),
    }
}

/// A project an earlier release made also cached the source, which does nothing for a
/// CodePipeline source: the plan names the cache and one UpdateProject drops it.
#[tokio::test]
async fn a_project_with_the_old_source_cache_is_updated_to_docker_layers_only() {
    let fx = Fixture::start().await;
    let (emu, clients, ctx) = (&fx.emu, &fx.clients, fx.ctx());
    let role_arn = create_role(clients, "build-role", "codebuild.amazonaws.com").await;
    let desired = project("build-dev", &role_arn);
    let mut old = desired.clone();
    old.cache_modes = vec![
        "LOCAL_DOCKER_LAYER_CACHE".into(),
        "LOCAL_SOURCE_CACHE".into(),
    ];
    codebuild::create(ctx, &old).await.unwrap();
    let observed_old = observed(ctx, "build-dev").await.unwrap();
    assert_eq!(observed_old.cache_modes, old.cache_modes);
    let fields: Vec<String> = differences(
        &Spec::Project(desired.clone()),
        &Spec::Project(observed_old.clone()),
    )
    .into_iter()
    .map(|change| change.field)
    .collect();
    assert_eq!(fields, ["cache_modes"]);

    emu.clear_calls().unwrap();
    codebuild::update(ctx, &desired, &observed_old)
        .await
        .unwrap();
    assert_eq!(operations(emu), ["UpdateProject"]);
    let updated = observed(ctx, "build-dev").await.unwrap();
    assert_eq!(updated.cache_modes, [BUILD_CACHE_MODE]);
    assert_eq!(updated, desired);
}

#[tokio::test]
async fn project_lifecycle_converges_drift() {
    let fx = Fixture::start().await;
    let (emu, clients, ctx) = (&fx.emu, &fx.clients, fx.ctx());
    let role_arn = create_role(clients, "build-role", "codebuild.amazonaws.com").await;
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
    assert_eq!(operations(emu), Vec::<String>::new());
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
    assert_eq!(operations(emu), ["UpdateProject"]);
    assert_eq!(observed(ctx, name).await.unwrap(), changed);

    codebuild::delete(ctx, name).await.unwrap();
    assert_eq!(observed(ctx, name).await, None);
    codebuild::delete(ctx, name).await.unwrap();
}

#[tokio::test]
async fn create_waits_out_iam_propagation() {
    let fx = Fixture::start().await;
    let (emu, clients, ctx) = (&fx.emu, &fx.clients, fx.ctx());
    emu.set_faults(serde_json::json!({"iam_propagation_seconds": 1.5}))
        .unwrap();
    let role_arn = create_role(clients, "fresh-build-role", "codebuild.amazonaws.com").await;
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
