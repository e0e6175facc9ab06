//! The ECR pull-through cache rule of `--base-image-source pull-through-cache`: the build pulls
//! the Dockerfile's official base images as `<registry>/<prefix>/docker/library/<name>`, and ECR
//! fetches each from ECR Public (`public.ecr.aws`, which needs no credentials) on its first pull
//! and caches it in a repository it creates under the prefix (Amazon ECR User Guide, "Sync an
//! upstream registry with an Amazon ECR private registry" and "Pulling an image with a pull
//! through cache rule in Amazon ECR",
//! https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-working-pulling.html).
//!
//! A rule cannot be tagged: it is observed with the tags of the environment's image repository,
//! so it is ours exactly when that repository is, and it is deleted before that repository
//! (`DEPENDS_ON`). The repositories the cache created under the prefix are ours because their
//! rule is: delete removes them first, so a crash in between leaves the rule that marks them.
//!
//! Docker Hub itself could be the upstream (`registry-1.docker.io`), but ECR then requires a
//! Secrets Manager secret named `ecr-pullthroughcache/...` holding Docker Hub credentials
//! (API Reference, CreatePullThroughCacheRule, `credentialArn`; without it ECR answers
//! UnsupportedUpstreamRegistryException "The specified upstream registry requires
//! authentication", aws-controllers-k8s/community#2589). ECR Public mirrors the Docker official
//! images under `docker/library/` (aws/containers-roadmap#2211), so no secret is needed.

use super::errors::{self, absent_as_none, gone_is_done};
use super::tags::model_tags;
use super::{Ctx, util};
use crate::config::BaseImageSource;
use crate::model::{Observed, PullThroughCacheRuleSpec};
use crate::policies::deployer::Scope;
use crate::policies::statement;
use anyhow::{Context, Result, bail};
use aws_sdk_ecr::operation::{
    create_pull_through_cache_rule::CreatePullThroughCacheRuleError,
    delete_pull_through_cache_rule::DeletePullThroughCacheRuleError,
    describe_pull_through_cache_rules::DescribePullThroughCacheRulesError,
    list_tags_for_resource::ListTagsForResourceError,
};
use aws_sdk_ecr::types::PullThroughCacheRule;
use serde_json::{Value, json};

errors::variants! {
    NotFound:
    DescribePullThroughCacheRulesError => is_pull_through_cache_rule_not_found_exception,
    DeletePullThroughCacheRuleError => is_pull_through_cache_rule_not_found_exception,
    ListTagsForResourceError => is_repository_not_found_exception,
}
errors::variants! {
    AlreadyExists: CreatePullThroughCacheRuleError => is_pull_through_cache_rule_already_exists_exception
}

super::resource!(
    untaggable
    /// The rule of the environment: untaggable, so ours only while the image repository is.
    PullThroughCacheRuleResource: PullThroughCacheRule(PullThroughCacheRuleSpec), depends on [Repository]
);

/// `REPOSITORY/PREFIX` split in two (an image repository's name has no `/` here).
fn split_name(name: &str) -> Result<(&str, &str)> {
    match name.split_once('/') {
        Some((repository, prefix)) if !repository.is_empty() && !prefix.is_empty() => {
            Ok((repository, prefix))
        }
        _ => bail!("pull-through cache rule `{name}` is not named REPOSITORY/PREFIX"),
    }
}

/// The rule with the image repository's tags; `None` when there is no rule of the prefix.
pub async fn observe(ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
    let (repository, prefix) = split_name(name)?;
    let ecr = &ctx.clients.ecr;
    let describe = ecr.describe_pull_through_cache_rules();
    let described = absent_as_none(describe.ecr_repository_prefixes(prefix).send().await)?;
    let rules = described
        .as_ref()
        .map_or(&[][..], |out| out.pull_through_cache_rules());
    let Some(rule) = util::named(rules, prefix, PullThroughCacheRule::ecr_repository_prefix) else {
        return Ok(None);
    };
    let spec = PullThroughCacheRuleSpec {
        repository: repository.to_owned(),
        prefix: prefix.to_owned(),
        upstream_registry_url: rule.upstream_registry_url().unwrap_or_default().to_owned(),
    };
    // Without the repository (or with someone else's) the rule is not ours.
    let repository_arn = ctx.target.arn("ecr", &format!("repository/{repository}"));
    let listed = ecr
        .list_tags_for_resource()
        .resource_arn(&repository_arn)
        .send()
        .await;
    let tags = absent_as_none(listed)
        .context("reading the image repository's tags (the cache rule is ours only if it is)")?
        .map(|out| model_tags(out.tags()))
        .unwrap_or_default();
    Ok(Some(Observed {
        tags,
        ..Observed::of(spec, None)
    }))
}

/// Creates the rule. A rule of the prefix made meanwhile (a concurrent deploy of the
/// environment) is fine when it has the same upstream; anything else is refused, untouched.
pub async fn create(ctx: Ctx<'_>, spec: &PullThroughCacheRuleSpec) -> Result<()> {
    let created = ctx
        .clients
        .ecr
        .create_pull_through_cache_rule()
        .ecr_repository_prefix(&spec.prefix)
        .upstream_registry_url(&spec.upstream_registry_url)
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(err) if errors::already_exists(&err) => {
            let found = observe(ctx, &spec.name()).await?;
            let upstream = found
                .and_then(|observed| PullThroughCacheRuleSpec::try_from(observed.spec).ok())
                .map(|rule| rule.upstream_registry_url);
            if upstream.as_deref() == Some(spec.upstream_registry_url.as_str()) {
                return Ok(());
            }
            bail!(
                "the registry already has a pull-through cache rule for the prefix `{}` (upstream \
                 {}); bootstrap did not make it and leaves it alone: delete it \
                 (`aws ecr delete-pull-through-cache-rule --ecr-repository-prefix {}`) if it is \
                 left over, or deploy without --base-image-source pull-through-cache",
                spec.prefix,
                upstream.as_deref().unwrap_or("unknown"),
                spec.prefix
            )
        }
        Err(err) => Err(err.into()),
    }
}

