//! IAM roles: one trust policy and one inline policy per role, tagged for ownership, each with
//! the environment's permissions boundary (`policies::boundary`), which the administrator
//! creates and bootstrap only reads.

use super::Ctx;
use super::adopt::created_or_adopted;
use super::errors::{self, absent_as_none, gone_is_done};
use super::tags::{retag_with, sdk_tags};
use super::util::parse_policy;
use crate::model::{Kind, Observed, ResourceId, RoleSpec, Tags};
use crate::policies::deployer::{Scope, pass_role};
use crate::policies::statement;
use anyhow::{Context, Result, bail};
use aws_sdk_iam::operation::{
    create_role::CreateRoleError, delete_role::DeleteRoleError, get_policy::GetPolicyError,
    get_role::GetRoleError, list_role_policies::ListRolePoliciesError,
};
use serde_json::{Value, json};

super::resource!(
    /// IAM roles with one inline policy.
    RoleResource: Role(RoleSpec), depends on []
);

errors::variants! {
    NotFound:
    GetRoleError => is_no_such_entity_exception,
    ListRolePoliciesError => is_no_such_entity_exception,
    DeleteRoleError => is_no_such_entity_exception,
    GetPolicyError => is_no_such_entity_exception,
}
errors::variants! { AlreadyExists: CreateRoleError => is_entity_already_exists_exception }

/// Reads the role; its inline policy is the only one it has, or — when someone added others —
/// the one named like the role, else the first by name (the others are reported, never touched).
pub async fn observe(ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
    let iam = &ctx.clients.iam;
    // One round: the role, its policy names, its tags and the inline policy the desired state
    // names, all at once. When the role is absent the other answers are "not found" and unused.
    let (role, policy_names, tags, named_policy) = futures::join!(
        iam.get_role().role_name(name).send(),
        inline_policy_names(ctx, name),
        role_tags(ctx, name),
        iam.get_role_policy()
            .role_name(name)
            .policy_name(crate::model::INLINE_POLICY_NAME)
            .send(),
    );
    let Some(role) = absent_as_none(role)? else {
        return Ok(None);
    };
    let role = role.role.context("GetRole answered without a role")?;
    let trust_policy = match role.assume_role_policy_document() {
        Some(doc) => parse_policy(doc).context("reading the role's trust policy")?,
        None => Value::Null,
    };
    let mut policy_names = policy_names?;
    policy_names.sort();
    // Ours is the one the desired state names; an older layout named it after the role.
    let ours = policy_names
        .iter()
        .position(|p| p == crate::model::INLINE_POLICY_NAME)
        .or_else(|| policy_names.iter().position(|p| p == name))
        .or(if policy_names.is_empty() {
            None
        } else {
            Some(0)
        });
    let (inline_policy_name, inline_policy) = match ours {
        Some(index) => {
            let policy_name = policy_names.remove(index);
            // Read already unless ours has another name (an older layout, or someone's).
            let document = if policy_name == crate::model::INLINE_POLICY_NAME {
                named_policy
            } else {
                let read = iam.get_role_policy().role_name(name);
                read.policy_name(&policy_name).send().await
            };
            let document =
                document.with_context(|| format!("reading the inline policy {policy_name}"))?;
            let value = parse_policy(document.policy_document())
                .with_context(|| format!("reading the inline policy {policy_name}"))?;
            (policy_name, value)
        }
        None => (String::new(), Value::Null),
    };
    if !policy_names.is_empty() {
        ctx.progress.resource_detail(
            &ResourceId::new(Kind::Role, name),
            "note",
            &format!(
                "has inline policies the bootstrap does not manage (left alone): {}",
                policy_names.join(", ")
            ),
        );
    }
    let tags = tags?;
    let spec = RoleSpec {
        name: name.to_owned(),
        description: role.description().unwrap_or_default().to_owned(),
        trust_policy,
        inline_policy_name,
        inline_policy,
        permissions_boundary: role
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .unwrap_or_default()
            .to_owned(),
        tags: tags.clone(),
    };
    Ok(Some(Observed::of(spec, Some(role.arn().to_owned()))))
}

