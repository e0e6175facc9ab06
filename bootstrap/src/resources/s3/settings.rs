//! The S3 bucket's settings, each written by its own put-or-delete: one table ([`Setting`]) of
//! what differs and how it is written, and the one send that retries S3's answer to overlapping
//! configuration writes, so a create or an update writes them all at once.

use super::LifecycleDays;
use super::lifecycle_rule;
use crate::model::{BucketSpec, Kind, ResourceId};
use crate::resources::tags::sdk_tags;
use crate::resources::{Ctx, util};
use crate::retry::while_principals_propagate;
use anyhow::{Context, Result, bail};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketVersioningStatus, ObjectOwnership, OwnershipControls,
    OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tagging, VersioningConfiguration,
};
use aws_smithy_runtime_api::http::Response as HttpResponse;
use std::future::Future;
use std::time::{Duration, Instant};

/// Writes `settings` at once; every write finishes before the failures are reported together.
///
/// They do not depend on each other. The one pair with an order in AWS's rules, the public
/// access block and the policy (BlockPublicPolicy refuses a *public* policy), does not bind us:
/// the policy grants only this account's roles and denies the rest, which is not public (S3 User
/// Guide, "Blocking public access to your Amazon S3 storage", "The meaning of public":
/// https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html),
/// so neither order refuses it.
pub(super) async fn write_all(
    ctx: Ctx<'_>,
    spec: &BucketSpec,
    settings: impl IntoIterator<Item = Setting>,
) -> Result<()> {
    let writes = settings.into_iter().map(|setting| setting.write(ctx, spec));
    let mut errors: Vec<anyhow::Error> = futures::future::join_all(writes)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        count => bail!(
            "{count} of the bucket's settings failed:\n  {}",
            errors
                .iter()
                .map(crate::error_report)
                .collect::<Vec<_>>()
                .join("\n  ")
        ),
    }
}

/// One of the bucket's settings: each lives behind its own Put call and (but for versioning,
/// which can only be suspended) its own Delete call, and is read by its own Get call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Setting {
    Tags,
    PublicAccessBlock,
    Ownership,
    Encryption,
    Versioning,
    Lifecycle,
    Policy,
}

impl Setting {
    pub(super) const ALL: [Self; 7] = [
        Self::Tags,
        Self::PublicAccessBlock,
        Self::Ownership,
        Self::Encryption,
        Self::Versioning,
        Self::Lifecycle,
        Self::Policy,
    ];

    /// Whether `observed` differs from `desired` in this setting.
    pub(super) fn differs(self, desired: &BucketSpec, observed: &BucketSpec) -> bool {
        match self {
            Self::Tags => desired.tags != observed.tags,
            Self::PublicAccessBlock => desired.block_public_access != observed.block_public_access,
            Self::Ownership => desired.object_ownership != observed.object_ownership,
            Self::Encryption => {
                (&desired.sse_algorithm, &desired.kms_key_id)
                    != (&observed.sse_algorithm, &observed.kms_key_id)
            }
            Self::Versioning => desired.versioning != observed.versioning,
            Self::Lifecycle => LifecycleDays::of(desired) != LifecycleDays::of(observed),
            Self::Policy => desired.policy != observed.policy,
        }
    }

    /// Puts the value `spec` wants, or deletes the setting when `spec` wants it off.
    async fn write(self, ctx: Ctx<'_>, spec: &BucketSpec) -> Result<()> {
        let s3 = &ctx.clients.s3;
        let bucket = spec.name.as_str();
        match self {
            // S3 has no tag/untag for buckets: PutBucketTagging replaces the whole set.
            Self::Tags => match tagging(spec)? {
                Some(tags) => {
                    let put = s3.put_bucket_tagging().bucket(bucket).tagging(tags);
                    sent(put, |r| r.send(), "tagging the bucket").await
                }
                None => {
                    let delete = s3.delete_bucket_tagging().bucket(bucket);
                    sent(delete, |r| r.send(), "removing the bucket's tags").await
                }
            },
            Self::PublicAccessBlock if spec.block_public_access => {
                let put = s3.put_public_access_block().bucket(bucket);
                let put = put.public_access_block_configuration(all_blocked());
                sent(put, |r| r.send(), "blocking public access").await
            }
            Self::PublicAccessBlock => {
                let delete = s3.delete_public_access_block().bucket(bucket);
                sent(delete, |r| r.send(), "removing the public access block").await
            }
            Self::Ownership => match ownership_controls(spec)? {
                Some(controls) => {
                    let put = s3.put_bucket_ownership_controls().bucket(bucket);
                    let put = put.ownership_controls(controls);
                    sent(put, |r| r.send(), "setting object ownership").await
                }
                None => {
                    let delete = s3.delete_bucket_ownership_controls().bucket(bucket);
                    sent(delete, |r| r.send(), "removing object ownership").await
                }
            },
            Self::Encryption => match encryption_configuration(spec)? {
                Some(configuration) => {
                    let put = s3.put_bucket_encryption().bucket(bucket);
                    let put = put.server_side_encryption_configuration(configuration);
                    sent(put, |r| r.send(), "setting default encryption").await
                }
                None => {
                    let delete = s3.delete_bucket_encryption().bucket(bucket);
                    sent(delete, |r| r.send(), "removing default encryption").await
                }
            },
            Self::Versioning => {
                let put = s3.put_bucket_versioning().bucket(bucket);
                let put = put.versioning_configuration(versioning_configuration(spec));
                sent(put, |r| r.send(), "setting versioning").await
            }
            Self::Lifecycle => match lifecycle_configuration(spec)? {
                Some(configuration) => {
                    let put = s3.put_bucket_lifecycle_configuration().bucket(bucket);
                    let put = put.lifecycle_configuration(configuration);
                    sent(put, |r| r.send(), "setting the lifecycle configuration").await
                }
                None => {
                    let delete = s3.delete_bucket_lifecycle().bucket(bucket);
                    sent(delete, |r| r.send(), "removing the lifecycle configuration").await
                }
            },
            Self::Policy => write_policy(ctx, spec).await,
        }
    }
}

