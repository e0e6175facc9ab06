//! Names, tags and configuration keys shared by the bootstrap CLI and the Lambda functions.
//!
//! Everything here is a contract between the deployer and the functions it deploys: the
//! bootstrap derives every resource name from an [`EnvName`] and wires the Lambda
//! environment variables named in [`env_vars`]; the functions read the same keys.

mod architecture;
mod deploy_target;
pub mod env_vars;
mod names;
pub mod traffic_shift;

pub use architecture::CpuArchitecture;
pub use deploy_target::{DEFAULT_CONTAINER, DeployTarget, pick_container, unsupported_controller};
pub use names::{EnvName, EnvNameError, MAX_ENV_LEN, ResourceNames};
pub use traffic_shift::TrafficShift;

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

/// The pipeline execution states CodePipeline documents for its "CodePipeline Pipeline
/// Execution State Change" events (CodePipeline User Guide, "Monitoring CodePipeline events"):
/// what `--notify-states` may name and the event-notifier knows.
pub const PIPELINE_EXECUTION_STATES: [&str; 8] = [
    "STARTED",
    "SUCCEEDED",
    "FAILED",
    "STOPPING",
    "STOPPED",
    "SUPERSEDED",
    "CANCELED",
    "RESUMED",
];

/// EventBridge detail type of the event the deploy-handler emits for subscribers.
pub const DEPLOYMENT_REQUESTED_DETAIL_TYPE: &str = "Deployment Requested";
/// EventBridge source of the events the deploy-handler emits, followed by `.` and the
/// environment's name ([`ResourceNames::deployment_event_source`]).
pub const DEPLOYMENT_EVENT_SOURCE: &str = "rust-pipeline.deploy-handler";

/// Environment variables the bootstrap sets on the CodeBuild project; `buildspec.yml` reads
/// exactly these plus the ones CodeBuild itself provides ([`codebuild_env::PROVIDED`]).
pub mod codebuild_env {
    pub const ACCOUNT_ID: &str = "AWS_ACCOUNT_ID";
    pub const REPOSITORY_URI: &str = "REPOSITORY_URI";
    pub const REPOSITORY_NAME: &str = "REPOSITORY_NAME";
    pub const PIPELINE_ENV: &str = "PIPELINE_ENV";
    /// Directory (relative to the source root) holding the Dockerfile to build; default `.`.
    pub const DOCKER_CONTEXT: &str = "DOCKER_CONTEXT";
    /// Where the Dockerfile's official base images come from, the path in front of
    /// `python:3.11-slim-bookworm`: `docker.io/library` (Docker Hub), ECR Public's mirror
    /// `public.ecr.aws/docker/library`, or the account's pull-through cache of that mirror
    /// (bootstrap's `--base-image-source`). The buildspec hands it to `docker build` as the
    /// build argument of the same name.
    pub const BASE_IMAGE_REGISTRY: &str = "BASE_IMAGE_REGISTRY";
    /// `docker build --platform` of the image (`linux/amd64`, `linux/arm64`): the architecture
    /// the deploy target runs on, which `bootstrap plan` read from it; `buildspec.yml` builds for
    /// it and records it in `imageDetail.json` (`ImageArchitecture`, GOARCH's name).
    pub const IMAGE_PLATFORM: &str = "IMAGE_PLATFORM";
    /// The report group `buildspec.yml`'s `reports:` section names; CodeBuild writes to the
    /// group `<project>-<this>`, which the bootstrap creates and destroy deletes.
    pub const REPORT_GROUP: &str = "unit-tests";
    /// Every variable the bootstrap sets, in a stable order.
    pub const SET_BY_BOOTSTRAP: [&str; 7] = [
        ACCOUNT_ID,
        REPOSITORY_URI,
        REPOSITORY_NAME,
        PIPELINE_ENV,
        DOCKER_CONTEXT,
        BASE_IMAGE_REGISTRY,
        IMAGE_PLATFORM,
    ];
    /// Variables CodeBuild provides to every build.
    pub const PROVIDED: [&str; 5] = [
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "CODEBUILD_RESOLVED_SOURCE_VERSION",
        "CODEBUILD_BUILD_SUCCEEDING",
        "CODEBUILD_SRC_DIR",
    ];
}

/// The pipeline's variable namespaces and what each one exports. A later action (a team's own
/// test or approval action, say) reads them as `#{BuildVariables.IMAGE_DIGEST}` or
/// `#{DeployVariables.NEW_REVISION}` (CodePipeline User Guide, "Variables reference": an action
/// declares a `namespace`, and its output variables are then referenced through it).
pub mod pipeline_variables {
    /// Namespace of the Build action: the variables `buildspec.yml` lists under
    /// `env: exported-variables`.
    pub const BUILD_NAMESPACE: &str = "BuildVariables";
    /// Namespace of the Deploy action: the deploy-handler's output variables ([`DEPLOY_OUTPUTS`]).
    pub const DEPLOY_NAMESPACE: &str = "DeployVariables";

    /// The image the job deployed, as the build output named it.
    pub const IMAGE_URI: &str = "IMAGE_URI";
    /// The image's tag (the commit's first 12 characters), when the URI has one.
    pub const IMAGE_TAG: &str = "IMAGE_TAG";
    /// The image's digest (`sha256:...`), when known.
    pub const IMAGE_DIGEST: &str = "IMAGE_DIGEST";
    /// The source revision (commit) the pipeline run built, when known.
    pub const COMMIT_ID: &str = "COMMIT_ID";
    /// The id of the job that started the deployment (the same across continuations).
    pub const DEPLOYMENT_ID: &str = "DEPLOYMENT_ID";
    /// The deploy target rolled out to (`ecs:CLUSTER/SERVICE[/CONTAINER]` or `lambda:FUNCTION[:ALIAS]`).
    pub const TARGET: &str = "TARGET";
    /// What now runs: the task definition ARN or the function version.
    pub const NEW_REVISION: &str = "NEW_REVISION";
    /// What ran before: the task definition ARN or the function version.
    pub const PREVIOUS_REVISION: &str = "PREVIOUS_REVISION";
    /// The pipeline stage the action deployed in (its UserParameters `stage`), with stages.
    pub const STAGE: &str = "STAGE";

    /// Every output variable the deploy-handler may report on its final success;
    /// `TARGET`, `NEW_REVISION` and `PREVIOUS_REVISION` only with a deploy target, `STAGE` only
    /// when the action names its stage.
    pub const DEPLOY_OUTPUTS: [&str; 9] = [
        IMAGE_URI,
        IMAGE_TAG,
        IMAGE_DIGEST,
        COMMIT_ID,
        DEPLOYMENT_ID,
        TARGET,
        NEW_REVISION,
        PREVIOUS_REVISION,
        STAGE,
    ];
}
