//! event-notifier Lambda: wiring only (tracing, configuration, SDK clients, runtime loop).

use event_notifier::commit_status::CommitStatuses;
use event_notifier::config::Config;
use event_notifier::enrich::CodePipelineLookup;
use event_notifier::github::TokioPause;
use event_notifier::github_http::HyperGitHub;
use event_notifier::github_token::SecretsManagerToken;
use event_notifier::handler::{Deps, handle};
use event_notifier::publish::SnsPublisher;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    // lambda_runtime offers no init-error report outside SnapStart: log the readable message
    // (CloudWatch shows it next to Runtime.ExitError) and exit non-zero.
    let config = match Config::from_lookup(|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration");
            return Err(e.to_string().into());
        }
    };
    let undocumented = config.undocumented_states();
    if !undocumented.is_empty() {
        tracing::warn!(states = ?undocumented, "NOTIFY_STATES names states CodePipeline does not document; check for typos");
    }
    // Loading the SDK configuration reads the environment only; connections open at first use.
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let lookup = CodePipelineLookup::new(aws_sdk_codepipeline::Client::new(&sdk));
    let publisher = SnsPublisher::new(aws_sdk_sns::Client::new(&sdk), config.topic_arn.clone());
    let github = config.github.clone().map(|settings| {
        let token = SecretsManagerToken::new(
            aws_sdk_secretsmanager::Client::new(&sdk),
            settings.token_secret,
        );
        CommitStatuses::new(
            settings.target,
            Box::new(token),
            Box::new(HyperGitHub::default()),
            Box::new(TokioPause),
        )
        .for_environment(config.environment.clone())
    });
    let deps = Deps::new(config, lookup, publisher);
    let deps = match github {
        Some(github) => deps.with_github(github),
        None => deps,
    };
    run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        handle(event, &deps)
    }))
    .await
}
