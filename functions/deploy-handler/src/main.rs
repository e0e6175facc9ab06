//! Wiring only: tracing, settings from the environment, SDK clients built once, the panic
//! hook, and the Lambda runtime loop. The logic lives in the library modules.

use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use deploy_handler::handler::{DEFAULT_DEADLINE_MARGIN, Deps, Settings, handle};
use deploy_handler::report::CodePipelineReporter;
use deploy_handler::rollout::api::{AwsApi, Endpoints};
use deploy_handler::s3_artifact::{S3ArtifactStore, S3Endpoint};
use deploy_handler::targets::{
    EventBridgePublisher, HyperTransport, SecretSource, SecretsManagerSecret, StaticSecret,
    WebhookSecret,
};
use lambda_runtime::{Error, service_fn};
use pipeline_common::env_vars;

fn main() -> Result<(), Error> {
    // At least two workers: a panicking worker blocks in the panic hook while another one
    // keeps the shared client's connections moving.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = settings_from_env();
    let sdk_config = aws_config::defaults(BehaviorVersion::latest()).load().await;

    let codepipeline = aws_sdk_codepipeline::Client::new(&sdk_config);
    deploy_handler::panic_report::install(codepipeline.clone());

    let s3_endpoint = S3Endpoint::new(
        sdk_config
            .region()
            .map_or_else(|| "us-east-1".to_owned(), ToString::to_string),
        non_empty_env("AWS_ENDPOINT_URL_S3")
            .or_else(|| sdk_config.endpoint_url().map(str::to_owned)),
    );
    let http = Arc::new(HyperTransport::default());
    let webhook_secret: Option<Arc<dyn SecretSource>> = match (
        non_empty_env(env_vars::DEPLOY_WEBHOOK_SECRET_ARN),
        non_empty_env(env_vars::DEPLOY_WEBHOOK_SECRET),
    ) {
        (Some(secret_id), _) => Some(Arc::new(SecretsManagerSecret::new(
            aws_sdk_secretsmanager::Client::new(&sdk_config),
            secret_id,
        ))),
        (None, Some(secret)) => Some(Arc::new(StaticSecret(WebhookSecret::new(secret)))),
        (None, None) => None,
    };
    let rollout = Arc::new(AwsApi::new(
        http.clone(),
        sdk_config.credentials_provider(),
        Endpoints {
            region: sdk_config
                .region()
                .map_or_else(|| "us-east-1".to_owned(), ToString::to_string),
            ecs: non_empty_env("AWS_ENDPOINT_URL_ECS")
                .or_else(|| sdk_config.endpoint_url().map(str::to_owned)),
            lambda: non_empty_env("AWS_ENDPOINT_URL_LAMBDA")
                .or_else(|| sdk_config.endpoint_url().map(str::to_owned)),
        },
    ));
    let deps = Deps {
        reporter: Arc::new(CodePipelineReporter::new(codepipeline)),
        artifacts: Arc::new(S3ArtifactStore::new(http.clone(), s3_endpoint)),
        http,
        webhook_secret,
        events: Arc::new(EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(
            &sdk_config,
        ))),
        rollout,
        settings,
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event| handle(event, deps))).await
}

/// Never fails: a bad value is logged and replaced by its default, because a function that
/// cannot start reports nothing and leaves the pipeline waiting.
fn settings_from_env() -> Settings {
    let deadline_margin = match non_empty_env(env_vars::DEPLOY_DEADLINE_MARGIN_MS)
        .map(|v| v.parse::<u64>())
    {
        None => DEFAULT_DEADLINE_MARGIN,
        Some(Ok(ms)) => Duration::from_millis(ms),
        Some(Err(e)) => {
            tracing::error!(
                error = %e,
                "{} is not a whole number of milliseconds; using {} ms: fix the function's environment",
                env_vars::DEPLOY_DEADLINE_MARGIN_MS,
                DEFAULT_DEADLINE_MARGIN.as_millis()
            );
            DEFAULT_DEADLINE_MARGIN
        }
    };
    Settings {
        deadline_margin,
        pipeline_env: non_empty_env(env_vars::PIPELINE_ENV),
        webhook_url: non_empty_env(env_vars::DEPLOY_WEBHOOK_URL),
        event_bus: non_empty_env(env_vars::DEPLOY_EVENT_BUS),
        deploy_target: non_empty_env(env_vars::DEPLOY_TARGET),
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}
