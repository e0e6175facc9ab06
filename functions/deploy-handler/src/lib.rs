//! deploy-handler: the CodePipeline Deploy-stage job worker. Reads the build's image artifact,
//! triggers the deployment (signed webhook and/or EventBridge) or rolls it out (an ECS service or a
//! Lambda function) and always reports the job result.

pub mod artifact;
pub mod config;
pub mod delivery;
pub mod deploy_target;
pub mod event;
pub mod handler;
pub mod image;
pub mod image_platform;
pub mod inflight;
pub mod panic_report;
pub mod params;
pub mod report;
pub mod rollout;
pub mod s3_artifact;
pub mod transport;

/// Boxed future used by the narrow dependency traits, so the handler takes `&Deps` of trait objects.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;
