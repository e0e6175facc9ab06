//! ECR repositories for the built images: tag mutability, scanning, encryption, lifecycle and
//! repository policies. Encryption is fixed at creation; everything else converges in place.

use super::adopt::created_or_adopted;
use super::errors::{self, absent_as_none, gone_is_done};
use super::tags::{model_tags, retag_with, sdk_tags};
use super::{Ctx, util};
use crate::model::{Kind, Observed, RepositorySpec, ResourceId};
use crate::policies::deployer::Scope;
use crate::policies::statement;
use crate::retry::while_principals_propagate;
use anyhow::{Context, Result, bail};
use aws_sdk_ecr::error::ProvideErrorMetadata;
use aws_sdk_ecr::operation::{
    create_repository::CreateRepositoryError, delete_lifecycle_policy::DeleteLifecyclePolicyError,
    delete_repository::DeleteRepositoryError,
    delete_repository_policy::DeleteRepositoryPolicyError,
    describe_repositories::DescribeRepositoriesError,
    get_lifecycle_policy::GetLifecyclePolicyError, get_repository_policy::GetRepositoryPolicyError,
};
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability,
    Repository,
};
use pipeline_common::DeployTarget;
use serde_json::Value;

super::resource!(
    /// ECR repositories (their policy names roles).
    RepositoryResource: Repository(RepositorySpec), depends on [Role]
);

fn mutability(tag_immutable: bool) -> ImageTagMutability {
    if tag_immutable {
        ImageTagMutability::Immutable
    } else {
        ImageTagMutability::Mutable
    }
}

fn scanning(scan_on_push: bool) -> ImageScanningConfiguration {
    ImageScanningConfiguration::builder()
        .scan_on_push(scan_on_push)
        .build()
}

errors::variants! {
    NotFound:
    DescribeRepositoriesError => is_repository_not_found_exception,
    DeleteRepositoryError => is_repository_not_found_exception,
    GetLifecyclePolicyError => is_lifecycle_policy_not_found_exception,
    DeleteLifecyclePolicyError => is_lifecycle_policy_not_found_exception,
    GetRepositoryPolicyError => is_repository_policy_not_found_exception,
    DeleteRepositoryPolicyError => is_repository_policy_not_found_exception,
}
errors::variants! { AlreadyExists: CreateRepositoryError => is_repository_already_exists_exception }

/// A policy document as text, or `Null` for "none".
fn parse_policy(text: Option<&str>, what: &str) -> Result<Value> {
    text.map(|t| serde_json::from_str(t).with_context(|| format!("the {what} is not JSON")))
        .transpose()
        .map(Option::unwrap_or_default)
}

pub async fn observe(ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
    let ecr = &ctx.clients.ecr;
    // The four reads name the repository only (its tags under the ARN its name gives): one
    // round, not DescribeRepositories and then the rest.
    let named_arn = ctx.target.arn("ecr", &format!("repository/{name}"));
    let (described, tags, lifecycle, repository_policy) = futures::join!(
        ecr.describe_repositories().repository_names(name).send(),
        ecr.list_tags_for_resource().resource_arn(&named_arn).send(),
        ecr.get_lifecycle_policy().repository_name(name).send(),
        ecr.get_repository_policy().repository_name(name).send(),
    );
    let described = absent_as_none(described)?;
    let repositories = described.as_ref().map_or(&[][..], |out| out.repositories());
    let Some(repository) = util::named(repositories, name, Repository::repository_name) else {
        return Ok(None);
    };
    let arn = repository
        .repository_arn()
        .map_or_else(|| named_arn.clone(), str::to_owned);
    let tags = if arn == named_arn {
        tags
    } else {
        ecr.list_tags_for_resource().resource_arn(&arn).send().await
    };
    let tags = model_tags(tags.context("reading the repository's tags")?.tags());
    let lifecycle = absent_as_none(lifecycle).context("reading the lifecycle policy")?;
    let lifecycle_policy = parse_policy(
        lifecycle
            .as_ref()
            .and_then(|out| out.lifecycle_policy_text()),
        "lifecycle policy",
    )?;
    let repository_policy =
        absent_as_none(repository_policy).context("reading the repository policy")?;
    let repository_policy = parse_policy(
        repository_policy.as_ref().and_then(|out| out.policy_text()),
        "repository policy",
    )?;

    let encryption = repository.encryption_configuration();
    let spec = RepositorySpec {
        name: name.to_owned(),
        tag_immutable: repository.image_tag_mutability() == Some(&ImageTagMutability::Immutable),
        scan_on_push: repository
            .image_scanning_configuration()
            .is_some_and(|s| s.scan_on_push()),
        // A repository created without an encryption configuration is AES256 in AWS.
        encryption_type: encryption
            .map_or("AES256", |e| e.encryption_type().as_str())
            .to_owned(),
        kms_key: encryption.and_then(|e| e.kms_key()).map(str::to_owned),
        lifecycle_policy,
        repository_policy,
        tags: tags.clone(),
    };
    Ok(Some(Observed::of(spec, Some(arn))))
}

