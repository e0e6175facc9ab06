//! The deploy targets as one seam. Each kind (an ECS service, a Lambda function, a webhook, an
//! EventBridge bus) is one module implementing [`TargetKind`]: whether the job's configuration
//! selects it, how it starts, and how it polls the continuation token it issued. [`KINDS`]
//! registers them; the handler runs the selected ones in that order and hands a token to the
//! kind that claims it, without knowing any kind by name.

pub mod ecs;
pub mod eventbridge;
pub mod lambda;
mod rollout_steps;
pub mod webhook;

use std::collections::BTreeMap;

use tokio::time::Instant;

use crate::BoxFuture;
use crate::delivery::DeploymentEvent;
use crate::handler::{Decision, Deps, JobError, Settings};
use crate::image::ImageRef;
use crate::params::UserParameters;
use crate::report::FailureKind;
use crate::rollout::Target;

/// Every kind, in the order a job starts them: the event is published first, then the one
/// kind that takes the deployment. The webhook claims any token the others do not (its tokens
/// predate the `kind` field), so it stays last.
pub const KINDS: [&dyn TargetKind; 4] = [
    &eventbridge::EventBridge,
    &ecs::EcsService,
    &lambda::LambdaFunction,
    &webhook::Webhook,
];

/// One kind of deploy target.
pub trait TargetKind: Sync {
    /// Its name in the job's log line.
    fn name(&self) -> &'static str;
    /// Whether the job's configuration selects it.
    fn selected(&self, plan: &Plan) -> bool;
    /// Whether `token` is a continuation this kind issued.
    fn owns(&self, token: &str) -> bool;
    /// Starts the deployment (a re-delivered job resumes what it started).
    fn start<'a>(
        &'a self,
        deps: &'a Deps,
        work: &'a Work<'a>,
    ) -> BoxFuture<'a, Result<Started, JobError>>;
    /// One poll of a deployment in progress, from the token this kind issued.
    fn poll<'a>(
        &'a self,
        deps: &'a Deps,
        resume: &'a Resume<'a>,
    ) -> BoxFuture<'a, Result<Decision, JobError>>;
}

/// The kind that issued `token`.
pub fn owner_of(token: &str) -> &'static dyn TargetKind {
    KINDS
        .into_iter()
        .find(|kind| kind.owns(token))
        .unwrap_or(&webhook::Webhook)
}

/// What a kind's start did.
#[derive(Debug)]
pub enum Started {
    /// Handed over (`to` says where, for the summary); the next selected kind runs.
    Delivered { to: String },
    /// The kind took the deployment and this is the job's result.
    Decided(Decision),
}

/// The targets the job's configuration names: `DEPLOY_TARGET`, the webhook (UserParameters'
/// `webhookUrl` over `DEPLOY_WEBHOOK_URL`) and the event bus.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub target: Option<Target>,
    pub webhook_url: Option<String>,
    pub event_bus: Option<String>,
}

impl Plan {
    /// The webhook and the bus; the target is added by [`Plan::with_target`].
    pub fn new(settings: &Settings, params: &UserParameters) -> Self {
        Self {
            target: None,
            webhook_url: params
                .webhook_url
                .clone()
                .or_else(|| settings.webhook_url.clone()),
            event_bus: settings.event_bus.clone(),
        }
    }

    /// Adds the action's `target` (UserParameters), else `DEPLOY_TARGET`, refusing a bad one or
    /// one beside a webhook.
    pub fn with_target(
        mut self,
        settings: &Settings,
        params: &UserParameters,
    ) -> Result<Self, JobError> {
        let (source, raw) = match (&params.target, &settings.deploy_target) {
            (Some(raw), _) => ("UserParameters target", Some(raw)),
            (None, raw) => ("DEPLOY_TARGET", raw.as_ref()),
        };
        self.target = raw
            .map(|raw| Target::parse(raw))
            .transpose()
            .map_err(|problem| {
                JobError::new(
                    FailureKind::ConfigurationError,
                    format!("{source}: {problem}"),
                )
            })?;
        if let Some(target) = &self.target
            && self.webhook_url.is_some()
        {
            return Err(JobError::new(
                FailureKind::ConfigurationError,
                format!(
                    "both a deploy target ({}) and a deployment webhook are configured; one Deploy action rolls \
                     out one way: drop the webhook or the target",
                    target.spec()
                ),
            ));
        }
        Ok(self)
    }

    /// The selected kinds for the log line (`webhook+eventbridge`, `ecs`, `none`, ...): the
    /// one that takes the deployment first.
    pub fn label(&self) -> String {
        let names: Vec<&str> = KINDS
            .iter()
            .rev()
            .filter(|kind| kind.selected(self))
            .map(|kind| kind.name())
            .collect();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join("+")
        }
    }
}

/// A new job's deployment, as every kind's start sees it.
#[derive(Debug)]
pub struct Work<'a> {
    pub job_id: &'a str,
    pub plan: &'a Plan,
    pub params: &'a UserParameters,
    pub image: &'a ImageRef,
    pub event: &'a DeploymentEvent,
    /// `IMAGE (commit C) to ENV`, for summaries.
    pub described: &'a str,
    /// The job's output variables, before the kind adds its own.
    pub variables: &'a BTreeMap<String, String>,
    pub deadline: Instant,
}

/// A re-invocation with a continuation token, as the kind that issued it sees it.
#[derive(Debug)]
pub struct Resume<'a> {
    pub job_id: &'a str,
    pub token: &'a str,
    pub params: &'a UserParameters,
    pub image: &'a ImageRef,
    pub variables: &'a BTreeMap<String, String>,
    pub deadline: Instant,
}
