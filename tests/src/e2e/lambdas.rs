//! The two Lambda functions as local processes under the Lambda Runtime API emulator, each with
//! the environment of its deployed configuration and its execution role's credentials.

use super::DemoOptions;
use super::context::{Clients, opts_names, role_credentials};
use super::deployed::Deployed;
use super::support::Narrator;
use anyhow::{Context, Result};
use std::time::Duration;
use testkit::{Emulator, LambdaProcess, RuntimeApi};

/// The Runtime API each function polls for its invocations.
pub(super) struct Runtimes {
    pub(super) deploy: RuntimeApi,
    pub(super) notify: RuntimeApi,
}

impl Runtimes {
    pub(super) async fn start() -> Result<Self> {
        Ok(Self {
            deploy: RuntimeApi::start().await?,
            notify: RuntimeApi::start().await?,
        })
    }
}

/// The running deploy-handler and event-notifier processes.
pub(super) struct Functions {
    pub(super) deploy_handler: LambdaProcess,
    pub(super) notifier: LambdaProcess,
}

/// Starts both functions and waits until each asks its Runtime API for its first invocation.
pub(super) async fn start(
    opts: &DemoOptions,
    emu: &Emulator,
    clients: &Clients,
    deployed: &Deployed,
    runtimes: &Runtimes,
    say: &Narrator,
) -> Result<Functions> {
    // Each function runs with its execution role's credentials, as Lambda gives them: the
    // emulator judges every call it makes against that role's policies (IAM enforcement).
    let names = opts_names(opts)?;
    let mut deploy_env = deployed.deploy_handler_env.clone();
    deploy_env.extend(emu.env());
    deploy_env.extend(
        role_credentials(
            &clients.sts,
            &deployed.role_arn(&names.names().deploy_handler_role()),
            "deploy-handler",
        )
        .await?,
    );
    deploy_env.push((
        "AWS_LAMBDA_FUNCTION_NAME".into(),
        deployed
            .deploy
            .configuration
            .get("FunctionName")
            .cloned()
            .unwrap_or_default(),
    ));
    let deploy_handler =
        LambdaProcess::spawn(&opts.deploy_handler_bin, &runtimes.deploy, &deploy_env)?;
    let mut notifier_env = deployed.notifier_env.clone();
    notifier_env.extend(emu.env());
    notifier_env.extend(
        role_credentials(
            &clients.sts,
            &deployed.role_arn(&names.names().event_notifier_role()),
            "event-notifier",
        )
        .await?,
    );
    say.simulated("each Lambda runs with its execution role's credentials, the build's commands with the build role's, and what CodePipeline does itself (writing the source artifact, starting and reading the build) with the pipeline role's, so the emulator evaluates every call they make against those roles' policies and refuses what they do not grant, as IAM would");
    // Commit statuses go to the emulator's GitHub stand-in instead of api.github.com.
    if notifier_env
        .iter()
        .any(|(k, _)| k == pipeline_common::env_vars::GITHUB_STATUS_TOKEN_SECRET)
    {
        notifier_env.push((
            pipeline_common::env_vars::GITHUB_API_URL.into(),
            emu.github_api_url(),
        ));
    }
    notifier_env.push((
        "AWS_LAMBDA_FUNCTION_NAME".into(),
        opts_names(opts)?.names().event_notifier(),
    ));
    let notifier = LambdaProcess::spawn(&opts.event_notifier_bin, &runtimes.notify, &notifier_env)?;
    runtimes
        .notify
        .wait_for_first_next(Duration::from_secs(20))
        .await
        .with_context(|| {
            format!(
                "the event-notifier did not start; its logs:\n{}",
                notifier.logs()
            )
        })?;
    runtimes
        .deploy
        .wait_for_first_next(Duration::from_secs(20))
        .await
        .with_context(|| {
            format!(
                "the deploy-handler did not start; its logs:\n{}",
                deploy_handler.logs()
            )
        })?;
    say.simulated("both Lambda functions run as local processes under a Lambda Runtime API emulator, with the environment read from their deployed configuration");
    Ok(Functions {
        deploy_handler,
        notifier,
    })
}
