//! What plan found the team's `--deploy-target` to be: plain data the desired state and the
//! deploy-handler's policy are scoped to (read by `resources::deploy_target`, never changed).

use pipeline_common::{CpuArchitecture, DeployTarget};

/// What a target's grants are scoped to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetFacts {
    Ecs {
        service_arn: String,
        /// `arn:…:task-definition/FAMILY`: the new revisions are registered in this family.
        family: String,
        /// The task's roles, which registering a revision passes to ECS again.
        pass_roles: Vec<String>,
        /// The circuit breaker rolls a failed rollout back.
        rollback: bool,
        /// What its tasks run on: the task definition's `runtimePlatform.cpuArchitecture`.
        architecture: CpuArchitecture,
    },
    Lambda {
        function_arn: String,
        /// What the function runs on: its `Architectures`.
        architecture: CpuArchitecture,
    },
}

impl TargetFacts {
    /// The CPU architecture the target runs images on: the build makes its image for it.
    pub fn architecture(&self) -> CpuArchitecture {
        match self {
            Self::Ecs { architecture, .. } | Self::Lambda { architecture, .. } => *architecture,
        }
    }

    /// A warning for the plan, when the target will not undo a failed rollout.
    pub fn warning(&self, target: &DeployTarget) -> Option<String> {
        match self {
            Self::Ecs {
                rollback: false, ..
            } => Some(format!(
                "{} has no deployment circuit breaker with rollback: a failed rollout is reported but NOT rolled \
                 back (turn it on: aws ecs update-service --deployment-configuration \
                 'deploymentCircuitBreaker={{enable=true,rollback=true}}')",
                target.describe()
            )),
            _ => None,
        }
    }
}
