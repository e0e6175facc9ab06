//! A Lambda function as a deploy target (`DEPLOY_TARGET=lambda:FUNCTION[:ALIAS]`): the
//! steps are [`crate::rollout::lambda`]'s.

use super::rollout_steps::{self, pinned};
use super::{Plan, Resume, Started, TargetKind, Work};
use crate::BoxFuture;
use crate::handler::{Decision, Deps, JobError};
use crate::params::UserParameters;
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
            shift_fits(work.params, alias.as_deref())?;
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
            let plan = resume.params.shift_plan();
            let step = rollout::lambda::poll(deps.rollout.as_ref(), &state, &shown, &plan).await;
            Ok(rollout_steps::polled(step, &state, resume))
        })
    }
}

/// A gradual shift needs an alias (its weights are the alias's) and must end inside the
/// rollout's bound (`timeoutSeconds`), which would otherwise fail it half-shifted.
fn shift_fits(params: &UserParameters, alias: Option<&str>) -> Result<(), JobError> {
    let plan = params.shift_plan();
    if !params.wants_shift() {
        return Ok(());
    }
    if alias.is_none() {
        return Err(JobError::new(
            FailureKind::ConfigurationError,
            "UserParameters trafficShift and alarms shift a Lambda alias's traffic, and the target names no alias: \
             target lambda:FUNCTION:ALIAS, or drop trafficShift and alarms",
        ));
    }
    let limit = params.rollout_timeout_seconds();
    let waits = plan.shift.total_wait().as_secs();
    if waits >= limit {
        return Err(JobError::new(
            FailureKind::ConfigurationError,
            format!(
                "UserParameters trafficShift waits {waits} s in all, not less than the rollout's bound of {limit} s \
                 (timeoutSeconds): raise timeoutSeconds or shorten the shift"
            ),
        ));
    }
    Ok(())
}

fn not_selected() -> JobError {
    JobError::new(FailureKind::JobFailed, "not a Lambda rollout")
}
