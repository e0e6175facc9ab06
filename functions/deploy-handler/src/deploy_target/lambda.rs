//! A Lambda function as a deploy target (`DEPLOY_TARGET=lambda:FUNCTION[:ALIAS]`): the
//! steps are [`crate::rollout::lambda`]'s.

use super::rollout_steps::{self, pinned};
use super::{Plan, Resume, Started, TargetKind, Work};
use crate::BoxFuture;
use crate::handler::{Decision, Deps, JobError};
use crate::report::FailureKind;
use crate::rollout::{self, RolloutState, Target};

#[derive(Debug)]
pub struct LambdaFunction;

impl TargetKind for LambdaFunction {
    fn name(&self) -> &'static str {
        "lambda"
    }

    fn selected(&self, plan: &Plan) -> bool {
        matches!(plan.target, Some(Target::Lambda { .. }))
    }

    fn owns(&self, token: &str) -> bool {
        matches!(
            rollout_steps::state(token),
            Some(RolloutState::Lambda { .. })
        )
    }

    fn start<'a>(
        &'a self,
        deps: &'a Deps,
        work: &'a Work<'a>,
    ) -> BoxFuture<'a, Result<Started, JobError>> {
        Box::pin(async move {
            let Some(Target::Lambda { function, alias }) = &work.plan.target else {
                return Err(not_selected());
            };
            let (image, digest) = pinned(work.image)?;
            let request = rollout_steps::request(work, &image, digest);
            let api = deps.rollout.as_ref();
            let step = rollout::lambda::start(api, function, alias.as_deref(), &request).await;
            Ok(Started::Decided(rollout_steps::decision(
                step,
                work.variables.clone(),
            )))
        })
    }

    fn poll<'a>(
        &'a self,
        deps: &'a Deps,
        resume: &'a Resume<'a>,
    ) -> BoxFuture<'a, Result<Decision, JobError>> {
        Box::pin(async move {
            let state = rollout_steps::state(resume.token).ok_or_else(not_selected)?;
            let shown = rollout_steps::shown(resume.image);
            let step = rollout::lambda::poll(deps.rollout.as_ref(), &state, &shown).await;
            Ok(rollout_steps::polled(step, &state, resume))
        })
    }
}

fn not_selected() -> JobError {
    JobError::new(FailureKind::JobFailed, "not a Lambda rollout")
}