/// [`send`] for a write whose answer carries nothing: `what` says what failed.
async fn sent<B, T, E, Fut>(request: B, send_once: impl Fn(B) -> Fut, what: &str) -> Result<()>
where
    B: Clone,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    send(request, send_once).await.context(what.to_owned())?;
    Ok(())
}

/// How long a write keeps retrying while S3 reports a conflicting write on the bucket.
const CONFLICT_BUDGET: Duration = Duration::from_secs(120);
const CONFLICT_FIRST_DELAY: Duration = Duration::from_millis(100);
const CONFLICT_MAX_DELAY: Duration = Duration::from_secs(2);

/// Sends `request` (again, after a conflict), retrying while S3 answers `OperationAborted`: 409,
/// "A conflicting conditional operation is currently in progress against this resource. Try
/// again." (Amazon S3 API Reference, "Error responses":
/// https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html). S3 gives it for
/// overlapping writes to one bucket's configuration (terraform-provider-aws#7628, which retries
/// it since #12949); the SDK's standard retry does not count it as transient. S3 models no error
/// type for it, hence the code. Any other answer is returned as it came.
async fn send<B, T, E, Fut>(
    request: B,
    send_once: impl Fn(B) -> Fut,
) -> Result<T, SdkError<E, HttpResponse>>
where
    B: Clone,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata,
{
    let started = Instant::now();
    let mut delay = CONFLICT_FIRST_DELAY;
    loop {
        match send_once(request.clone()).await {
            Err(err)
                if err.code() == Some("OperationAborted")
                    && started.elapsed() + delay <= CONFLICT_BUDGET =>
            {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(CONFLICT_MAX_DELAY);
            }
            answer => return answer,
        }
    }
}

/// The tag set `spec` wants; `None` for no tags at all.
fn tagging(spec: &BucketSpec) -> Result<Option<Tagging>> {
    if spec.tags.is_empty() {
        return Ok(None);
    }
    let tagging = Tagging::builder()
        .set_tag_set(Some(sdk_tags(&spec.tags)?))
        .build()
        .context("building the bucket's tags")?;
    Ok(Some(tagging))
}

fn all_blocked() -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build()
}

fn ownership_controls(spec: &BucketSpec) -> Result<Option<OwnershipControls>> {
    if spec.object_ownership.is_empty() {
        return Ok(None);
    }
    let rule = OwnershipControlsRule::builder()
        .object_ownership(ObjectOwnership::from(spec.object_ownership.as_str()))
        .build()
        .context("building the ownership rule")?;
    let controls = OwnershipControls::builder()
        .rules(rule)
        .build()
        .context("building the ownership controls")?;
    Ok(Some(controls))
}

fn encryption_configuration(
    spec: &BucketSpec,
) -> Result<Option<ServerSideEncryptionConfiguration>> {
    if spec.sse_algorithm.is_empty() {
        return Ok(None);
    }
    let algorithm = ServerSideEncryption::from(spec.sse_algorithm.as_str());
    let is_kms = algorithm == ServerSideEncryption::AwsKms;
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(algorithm)
        .set_kms_master_key_id(spec.kms_key_id.clone())
        .build()
        .context("building the default encryption")?;
    // A bucket key saves a KMS request per object; it means nothing for SSE-S3.
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(by_default)
        .set_bucket_key_enabled(is_kms.then_some(true))
        .build();
    let configuration = ServerSideEncryptionConfiguration::builder()
        .rules(rule)
        .build()
        .context("building the default encryption")?;
    Ok(Some(configuration))
}

fn versioning_configuration(spec: &BucketSpec) -> VersioningConfiguration {
    // A bucket that was ever versioned can only be suspended, never unversioned again.
    let status = if spec.versioning {
        BucketVersioningStatus::Enabled
    } else {
        BucketVersioningStatus::Suspended
    };
    VersioningConfiguration::builder().status(status).build()
}