async fn inline_policy_names(ctx: Ctx<'_>, name: &str) -> Result<Vec<String>> {
    let pages = ctx.clients.iam.list_role_policies().role_name(name);
    let names = pages.into_paginator().items().send().try_collect().await;
    names.context("listing the role's inline policies")
}

async fn role_tags(ctx: Ctx<'_>, name: &str) -> Result<Tags> {
    let pages = ctx.clients.iam.list_role_tags().role_name(name);
    let tags = pages.into_paginator().items().send().try_collect().await;
    let tags = tags.context("listing the role's tags")?;
    Ok(tags.into_iter().map(|tag| (tag.key, tag.value)).collect())
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// Whether the managed policy `arn` exists (the permissions boundary, before any write).
pub async fn policy_exists(ctx: Ctx<'_>, arn: &str) -> Result<bool> {
    let found = absent_as_none(ctx.clients.iam.get_policy().policy_arn(arn).send().await);
    Ok(found
        .with_context(|| format!("reading the managed policy {arn}"))?
        .is_some())
}

fn policy_text(value: &Value) -> Result<String> {
    serde_json::to_string(value).context("serialising a policy document")
}

pub async fn create(ctx: Ctx<'_>, spec: &RoleSpec) -> Result<()> {
    let iam = &ctx.clients.iam;
    let created = iam
        .create_role()
        .role_name(&spec.name)
        .description(&spec.description)
        .assume_role_policy_document(policy_text(&spec.trust_policy)?)
        .set_permissions_boundary(non_empty(&spec.permissions_boundary))
        .set_tags(Some(sdk_tags(&spec.tags)?))
        .send()
        .await;
    let created = created_or_adopted::<RoleResource>(ctx, spec, created).await;
    if !created.context("CreateRole failed")? {
        return Ok(());
    }
    put_inline_policy(ctx, spec).await
}

async fn put_inline_policy(ctx: Ctx<'_>, spec: &RoleSpec) -> Result<()> {
    ctx.clients
        .iam
        .put_role_policy()
        .role_name(&spec.name)
        .policy_name(&spec.inline_policy_name)
        .policy_document(policy_text(&spec.inline_policy)?)
        .send()
        .await
        .with_context(|| format!("putting the inline policy {}", spec.inline_policy_name))?;
    Ok(())
}

pub async fn update(ctx: Ctx<'_>, desired: &RoleSpec, observed: &RoleSpec) -> Result<()> {
    let (iam, name) = (&ctx.clients.iam, desired.name.as_str());
    // First: the deployer may put a policy only on a role that already carries the boundary.
    if desired.permissions_boundary != observed.permissions_boundary
        && !desired.permissions_boundary.is_empty()
    {
        let put = iam.put_role_permissions_boundary().role_name(name);
        let put = put.permissions_boundary(&desired.permissions_boundary);
        put.send()
            .await
            .context("putting the permissions boundary back")?;
    }
    if desired.trust_policy != observed.trust_policy {
        let update = iam.update_assume_role_policy().role_name(name);
        let update = update.policy_document(policy_text(&desired.trust_policy)?);
        update.send().await.context("updating the trust policy")?;
    }
    if desired.inline_policy_name != observed.inline_policy_name
        || desired.inline_policy != observed.inline_policy
    {
        put_inline_policy(ctx, desired).await?;
    }
    if desired.description != observed.description {
        let update = iam.update_role().role_name(name);
        let update = update.description(&desired.description);
        update.send().await.context("updating the description")?;
    }
    retag_with!(iam => untag_role, tag_role, role_name(name), &desired.tags, &observed.tags).await
}

/// Deletes every inline policy and detaches every managed policy, then deletes the role (IAM
/// refuses to delete a role that still has any). A role someone put into an instance profile is
/// left alone, with an error saying how to free it.
pub async fn delete(ctx: Ctx<'_>, name: &str) -> Result<()> {
    let iam = &ctx.clients.iam;
    let policies = match inline_policy_names(ctx, name).await {
        Ok(names) => names,
        Err(err) if errors::not_found_in::<ListRolePoliciesError>(&err) => return Ok(()),
        Err(err) => return Err(err),
    };
    for policy in policies {
        let delete = iam.delete_role_policy().role_name(name);
        let deleted = delete.policy_name(&policy).send().await;
        deleted.with_context(|| format!("deleting the inline policy {policy}"))?;
    }
    let attached = iam.list_attached_role_policies().role_name(name);
    let attached = attached.into_paginator().items().send().try_collect().await;
    let attached = attached.context("listing attached managed policies")?;
    for arn in attached.into_iter().filter_map(|policy| policy.policy_arn) {
        let detach = iam.detach_role_policy().role_name(name);
        let detached = detach.policy_arn(&arn).send().await;
        detached.with_context(|| format!("detaching the managed policy {arn}"))?;
    }
    // An instance profile is not ours even when our role is in it: taking the role out could
    // strip running EC2 instances of their credentials (IAM API Reference,
    // RemoveRoleFromInstanceProfile), so destroy stops and says what to do.
    let profiles = iam.list_instance_profiles_for_role().role_name(name);
    let profiles = profiles.into_paginator().items().send().try_collect().await;
    let profiles: Vec<String> = profiles
        .context("listing instance profiles")?
        .into_iter()
        .map(|profile| profile.instance_profile_name)
        .collect();
    if !profiles.is_empty() {
        bail!(
            "role {name} is in the instance profile(s) {}, which this environment does not own; \
             take it out where it was put in (aws iam remove-role-from-instance-profile \
             --instance-profile-name {} --role-name {name}) once no instance depends on it, then \
             run destroy again",
            profiles.join(", "),
            profiles[0]
        );
    }
    gone_is_done(iam.delete_role().role_name(name).send().await)
        .context("DeleteRole failed; something still references the role, remove it and run again")
}

/// What the deployer needs for the environment's roles, and to hand each to the one service
/// that assumes it. It creates a role, writes its policy and puts its boundary back only with
/// the environment's boundary (`iam:PermissionsBoundary`: the request's boundary for CreateRole
/// and PutRolePermissionsBoundary, the role's current one for PutRolePolicy; Service
/// Authorization Reference, IAM), and reads the boundary policy, never changes or removes it, as
/// the IAM User Guide's delegation example does ("Permissions boundaries for IAM entities",
/// https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html).
pub fn deployer_grants(scope: &Scope<'_>) -> Vec<Value> {
    let n = scope.env.names();
    let roles: Vec<String> = [
        n.codebuild_role(),
        n.pipeline_role(),
        n.deploy_handler_role(),
        n.event_notifier_role(),
    ]
    .iter()
    .map(|role| scope.target.role_arn(role))
    .collect();
    let boundary = crate::policies::boundary::arn(scope.env, scope.target);
    vec![
        statement(
            "Roles",
            &[
                "iam:DeleteRole",
                "iam:DeleteRolePolicy",
                "iam:DetachRolePolicy",
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListAttachedRolePolicies",
                "iam:ListInstanceProfilesForRole",
                "iam:ListRolePolicies",
                "iam:ListRoleTags",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:UpdateRole",
            ],
            roles.clone(),
        ),
        json!({
            "Sid": "RolesWithBoundary",
            "Effect": "Allow",
            "Action": ["iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy"],
            "Resource": roles,
            // The key's value is an ARN (the Service Authorization Reference types it so): the
            // ARN operator, which IAM's delegation example writes as StringEquals, to the same effect.
            "Condition": { "ArnEquals": { "iam:PermissionsBoundary": boundary } }
        }),
        statement("ReadBoundary", &["iam:GetPolicy"], vec![boundary.clone()]),
        pass_role("PassBuildRole", &roles[..1], "codebuild.amazonaws.com"),
        pass_role(
            "PassPipelineRole",
            &roles[1..2],
            "codepipeline.amazonaws.com",
        ),
        pass_role("PassFunctionRoles", &roles[2..], "lambda.amazonaws.com"),
    ]
}
