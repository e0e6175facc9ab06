//! Wiring only: tracing, configuration from the environment (`config`), the clients built
//! once, the panic hook, and the Lambda runtime loop. The logic lives in the library modules.

use std::sync::Arc;

use aws_config::BehaviorVersion;
use deploy_handler::config::{Config, SecretSetting};
use deploy_handler::delivery::eventbridge::EventBridgePublisher;
use deploy_handler::delivery::secret::{SecretSource, SecretsManagerSecret, StaticSecret};
use deploy_handler::handler::{Deps, handle};
use deploy_handler::image_platform::EcrRegistry;
use deploy_handler::report::CodePipelineReporter;
use deploy_handler::rollout::sdk::SdkApi;
use deploy_handler::s3_artifact::S3ArtifactStore;
use deploy_handler::transport::HyperTransport;
use lambda_runtime::{Error, service_fn};

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
    let (config, problems) = Config::from_lookup(|name| std::env::var(name).ok());
    for problem in &problems {
        tracing::error!(problem = %problem, "fix the function's environment");
    }
    // Loading the SDK configuration reads the environment only; connections open at first use.
    let sdk_config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let region = sdk_config.region().map(ToString::to_string);
    let shared_endpoint = sdk_config.endpoint_url();

    let codepipeline = aws_sdk_codepipeline::Client::new(&sdk_config);
    deploy_handler::panic_report::install(codepipeline.clone());
    // One HTTP client for the artifact, the webhook and the rollouts; its TLS is built lazily.
    let http = Arc::new(HyperTransport::default());
    let webhook_secret: Option<Arc<dyn SecretSource>> = match &config.webhook_secret {
        SecretSetting::SecretsManager(secret_id) => Some(Arc::new(SecretsManagerSecret::new(
            aws_sdk_secretsmanager::Client::new(&sdk_config),
            secret_id.clone(),
        ))),
        SecretSetting::Inline(secret) => Some(Arc::new(StaticSecret(secret.clone()))),
        SecretSetting::None => None,
    };
    let registry = Arc::new(EcrRegistry::new(
        http.clone(),
        sdk_config.credentials_provider(),
        region.clone().unwrap_or_default(),
        std::env::var("AWS_ENDPOINT_URL_ECR")
            .ok()
            .or_else(|| shared_endpoint.map(str::to_owned)),
    ));
    let deps = Deps {
        reporter: Arc::new(CodePipelineReporter::new(codepipeline)),
        artifacts: Arc::new(S3ArtifactStore::new(
            http.clone(),
            config.s3(region.as_deref(), shared_endpoint),
        )),
        rollout: Arc::new(
            SdkApi::new(
                sdk_config.clone(),
                config.rollout(region.as_deref(), shared_endpoint),
            )
            .with_cloudwatch(
                http.clone(),
                std::env::var("AWS_ENDPOINT_URL_CLOUDWATCH")
                    .ok()
                    .or_else(|| shared_endpoint.map(str::to_owned)),
            ),
        ),
        http,
        registry,
        webhook_secret,
        events: Arc::new(EventBridgePublisher::new(
            aws_sdk_eventbridge::Client::new(&sdk_config),
            config.settings.pipeline_env.as_deref(),
        )),
        settings: config.settings,
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event| handle(event, deps))).await
}
