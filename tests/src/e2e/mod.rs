//! The whole pipeline rehearsed on one machine: `bootstrap deploy` against the local emulator,
//! a signed GitHub push checked against the deployed webhook, the source artifact, the
//! project's `buildspec.yml` run with podman as `docker` and the AWS CLI, the real deploy-handler and
//! event-notifier binaries, notifications read back from SNS, and `bootstrap destroy`.
//!
//! Everything that AWS would do is done from what the deploy created and is read back from the
//! emulator (pipeline, project, webhook, rules, function configuration), never re-derived, so
//! the rehearsal fails when the deployed configuration is wrong. What is simulated is said so
//! in the narration.
//!
//! One module per step, in the order [`rehearse`] takes them: [`environment`] (the team's
//! service, the deployer, `bootstrap deploy`, drift), [`deployed`] (the read-back),
//! [`lambdas`] (both functions under the Runtime API), then per run [`source`] (the GitHub
//! push and the source artifact), [`build`] (the buildspec's phases, [`buildspec`],
//! [`ecr_checks`]), [`deploy_job`] (the deploy-handler's jobs and continuation tokens),
//! [`delivery`] (EventBridge rules to the notifier and SNS) and [`notifications`]; finally
//! [`audit`] (least privilege) and [`destroy`]. [`report`] holds what they observed.

mod audit;
mod build;
mod buildspec;
mod cli;
mod context;
mod delivery;
mod deploy_job;
mod deployed;
pub mod deployer;
mod destroy;
mod drift;
mod ecr_checks;
pub mod engine;
mod environment;
pub mod events;
pub mod github;
pub mod grants;
mod lambdas;
pub mod mutants;
mod notifications;
pub mod promotion;
mod report;
mod source;
pub mod support;
pub mod team;

pub use notifications::render_notification;
pub use report::{
    BuildReport, DemoReport, DeployReport, DestroyReport, EcrImage, EventDelivery, Notification,
    PushCheck, RunReport,
};

use anyhow::{Context, Result};
use context::{Clients, RunContext, role_credentials};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Instant;
use support::{Narrator, random_hex};
use testkit::Emulator;

/// What to rehearse and with which binaries.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    pub env: String,
    pub github_repo: String,
    pub branch: String,
    pub bootstrap_bin: PathBuf,
    pub deploy_handler_bin: PathBuf,
    pub event_notifier_bin: PathBuf,
    /// Directory holding `deploy-handler/bootstrap.zip` and `event-notifier/bootstrap.zip`.
    pub artifacts_dir: PathBuf,
    /// The sample application (the repository's content at each commit).
    pub app_dir: PathBuf,
    /// The project's `buildspec.yml`, committed at the repository's root.
    pub buildspec: PathBuf,
    /// Print each step for people.
    pub narrate: bool,
    /// Remove one grant before the calls that need it (`cargo xtask mutants`): the run must
    /// then fail with a denial naming it.
    pub mutant: Option<mutants::Mutant>,
    /// The team's existing service the pipeline rolls the image out to (`--deploy-target`);
    /// `None`: the Deploy stage only requests the deployment (EventBridge event).
    pub rollout: Option<team::Rollout>,
}

impl DemoOptions {
    /// The workspace's sample app and buildspec, environment `demo`, binaries from `target/debug`.
    pub fn for_workspace(artifacts_dir: PathBuf) -> Result<Self> {
        let root = testkit::workspace_root();
        Ok(Self {
            env: "demo".into(),
            github_repo: "example-org/hello-app".into(),
            branch: "main".into(),
            bootstrap_bin: testkit::lambda_binary("bootstrap")?,
            deploy_handler_bin: testkit::lambda_binary("deploy-handler")?,
            event_notifier_bin: testkit::lambda_binary("event-notifier")?,
            artifacts_dir,
            app_dir: root.join("examples/hello-app"),
            buildspec: root.join("buildspec.yml"),
            narrate: true,
            mutant: None,
            rollout: Some(team::Rollout::Ecs),
        })
    }
}

/// Runs the whole rehearsal: deploy, a wrong-branch push, a green run, a run whose unit test
/// fails, destroy. Fails with a message naming the step whenever the product misbehaves.
pub async fn run_pipeline_demo(opts: &DemoOptions) -> Result<DemoReport> {
    let say = Narrator::new(opts.narrate);
    say.step("Starting the local AWS emulator");
    let emu = Emulator::start().context("starting the local AWS emulator")?;
    let outcome = rehearse(opts, &emu, &say).await;
    with_denials(&emu, outcome)
}

