//! What every step of the rehearsal shares: the SDK clients (the emulator's administrator), the
//! credentials a service gets from its role, and the context each run of the pipeline reads.

use super::deployed::Deployed;
use super::notifications::Inbox;
use super::support::Narrator;
use super::{DemoOptions, engine, team};
use anyhow::{Context, Result};
use std::path::Path;
use std::time::Duration;
use testkit::{Emulator, LambdaProcess, RuntimeApi};

/// How long the rehearsal waits for a Lambda function to answer one invocation.
pub(super) const INVOKE_WAIT: Duration = Duration::from_secs(60);

/// One SDK client per service, with the emulator's administrator keys.
pub(super) struct Clients {
    pub(super) s3: aws_sdk_s3::Client,
    pub(super) sqs: aws_sdk_sqs::Client,
    pub(super) sns: aws_sdk_sns::Client,
    pub(super) codepipeline: aws_sdk_codepipeline::Client,
    pub(super) codebuild: aws_sdk_codebuild::Client,
    pub(super) events: aws_sdk_eventbridge::Client,
    pub(super) secrets: aws_sdk_secretsmanager::Client,
    pub(super) ecr: aws_sdk_ecr::Client,
    pub(super) lambda: aws_sdk_lambda::Client,
    pub(super) ecs: aws_sdk_ecs::Client,
    pub(super) sts: aws_sdk_sts::Client,
    pub(super) iam: aws_sdk_iam::Client,
}

impl Clients {
    pub(super) fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            s3: testkit::s3_client(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            codepipeline: aws_sdk_codepipeline::Client::new(sdk),
            codebuild: aws_sdk_codebuild::Client::new(sdk),
            events: aws_sdk_eventbridge::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            ecr: aws_sdk_ecr::Client::new(sdk),
            lambda: aws_sdk_lambda::Client::new(sdk),
            ecs: aws_sdk_ecs::Client::new(sdk),
            sts: aws_sdk_sts::Client::new(sdk),
            iam: aws_sdk_iam::Client::new(sdk),
        }
    }
}

/// Credentials of `role_arn` as a service gets them when it assumes the role, as environment
/// variables (later entries win over the emulator's static keys).
pub(super) async fn role_credentials(
    sts: &aws_sdk_sts::Client,
    role_arn: &str,
    session: &str,
) -> Result<Vec<(String, String)>> {
    let assumed = sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session)
        .send()
        .await
        .with_context(|| format!("assuming {role_arn}"))?;
    let credentials = assumed
        .credentials()
        .context("AssumeRole returned no credentials")?;
    Ok(vec![
        (
            "AWS_ACCESS_KEY_ID".to_owned(),
            credentials.access_key_id().to_owned(),
        ),
        (
            "AWS_SECRET_ACCESS_KEY".to_owned(),
            credentials.secret_access_key().to_owned(),
        ),
        (
            "AWS_SESSION_TOKEN".to_owned(),
            credentials.session_token().to_owned(),
        ),
    ])
}

/// What one run of the pipeline works with: the deployed environment, the functions, the inbox.
pub(super) struct RunContext<'a> {
    pub(super) emulator_matches_patterns: bool,
    pub(super) opts: &'a DemoOptions,
    pub(super) emu: &'a Emulator,
    pub(super) clients: &'a Clients,
    pub(super) deployed: &'a Deployed,
    pub(super) runtime_deploy: &'a RuntimeApi,
    pub(super) runtime_notify: &'a RuntimeApi,
    pub(super) deploy_handler: &'a LambdaProcess,
    pub(super) notifier: &'a LambdaProcess,
    pub(super) inbox: &'a Inbox,
    pub(super) say: &'a Narrator,
    pub(super) scratch: &'a Path,
    /// Credentials of the pipeline role, for what CodePipeline itself does.
    pub(super) pipeline_role: Vec<(String, String)>,
    /// The team's service the Deploy stage rolls out to, when the rehearsal has one.
    pub(super) team: Option<&'a team::TeamService>,
    /// What `docker` is in the build.
    pub(super) engine: engine::BuildEngine,
    /// The images the real engine's builds named, removed when the rehearsal ends.
    pub(super) podman_images: &'a engine::ImageCleanup,
}

/// The environment name of the options, as the product parses it.
pub(super) fn opts_names(opts: &DemoOptions) -> Result<pipeline_common::EnvName> {
    pipeline_common::EnvName::parse(&opts.env).map_err(|e| anyhow::anyhow!("{e}"))
}
