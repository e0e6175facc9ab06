//! An EventBridge bus as a deploy target (`DEPLOY_EVENT_BUS`): the deployment event is
//! published and the job goes on to the next selected kind. It issues no continuation.

use super::{Plan, Resume, Started, TargetKind, Work};
use crate::BoxFuture;
use crate::handler::{Decision, Deps, JobError};
use crate::report::FailureKind;

#[derive(Debug)]
pub struct EventBridge;

impl TargetKind for EventBridge {
    fn name(&self) -> &'static str {
        "eventbridge"
    }

    fn selected(&self, plan: &Plan) -> bool {
        plan.event_bus.is_some()
    }

    fn owns(&self, _token: &str) -> bool {
        false
    }

    fn start<'a>(
        &'a self,
        deps: &'a Deps,
        work: &'a Work<'a>,
    ) -> BoxFuture<'a, Result<Started, JobError>> {
        Box::pin(async move {
            let Some(bus) = work.plan.event_bus.as_deref() else {
                return Err(JobError::new(
                    FailureKind::ConfigurationError,
                    "no event bus is configured: set DEPLOY_EVENT_BUS",
                ));
            };
            let detail = serde_json::to_string(work.event).map_err(|e| {
                JobError::new(
                    FailureKind::JobFailed,
                    format!("cannot encode the deployment event: {e}"),
                )
            })?;
            deps.events.publish(bus, &detail).await?;
            Ok(Started::Delivered {
                to: format!("EventBridge bus {bus}"),
            })
        })
    }

    fn poll<'a>(
        &'a self,
        _deps: &'a Deps,
        _resume: &'a Resume<'a>,
    ) -> BoxFuture<'a, Result<Decision, JobError>> {
        Box::pin(async {
            Err(JobError::new(
                FailureKind::JobFailed,
                "an EventBridge delivery issues no continuation token",
            ))
        })
    }
}
