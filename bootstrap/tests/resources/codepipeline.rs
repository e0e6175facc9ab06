//! Pipeline module against the local emulator: both source kinds and switching between them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{Fixture, create_role, operations, our_tags, spec_of};
use aws_sdk_codepipeline::types::PipelineDeclaration;
use bootstrap::model::{PipelineSpec, SourceSpec, Spec};
use bootstrap::resources::{Ctx, Inputs, codepipeline};
use bootstrap::secret::Secret;
use pipeline_common::pipeline_variables::{BUILD_NAMESPACE, DEPLOY_NAMESPACE};

const TOKEN: &str = "ghp_do-not-leak-0123456789";

fn github_spec(name: &str, role_arn: &str) -> PipelineSpec {
    PipelineSpec {
        name: name.into(),
        role_arn: role_arn.into(),
        pipeline_type: "V1".into(),
        artifact_bucket: "artifacts-123456789012-dev".into(),
        artifact_key: "arn:aws:kms:us-east-1:123456789012:alias/aws/s3".into(),
        source: SourceSpec::GithubWebhook {
            owner: "acme".into(),
            repo: "app".into(),
            branch: "main".into(),
        },
        build_project: "pipeline-dev-build".into(),
        deploy_function: "pipeline-dev-deploy-handler".into(),
        deploy_user_parameters: r#"{"env":"dev"}"#.into(),
        stages: Vec::new(),
        tags: our_tags([("project", "pipeline")]),
    }
}

fn connection_spec(name: &str, role_arn: &str) -> PipelineSpec {
    PipelineSpec {
        pipeline_type: "V2".into(),
        source: SourceSpec::Connection {
            connection_arn: Some(
                "arn:aws:codestar-connections:us-east-1:123456789012:connection/abc".into(),
            ),
            full_repository_id: "acme/app".into(),
            branch: "main".into(),
            file_path_includes: vec!["src/**".into(), "Cargo.toml".into()],
            file_path_excludes: vec!["docs/**".into()],
        },
        ..github_spec(name, role_arn)
    }
}

/// What observe reports for `spec`: the spec itself (file path lists keep their order).
fn normalised(spec: &PipelineSpec) -> PipelineSpec {
    spec.clone()
}

async fn observed(ctx: Ctx<'_>, name: &str) -> Option<PipelineSpec> {
    codepipeline::observe(ctx, name).await.unwrap().map(spec_of)
}

