//! S3 buckets (the pipeline's artifact store): private, versioned, encrypted, expiring.
//!
//! Every bucket setting lives behind its own Get/Put/Delete call; observing reads each one back
//! into the [`BucketSpec`] field it stands for, with an unset setting read as its "off" value
//! (`false`, `""`, `0`, `Null`) so that a removed setting shows up as a differing field. Reads
//! go out together, as do writes (`s3/settings.rs`).

mod settings;

use super::Ctx;
use super::errors::{self, not_found};
use super::tags::model_tags;
use crate::model::{BucketSpec, Observed, Tags};
use crate::policies::deployer::Scope;
use crate::policies::statement;
use anyhow::{Context, Result, bail};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLocationConstraint, BucketVersioningStatus,
    CreateBucketConfiguration, Delete, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration, ObjectIdentifier,
};
use aws_smithy_runtime_api::http::Response as HttpResponse;
use serde_json::Value;
use settings::{Setting, write_all};

super::resource!(
    /// The S3 artifact bucket (its policy names roles).
    BucketResource: Bucket(BucketSpec), depends on [Role]
);

errors::variants! { NotFound: aws_sdk_s3::operation::head_bucket::HeadBucketError => is_not_found }

/// The id of the one lifecycle rule the bootstrap manages.
pub const LIFECYCLE_RULE_ID: &str = "expire-old-artifacts";

/// DeleteObjects accepts at most this many keys per request.
const DELETE_BATCH: usize = 1000;

/// The lifecycle settings a [`BucketSpec`] carries; `0` means "not set".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LifecycleDays {
    pub expire_days: i32,
    pub noncurrent_expire_days: i32,
    pub abort_multipart_days: i32,
}

impl LifecycleDays {
    pub fn of(spec: &BucketSpec) -> Self {
        Self {
            expire_days: spec.expire_days,
            noncurrent_expire_days: spec.noncurrent_expire_days,
            abort_multipart_days: spec.abort_multipart_days,
        }
    }

    fn is_off(self) -> bool {
        self == Self::default()
    }
}

/// The bootstrap's lifecycle rule for these settings; `None` when every setting is off.
pub fn lifecycle_rule(days: LifecycleDays) -> Result<Option<LifecycleRule>> {
    if days.is_off() {
        return Ok(None);
    }
    let positive = |d: i32| (d > 0).then_some(d);
    let rule = LifecycleRule::builder()
        .id(LIFECYCLE_RULE_ID)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .set_expiration(
            positive(days.expire_days).map(|d| LifecycleExpiration::builder().days(d).build()),
        )
        .set_noncurrent_version_expiration(positive(days.noncurrent_expire_days).map(|d| {
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(d)
                .build()
        }))
        .set_abort_incomplete_multipart_upload(positive(days.abort_multipart_days).map(|d| {
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(d)
                .build()
        }))
        .build()
        .context("building the lifecycle rule")?;
    Ok(Some(rule))
}

/// Reads the bootstrap's rule back out of a bucket's lifecycle rules. Only the enabled rule with
/// [`LIFECYCLE_RULE_ID`] applying to the whole bucket counts; anything else (a disabled rule, a
/// narrowed filter, a missing rule) reads as "off", so a plan rewrites the configuration.
pub fn lifecycle_days(rules: &[LifecycleRule]) -> LifecycleDays {
    let ours = rules.iter().find(|rule| {
        let whole_bucket = rule.filter().is_none_or(|f| {
            f.prefix().unwrap_or_default().is_empty() && f.tag().is_none() && f.and().is_none()
        }) && legacy_prefix(rule).is_empty();
        rule.id() == Some(LIFECYCLE_RULE_ID)
            && *rule.status() == ExpirationStatus::Enabled
            && whole_bucket
    });
    let Some(rule) = ours else {
        return LifecycleDays::default();
    };
    LifecycleDays {
        expire_days: rule.expiration().and_then(|e| e.days()).unwrap_or(0),
        noncurrent_expire_days: rule
            .noncurrent_version_expiration()
            .and_then(|e| e.noncurrent_days())
            .unwrap_or(0),
        abort_multipart_days: rule
            .abort_incomplete_multipart_upload()
            .and_then(|a| a.days_after_initiation())
            .unwrap_or(0),
    }
}

/// Rules written before `Filter` existed carry a top-level `Prefix`, which S3 still honours.
#[allow(deprecated)]
fn legacy_prefix(rule: &LifecycleRule) -> &str {
    rule.prefix().unwrap_or_default()
}

