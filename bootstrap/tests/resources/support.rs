//! Shared by the resource tests: one resource module at a time against the local emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bootstrap::aws::{Clients, Target};
use bootstrap::model::{
    BucketSpec, ConnectionSpec, FunctionSpec, LogGroupSpec, Observed, PermissionSpec, PipelineSpec,
    ProjectSpec, RepositorySpec, RoleSpec, RuleSpec, SecretSpec, Spec, Tags, TopicSpec,
    WebhookSpec,
};
use bootstrap::progress::Progress;
use bootstrap::resources::{Ctx, Inputs, Resource};
use testkit::Emulator;

/// A fresh emulator and everything a resource step needs to run against it.
pub struct Fixture {
    pub emu: Emulator,
    pub clients: Clients,
    pub target: Target,
    pub progress: Progress,
    pub inputs: Inputs,
}

impl Fixture {
    /// No GitHub token: what every module but the version 1 pipeline source needs.
    pub async fn start() -> Self {
        Self::with_inputs(Inputs::default()).await
    }

    pub async fn with_inputs(inputs: Inputs) -> Self {
        let emu = Emulator::start().expect("emulator starts");
        let clients = Clients::new(&emu.sdk_config().await);
        let target = Target {
            account_id: testkit::ACCOUNT_ID.into(),
            region: "us-east-1".into(),
        };
        Self {
            emu,
            clients,
            target,
            progress: Progress::quiet(),
            inputs,
        }
    }

    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            clients: &self.clients,
            target: &self.target,
            progress: &self.progress,
            inputs: &self.inputs,
        }
    }
}

/// Creates an IAM role that `service` (e.g. `lambda.amazonaws.com`) may assume; returns its ARN.
pub async fn create_role(clients: &Clients, name: &str, service: &str) -> String {
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"{service}"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    clients
        .iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn
}

/// The operations of the mutating calls the emulator recorded, in order.
pub fn operations(emu: &Emulator) -> Vec<String> {
    emu.mutating_calls()
        .unwrap()
        .into_iter()
        .map(|c| c.operation)
        .collect()
}

/// A tag map from literal pairs.
pub fn tags<const N: usize>(pairs: [(&str, &str); N]) -> Tags {
    pairs
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// `pairs` and the ownership tags of environment `dev`: what a create that finds its name taken
/// checks before it adopts the resource there.
pub fn our_tags<const N: usize>(pairs: [(&str, &str); N]) -> Tags {
    let mut all = tags(pairs);
    all.insert(
        pipeline_common::tags::MANAGED_BY.to_owned(),
        pipeline_common::tags::MANAGED_BY_VALUE.to_owned(),
    );
    all.insert(
        pipeline_common::tags::ENVIRONMENT.to_owned(),
        "dev".to_owned(),
    );
    all
}

/// A spec type that is one variant of [`Spec`].
pub trait SpecKind: Sized {
    /// The spec inside; panics, showing what was read, when it is another kind.
    fn from_spec(spec: Spec) -> Self;
}

macro_rules! spec_kinds {
    ($($variant:ident => $spec:ty),* $(,)?) => {$(
        impl SpecKind for $spec {
            fn from_spec(spec: Spec) -> Self {
                match spec {
                    Spec::$variant(inner) => inner,
                    other => panic!("observed another kind: {other:?}"),
                }
            }
        }
    )*};
}

spec_kinds! {
    Role => RoleSpec,
    LogGroup => LogGroupSpec,
    Secret => SecretSpec,
    Connection => ConnectionSpec,
    Bucket => BucketSpec,
    Repository => RepositorySpec,
    Topic => TopicSpec,
    Function => FunctionSpec,
    Project => ProjectSpec,
    Pipeline => PipelineSpec,
    Webhook => WebhookSpec,
    Rule => RuleSpec,
    Permission => PermissionSpec,
}

/// The contract's idempotence (`Resource::update` converges "touching only what differs"): an
/// update with nothing to change makes no mutating call.
pub async fn assert_no_op_update<R: Resource>(
    emu: &Emulator,
    ctx: Ctx<'_>,
    desired: &R::Spec,
    observed: &R::Spec,
) {
    emu.clear_calls().unwrap();
    R::update(ctx, desired, observed).await.unwrap();
    assert_eq!(
        emu.mutating_calls().unwrap(),
        vec![],
        "a no-op update of a {:?} mutates nothing",
        R::KIND
    );
}

/// The spec an observation read back; panics when it is not of kind `T`.
pub fn spec_of<T: SpecKind>(observed: Observed) -> T {
    T::from_spec(observed.spec)
}