/// A step that failed because IAM refused a call says so, whatever the step saw of it.
fn with_denials<T>(emu: &Emulator, outcome: Result<T>) -> Result<T> {
    outcome.map_err(|err| match emu.iam_enforcement() {
        Ok((_, denials)) if !denials.is_empty() => err.context(format!(
            "IAM denied {} call(s):\n  {}",
            denials.len(),
            one_per_line(&denials)
        )),
        _ => err,
    })
}

/// The emulator's denial records, one per line.
fn one_per_line(denials: &[Value]) -> String {
    denials
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n  ")
}

/// The story: the environment deployed by the deployer and read back, the functions started,
/// a push the webhook filters out, the runs, then the least-privilege audit around destroy.
async fn rehearse(opts: &DemoOptions, emu: &Emulator, say: &Narrator) -> Result<DemoReport> {
    say.say(&format!("emulator listening on {}", emu.endpoint()));
    say.simulated("every AWS API call below goes to this emulator (moto plus the project's shim), not to an AWS account");
    let sdk = emu.sdk_config().await;
    let clients = Clients::new(&sdk);
    let team = environment::team_service(opts, &clients, say).await?;
    let target_args = environment::target_args(team.as_ref());
    let deployer = environment::create_deployer(opts, emu, &clients, &target_args, say).await?;
    let artifacts_dir = opts.artifacts_dir.display().to_string();
    let deploy_args = environment::deploy_args(opts, &artifacts_dir, &target_args);
    let outputs = environment::deploy(opts, emu, &clients, &deployer, &deploy_args, say).await?;
    let deployed = deployed::read_deployed(&clients, opts, &outputs).await?;
    deployed.narrate(say);
    let inbox = notifications::subscribe_inbox(&clients, &deployed.topic_arn).await?;
    say.say("subscribed an SQS queue to the notification topic, to read what email subscribers would get");
    let runtimes = lambdas::Runtimes::start().await?;
    let functions = lambdas::start(opts, emu, &clients, &deployed, &runtimes, say).await?;
    let emulator_matches_patterns = delivery::pattern_evaluation(&clients, say).await;
    let scratch = tempfile::tempdir()?;
    let engine = engine::choose(emu)?;
    // Declared before the context so it runs last, after every build and push of the runs.
    let podman_images = engine::ImageCleanup::new(scratch.path().join("podman-images"));
    let ctx = RunContext {
        engine,
        podman_images: &podman_images,
        emulator_matches_patterns,
        opts,
        emu,
        clients: &clients,
        deployed: &deployed,
        runtime_deploy: &runtimes.deploy,
        runtime_notify: &runtimes.notify,
        deploy_handler: &functions.deploy_handler,
        notifier: &functions.notifier,
        inbox: &inbox,
        say,
        scratch: scratch.path(),
        pipeline_role: role_credentials(&clients.sts, &deployed.pipeline_role_arn, "codepipeline")
            .await?,
        team: team.as_ref(),
    };
    let wrong_branch_push = source::push_to_another_branch(&ctx).await?;
    let runs = runs(&ctx).await?;
    let real_build = ctx.engine.is_real();
    notifications::unsubscribe_inbox(&clients, &inbox, say).await?;
    drop(functions);
    // Which grants the runs used, read before destroy takes the roles away.
    let (grants, role_policies) = audit::grant_usage(&clients, emu, opts, !real_build).await?;
    let destroy =
        destroy::destroy_and_recreate(opts, emu, &clients, &deployer, &deploy_args, say).await?;
    let (grants, audit) = audit::audit_grants(emu, opts, &deployer, grants, role_policies, say)?;
    audit::nothing_denied(emu, say)?;
    let total = summarize(say, &runs);
    Ok(DemoReport {
        outputs,
        wrong_branch_push,
        runs,
        destroy,
        grants,
        audit,
        real_build,
        total,
    })
}