pub async fn create(ctx: Ctx<'_>, spec: &RepositorySpec) -> Result<()> {
    let ecr = &ctx.clients.ecr;
    let encryption = EncryptionConfiguration::builder()
        .encryption_type(EncryptionType::from(spec.encryption_type.as_str()))
        .set_kms_key(spec.kms_key.clone())
        .build()
        .context("building the encryption configuration")?;
    let created = ecr
        .create_repository()
        .repository_name(&spec.name)
        .image_tag_mutability(mutability(spec.tag_immutable))
        .image_scanning_configuration(scanning(spec.scan_on_push))
        .encryption_configuration(encryption)
        .set_tags(Some(sdk_tags(&spec.tags)?))
        .send()
        .await;
    if !created_or_adopted::<RepositoryResource>(ctx, spec, created).await? {
        return Ok(());
    }
    put_lifecycle_policy(ctx, spec).await?;
    if spec.repository_policy.is_null() {
        return Ok(()); // a new repository has none to remove
    }
    put_repository_policy(ctx, spec).await
}

pub async fn update(
    ctx: Ctx<'_>,
    desired: &RepositorySpec,
    observed: &RepositorySpec,
) -> Result<()> {
    if (&desired.encryption_type, &desired.kms_key)
        != (&observed.encryption_type, &observed.kms_key)
    {
        bail!(
            "repository {name} is encrypted with {have} (key {have_key}) but {want} (key {want_key}) is wanted, \
             and ECR cannot change a repository's encryption after creation. To recreate it, delete it together \
             with its images (`aws ecr delete-repository --repository-name {name} --force`) and run the command \
             again; the next build pushes the image again",
            name = desired.name,
            have = observed.encryption_type,
            have_key = observed.kms_key.as_deref().unwrap_or("AWS managed"),
            want = desired.encryption_type,
            want_key = desired.kms_key.as_deref().unwrap_or("AWS managed"),
        );
    }
    let (ecr, name) = (&ctx.clients.ecr, desired.name.as_str());
    if desired.tag_immutable != observed.tag_immutable {
        let put = ecr.put_image_tag_mutability().repository_name(name);
        let put = put.image_tag_mutability(mutability(desired.tag_immutable));
        put.send().await.context("setting image tag mutability")?;
    }
    if desired.scan_on_push != observed.scan_on_push {
        let put = ecr.put_image_scanning_configuration().repository_name(name);
        let put = put.image_scanning_configuration(scanning(desired.scan_on_push));
        put.send().await.context("setting scan on push")?;
    }
    if desired.lifecycle_policy != observed.lifecycle_policy {
        put_lifecycle_policy(ctx, desired).await?;
    }
    if desired.repository_policy != observed.repository_policy {
        put_repository_policy(ctx, desired).await?;
    }
    let arn = ctx
        .target
        .arn("ecr", &format!("repository/{}", desired.name));
    retag_with!(ecr, resource_arn(&arn), &desired.tags, &observed.tags).await
}

async fn put_lifecycle_policy(ctx: Ctx<'_>, spec: &RepositorySpec) -> Result<()> {
    let (ecr, name) = (&ctx.clients.ecr, spec.name.as_str());
    let remove = ecr.delete_lifecycle_policy().repository_name(name);
    let put = ecr.put_lifecycle_policy().repository_name(name);
    let put = |text| put.lifecycle_policy_text(text).send();
    let policy = &spec.lifecycle_policy;
    util::put_or_remove(policy, "lifecycle policy", || remove.send(), put).await
}

async fn put_repository_policy(ctx: Ctx<'_>, spec: &RepositorySpec) -> Result<()> {
    let (ecr, name) = (&ctx.clients.ecr, spec.name.as_str());
    let remove = ecr.delete_repository_policy().repository_name(name);
    let set = ecr.set_repository_policy().repository_name(name);
    let id = ResourceId::new(Kind::Repository, name);
    let policy = &spec.repository_policy;
    let set = |text: String| {
        let send = move || set.clone().policy_text(&text).send();
        while_principals_propagate(ctx.progress, &id, policy, is_principal_propagation, send)
    };
    util::put_or_remove(policy, "repository policy", || remove.send(), set).await
}

/// ECR checks a repository policy's principals when it is set: a role IAM has not propagated yet
/// is refused with `InvalidParameterException` "... 'Principal not found'"
/// (terraform-provider-aws #39064). That type also covers real mistakes, hence the message.
fn is_principal_propagation<E: ProvideErrorMetadata>(err: &E) -> bool {
    util::has_code_and_message(err, "InvalidParameterException", "Principal not found")
}

/// Deletes the repository with every image in it.
pub async fn delete(ctx: Ctx<'_>, name: &str) -> Result<()> {
    let deleted = ctx
        .clients
        .ecr
        .delete_repository()
        .repository_name(name)
        .force(true)
        .send()
        .await;
    gone_is_done(deleted)
}

/// What the deployer needs for the image repository.
pub fn deployer_grants(scope: &Scope<'_>) -> Vec<Value> {
    let lambda_target = scope
        .rollout_targets()
        .into_iter()
        .find(|t| matches!(t, DeployTarget::Lambda { .. }));
    let repository = scope.env.names().ecr_repository();
    vec![statement(
        "ImageRepository",
        &[
            "ecr:CreateRepository",
            "ecr:DeleteRepository",
            "ecr:DescribeRepositories",
            "ecr:GetLifecyclePolicy",
            "ecr:GetRepositoryPolicy",
            "ecr:ListTagsForResource",
            "ecr:PutImageScanningConfiguration",
            "ecr:PutImageTagMutability",
            "ecr:PutLifecyclePolicy",
            "ecr:TagResource",
            "ecr:UntagResource",
            // The repository has a policy only when Lambda pulls the image (a Lambda target):
            // then bootstrap sets it, otherwise it removes one found there.
            lambda_target.map_or("ecr:DeleteRepositoryPolicy", |_| "ecr:SetRepositoryPolicy"),
        ],
        vec![scope.target.arn("ecr", &format!("repository/{repository}"))],
    )]
}
