//! An ECS service as a deploy target (`DEPLOY_TARGET=ecs:CLUSTER/SERVICE[/CONTAINER]`): the
//! steps are [`crate::rollout::ecs`]'s.

use super::rollout_steps::{self, pinned};
use super::{Plan, Resume, Started, TargetKind, Work};
use crate::BoxFuture;
use crate::handler::{Decision, Deps, JobError};
use crate::report::FailureKind;
use crate::rollout::{self, RolloutState, Target};

#[derive(Debug)]
pub struct EcsService;

impl TargetKind for EcsService {
    fn name(&self) -> &'static str {
        "ecs"
    }

    fn selected(&self, plan: &Plan) -> bool {
        matches!(plan.target, Some(Target::Ecs { .. }))
    }

    fn owns(&self, token: &str) -> bool {
        matches!(rollout_steps::state(token), Some(RolloutState::Ecs { .. }))
    }

    fn start<'a>(
        &'a self,
        deps: &'a Deps,
        work: &'a Work<'a>,
    ) -> BoxFuture<'a, Result<Started, JobError>> {
        Box::pin(async move {
            let Some(Target::Ecs {
                cluster,
                service,
                container,
            }) = &work.plan.target
            else {
                return Err(not_selected());
            };
            if work.params.wants_shift() {
                return Err(JobError::new(
                    FailureKind::ConfigurationError,
                    "UserParameters trafficShift and alarms shift a Lambda alias's traffic; an ECS service's own \
                     deploymentConfiguration (its alarms, circuit breaker and canary or linear strategies) governs \
                     its rollout: drop them from the action",
                ));
            }
            let (image, digest) = pinned(work.image)?;
            let request = rollout_steps::request(work, &image, digest);
            let api = deps.rollout.as_ref();
            let bound = work.params.rollout_timeout_seconds();
            let step =
                rollout::ecs::start(api, cluster, service, container.as_deref(), &request, bound)
                    .await;
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
            let step = rollout::ecs::poll(deps.rollout.as_ref(), &state, &shown).await;
            Ok(rollout_steps::polled(step, &state, resume))
        })
    }
}

fn not_selected() -> JobError {
    JobError::new(FailureKind::JobFailed, "not an ECS rollout")
}
