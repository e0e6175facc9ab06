//! The Secrets Manager module against the local emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{Fixture, assert_no_op_update, spec_of, tags};
use bootstrap::model::SecretSpec;
use bootstrap::resources::secrets;

fn webhook_secret(name: &str) -> SecretSpec {
    SecretSpec {
        name: name.into(),
        description: "HMAC secret of the GitHub webhook".into(),
        tags: tags([("pipeline:env", "dev")]),
    }
}

fn observed_spec(observed: Option<bootstrap::model::Observed>) -> SecretSpec {
    spec_of(observed.expect("secret exists"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_create_converge_restore_delete() {
    let fx = Fixture::start().await;
    let (emu, clients, ctx) = (&fx.emu, &fx.clients, fx.ctx());
    let name = "pipeline-dev/webhook-secret";

    assert!(secrets::observe(ctx, name).await.unwrap().is_none());
    assert!(
        secrets::read_value(ctx, name).await.is_err(),
        "no value before create"
    );
    let desired = webhook_secret(name);
    secrets::create(ctx, &desired).await.unwrap();
    let observed = secrets::observe(ctx, name).await.unwrap().unwrap();
    assert!(observed.arn.as_deref().is_some_and(|a| a.starts_with("arn:aws:secretsmanager:us-east-1:123456789012:secret:")));
    assert_eq!(observed.tags, desired.tags);
    let observed = observed_spec(Some(observed));
    assert_eq!(observed, desired);

    let value = secrets::read_value(ctx, name).await.unwrap();
    assert_eq!(value.expose().len(), 64);
    assert!(value.expose().chars().all(|c| c.is_ascii_hexdigit()));

    assert_no_op_update::<secrets::SecretResource>(emu, ctx, &desired, &observed).await;

    // Creating again (crash recovery) keeps the value.
    secrets::create(ctx, &desired).await.unwrap();
    assert_eq!(secrets::read_value(ctx, name).await.unwrap(), value);

    // Drift and desired changes: description and tags converge, the value stays.
    clients
        .secrets
        .untag_resource()
        .secret_id(name)
        .tag_keys("pipeline:env")
        .send()
        .await
        .unwrap();
    let drifted = observed_spec(secrets::observe(ctx, name).await.unwrap());
    assert!(drifted.tags.is_empty(), "a removed tag shows");
    let mut changed = desired.clone();
    changed.description = "HMAC secret of the GitHub webhook (never rotated)".into();
    changed.tags.insert("team".into(), "platform".into());
    emu.clear_calls().unwrap();
    secrets::update(ctx, &changed, &drifted).await.unwrap();
    let operations: Vec<String> = emu
        .mutating_calls()
        .unwrap()
        .into_iter()
        .map(|c| c.operation)
        .collect();
    assert!(
        !operations.iter().any(|op| op == "PutSecretValue"),
        "the value is never rewritten: {operations:?}"
    );
    assert_eq!(
        observed_spec(secrets::observe(ctx, name).await.unwrap()),
        changed
    );
    assert_eq!(secrets::read_value(ctx, name).await.unwrap(), value);

    // Scheduled for deletion (a destroy with a recovery window): absent, and create restores it.
    clients
        .secrets
        .delete_secret()
        .secret_id(name)
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert!(
        secrets::observe(ctx, name).await.unwrap().is_none(),
        "a secret scheduled for deletion reads as absent"
    );
    secrets::create(ctx, &changed).await.unwrap();
    assert_eq!(
        observed_spec(secrets::observe(ctx, name).await.unwrap()),
        changed
    );
    assert_eq!(
        secrets::read_value(ctx, name).await.unwrap(),
        value,
        "the restored secret keeps its value"
    );

    secrets::delete(ctx, name).await.unwrap();
    assert!(secrets::observe(ctx, name).await.unwrap().is_none());
    secrets::delete(ctx, name)
        .await
        .expect("deleting an absent secret succeeds");
    // Removed without a trace: the name can be reused at once, with a new value.
    secrets::create(ctx, &desired).await.unwrap();
    assert_ne!(secrets::read_value(ctx, name).await.unwrap(), value);
}
