//! One module per resource kind; each alone talks to its service's SDK client (`account` and
//! `tagging` answer the two account-wide questions the commands ask).
//!
//! Every kind implements the one contract, [`Resource`]: four idempotent steps over its own
//! spec type and its place in the dependency graph. Adding a kind is one module that implements
//! it, its spec in `model.rs`'s `kinds!` list, and one line in [`registry!`] below.

pub mod account;
pub mod adopt;
pub mod codebuild;
pub mod codepipeline;
pub mod codepipeline_stages;
pub mod connection;
pub mod deploy_target;
pub mod ecr;
pub mod errors;
pub mod events;
pub mod iam;
pub mod lambda;
pub mod logs;
pub mod pull_through_cache;
pub mod report_group;
pub mod s3;
pub mod secrets;
pub mod sns;
pub mod tagging;
pub mod tags;
pub mod util;
pub mod webhook;

use crate::aws::{Clients, Target};
use crate::model::{Desired, Kind, Observed, ResourceId, Spec};
use crate::policies::deployer::Scope;
use crate::progress::Progress;
use anyhow::{Result, bail};
use serde_json::Value;
use std::future::Future;

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

/// The contract of a resource kind. Every step is idempotent: re-running it after a crash at any
/// point converges.
pub trait Resource {
    const KIND: Kind;
    /// Kinds whose resources one of this kind may need in place before it is created. Apply
    /// follows the finer per-resource edges `desired::build` draws (each must be covered here);
    /// destroy deletes along this graph in reverse, so nothing is deleted before what needs it.
    const DEPENDS_ON: &'static [Kind];
    type Spec;

