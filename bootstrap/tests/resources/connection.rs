//! The CodeStar connection module against the local emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{Fixture, assert_no_op_update, tags};
use bootstrap::model::{ConnectionSpec, Spec};
use bootstrap::resources::connection;

fn github_connection(name: &str) -> ConnectionSpec {
    ConnectionSpec {
        name: name.into(),
        provider_type: "GitHub".into(),
        tags: tags([("pipeline:env", "dev")]),
        duplicates: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_create_converge_delete() {
    let fx = Fixture::start().await;
    let (emu, clients, ctx) = (&fx.emu, &fx.clients, fx.ctx());
    let name = "pipeline-dev-github";

    assert!(connection::observe(ctx, name).await.unwrap().is_none());
    assert_eq!(connection::arn_of(ctx, name).await.unwrap(), None);
    // Another connection in the account must not be mistaken for ours.
    connection::create(ctx, &github_connection("someone-elses"))
        .await
        .unwrap();

    let desired = github_connection(name);
    connection::create(ctx, &desired).await.unwrap();
    let observed = connection::observe(ctx, name).await.unwrap().unwrap();
    assert_eq!(observed.spec, Spec::Connection(desired.clone()));
    assert_eq!(observed.tags, desired.tags);
    assert_eq!(
        observed.status.as_deref(),
        Some("PENDING"),
        "a connection made by API waits for the handshake"
    );
    let arn = observed.arn.clone().unwrap();
    assert!(
        arn.starts_with("arn:aws:codestar-connections:us-east-1:123456789012:connection/"),
        "{arn}"
    );
    assert_eq!(
        connection::arn_of(ctx, name).await.unwrap().as_deref(),
        Some(arn.as_str())
    );

    assert_no_op_update::<connection::ConnectionResource>(emu, ctx, &desired, &desired).await;

    // Creating again (crash recovery) adopts the connection instead of making a second one.
    connection::create(ctx, &desired).await.unwrap();
    assert_eq!(
        connection::arn_of(ctx, name).await.unwrap().as_deref(),
        Some(arn.as_str())
    );
    let listed = clients.connections.list_connections().send().await.unwrap();
    assert_eq!(
        listed
            .connections()
            .iter()
            .filter(|c| c.connection_name() == Some(name))
            .count(),
        1
    );

    // The console handshake shows as status.
    emu.set_connection_status(&arn, "AVAILABLE").unwrap();
    assert_eq!(
        connection::observe(ctx, name)
            .await
            .unwrap()
            .unwrap()
            .status
            .as_deref(),
        Some("AVAILABLE")
    );

    // Tags drift and change.
    clients
        .connections
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys("pipeline:env")
        .send()
        .await
        .unwrap();
    let Spec::Connection(drifted) = connection::observe(ctx, name).await.unwrap().unwrap().spec
    else {
        unreachable!()
    };
    assert!(drifted.tags.is_empty(), "a removed tag shows");
    let mut changed = desired.clone();
    changed.tags.insert("team".into(), "platform".into());
    connection::update(ctx, &changed, &drifted).await.unwrap();
    assert_eq!(
        connection::observe(ctx, name).await.unwrap().unwrap().spec,
        Spec::Connection(changed)
    );

    connection::delete(ctx, name).await.unwrap();
    assert!(connection::observe(ctx, name).await.unwrap().is_none());
    connection::delete(ctx, name)
        .await
        .expect("deleting an absent connection succeeds");
    assert!(
        connection::arn_of(ctx, "someone-elses")
            .await
            .unwrap()
            .is_some(),
        "the other connection stays"
    );
}
