//! Pipeline webhook module against the local emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{Fixture, create_role, operations, spec_of, tags};
use bootstrap::model::{PipelineSpec, SourceSpec, Spec, Tags, WebhookFilter, WebhookSpec};
use bootstrap::resources::{Ctx, Inputs, codepipeline, webhook};
use bootstrap::secret::Secret;

const HMAC: &str = "hmac-secret-never-shown-42";

async fn observed(ctx: Ctx<'_>, name: &str) -> Option<WebhookSpec> {
    webhook::observe(ctx, name).await.unwrap().map(spec_of)
}

#[tokio::test]
async fn webhook_lifecycle_registers_converges_and_deletes() {
    let fx = Fixture::with_inputs(Inputs {
        github_token: Some(Secret::new("gh-token")),
    })
    .await;
    let (emu, clients, ctx) = (&fx.emu, &fx.clients, fx.ctx());
    let role_arn = create_role(clients, "pipeline-role", "codepipeline.amazonaws.com").await;
    codepipeline::create(
        ctx,
        &PipelineSpec {
            name: "pipeline-dev".into(),
            role_arn,
            pipeline_type: "V1".into(),
            artifact_bucket: "artifacts-123456789012-dev".into(),
            artifact_key: String::new(),
            source: SourceSpec::GithubWebhook {
                owner: "acme".into(),
                repo: "app".into(),
                branch: "main".into(),
            },
            build_project: "build-dev".into(),
            deploy_function: "deploy-handler-dev".into(),
            deploy_user_parameters: "{}".into(),
            stages: Vec::new(),
            tags: Tags::new(),
        },
    )
    .await
    .unwrap();

    let name = "webhook-dev";
    let secret = Secret::new(HMAC);
    let spec = WebhookSpec {
        name: name.into(),
        target_pipeline: "pipeline-dev".into(),
        target_action: "Source".into(),
        filters: vec![WebhookFilter {
            json_path: "$.ref".into(),
            match_equals: "refs/heads/main".into(),
        }],
        authentication: "GITHUB_HMAC".into(),
        secret_name: "pipeline-webhook-secret-dev".into(),
        registered: true,
        tags: tags([("project", "pipeline")]),
    };

    assert_eq!(observed(ctx, name).await, None);
    assert_eq!(webhook::url_of(ctx, name).await.unwrap(), None);
    emu.clear_calls().unwrap();
    webhook::create(ctx, &spec, &secret).await.unwrap();
    assert_eq!(
        operations(emu),
        ["PutWebhook", "RegisterWebhookWithThirdParty"]
    );
    let observation = webhook::observe(ctx, name).await.unwrap().unwrap();
    assert_eq!(observation.spec, Spec::Webhook(spec.clone()));
    assert!(
        !format!("{observation:?}").contains(HMAC),
        "the secret never shows in an observation"
    );
    let url = webhook::url_of(ctx, name).await.unwrap().expect("a url");
    assert!(url.starts_with("https://"), "{url}");

    emu.clear_calls().unwrap();
    webhook::update(ctx, &spec, &observed(ctx, name).await.unwrap(), &secret)
        .await
        .unwrap();
    assert_eq!(operations(emu), Vec::<String>::new());
    webhook::create(ctx, &spec, &secret).await.unwrap();
    assert_eq!(
        webhook::url_of(ctx, name).await.unwrap().as_deref(),
        Some(url.as_str()),
        "putting again keeps the url"
    );

    // Drift: a tag removed; desired: another branch filter.
    clients
        .codepipeline
        .untag_resource()
        .resource_arn(observation.arn.clone().unwrap())
        .tag_keys("project")
        .send()
        .await
        .unwrap();
    let drifted = observed(ctx, name).await.unwrap();
    assert!(drifted.tags.is_empty());
    let mut changed = spec.clone();
    changed.filters = vec![WebhookFilter {
        json_path: "$.ref".into(),
        match_equals: "refs/heads/release".into(),
    }];
    emu.clear_calls().unwrap();
    webhook::update(ctx, &changed, &drifted, &secret)
        .await
        .unwrap();
    assert_eq!(
        operations(emu),
        ["PutWebhook", "RegisterWebhookWithThirdParty", "TagResource"]
    );
    assert_eq!(observed(ctx, name).await.unwrap(), changed);
    assert_eq!(
        webhook::url_of(ctx, name).await.unwrap().as_deref(),
        Some(url.as_str())
    );

    emu.clear_calls().unwrap();
    webhook::delete(ctx, name).await.unwrap();
    assert_eq!(
        operations(emu),
        ["DeregisterWebhookWithThirdParty", "DeleteWebhook"]
    );
    assert_eq!(observed(ctx, name).await, None);
    webhook::delete(ctx, name).await.unwrap();
}