/// `Ok(None)` when S3 answers with `code`, which means "this setting is not configured".
/// S3 models no error type for these (NoSuchTagSet, NoSuchBucketPolicy, ...), so the code is
/// the only thing to match.
fn unless_unset<T, E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    result: Result<T, SdkError<E, HttpResponse>>,
    code: &str,
) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(err) if err.as_service_error().and_then(|e| e.code()) == Some(code) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// Reads every setting in one round of calls. There is no HeadBucket first: GetBucketVersioning
/// answers for every existing bucket (unset reads as no status), so its `NoSuchBucket` is the
/// "absent" answer and the other reads' answers are then ignored.
pub async fn observe(ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
    let s3 = &ctx.clients.s3;
    let (versioning, tagging, encryption, lifecycle, block, ownership, policy) = futures::join!(
        s3.get_bucket_versioning().bucket(name).send(),
        s3.get_bucket_tagging().bucket(name).send(),
        s3.get_bucket_encryption().bucket(name).send(),
        s3.get_bucket_lifecycle_configuration().bucket(name).send(),
        s3.get_public_access_block().bucket(name).send(),
        s3.get_bucket_ownership_controls().bucket(name).send(),
        s3.get_bucket_policy().bucket(name).send(),
    );
    let versioning = match versioning {
        Ok(versioning) => versioning,
        // GetBucketVersioning models no error type; NoSuchBucket is S3's code for "absent".
        Err(err) if err.as_service_error().and_then(|e| e.code()) == Some("NoSuchBucket") => {
            return Ok(None);
        }
        Err(err) => {
            return Err(anyhow::Error::new(err).context(format!(
                "checking bucket {name}: if it belongs to another account (bucket names are global), \
                 choose another environment name"
            )));
        }
    };

    let tags: Tags = unless_unset(tagging, "NoSuchTagSet")
        .context("reading the bucket's tags")?
        .map(|out| model_tags(out.tag_set()))
        .unwrap_or_default();
    // CreateBucket cannot carry tags: an untagged, empty bucket with our exact name (which
    // includes our account id) is what a crash between CreateBucket and PutBucketTagging leaves.
    let crash_leftover = tags.is_empty() && is_empty(ctx, name).await?;

    let encryption = unless_unset(encryption, "ServerSideEncryptionConfigurationNotFoundError")
        .context("reading default encryption")?;
    let default_encryption = encryption
        .as_ref()
        .and_then(|out| out.server_side_encryption_configuration())
        .and_then(|c| c.rules().first())
        .and_then(|r| r.apply_server_side_encryption_by_default());

    let lifecycle = unless_unset(lifecycle, "NoSuchLifecycleConfiguration")
        .context("reading the lifecycle configuration")?;
    let days = lifecycle_days(lifecycle.as_ref().map(|l| l.rules()).unwrap_or_default());

    let block = unless_unset(block, "NoSuchPublicAccessBlockConfiguration")
        .context("reading the public access block")?;
    let block_public_access = block
        .as_ref()
        .and_then(|b| b.public_access_block_configuration())
        .is_some_and(|c| {
            c.block_public_acls() == Some(true)
                && c.ignore_public_acls() == Some(true)
                && c.block_public_policy() == Some(true)
                && c.restrict_public_buckets() == Some(true)
        });

    let ownership = unless_unset(ownership, "OwnershipControlsNotFoundError")
        .context("reading object ownership")?;
    let object_ownership = ownership
        .as_ref()
        .and_then(|o| o.ownership_controls())
        .and_then(|c| c.rules().first())
        .map(|r| r.object_ownership().as_str().to_owned())
        .unwrap_or_default();

    let policy = unless_unset(policy, "NoSuchBucketPolicy")
        .context("reading the bucket policy")?
        .and_then(|out| out.policy().map(str::to_owned))
        .map(|text| serde_json::from_str(&text).context("the bucket policy is not JSON"))
        .transpose()?
        .unwrap_or(Value::Null);

    let spec = BucketSpec {
        name: name.to_owned(),
        versioning: versioning.status() == Some(&BucketVersioningStatus::Enabled),
        sse_algorithm: default_encryption
            .map(|d| d.sse_algorithm().as_str().to_owned())
            .unwrap_or_default(),
        kms_key_id: default_encryption
            .and_then(|d| d.kms_master_key_id())
            .map(str::to_owned),
        expire_days: days.expire_days,
        noncurrent_expire_days: days.noncurrent_expire_days,
        abort_multipart_days: days.abort_multipart_days,
        block_public_access,
        object_ownership,
        policy,
        tags: tags.clone(),
    };
    let arn = format!("arn:{}:s3:::{name}", ctx.target.partition());
    Ok(Some(Observed {
        crash_leftover,
        ..Observed::of(spec, Some(arn))
    }))
}

