//! Lambda function and permission modules against the local emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{Fixture, create_role, operations, our_tags, spec_of};
use base64::Engine;
use bootstrap::artifacts::Package;
use bootstrap::model::{FunctionSpec, PermissionSpec, Spec, Tags};
use bootstrap::resources::{Ctx, lambda};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

/// A zip holding one `bootstrap` file, written to `path`; returns Lambda's CodeSha256 of it.
fn write_zip(path: &Path, contents: &[u8]) -> String {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer
        .start_file(
            "bootstrap",
            zip::write::SimpleFileOptions::default().unix_permissions(0o755),
        )
        .unwrap();
    writer.write_all(contents).unwrap();
    let bytes = writer.finish().unwrap().into_inner();
    std::fs::write(path, &bytes).unwrap();
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes))
}

async fn observed_function(ctx: Ctx<'_>, name: &str) -> Option<FunctionSpec> {
    lambda::observe(ctx, name).await.unwrap().map(spec_of)
}

/// What observe reports for `spec`: everything but the zip path, which is not observable.
fn as_observed(spec: &FunctionSpec) -> FunctionSpec {
    FunctionSpec {
        package: Default::default(),
        ..spec.clone()
    }
}

#[tokio::test]
async fn function_lifecycle_and_permissions() {
    let fx = Fixture::start().await;
    let (emu, clients, ctx) = (&fx.emu, &fx.clients, fx.ctx());
    let dir = tempfile::tempdir().unwrap();

    let role_arn = create_role(clients, "fn-role", "lambda.amazonaws.com").await;
    let other_role_arn = create_role(clients, "fn-role-2", "lambda.amazonaws.com").await;
    let zip_path = dir.path().join("bootstrap.zip");
    let sha = write_zip(&zip_path, b"\x7fELF first build");
    let name = "pipeline-dev-deploy-handler";
    let spec = FunctionSpec {
        name: name.into(),
        role_arn: role_arn.clone(),
        runtime: "provided.al2023".into(),
        handler: "bootstrap".into(),
        architecture: "arm64".into(),
        memory_mb: 256,
        timeout_seconds: 60,
        environment: [(
            "TOPIC_ARN".into(),
            "arn:aws:sns:us-east-1:123456789012:t".into(),
        )]
        .into(),
        log_group: "/pipeline/dev/deploy-handler".into(),
        log_format: "JSON".into(),
        code_sha256: sha.clone(),
        package: Package::File(zip_path.clone()),
        on_failure_destination: Some("arn:aws:sns:us-east-1:123456789012:failures".into()),
        max_retry_attempts: Some(1),
        tags: our_tags([("project", "pipeline")]),
    };

    assert_eq!(observed_function(ctx, name).await, None);
    lambda::create(ctx, &spec).await.unwrap();
    let observed = lambda::observe(ctx, name).await.unwrap().unwrap();
    assert_eq!(
        observed.arn.as_deref(),
        Some("arn:aws:lambda:us-east-1:123456789012:function:pipeline-dev-deploy-handler")
    );
    let Spec::Function(read_back) = observed.spec else {
        panic!("not a function")
    };
    assert_eq!(
        read_back.code_sha256, sha,
        "Lambda reports the zip's base64 SHA-256"
    );
    assert_eq!(read_back, as_observed(&spec));

    emu.clear_calls().unwrap();
    lambda::update(ctx, &spec, &read_back).await.unwrap();
    assert_eq!(operations(emu), Vec::<String>::new());

    // Crash recovery: creating again converges instead of failing.
    lambda::create(ctx, &spec).await.unwrap();

    // New code only: UpdateFunctionCode, nothing else.
    let mut new_code = spec.clone();
    new_code.code_sha256 = write_zip(&zip_path, b"\x7fELF second build");
    emu.clear_calls().unwrap();
    lambda::update(ctx, &new_code, &read_back).await.unwrap();
    assert_eq!(operations(emu), ["UpdateFunctionCode"]);
    assert_eq!(
        observed_function(ctx, name).await.unwrap(),
        as_observed(&new_code)
    );

    // Drift: someone changes memory and the log format and removes a tag; we also change role,
    // env, retries, tags.
    clients
        .lambda
        .update_function_configuration()
        .function_name(name)
        .memory_size(1024)
        .logging_config(
            aws_sdk_lambda::types::LoggingConfig::builder()
                .log_format(aws_sdk_lambda::types::LogFormat::Text)
                .build(),
        )
        .send()
        .await
        .unwrap();
    clients
        .lambda
        .untag_resource()
        .resource(observed.arn.clone().unwrap())
        .tag_keys("project")
        .send()
        .await
        .unwrap();
    let drifted = observed_function(ctx, name).await.unwrap();
    assert_eq!(drifted.memory_mb, 1024);
    assert_eq!(drifted.log_format, "Text");
    assert_eq!(drifted.log_group, "/pipeline/dev/deploy-handler");
    assert!(
        !drifted.tags.contains_key("project"),
        "the removed tag reads as gone"
    );
    let mut changed = new_code.clone();
    changed.role_arn = other_role_arn;
    changed
        .environment
        .insert("LOG_LEVEL".into(), "debug".into());
    changed.max_retry_attempts = Some(0);
    changed.on_failure_destination = None;
    emu.clear_calls().unwrap();
    lambda::update(ctx, &changed, &drifted).await.unwrap();
    let ops = operations(emu);
    assert_eq!(
        ops,
        [
            "UpdateFunctionConfiguration",
            "PutFunctionEventInvokeConfig",
            "TagResource"
        ]
    );
    assert_eq!(
        observed_function(ctx, name).await.unwrap(),
        as_observed(&changed)
    );

    // Permissions: create, observe, no-op, change (replace), delete.
    let permission = PermissionSpec {
        function_name: name.into(),
        statement_id: "codepipeline-invoke".into(),
        principal: "codepipeline.amazonaws.com".into(),
        source_arn: "arn:aws:codepipeline:us-east-1:123456789012:pipeline-dev".into(),
        source_account: "123456789012".into(),
    };
    let permission_name = format!("{name}/codepipeline-invoke");
    assert_eq!(
        lambda::observe_permission(ctx, &permission_name)
            .await
            .unwrap(),
        None
    );
    lambda::create_permission(ctx, &permission).await.unwrap();
    let observed = lambda::observe_permission(ctx, &permission_name)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(observed.spec, Spec::Permission(permission.clone()));
    emu.clear_calls().unwrap();
    lambda::update_permission(ctx, &permission, &permission)
        .await
        .unwrap();
    assert_eq!(operations(emu), Vec::<String>::new());
    // moto accepts a duplicate statement id where AWS answers ResourceConflictException, so the
    // create-again path (remove, then add) cannot be exercised against the emulator.
    let mut changed_permission = permission.clone();
    changed_permission.source_arn =
        "arn:aws:codepipeline:us-east-1:123456789012:pipeline-prod".into();
    lambda::update_permission(ctx, &changed_permission, &permission)
        .await
        .unwrap();
    let observed = lambda::observe_permission(ctx, &permission_name)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(observed.spec, Spec::Permission(changed_permission));
    lambda::delete_permission(ctx, &permission_name)
        .await
        .unwrap();
    assert_eq!(
        lambda::observe_permission(ctx, &permission_name)
            .await
            .unwrap(),
        None
    );
    lambda::delete_permission(ctx, &permission_name)
        .await
        .unwrap();

    lambda::delete(ctx, name).await.unwrap();
    assert_eq!(observed_function(ctx, name).await, None);
    lambda::delete(ctx, name).await.unwrap();
    // A permission of a function that is gone is simply absent.
    assert_eq!(
        lambda::observe_permission(ctx, &permission_name)
            .await
            .unwrap(),
        None
    );
    lambda::delete_permission(ctx, &permission_name)
        .await
        .unwrap();
}