fn lifecycle_configuration(spec: &BucketSpec) -> Result<Option<BucketLifecycleConfiguration>> {
    let Some(rule) = lifecycle_rule(LifecycleDays::of(spec))? else {
        return Ok(None);
    };
    let configuration = BucketLifecycleConfiguration::builder()
        .rules(rule)
        .build()
        .context("building the lifecycle configuration")?;
    Ok(Some(configuration))
}

/// The policy names roles as principals, so besides conflicts it waits out their propagation.
async fn write_policy(ctx: Ctx<'_>, spec: &BucketSpec) -> Result<()> {
    let s3 = &ctx.clients.s3;
    if spec.policy.is_null() {
        let delete = s3.delete_bucket_policy().bucket(&spec.name);
        return sent(delete, |r| r.send(), "removing the bucket policy").await;
    }
    let document = serde_json::to_string(&spec.policy).context("serialising the bucket policy")?;
    let put = s3.put_bucket_policy().bucket(&spec.name).policy(document);
    let id = ResourceId::new(Kind::Bucket, &spec.name);
    while_principals_propagate(
        ctx.progress,
        &id,
        &spec.policy,
        is_principal_propagation,
        || send(put.clone(), |r| r.send()),
    )
    .await
    .context("setting the bucket policy")?;
    Ok(())
}

/// S3 checks a bucket policy's principals when it is set, so a role created moments ago is
/// refused until IAM has propagated it: `MalformedPolicy` "Invalid principal in policy"
/// (terraform-provider-aws retries exactly this, hashicorp/terraform#4315; ../shared facts).
/// S3 models no error type for PutBucketPolicy, hence the code and message.
fn is_principal_propagation<E: ProvideErrorMetadata>(err: &E) -> bool {
    util::has_code_and_message(err, "MalformedPolicy", "Invalid principal")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::operation::put_bucket_versioning::PutBucketVersioningError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn refusal(code: &str, status: u16) -> SdkError<PutBucketVersioningError, HttpResponse> {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("refused")
            .build();
        let status = StatusCode::try_from(status).expect("a valid status");
        SdkError::service_error(
            PutBucketVersioningError::generic(meta),
            HttpResponse::new(status, SdkBody::empty()),
        )
    }

    #[tokio::test]
    async fn a_conflicting_write_is_sent_again_until_it_lands() {
        let attempts = AtomicUsize::new(0);
        let answer = send((), |()| {
            let attempt = attempts.fetch_add(1, Ordering::SeqCst);
            async move {
                if attempt < 2 {
                    Err(refusal("OperationAborted", 409))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert!(answer.is_ok(), "{answer:?}");
        assert_eq!(attempts.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn any_other_refusal_is_returned_at_once() {
        let attempts = AtomicUsize::new(0);
        let answer = send((), |()| {
            attempts.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>(refusal("AccessDenied", 403)) }
        })
        .await;
        let code = answer.expect_err("refused").code().map(str::to_owned);
        assert_eq!(code.as_deref(), Some("AccessDenied"));
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
    }

    fn bucket() -> BucketSpec {
        BucketSpec {
            name: "b".to_owned(),
            versioning: true,
            sse_algorithm: "AES256".to_owned(),
            kms_key_id: None,
            expire_days: 30,
            noncurrent_expire_days: 7,
            abort_multipart_days: 1,
            block_public_access: true,
            object_ownership: "BucketOwnerEnforced".to_owned(),
            policy: serde_json::json!({"Version": "2012-10-17", "Statement": []}),
            tags: [("ManagedBy".to_owned(), "bootstrap".to_owned())].into(),
        }
    }

    fn differing(desired: &BucketSpec, observed: &BucketSpec) -> Vec<Setting> {
        Setting::ALL
            .into_iter()
            .filter(|s| s.differs(desired, observed))
            .collect()
    }

    #[test]
    fn each_setting_is_written_exactly_when_its_fields_differ() {
        let desired = bucket();
        assert_eq!(differing(&desired, &desired), []);
        let versioning_off = BucketSpec {
            versioning: false,
            ..desired.clone()
        };
        assert_eq!(differing(&desired, &versioning_off), [Setting::Versioning]);
        let kms = BucketSpec {
            kms_key_id: Some("key".to_owned()),
            ..desired.clone()
        };
        assert_eq!(differing(&desired, &kms), [Setting::Encryption]);
        let bare = BucketSpec {
            name: "b".to_owned(),
            versioning: false,
            sse_algorithm: String::new(),
            kms_key_id: None,
            expire_days: 0,
            noncurrent_expire_days: 0,
            abort_multipart_days: 0,
            block_public_access: false,
            object_ownership: String::new(),
            policy: serde_json::Value::Null,
            tags: Default::default(),
        };
        assert_eq!(differing(&desired, &bare), Setting::ALL);
    }
}