async fn is_empty(ctx: Ctx<'_>, name: &str) -> Result<bool> {
    let page = ctx
        .clients
        .s3
        .list_object_versions()
        .bucket(name)
        .max_keys(1)
        .send()
        .await?;
    Ok(page.versions().is_empty() && page.delete_markers().is_empty())
}

/// CreateBucket, then every setting at once (see [`write_all`]). A crash in between leaves an
/// empty bucket, untagged or not: `observe` recognises both as ours.
pub async fn create(ctx: Ctx<'_>, spec: &BucketSpec) -> Result<()> {
    let s3 = &ctx.clients.s3;
    let mut request = s3.create_bucket().bucket(&spec.name);
    // us-east-1 is the one region that rejects an explicit location constraint.
    if ctx.target.region != "us-east-1" {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(ctx.target.region.as_str()))
                .build(),
        );
    }
    // The settings are written only once CreateBucket has answered: each names the bucket.
    match request.send().await {
        Ok(_) => {}
        // Ours already (a crash after create): converge it below.
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_bucket_already_owned_by_you()) => {}
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_bucket_already_exists()) =>
        {
            bail!(
                "the bucket name {} is taken by another AWS account (bucket names are global): \
                 choose another environment name",
                spec.name
            );
        }
        Err(err) => return Err(err.into()),
    }
    write_all(ctx, spec, Setting::ALL).await
}

pub async fn update(ctx: Ctx<'_>, desired: &BucketSpec, observed: &BucketSpec) -> Result<()> {
    let differing = Setting::ALL
        .into_iter()
        .filter(|setting| setting.differs(desired, observed));
    write_all(ctx, desired, differing).await
}

/// Empties the bucket (every object version and delete marker), then deletes it.
pub async fn delete(ctx: Ctx<'_>, name: &str) -> Result<()> {
    let s3 = &ctx.clients.s3;
    match s3.head_bucket().bucket(name).send().await {
        Ok(_) => {}
        Err(err) if not_found(&err) => return Ok(()),
        Err(err) => return Err(anyhow::Error::new(err).context(format!("checking bucket {name}"))),
    }
    empty_bucket(ctx, name).await?;
    match s3.delete_bucket().bucket(name).send().await {
        Ok(_) => Ok(()),
        // DeleteBucket models no error type; NoSuchBucket means someone else finished the job.
        Err(err) if err.as_service_error().and_then(|e| e.code()) == Some("NoSuchBucket") => Ok(()),
        Err(err) => Err(anyhow::Error::new(err).context(format!(
            "deleting bucket {name} after emptying it: if objects were written meanwhile, run the command again"
        ))),
    }
}

