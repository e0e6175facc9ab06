//! CodeStar connections to GitHub. AWS creates them PENDING; a person completes the handshake
//! in the console once. Their ARN holds a UUID, so they are found by name.

use super::Ctx;
use super::errors::{self, absent_as_none, gone_is_done};
use super::tags::{model_tags, retag_with, sdk_tags};
use crate::config::SourceMode;
use crate::model::{ConnectionSpec, Observed, Spec, Tags};
use crate::policies::deployer::Scope;
use crate::policies::statement;
use anyhow::{Context, Result, bail};
use aws_sdk_codestarconnections::operation::{
    delete_connection::DeleteConnectionError, get_connection::GetConnectionError,
};
use aws_sdk_codestarconnections::types::{Connection, ProviderType};
use serde_json::{Value, json};

super::resource!(
    /// CodeStar connections to GitHub.
    ConnectionResource: Connection(ConnectionSpec), depends on []
);

errors::variants! {
    NotFound:
    GetConnectionError => is_resource_not_found_exception,
    DeleteConnectionError => is_resource_not_found_exception,
}

/// Every GitHub connection with this name, smallest ARN first. CreateConnection does not refuse
/// a duplicate name, so two first deploys at once can each make one; every reader agrees on the
/// first, and [`remove_duplicates`] deletes the others.
async fn find_all(ctx: Ctx<'_>, name: &str) -> Result<Vec<Connection>> {
    let pages: Vec<_> = ctx
        .clients
        .connections
        .list_connections()
        .provider_type_filter(ProviderType::Github)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .context("listing CodeStar connections")?;
    let mut found: Vec<Connection> = pages
        .iter()
        .flat_map(|p| p.connections())
        .filter(|c| c.connection_name() == Some(name))
        .cloned()
        .collect();
    found.sort_by(|a, b| a.connection_arn().cmp(&b.connection_arn()));
    Ok(found)
}

/// The connection of this name every run agrees on (the first of [`find_all`]).
async fn find(ctx: Ctx<'_>, name: &str) -> Result<Option<Connection>> {
    Ok(find_all(ctx, name).await?.into_iter().next())
}

async fn tags_of(ctx: Ctx<'_>, arn: &str) -> Result<Tags> {
    let listed = ctx
        .clients
        .connections
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .context("reading the connection's tags")?;
    Ok(model_tags(listed.tags()))
}

/// The ARNs beyond the first of `all` that carry the ownership tags the first carries: ours
/// only, never a connection someone else named alike.
async fn duplicates(ctx: Ctx<'_>, all: &[Connection], kept_tags: &Tags) -> Result<Vec<String>> {
    let owner = |tags: &Tags| {
        [
            pipeline_common::tags::MANAGED_BY,
            pipeline_common::tags::ENVIRONMENT,
        ]
        .map(|key| tags.get(key).cloned())
    };
    let mut found = Vec::new();
    for arn in all.iter().skip(1).filter_map(|c| c.connection_arn()) {
        if owner(&tags_of(ctx, arn).await?) == owner(kept_tags) {
            found.push(arn.to_owned());
        }
    }
    Ok(found)
}

async fn delete_duplicates(ctx: Ctx<'_>, name: &str, arns: &[String]) -> Result<()> {
    for duplicate in arns {
        ctx.progress.line(&format!(
            "deleting connection {duplicate}: a second `{name}` made by a run at the same time"
        ));
        let deleted = ctx
            .clients
            .connections
            .delete_connection()
            .connection_arn(duplicate)
            .send()
            .await;
        gone_is_done(deleted)?;
    }
    Ok(())
}

/// Deletes our connections of this name beyond the one every run keeps.
async fn remove_duplicates(ctx: Ctx<'_>, name: &str) -> Result<()> {
    let all = find_all(ctx, name).await?;
    let Some(kept) = all.first().and_then(|c| c.connection_arn()) else {
        return Ok(());
    };
    let extra = duplicates(ctx, &all, &tags_of(ctx, kept).await?).await?;
    delete_duplicates(ctx, name, &extra).await
}

/// The connection's ARN, `None` when there is no connection of that name.
pub async fn arn_of(ctx: Ctx<'_>, name: &str) -> Result<Option<String>> {
    Ok(find(ctx, name)
        .await?
        .and_then(|c| c.connection_arn().map(str::to_owned)))
}