/// ECR can change a rule's credentials, not its upstream: a rule of ours pointing elsewhere is
/// replaced, with what it cached from there.
pub async fn update(
    ctx: Ctx<'_>,
    desired: &PullThroughCacheRuleSpec,
    observed: &PullThroughCacheRuleSpec,
) -> Result<()> {
    if desired.upstream_registry_url != observed.upstream_registry_url {
        delete(ctx, &observed.name()).await?;
        create(ctx, desired).await?;
    }
    Ok(())
}

/// Deletes the repositories the cache created under the prefix, then the rule.
pub async fn delete(ctx: Ctx<'_>, name: &str) -> Result<()> {
    let (_, prefix) = split_name(name)?;
    let ecr = &ctx.clients.ecr;
    for repository in cached_repositories(ctx, prefix).await? {
        let deleted = ecr
            .delete_repository()
            .repository_name(&repository)
            .force(true)
            .send()
            .await;
        gone_is_done(deleted)
            .with_context(|| format!("deleting the cached repository {repository}"))?;
    }
    let deleted = ecr
        .delete_pull_through_cache_rule()
        .ecr_repository_prefix(prefix)
        .send()
        .await;
    gone_is_done(deleted)
}

/// The repositories under `prefix/`: ECR has no listing by prefix, so the registry's list is
/// read whole and filtered.
async fn cached_repositories(ctx: Ctx<'_>, prefix: &str) -> Result<Vec<String>> {
    let under = format!("{prefix}/");
    let repositories: Vec<_> = ctx
        .clients
        .ecr
        .describe_repositories()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .context("listing the registry's repositories to find the cached ones")?;
    Ok(repositories
        .iter()
        .filter_map(|repository| repository.repository_name())
        .filter(|name| name.starts_with(&under))
        .map(str::to_owned)
        .collect())
}

/// What the deployer needs: finding the rule always (plan, deploy and destroy look for it in
/// every mode); creating and deleting it, and the repositories the cache made, with the option.
pub fn deployer_grants(scope: &Scope<'_>) -> Vec<Value> {
    // The pull-through cache rule actions take no resource type (Service Authorization
    // Reference, Amazon ECR: CreatePullThroughCacheRule, DeletePullThroughCacheRule,
    // DescribePullThroughCacheRules), so `*` is the only resource they can have.
    // One of the account-wide reads: merged into their statement (policies::deployer).
    let mut grants = vec![statement(
        "AccountWideReads",
        &["ecr:DescribePullThroughCacheRules"],
        vec!["*".to_owned()],
    )];
    if scope.base_image_source != BaseImageSource::PullThroughCache {
        return grants;
    }
    let prefix = scope.env.names().base_image_cache();
    grants.extend([
        statement(
            "ManageBaseImageCache",
            &[
                "ecr:CreatePullThroughCacheRule",
                "ecr:DeletePullThroughCacheRule",
            ],
            vec!["*".to_owned()],
        ),
        // Listing every repository is authorised on all of them (`repository/*`); only the
        // names under the prefix are deleted.
        statement(
            "FindCachedBaseImages",
            &["ecr:DescribeRepositories"],
            vec![scope.target.arn("ecr", "repository/*")],
        ),
        statement(
            "DeleteCachedBaseImages",
            &["ecr:DeleteRepository"],
            vec![scope.target.arn("ecr", &format!("repository/{prefix}/*"))],
        ),
        service_linked_role(scope),
    ]);
    grants
}

/// The service-linked role ECR creates with the account's first pull-through cache rule:
/// AWSServiceRoleForECRPullThroughCache, trusting `pullthroughcache.ecr.amazonaws.com` (ECR User
/// Guide, "Amazon ECR service-linked role for pull through cache",
/// https://docs.aws.amazon.com/AmazonECR/latest/userguide/slr-pullthroughcache.html, and "Using
/// service-linked roles for Amazon ECR": "After you configure replication or pull through cache
/// for your registry, a service-linked role is created automatically on your behalf"), so
/// `iam:CreateServiceLinkedRole` is a dependent action of `ecr:CreatePullThroughCacheRule`
/// (Service Authorization Reference, Amazon ECR). Granted in the documented shape, that one
/// role's ARN conditioned on `iam:AWSServiceName` (IAM User Guide, "Service-linked role
/// permissions"). The role is the account's, shared by every rule: bootstrap never deletes it.
fn service_linked_role(scope: &Scope<'_>) -> Value {
    let service = "pullthroughcache.ecr.amazonaws.com";
    json!({
        "Sid": "CreateBaseImageCacheServiceLinkedRole",
        "Effect": "Allow",
        "Action": ["iam:CreateServiceLinkedRole"],
        "Resource": scope.target.iam_arn(&format!(
            "role/aws-service-role/{service}/AWSServiceRoleForECRPullThroughCache"
        )),
        "Condition": { "StringEquals": { "iam:AWSServiceName": service } }
    })
}
