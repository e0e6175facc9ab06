//! The S3 bucket module against the local emulator: create, observe, converge drift, empty and delete.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{Fixture, assert_no_op_update, spec_of, tags};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use bootstrap::model::{BucketSpec, Spec};
use bootstrap::resources::{Ctx, s3};
use futures::{StreamExt, TryStreamExt};
use serde_json::json;

fn artifact_bucket(name: &str) -> BucketSpec {
    BucketSpec {
        name: name.into(),
        versioning: true,
        sse_algorithm: "AES256".into(),
        kms_key_id: None,
        expire_days: 30,
        noncurrent_expire_days: 7,
        abort_multipart_days: 1,
        block_public_access: true,
        object_ownership: "BucketOwnerEnforced".into(),
        policy: json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [format!("arn:aws:s3:::{name}"), format!("arn:aws:s3:::{name}/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}
            }]
        }),
        tags: tags([
            ("pipeline:env", "dev"),
            ("pipeline:managed-by", "bootstrap"),
        ]),
    }
}

async fn observed_bucket(ctx: Ctx<'_>, name: &str) -> BucketSpec {
    spec_of(
        s3::observe(ctx, name)
            .await
            .expect("observe works")
            .expect("bucket exists"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_lifecycle_create_converge_delete() {
    let fx = Fixture::start().await;
    let ctx = fx.ctx();
    let name = "artifacts-123456789012-dev";
    assert!(
        s3::observe(ctx, name).await.unwrap().is_none(),
        "absent bucket observes as None"
    );

    let desired = artifact_bucket(name);
    s3::create(ctx, &desired).await.unwrap();
    let observed = s3::observe(ctx, name)
        .await
        .unwrap()
        .expect("created bucket is observed");
    assert_eq!(observed.spec, Spec::Bucket(desired.clone()));
    assert_eq!(observed.tags, desired.tags);
    assert_eq!(
        observed.arn.as_deref(),
        Some("arn:aws:s3:::artifacts-123456789012-dev")
    );

    // Nothing changed: not one mutating call.
    let Spec::Bucket(observed_spec) = observed.spec else {
        unreachable!()
    };
    assert_no_op_update::<s3::BucketResource>(&fx.emu, ctx, &desired, &observed_spec).await;

    // Creating again (a crash after create) adopts the bucket instead of failing.
    s3::create(ctx, &desired).await.unwrap();
    assert_eq!(observed_bucket(ctx, name).await, desired);

    // Drift made behind the bootstrap's back shows up field by field.
    let raw = &fx.clients.s3;
    raw.put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap();
    raw.delete_bucket_lifecycle()
        .bucket(name)
        .send()
        .await
        .unwrap();
    raw.delete_public_access_block()
        .bucket(name)
        .send()
        .await
        .unwrap();
    raw.delete_bucket_policy()
        .bucket(name)
        .send()
        .await
        .unwrap();
    raw.delete_bucket_tagging()
        .bucket(name)
        .send()
        .await
        .unwrap();
    let drifted = observed_bucket(ctx, name).await;
    assert!(!drifted.versioning, "suspended versioning reads as off");
    assert_eq!(
        (
            drifted.expire_days,
            drifted.noncurrent_expire_days,
            drifted.abort_multipart_days
        ),
        (0, 0, 0)
    );
    assert!(!drifted.block_public_access);
    assert_eq!(drifted.policy, serde_json::Value::Null);
    assert!(drifted.tags.is_empty());
    assert_eq!(
        drifted.sse_algorithm, "AES256",
        "untouched settings still read back"
    );
    assert_eq!(drifted.object_ownership, "BucketOwnerEnforced");

    // Desired changes on top of the drift: longer expiry, another tag, a second statement.
    let mut changed = desired.clone();
    changed.expire_days = 90;
    changed.abort_multipart_days = 0;
    changed.tags.insert("team".into(), "platform".into());
    changed.policy["Statement"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "Sid": "DenyUnencryptedUploads",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": format!("arn:aws:s3:::{name}/*"),
            "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}
        }));
    fx.emu.clear_calls().unwrap();
    s3::update(ctx, &changed, &drifted).await.unwrap();
    let mut operations = crate::support::operations(&fx.emu);
    operations.sort();
    assert_eq!(
        operations,
        [
            "PutBucketLifecycleConfiguration",
            "PutBucketPolicy",
            "PutBucketTagging",
            "PutBucketVersioning",
            "PutPublicAccessBlock"
        ],
        "only the differing settings are written"
    );
    assert_eq!(observed_bucket(ctx, name).await, changed);

    s3::delete(ctx, name).await.unwrap();
    assert!(
        s3::observe(ctx, name).await.unwrap().is_none(),
        "deleted bucket observes as None"
    );
    s3::delete(ctx, name)
        .await
        .expect("deleting an absent bucket succeeds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_encryption_reads_back_with_its_key() {
    let fx = Fixture::start().await;
    let ctx = fx.ctx();
    let name = "artifacts-kms";
    let mut desired = artifact_bucket(name);
    desired.sse_algorithm = "aws:kms".into();
    desired.kms_key_id =
        Some("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab".into());
    s3::create(ctx, &desired).await.unwrap();
    assert_eq!(observed_bucket(ctx, name).await, desired);

    let sse = fx
        .clients
        .s3
        .get_bucket_encryption()
        .bucket(name)
        .send()
        .await
        .unwrap();
    let rule = &sse.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.bucket_key_enabled(),
        Some(true),
        "KMS encryption uses a bucket key"
    );

    let mut back_to_s3 = desired.clone();
    back_to_s3.sse_algorithm = "AES256".into();
    back_to_s3.kms_key_id = None;
    s3::update(ctx, &back_to_s3, &desired).await.unwrap();
    assert_eq!(observed_bucket(ctx, name).await, back_to_s3);
    s3::delete(ctx, name).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_empties_every_version_and_delete_marker() {
    let fx = Fixture::start().await;
    let ctx = fx.ctx();
    let name = "artifacts-full";
    s3::create(ctx, &artifact_bucket(name)).await.unwrap();

    // 350 keys written twice, then a delete marker on each: 1050 entries, more than one
    // ListObjectVersions page (1000) and more than one DeleteObjects batch.
    let raw = &fx.clients.s3;
    let keys: Vec<String> = (0..350)
        .map(|i| format!("builds/{i:04}/imagedefinitions.json"))
        .collect();
    for round in 0..2 {
        futures::stream::iter(keys.iter())
            .map(|key| async move {
                raw.put_object()
                    .bucket(name)
                    .key(key)
                    .body(ByteStream::from(format!("round {round}").into_bytes()))
                    .send()
                    .await
            })
            .buffer_unordered(8)
            .try_collect::<Vec<_>>()
            .await
            .unwrap();
    }
    futures::stream::iter(keys.iter())
        .map(|key| async move { raw.delete_object().bucket(name).key(key).send().await })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    let first_page = raw
        .list_object_versions()
        .bucket(name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        first_page.is_truncated(),
        Some(true),
        "the bucket holds more than one page of versions"
    );

    fx.emu.clear_calls().unwrap();
    s3::delete(ctx, name).await.unwrap();
    let calls = fx.emu.calls().unwrap();
    let count = |op: &str| calls.iter().filter(|c| c.operation == op).count();
    assert!(
        count("ListObjectVersions") >= 2,
        "paginated listing: {calls:?}"
    );
    assert!(
        count("DeleteObjects") >= 2,
        "batches of at most 1000: {calls:?}"
    );
    assert_eq!(count("DeleteBucket"), 1);
    assert!(s3::observe(ctx, name).await.unwrap().is_none());
}
