//! The ECR repository module against the local emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{Fixture, assert_no_op_update, our_tags, spec_of};
use bootstrap::model::RepositorySpec;
use bootstrap::resources::ecr;
use serde_json::json;

fn image_repository(name: &str) -> RepositorySpec {
    RepositorySpec {
        name: name.into(),
        tag_immutable: true,
        scan_on_push: true,
        encryption_type: "AES256".into(),
        kms_key: None,
        lifecycle_policy: json!({"rules": [{
            "rulePriority": 1,
            "description": "keep the last 20 images",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 20},
            "action": {"type": "expire"}
        }]}),
        repository_policy: json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "LambdaPull",
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
            }]
        }),
        tags: our_tags([("pipeline:env", "dev")]),
    }
}

fn observed_spec(observed: Option<bootstrap::model::Observed>) -> RepositorySpec {
    spec_of(observed.expect("repository exists"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repository_create_converge_delete() {
    let fx = Fixture::start().await;
    let (emu, clients, ctx) = (&fx.emu, &fx.clients, fx.ctx());
    let name = "pipeline-dev-app";

    assert!(ecr::observe(ctx, name).await.unwrap().is_none());
    let desired = image_repository(name);
    ecr::create(ctx, &desired).await.unwrap();
    let observed = ecr::observe(ctx, name).await.unwrap().unwrap();
    assert_eq!(
        observed.arn.as_deref(),
        Some("arn:aws:ecr:us-east-1:123456789012:repository/pipeline-dev-app")
    );
    assert_eq!(observed.tags, desired.tags);
    let observed = observed_spec(Some(observed));
    assert_eq!(observed, desired);

    assert_no_op_update::<ecr::RepositoryResource>(emu, ctx, &desired, &observed).await;

    // A crash after CreateRepository: creating again adopts the repository.
    ecr::create(ctx, &desired).await.unwrap();
    assert_eq!(
        observed_spec(ecr::observe(ctx, name).await.unwrap()),
        desired
    );

    // Drift behind the bootstrap's back.
    let raw = &clients.ecr;
    raw.put_image_tag_mutability()
        .repository_name(name)
        .image_tag_mutability(aws_sdk_ecr::types::ImageTagMutability::Mutable)
        .send()
        .await
        .unwrap();
    raw.delete_repository_policy()
        .repository_name(name)
        .send()
        .await
        .unwrap();
    let drifted = observed_spec(ecr::observe(ctx, name).await.unwrap());
    assert!(!drifted.tag_immutable, "mutability drift shows");
    assert_eq!(
        drifted.repository_policy,
        serde_json::Value::Null,
        "a removed policy reads as Null"
    );

    let mut changed = desired.clone();
    changed.scan_on_push = false;
    changed.lifecycle_policy["rules"][0]["selection"]["countNumber"] = json!(5);
    changed.tags.remove("pipeline:env");
    changed.tags.insert("team".into(), "platform".into());
    emu.clear_calls().unwrap();
    ecr::update(ctx, &changed, &drifted).await.unwrap();
    let mut operations: Vec<String> = emu
        .mutating_calls()
        .unwrap()
        .into_iter()
        .map(|c| c.operation)
        .collect();
    operations.sort();
    assert_eq!(
        operations,
        [
            "PutImageScanningConfiguration",
            "PutImageTagMutability",
            "PutLifecyclePolicy",
            "SetRepositoryPolicy",
            "TagResource",
            "UntagResource"
        ]
    );
    assert_eq!(
        observed_spec(ecr::observe(ctx, name).await.unwrap()),
        changed
    );

    // Encryption cannot change in place: the error says how to recreate.
    let mut kms = changed.clone();
    kms.encryption_type = "KMS".into();
    let err = ecr::update(ctx, &kms, &changed)
        .await
        .expect_err("encryption change is refused");
    let text = format!("{err:#}");
    assert!(
        text.contains("cannot change") && text.contains("delete-repository"),
        "{text}"
    );

    // Images go with the repository.
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
                   "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654,
                    "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"}]
    });
    for tag in ["v1", "v2"] {
        let mut m = manifest.clone();
        m["config"]["size"] = json!(if tag == "v1" { 7023 } else { 7024 });
        raw.put_image()
            .repository_name(name)
            .image_tag(tag)
            .image_manifest(m.to_string())
            .send()
            .await
            .unwrap();
    }
    let images = raw
        .list_images()
        .repository_name(name)
        .send()
        .await
        .unwrap();
    assert_eq!(images.image_ids().len(), 2);

    ecr::delete(ctx, name).await.unwrap();
    assert!(ecr::observe(ctx, name).await.unwrap().is_none());
    ecr::delete(ctx, name)
        .await
        .expect("deleting an absent repository succeeds");
}