/// Reads the connection `--connection-arn` names before anything is made: it must exist in the
/// stack's account and region (a pipeline uses connections of its own region only) and not be
/// in ERROR; a PENDING one is allowed with a warning, since pushes start nothing until someone
/// completes the handshake (CodeConnections API Reference, `Connection.ConnectionStatus`).
pub async fn inspect_given(ctx: Ctx<'_>, arn: &str) -> Result<Option<String>> {
    let place = format!(
        "account {} region {}",
        ctx.target.account_id, ctx.target.region
    );
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if let [_, _, _, region, account, _] = parts.as_slice()
        && (*region != ctx.target.region || *account != ctx.target.account_id)
    {
        bail!(
            "--connection-arn {arn} is in account {account} region {region}, but the stack is in \
             {place}: a pipeline uses connections of its own account and region; create one there \
             or drop --connection-arn and bootstrap creates it"
        );
    }
    let Some(status) = status_of(ctx, arn)
        .await
        .with_context(|| format!("reading --connection-arn {arn}"))?
    else {
        bail!(
            "--connection-arn {arn}: no such connection in {place}; check the ARN (`aws \
             codeconnections list-connections`), or drop --connection-arn and bootstrap creates one"
        );
    };
    match Some(status.as_str()) {
        Some("AVAILABLE") => Ok(None),
        Some("PENDING") => Ok(Some(format!(
            "--connection-arn {arn} is PENDING: pushes start nothing until someone completes the \
             GitHub handshake in the console (Developer Tools > Settings > Connections)"
        ))),
        status => bail!(
            "--connection-arn {arn} is {}: it cannot be used; update it in the console \
             (Developer Tools > Settings > Connections), or give another",
            status.unwrap_or("in no known state")
        ),
    }
}

/// A connection's status (PENDING, AVAILABLE, ERROR) by its ARN; `None` when there is none.
pub async fn status_of(ctx: Ctx<'_>, arn: &str) -> Result<Option<String>> {
    Ok(get(ctx, arn)
        .await?
        .map(|c| c.connection_status().map_or("", |s| s.as_str()).to_owned()))
}

/// GetConnection; `None` when there is no connection with that ARN.
async fn get(ctx: Ctx<'_>, arn: &str) -> Result<Option<Connection>> {
    let answer = ctx
        .clients
        .connections
        .get_connection()
        .connection_arn(arn)
        .send()
        .await;
    Ok(absent_as_none(answer)?.and_then(|out| out.connection().cloned()))
}

pub async fn observe(ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
    let all = find_all(ctx, name).await?;
    let Some(arn) = all
        .first()
        .and_then(|c| c.connection_arn())
        .map(str::to_owned)
    else {
        return Ok(None);
    };
    // None when deleted between the listing and now.
    let Some(connection) = get(ctx, &arn).await? else {
        return Ok(None);
    };
    let tags = tags_of(ctx, &arn).await?;
    let duplicates = duplicates(ctx, &all, &tags).await?;
    let spec = ConnectionSpec {
        name: name.to_owned(),
        provider_type: connection
            .provider_type()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        tags: tags.clone(),
        duplicates,
    };
    let status = connection
        .connection_status()
        .map(|s| s.as_str().to_owned());
    Ok(Some(Observed::of(spec, Some(arn)).with_status(status)))
}

pub async fn create(ctx: Ctx<'_>, spec: &ConnectionSpec) -> Result<()> {
    // CreateConnection does not refuse a duplicate name, so look first: a crash after create
    // must not leave two connections (and two handshakes) behind.
    if let Some(existing) = observe(ctx, &spec.name).await? {
        let Spec::Connection(observed) = &existing.spec else {
            anyhow::bail!(
                "connection {} read back as another kind of resource",
                spec.name
            );
        };
        update(ctx, spec, observed).await?;
        if existing.status.as_deref() == Some("PENDING") {
            announce_handshake(ctx, &spec.name);
        }
        return Ok(());
    }
    ctx.clients
        .connections
        .create_connection()
        .connection_name(&spec.name)
        .provider_type(ProviderType::from(spec.provider_type.as_str()))
        .set_tags(Some(sdk_tags(&spec.tags)?))
        .send()
        .await?;
    remove_duplicates(ctx, &spec.name).await?;
    announce_handshake(ctx, &spec.name);
    Ok(())
}

/// The one manual step AWS requires before a connection can be used.
fn announce_handshake(ctx: Ctx<'_>, name: &str) {
    ctx.progress.line(&format!(
        "connection {name} is PENDING until GitHub is authorized: Open \
         https://console.aws.amazon.com/codesuite/settings/connections?region={region}, choose {name}, \
         choose 'Update pending connection' and authorize GitHub",
        region = ctx.target.region
    ));
}

