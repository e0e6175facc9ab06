//! Names, tags and configuration keys shared by the bootstrap CLI and the Lambda functions.
//!
//! Everything here is a contract between the deployer and the functions it deploys: the
//! bootstrap derives every resource name from an [`EnvName`] and wires the Lambda
//! environment variables named in [`env_vars`]; the functions read the same keys.

pub mod env_vars;
mod names;

pub use names::{EnvName, EnvNameError, MAX_ENV_LEN, ResourceNames};

/// Tag keys every resource carries; `ManagedBy` plus `Environment` prove a resource is ours.
pub mod tags {
    pub const PROJECT: &str = "Project";
    pub const ENVIRONMENT: &str = "Environment";
    pub const MANAGED_BY: &str = "ManagedBy";
    /// Value of the `ManagedBy` tag on everything the bootstrap creates.
    pub const MANAGED_BY_VALUE: &str = "rust-pipeline-bootstrap";
    /// Default value of the `Project` tag.
    pub const PROJECT_VALUE: &str = "rust-pipeline";
}

/// EventBridge detail type of the event the deploy-handler emits for subscribers.
pub const DEPLOYMENT_REQUESTED_DETAIL_TYPE: &str = "Deployment Requested";
/// EventBridge source of the events the deploy-handler emits.
pub const DEPLOYMENT_EVENT_SOURCE: &str = "rust-pipeline.deploy-handler";