#[tokio::test]
async fn pipeline_lifecycle_with_both_sources() {
    let fx = Fixture::with_inputs(Inputs {
        github_token: Some(Secret::new(TOKEN)),
    })
    .await;
    let (emu, clients, ctx) = (&fx.emu, &fx.clients, fx.ctx());
    let role_arn = create_role(clients, "pipeline-role", "codepipeline.amazonaws.com").await;
    let name = "pipeline-dev";

    assert_eq!(observed(ctx, name).await, None);
    let github = github_spec(name, &role_arn);
    codepipeline::create(ctx, &github).await.unwrap();
    let observation = codepipeline::observe(ctx, name).await.unwrap().unwrap();
    assert_eq!(
        observation.arn.as_deref(),
        Some("arn:aws:codepipeline:us-east-1:123456789012:pipeline-dev")
    );
    assert_eq!(observation.spec, Spec::Pipeline(github.clone()));
    assert!(
        !format!("{observation:?}").contains(TOKEN),
        "the token never shows in an observation"
    );

    emu.clear_calls().unwrap();
    codepipeline::update(ctx, &github, &observed(ctx, name).await.unwrap())
        .await
        .unwrap();
    assert_eq!(operations(emu), Vec::<String>::new());

    // Crash recovery: creating again converges.
    codepipeline::create(ctx, &github).await.unwrap();
    assert_eq!(observed(ctx, name).await.unwrap(), github);

    // Drift: a tag removed behind our back; desired: new branch and user parameters.
    clients
        .codepipeline
        .untag_resource()
        .resource_arn(observation.arn.clone().unwrap())
        .tag_keys("project")
        .send()
        .await
        .unwrap();
    let drifted = observed(ctx, name).await.unwrap();
    assert!(
        !drifted.tags.contains_key("project"),
        "the removed tag reads as gone"
    );
    let mut changed = github.clone();
    changed.source = SourceSpec::GithubWebhook {
        owner: "acme".into(),
        repo: "app".into(),
        branch: "release".into(),
    };
    changed.deploy_user_parameters = r#"{"env":"dev","v":2}"#.into();
    emu.clear_calls().unwrap();
    codepipeline::update(ctx, &changed, &drifted).await.unwrap();
    assert_eq!(operations(emu), ["UpdatePipeline", "TagResource"]);
    assert_eq!(observed(ctx, name).await.unwrap(), changed);

    // Switch to a connection source (V2 with a push trigger) and back.
    let connection = connection_spec(name, &role_arn);
    codepipeline::update(ctx, &connection, &observed(ctx, name).await.unwrap())
        .await
        .unwrap();
    assert_eq!(observed(ctx, name).await.unwrap(), normalised(&connection));
    let declaration = clients
        .codepipeline
        .get_pipeline()
        .name(name)
        .send()
        .await
        .unwrap()
        .pipeline
        .unwrap();
    assert_eq!(
        declaration.execution_mode().map(|m| m.as_str()),
        Some("QUEUED")
    );
    let key = declaration
        .artifact_store()
        .and_then(|store| store.encryption_key())
        .expect("GetPipeline returns the artifact store's encryption key");
    assert_eq!(
        (key.id(), key.r#type().as_str()),
        ("arn:aws:kms:us-east-1:123456789012:alias/aws/s3", "KMS")
    );
    emu.clear_calls().unwrap();
    codepipeline::update(ctx, &connection, &observed(ctx, name).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        operations(emu),
        Vec::<String>::new(),
        "a converged V2 pipeline needs no call"
    );
    // The Build and Deploy actions' namespaces come back from GetPipeline; a pipeline made
    // without them (an earlier release) differs and one UpdatePipeline declares them again.
    let namespaces = |declaration: &PipelineDeclaration| -> Vec<Option<String>> {
        declaration
            .stages()
            .iter()
            .map(|s| s.actions()[0].namespace().map(str::to_owned))
            .collect()
    };
    assert_eq!(
        namespaces(&declaration),
        [
            None,
            Some(BUILD_NAMESPACE.to_owned()),
            Some(DEPLOY_NAMESPACE.to_owned())
        ]
    );
    let mut without = declaration.clone();
    for stage in &mut without.stages {
        for action in &mut stage.actions {
            action.namespace = None;
        }
    }
    clients
        .codepipeline
        .update_pipeline()
        .pipeline(without)
        .send()
        .await
        .unwrap();
    let drifted = observed(ctx, name).await.unwrap();
    assert_ne!(drifted, normalised(&connection));
    emu.clear_calls().unwrap();
    codepipeline::update(ctx, &connection, &drifted)
        .await
        .unwrap();
    assert_eq!(operations(emu), ["UpdatePipeline"]);
    assert_eq!(observed(ctx, name).await.unwrap(), normalised(&connection));
    codepipeline::update(ctx, &github, &observed(ctx, name).await.unwrap())
        .await
        .unwrap();
    assert_eq!(observed(ctx, name).await.unwrap(), github);

    codepipeline::delete(ctx, name).await.unwrap();
    assert_eq!(observed(ctx, name).await, None);
    codepipeline::delete(ctx, name).await.unwrap();

    // A connection pipeline from scratch.
    codepipeline::create(ctx, &connection).await.unwrap();
    assert_eq!(observed(ctx, name).await.unwrap(), normalised(&connection));
    codepipeline::delete(ctx, name).await.unwrap();
}

#[tokio::test]
async fn github_source_without_token_fails_clearly_and_propagation_is_waited_out() {
    let fx = Fixture::start().await; // no GitHub token
    let (emu, clients, ctx) = (&fx.emu, &fx.clients, fx.ctx());
    emu.set_faults(serde_json::json!({"iam_propagation_seconds": 1.5}))
        .unwrap();
    let role_arn = create_role(clients, "fresh-pipeline-role", "codepipeline.amazonaws.com").await;

    let err = format!(
        "{:#}",
        codepipeline::create(ctx, &github_spec("p1", &role_arn))
            .await
            .unwrap_err()
    );
    assert!(
        err.contains("GITHUB_TOKEN") && err.contains("--github-token-secret"),
        "{err}"
    );
    assert_eq!(
        operations(emu)
            .iter()
            .filter(|o| *o == "CreatePipeline")
            .count(),
        0
    );

    let mut no_arn = connection_spec("p2", &role_arn);
    no_arn.source = SourceSpec::Connection {
        connection_arn: None,
        full_repository_id: "acme/app".into(),
        branch: "main".into(),
        file_path_includes: vec![],
        file_path_excludes: vec![],
    };
    let err = format!(
        "{:#}",
        codepipeline::create(ctx, &no_arn).await.unwrap_err()
    );
    assert!(err.contains("connection"), "{err}");

    let plain = connection_spec("p3", &role_arn);
    codepipeline::create(ctx, &plain).await.unwrap();
    assert!(
        emu.faults().unwrap()["propagation_rejections"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert_eq!(observed(ctx, "p3").await.unwrap(), normalised(&plain));
}