    /// Reads the resource back as a spec normalised to the desired shape; `None` when absent.
    fn observe(ctx: Ctx<'_>, name: &str) -> impl Future<Output = Result<Option<Observed>>> + Send;
    /// Creates it; an existing resource of that name left by an interrupted run is adopted.
    fn create(ctx: Ctx<'_>, spec: &Self::Spec) -> impl Future<Output = Result<()>> + Send;
    /// Converges an existing resource to `desired`, touching only what differs.
    fn update(
        ctx: Ctx<'_>,
        desired: &Self::Spec,
        observed: &Self::Spec,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Deletes it; already gone is success.
    fn delete(ctx: Ctx<'_>, name: &str) -> impl Future<Output = Result<()>> + Send;
    /// The IAM statements the four steps need from whoever runs `bootstrap`, on this
    /// environment's resources of the kind (what `bootstrap deployer-policy` is assembled from).
    fn deployer_grants(scope: &Scope<'_>) -> Vec<Value>;
}

/// Implements [`Resource`] for a module whose four steps are its free functions `observe`,
/// `create`, `update` and `delete` (the resource tests call those directly), and its create's
/// [`adopt::Adopt`] by the spec's `name` and `tags`. An `untaggable` kind (observed with its
/// parent's tags, so never adopted by its own) gets the contract alone.
macro_rules! resource {
    ($(#[$doc:meta])* $name:ident: $kind:ident($spec:ty), depends on [$($dep:ident),*]) => {
        $crate::resources::resource!(
            untaggable $(#[$doc])* $name: $kind($spec), depends on [$($dep),*]
        );

        impl $crate::resources::adopt::Adopt for $name {
            fn identity(spec: &$spec) -> (&str, &$crate::model::Tags) {
                (&spec.name, &spec.tags)
            }
        }
    };
    (untaggable $(#[$doc:meta])* $name:ident: $kind:ident($spec:ty), depends on [$($dep:ident),*]) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;

        impl $crate::resources::Resource for $name {
            const KIND: $crate::model::Kind = $crate::model::Kind::$kind;
            const DEPENDS_ON: &'static [$crate::model::Kind] = &[$($crate::model::Kind::$dep),*];
            type Spec = $spec;

            async fn observe(
                ctx: $crate::resources::Ctx<'_>,
                name: &str,
            ) -> anyhow::Result<Option<$crate::model::Observed>> {
                observe(ctx, name).await
            }

            async fn create(ctx: $crate::resources::Ctx<'_>, spec: &$spec) -> anyhow::Result<()> {
                create(ctx, spec).await
            }

            async fn update(
                ctx: $crate::resources::Ctx<'_>,
                desired: &$spec,
                observed: &$spec,
            ) -> anyhow::Result<()> {
                update(ctx, desired, observed).await
            }

            async fn delete(ctx: $crate::resources::Ctx<'_>, name: &str) -> anyhow::Result<()> {
                delete(ctx, name).await
            }

            fn deployer_grants(
                scope: &$crate::policies::deployer::Scope<'_>,
            ) -> Vec<serde_json::Value> {
                deployer_grants(scope)
            }
        }
    };
}
pub(crate) use resource;

/// Registers each kind's [`Resource`] implementation once; generates the dispatch on [`Kind`]
/// and [`Spec`] the engine calls.
macro_rules! registry {
    ($($kind:ident => $resource:ty),* $(,)?) => {
        /// The kinds a kind depends on (see [`Resource::DEPENDS_ON`]).
        pub fn depends_on(kind: Kind) -> &'static [Kind] {
            match kind {
                $(Kind::$kind => <$resource as Resource>::DEPENDS_ON,)*
            }
        }

        /// The deployer's grants, each kind's declaration in this list's order after the
        /// account-wide search's, and apart those for reading what the options name.
        pub fn deployer_grants(scope: &Scope<'_>) -> DeployerGrants {
            let mut stack = tagging::deployer_grants(scope);
            $(stack.extend(<$resource as Resource>::deployer_grants(scope));)*
            DeployerGrants {
                stack,
                inputs: deploy_target::deployer_grants(scope),
            }
        }

        pub async fn observe(ctx: Ctx<'_>, id: &ResourceId) -> Result<Option<Observed>> {
            let observed = match id.kind {
                $(Kind::$kind => <$resource as Resource>::observe(ctx, &id.name).await,)*
            };
            observed.map_err(|e| e.context(format!("reading {id}")))
        }

        pub async fn create(ctx: Ctx<'_>, desired: &Desired) -> Result<()> {
            let result = match &desired.spec {
                $(Spec::$kind(spec) => <$resource as Resource>::create(ctx, spec).await,)*
            };
            result.map_err(|e| e.context(format!("creating {}", desired.id)))
        }

        pub async fn update(ctx: Ctx<'_>, desired: &Desired, observed: &Observed) -> Result<()> {
            let result = match (&desired.spec, &observed.spec) {
                $((Spec::$kind(want), Spec::$kind(have)) => {
                    <$resource as Resource>::update(ctx, want, have).await
                })*
                _ => bail!(
                    "{}: observed a different kind of resource than desired",
                    desired.id
                ),
            };
            result.map_err(|e| e.context(format!("updating {}", desired.id)))
        }

        pub async fn delete(ctx: Ctx<'_>, id: &ResourceId) -> Result<()> {
            let result = match id.kind {
                $(Kind::$kind => <$resource as Resource>::delete(ctx, &id.name).await,)*
            };
            result.map_err(|e| e.context(format!("deleting {id}")))
        }
    };
}

/// The deployer's grants as the kinds declare them.
#[derive(Debug)]
pub struct DeployerGrants {
    /// The account-wide search's, then each kind's, in [`registry!`]'s order.
    pub stack: Vec<Value>,
    /// For reading what `--deploy-target` and its signing secret name.
    pub inputs: Vec<Value>,
}

// In the order the deployer policy lists the kinds' grants.
registry! {
    Bucket => s3::BucketResource,
    Repository => ecr::RepositoryResource,
    PullThroughCacheRule => pull_through_cache::PullThroughCacheRuleResource,
    Role => iam::RoleResource,
    Function => lambda::FunctionResource,
    Project => codebuild::ProjectResource,
    ReportGroup => report_group::ReportGroupResource,
    Pipeline => codepipeline::PipelineResource,
    LogGroup => logs::LogGroupResource,
    Topic => sns::TopicResource,
    Rule => events::RuleResource,
    Connection => connection::ConnectionResource,
    Webhook => webhook::WebhookResource,
    Secret => secrets::SecretResource,
    Permission => lambda::PermissionResource,
}