#[tokio::test]
async fn create_waits_out_iam_propagation_and_names_a_missing_zip() {
    let fx = Fixture::start().await;
    let (emu, clients, ctx) = (&fx.emu, &fx.clients, fx.ctx());
    let dir = tempfile::tempdir().unwrap();
    emu.set_faults(serde_json::json!({"iam_propagation_seconds": 1.5}))
        .unwrap();
    let role_arn = create_role(clients, "fresh-role", "lambda.amazonaws.com").await;
    let zip_path = dir.path().join("bootstrap.zip");
    let sha = write_zip(&zip_path, b"binary");
    let spec = FunctionSpec {
        name: "fresh".into(),
        role_arn,
        runtime: "provided.al2023".into(),
        handler: "bootstrap".into(),
        architecture: "x86_64".into(),
        memory_mb: 128,
        timeout_seconds: 3,
        environment: Default::default(),
        log_group: "/aws/lambda/fresh".into(),
        log_format: "JSON".into(),
        code_sha256: sha,
        package: Package::File(zip_path),
        on_failure_destination: None,
        max_retry_attempts: None,
        tags: Tags::new(),
    };
    lambda::create(ctx, &spec).await.unwrap();
    let faults = emu.faults().unwrap();
    assert!(
        faults["propagation_rejections"].as_u64().unwrap() >= 1,
        "the create was rejected at least once: {faults}"
    );
    assert!(observed_function(ctx, "fresh").await.is_some());

    let mut missing = spec.clone();
    missing.name = "other".into();
    missing.package = Package::File(dir.path().join("absent.zip"));
    let err = format!("{:#}", lambda::create(ctx, &missing).await.unwrap_err());
    assert!(
        err.contains("absent.zip") && err.contains("cargo xtask dist"),
        "{err}"
    );
}