/// Lists and deletes a page of versions at a time. Each round lists from the start again instead
/// of following `NextKeyMarker`: everything listed before is gone by then, so the first page is
/// always the next one, and a marker naming a just-deleted version is never needed (moto loses
/// its place on one).
async fn empty_bucket(ctx: Ctx<'_>, name: &str) -> Result<()> {
    let s3 = &ctx.clients.s3;
    loop {
        let page = s3
            .list_object_versions()
            .bucket(name)
            .send()
            .await
            .with_context(|| format!("listing the object versions in {name}"))?;
        let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = page
            .delete_markers()
            .iter()
            .map(|m| (m.key(), m.version_id()));
        let identifiers = versions
            .chain(markers)
            .filter_map(|(key, version)| key.map(|k| (k, version)))
            .map(|(key, version)| {
                ObjectIdentifier::builder()
                    .key(key)
                    .set_version_id(version.map(str::to_owned))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .context("building the list of objects to delete")?;
        if identifiers.is_empty() {
            return Ok(());
        }
        // delete_batch fails on any key it could not delete, so every round shrinks the bucket.
        for batch in identifiers.chunks(DELETE_BATCH) {
            delete_batch(ctx, name, batch).await?;
        }
    }
}

async fn delete_batch(ctx: Ctx<'_>, name: &str, batch: &[ObjectIdentifier]) -> Result<()> {
    let request = Delete::builder()
        .set_objects(Some(batch.to_vec()))
        .quiet(true)
        .build()
        .context("building DeleteObjects")?;
    let answer = ctx
        .clients
        .s3
        .delete_objects()
        .bucket(name)
        .delete(request)
        .send()
        .await
        .with_context(|| format!("deleting {} object versions from {name}", batch.len()))?;
    // DeleteObjects succeeds as a whole even when single keys fail; those come back in `errors`.
    if let Some(first) = answer.errors().first() {
        bail!(
            "deleting objects from {name}: {} of {} failed, first {} (version {}): {} {}; \
             check that the bucket policy lets you delete object versions, then run the command again",
            answer.errors().len(),
            batch.len(),
            first.key().unwrap_or("?"),
            first.version_id().unwrap_or("null"),
            first.code().unwrap_or("?"),
            first.message().unwrap_or(""),
        );
    }
    Ok(())
}

/// What the deployer needs for the artifact bucket, and to empty it before deleting it.
pub fn deployer_grants(scope: &Scope<'_>) -> Vec<Value> {
    let target = scope.target;
    let bucket = format!(
        "arn:{}:s3:::{}",
        target.partition(),
        scope.env.names().artifact_bucket(&target.account_id)
    );
    vec![
        statement(
            "ArtifactBucket",
            &[
                "s3:CreateBucket",
                "s3:DeleteBucket",
                "s3:GetBucketOwnershipControls",
                "s3:GetBucketPolicy",
                "s3:GetBucketPublicAccessBlock",
                "s3:GetBucketTagging",
                "s3:GetBucketVersioning",
                "s3:GetEncryptionConfiguration",
                "s3:GetLifecycleConfiguration",
                "s3:ListBucket",
                "s3:ListBucketVersions",
                "s3:PutBucketOwnershipControls",
                "s3:PutBucketPolicy",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutBucketTagging",
                "s3:PutBucketVersioning",
                "s3:PutEncryptionConfiguration",
                "s3:PutLifecycleConfiguration",
            ],
            vec![bucket.clone()],
        ),
        // destroy empties the bucket before deleting it; it is versioned, so every delete names
        // a version (s3:DeleteObjectVersion; S3 User Guide, "Deleting object versions")
        statement(
            "EmptyArtifactBucket",
            &["s3:DeleteObjectVersion"],
            vec![format!("{bucket}/*")],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(expire: i32, noncurrent: i32, abort: i32) -> LifecycleDays {
        LifecycleDays {
            expire_days: expire,
            noncurrent_expire_days: noncurrent,
            abort_multipart_days: abort,
        }
    }

    #[test]
    fn lifecycle_rule_round_trips_through_lifecycle_days() {
        let wanted = days(30, 7, 1);
        let rule = lifecycle_rule(wanted)
            .expect("rule builds")
            .expect("a rule when days are set");
        assert_eq!(rule.id(), Some(LIFECYCLE_RULE_ID));
        assert_eq!(rule.filter().and_then(|f| f.prefix()), Some(""));
        assert_eq!(lifecycle_days(&[rule]), wanted);
    }

    #[test]
    fn unset_days_leave_their_action_out_of_the_rule() {
        let rule = lifecycle_rule(days(0, 7, 0))
            .expect("rule builds")
            .expect("a rule");
        assert!(rule.expiration().is_none());
        assert!(rule.abort_incomplete_multipart_upload().is_none());
        assert_eq!(lifecycle_days(&[rule]), days(0, 7, 0));
    }

    #[test]
    fn all_days_off_means_no_rule() {
        assert!(
            lifecycle_rule(days(0, 0, 0))
                .expect("rule builds")
                .is_none()
        );
        assert_eq!(lifecycle_days(&[]), days(0, 0, 0));
    }

    #[test]
    fn a_disabled_or_foreign_or_narrowed_rule_reads_as_off() {
        let build = |id: &str, status: ExpirationStatus, prefix: &str| {
            LifecycleRule::builder()
                .id(id)
                .status(status)
                .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
                .expiration(LifecycleExpiration::builder().days(30).build())
                .build()
                .expect("rule builds")
        };
        assert_eq!(
            lifecycle_days(&[build(LIFECYCLE_RULE_ID, ExpirationStatus::Disabled, "")]),
            days(0, 0, 0)
        );
        assert_eq!(
            lifecycle_days(&[build("someone-else", ExpirationStatus::Enabled, "")]),
            days(0, 0, 0)
        );
        assert_eq!(
            lifecycle_days(&[build(LIFECYCLE_RULE_ID, ExpirationStatus::Enabled, "logs/")]),
            days(0, 0, 0)
        );
        let mixed = [
            build("someone-else", ExpirationStatus::Enabled, ""),
            build(LIFECYCLE_RULE_ID, ExpirationStatus::Enabled, ""),
        ];
        assert_eq!(lifecycle_days(&mixed), days(30, 0, 0));
    }
}