/// Only tags can change; name and provider are the connection's identity.
pub async fn update(
    ctx: Ctx<'_>,
    desired: &ConnectionSpec,
    observed: &ConnectionSpec,
) -> Result<()> {
    delete_duplicates(ctx, &desired.name, &observed.duplicates).await?;
    if desired.tags == observed.tags {
        return Ok(());
    }
    let arn = arn_of(ctx, &desired.name).await?.with_context(|| {
        format!(
            "connection {} disappeared while updating its tags; run the command again",
            desired.name
        )
    })?;
    let connections = &ctx.clients.connections;
    retag_with!(
        connections,
        resource_arn(&arn),
        &desired.tags,
        &observed.tags
    )
    .await
}

pub async fn delete(ctx: Ctx<'_>, name: &str) -> Result<()> {
    // A duplicate a race left goes first, so the kept one is the last of this name.
    remove_duplicates(ctx, name).await?;
    let Some(arn) = arn_of(ctx, name).await? else {
        return Ok(());
    };
    let deleted = ctx
        .clients
        .connections
        .delete_connection()
        .connection_arn(&arn)
        .send()
        .await;
    gone_is_done(deleted)
}

/// What the deployer needs for the connection: finding it by name in either source mode (plan,
/// destroy and outputs look it up); in codeconnections mode, using it, and creating it unless
/// `--connection-arn` names one.
pub fn deployer_grants(scope: &Scope<'_>) -> Vec<Value> {
    let mut grants = vec![statement(
        "FindConnection",
        &["codestar-connections:ListConnections"],
        vec![scope.target.arn("codestar-connections", "connection/*")],
    )];
    if scope.source == SourceMode::Codeconnections {
        grants.push(use_connection(scope));
        if scope.connection_arn.is_none() {
            grants.push(create_connection(scope));
        }
    }
    grants
}

/// An existing connection by its ARN; a connection bootstrap creates has a random id, so it is
/// scoped by the environment's tag instead.
fn use_connection(scope: &Scope<'_>) -> Value {
    // Creating a pipeline whose source uses a connection needs PassConnection on it (Developer
    // Tools console User Guide, "Connections permissions reference").
    if let Some(arn) = scope.connection_arn {
        return statement(
            "UseGivenConnection",
            &[
                "codestar-connections:GetConnection",
                "codestar-connections:PassConnection",
            ],
            vec![arn.to_owned()],
        );
    }
    json!({
        "Sid": "EnvironmentConnection",
        "Effect": "Allow",
        "Action": [
            "codestar-connections:DeleteConnection",
            "codestar-connections:GetConnection",
            "codestar-connections:ListTagsForResource",
            "codestar-connections:PassConnection",
            "codestar-connections:TagResource",
            "codestar-connections:UntagResource",
        ],
        "Resource": scope.target.arn("codestar-connections", "connection/*"),
        "Condition": {
            "StringEquals": {
                format!("aws:ResourceTag/{}", pipeline_common::tags::ENVIRONMENT): scope.env.as_str()
            }
        }
    })
}

/// Creating the environment's connection. CreateConnection has no resource type, so the
/// request's own tags scope it; tagging on create is also authorised as TagResource on the new
/// connection (Service Authorization Reference, "Actions, resources, and condition keys for AWS
/// CodeStar Connections": TagResource takes the `Connection` resource type, whose existing tags
/// are `aws:ResourceTag`, and the request's `aws:RequestTag` and `aws:TagKeys`). That grant may
/// never reach a connection another environment tagged: a request tagging `Environment=dev` is
/// allowed only on a connection that carries no `Environment` tag yet (the one being created)
/// or already carries this environment's, so `prod`'s connection cannot be retagged into `dev`.
fn create_connection(scope: &Scope<'_>) -> Value {
    let environment = pipeline_common::tags::ENVIRONMENT;
    json!({
        "Sid": "CreateEnvironmentConnection",
        "Effect": "Allow",
        "Action": ["codestar-connections:CreateConnection", "codestar-connections:TagResource"],
        "Resource": "*",
        "Condition": {
            "StringEquals": { format!("aws:RequestTag/{environment}"): scope.env.as_str() },
            "StringEqualsIfExists": { format!("aws:ResourceTag/{environment}"): scope.env.as_str() }
        }
    })
}