/// The runs: a green commit (and its build retried), one whose unit test fails, and with a
/// team's service one whose image crashes and is rolled back to the green image.
async fn runs(ctx: &RunContext<'_>) -> Result<Vec<RunReport>> {
    let mut runs = Vec::new();
    runs.push(run_once(ctx, "green", "Greet people by name", false, false).await?);
    build::retried_build_reuses_the_image(ctx, &runs[0]).await?;
    runs.push(
        run_once(
            ctx,
            "failing unit test",
            "Break the greeting on purpose",
            true,
            false,
        )
        .await?,
    );
    if let Some(team) = ctx.team {
        let green = runs[0]
            .image
            .as_ref()
            .context("the green run pushed no image")?;
        team::expect_running(team, ctx.clients, &green.digest).await?;
        ctx.say.say(&format!(
            "after the green run {} runs its image ({})",
            team.describe(),
            green.digest
        ));
        if team.rollout == team::Rollout::Ecs {
            let revision = team::only_the_image_changed(ctx.clients, "web:1").await?;
            ctx.say.say(&format!(
                "{revision} differs from web:1 in the app container's image only: the log router, the agent, their secrets, the EFS volume and the runtime platform carried over"
            ));
        }
        let run = run_once(
            ctx,
            "image that crashes",
            "Read a setting that does not exist at startup",
            false,
            true,
        )
        .await?;
        let still = team::expect_running(team, ctx.clients, &green.digest)
            .await
            .context("after the failed rollout the service must run the green image again")?;
        ctx.say.say(&format!(
            "the failed rollout left {} on {still}",
            team.describe()
        ));
        runs.push(run);
    }
    Ok(runs)
}

/// One push through the pipeline: Source, Build, and Deploy when the build succeeded, each
/// stage's events delivered; then the notifications a subscriber got. `fail_tests` and
/// `bad_image` are what the commit breaks.
async fn run_once(
    ctx: &RunContext<'_>,
    label: &str,
    message: &str,
    fail_tests: bool,
    bad_image: bool,
) -> Result<RunReport> {
    let started = Instant::now();
    ctx.say.step(&format!(
        "Run `{label}`: push \"{message}\" to {}",
        ctx.opts.branch
    ));
    let commit = github::Commit {
        id: random_hex(40),
        message: message.into(),
        author: "Ada Lovelace".into(),
    };
    let push = source::push_to_branch(ctx, &commit).await?;
    let mut events = Vec::new();
    let execution = source::start_execution(ctx, &mut events).await?;
    let change = (fail_tests, bad_image);
    let source = source::source_stage(ctx, &execution, &commit, change, &mut events).await?;
    let built = build::build_stage(ctx, &execution, &commit, &source.key, &mut events).await?;
    let (retag_refused, deploy, team_image, pipeline_state) = match &built.report.failure {
        Some(failure) => {
            build::build_failed(ctx, &execution, &commit, &built, failure, &mut events).await?;
            (None, None, None, "FAILED".to_owned())
        }
        None => {
            let (image, retag_refused) =
                build::build_succeeded(ctx, &execution, &built, &mut events).await?;
            let deployed = deploy_job::deploy_stage(
                ctx,
                &execution,
                &commit,
                &built.report,
                &image,
                bad_image,
                &mut events,
            )
            .await?;
            let (report, team_image) = (deployed.report, deployed.team_image);
            (
                Some(retag_refused),
                Some(report),
                team_image,
                deployed.pipeline_state,
            )
        }
    };
    let job_result_calls = job_result_calls(ctx)?;
    let notifications = notifications::received(ctx, &events).await?;
    Ok(RunReport {
        label: label.to_owned(),
        commit: commit.id,
        execution_id: execution.execution_id,
        push,
        source_key: source.key,
        source_version_id: source.version_id,
        build: built.report,
        image: built.image,
        retag_refused,
        deploy,
        team_image,
        pipeline_state,
        events,
        notifications,
        job_result_calls,
        duration: started.elapsed(),
    })
}

/// CodePipeline job-result calls made since the execution started.
fn job_result_calls(ctx: &RunContext<'_>) -> Result<usize> {
    Ok(ctx
        .emu
        .calls()?
        .iter()
        .filter(|c| c.service == "codepipeline" && c.operation.starts_with("PutJob"))
        .count())
}

/// The closing summary: the total time and each run's outcome.
fn summarize(say: &Narrator, runs: &[RunReport]) -> std::time::Duration {
    let total = say.elapsed();
    say.step(&format!("Done in {:.1}s", total.as_secs_f64()));
    for run in runs {
        say.say(&format!(
            "run `{}`: commit {} → {} ({} notifications, {:.1}s)",
            run.label,
            &run.commit[..12],
            run.pipeline_state,
            run.notifications.len(),
            run.duration.as_secs_f64()
        ));
    }
    total
}
