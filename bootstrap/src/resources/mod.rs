//! One module per resource kind; each alone talks to its service's SDK client.
//!
//! Every module offers the same four idempotent steps over its own spec type:
//! `observe` (read the resource back as a spec, `None` when absent), `create`, `update`
//! (converge an existing resource to the desired spec) and `delete` (already gone is success).
//! This file only dispatches on [`Kind`] and passes values one module needs from another.

pub mod codebuild;
pub mod codepipeline;
pub mod connection;
pub mod ecr;
pub mod events;
pub mod iam;
pub mod lambda;
pub mod logs;
pub mod s3;
pub mod secrets;
pub mod sns;
pub mod util;
pub mod webhook;

use crate::aws::{Clients, Target};
use crate::model::{Desired, Kind, Observed, ResourceId, Spec};
use crate::progress::Progress;
use anyhow::{Result, bail};

/// Values a step may need that are not part of any spec (secrets never are).
#[derive(Debug, Default, Clone)]
pub struct Inputs {
    /// GitHub OAuth token for the version 1 source action, resolved only when deploying.
    pub github_token: Option<crate::secret::Secret>,
}

/// What every step gets: the clients, where we deploy, how to report progress.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub clients: &'a Clients,
    pub target: &'a Target,
    pub progress: &'a Progress,
    pub inputs: &'a Inputs,
}

pub async fn observe(ctx: Ctx<'_>, id: &ResourceId) -> Result<Option<Observed>> {
    let name = id.name.as_str();
    let observed = match id.kind {
        Kind::Role => iam::observe(ctx, name).await,
        Kind::LogGroup => logs::observe(ctx, name).await,
        Kind::Secret => secrets::observe(ctx, name).await,
        Kind::Connection => connection::observe(ctx, name).await,
        Kind::Bucket => s3::observe(ctx, name).await,
        Kind::Repository => ecr::observe(ctx, name).await,
        Kind::Topic => sns::observe(ctx, name).await,
        Kind::Function => lambda::observe(ctx, name).await,
        Kind::Permission => lambda::observe_permission(ctx, name).await,
        Kind::Project => codebuild::observe(ctx, name).await,
        Kind::Pipeline => codepipeline::observe(ctx, name).await,
        Kind::Webhook => webhook::observe(ctx, name).await,
        Kind::Rule => events::observe(ctx, name).await,
    };
    observed.map_err(|e| e.context(format!("reading {id}")))
}

pub async fn create(ctx: Ctx<'_>, desired: &Desired) -> Result<()> {
    let result = match &desired.spec {
        Spec::Role(s) => iam::create(ctx, s).await,
        Spec::LogGroup(s) => logs::create(ctx, s).await,
        Spec::Secret(s) => secrets::create(ctx, s).await,
        Spec::Connection(s) => connection::create(ctx, s).await,
        Spec::Bucket(s) => s3::create(ctx, s).await,
        Spec::Repository(s) => ecr::create(ctx, s).await,
        Spec::Topic(s) => sns::create(ctx, s).await,
        Spec::Function(s) => lambda::create(ctx, s).await,
        Spec::Permission(s) => lambda::create_permission(ctx, s).await,
        Spec::Project(s) => codebuild::create(ctx, s).await,
        Spec::Pipeline(s) => codepipeline::create(ctx, s).await,
        Spec::Webhook(s) => {
            let secret = secrets::read_value(ctx, &s.secret_name).await?;
            webhook::create(ctx, s, &secret).await
        }
        Spec::Rule(s) => events::create(ctx, s).await,
    };
    result.map_err(|e| e.context(format!("creating {}", desired.id)))
}

pub async fn update(ctx: Ctx<'_>, desired: &Desired, observed: &Observed) -> Result<()> {
    let result = match (&desired.spec, &observed.spec) {
        (Spec::Role(d), Spec::Role(o)) => iam::update(ctx, d, o).await,
        (Spec::LogGroup(d), Spec::LogGroup(o)) => logs::update(ctx, d, o).await,
        (Spec::Secret(d), Spec::Secret(o)) => secrets::update(ctx, d, o).await,
        (Spec::Connection(d), Spec::Connection(o)) => connection::update(ctx, d, o).await,
        (Spec::Bucket(d), Spec::Bucket(o)) => s3::update(ctx, d, o).await,
        (Spec::Repository(d), Spec::Repository(o)) => ecr::update(ctx, d, o).await,
        (Spec::Topic(d), Spec::Topic(o)) => sns::update(ctx, d, o).await,
        (Spec::Function(d), Spec::Function(o)) => lambda::update(ctx, d, o).await,
        (Spec::Permission(d), Spec::Permission(o)) => lambda::update_permission(ctx, d, o).await,
        (Spec::Project(d), Spec::Project(o)) => codebuild::update(ctx, d, o).await,
        (Spec::Pipeline(d), Spec::Pipeline(o)) => codepipeline::update(ctx, d, o).await,
        (Spec::Webhook(d), Spec::Webhook(o)) => {
            let secret = secrets::read_value(ctx, &d.secret_name).await?;
            webhook::update(ctx, d, o, &secret).await
        }
        (Spec::Rule(d), Spec::Rule(o)) => events::update(ctx, d, o).await,
        _ => bail!(
            "{}: observed a different kind of resource than desired",
            desired.id
        ),
    };
    result.map_err(|e| e.context(format!("updating {}", desired.id)))
}

pub async fn delete(ctx: Ctx<'_>, id: &ResourceId) -> Result<()> {
    let name = id.name.as_str();
    let result = match id.kind {
        Kind::Role => iam::delete(ctx, name).await,
        Kind::LogGroup => logs::delete(ctx, name).await,
        Kind::Secret => secrets::delete(ctx, name).await,
        Kind::Connection => connection::delete(ctx, name).await,
        Kind::Bucket => s3::delete(ctx, name).await,
        Kind::Repository => ecr::delete(ctx, name).await,
        Kind::Topic => sns::delete(ctx, name).await,
        Kind::Function => lambda::delete(ctx, name).await,
        Kind::Permission => lambda::delete_permission(ctx, name).await,
        Kind::Project => codebuild::delete(ctx, name).await,
        Kind::Pipeline => codepipeline::delete(ctx, name).await,
        Kind::Webhook => webhook::delete(ctx, name).await,
        Kind::Rule => events::delete(ctx, name).await,
    };
    result.map_err(|e| e.context(format!("deleting {id}")))
}
