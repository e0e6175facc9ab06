//! The road to production rehearsed: one environment whose pipeline (V2, codeconnections source)
//! deploys to a staging stage (a Lambda function) and, after a person approves, to a production
//! stage (an ECS service) watched by an alarm for a bake. Each release is built once and the same
//! digest reaches every stage; the second release's production alarm fires during the bake and
//! CodePipeline rolls production back to the first release's digest. The notifications and the
//! GitHub commit statuses say so.
//!
//! What CodePipeline owns (the approval token, the bake's alarm rule, the rollback execution) is
//! the emulator's (`emulator/awsshim/codepipeline_runs.py`); what the rehearsal plays is said so
//! in the narration. The steps reuse the main rehearsal's: [`super::source`], [`super::build`],
//! [`super::deploy_job`], [`super::delivery`]; [`approval`] and [`bake`] are this story's own.

mod approval;
mod bake;
mod release;

pub use release::{PromotionReport, ReleaseReport};

use super::cli::{bootstrap, bootstrap_exit};
use super::context::{Clients, RunContext, role_credentials};
use super::support::Narrator;
use super::{DemoOptions, audit, deployed, engine, environment, lambdas, notifications, team};
use anyhow::{Context, Result, bail};
use testkit::Emulator;

/// The GitHub token the status secret holds; the emulator's GitHub stand-in accepts it.
const STATUS_TOKEN: &str = "ghp_rehearsalStatusToken0000000000000000";
/// The secret the environment reads the token from (`--github-status-token-secret`).
const STATUS_SECRET: &str = "github-status-token";
/// Production's alarm, which the bake watches.
pub const PROD_ALARM: &str = "web-5xx";
/// Seconds a minute of the bake lasts in the emulator: long enough for the alarm to fire
/// during it, short enough for a test.
const BAKE_MINUTE_SECONDS: f64 = 3.0;

/// Runs the promotion story against a fresh emulator; fails naming the step that misbehaved.
pub async fn run_promotion_demo(opts: &DemoOptions) -> Result<PromotionReport> {
    let say = Narrator::new(opts.narrate);
    say.step("Starting the local AWS emulator");
    let emu = Emulator::start().context("starting the local AWS emulator")?;
    let outcome = promote(opts, &emu, &say).await;
    super::with_denials(&emu, outcome)
}

/// `--stage`, `--approve-before`, `--alarm`, `--bake-minutes` and the source mode stages need.
fn stage_args<'a>(staging: &'a str, prod: &'a str) -> Vec<&'a str> {
    vec![
        "--source",
        "codeconnections",
        "--stage",
        staging,
        "--stage",
        prod,
        "--approve-before",
        "prod",
        "--alarm",
        "prod=web-5xx",
        "--bake-minutes",
        "prod=1",
    ]
}

async fn promote(opts: &DemoOptions, emu: &Emulator, say: &Narrator) -> Result<PromotionReport> {
    say.say(&format!("emulator listening on {}", emu.endpoint()));
    let sdk = emu.sdk_config().await;
    let clients = Clients::new(&sdk);
    let env = environment_with_stages(opts, emu, &clients, say).await?;
    let deployed = &env.deployed;
    let inbox = notifications::subscribe_inbox(&clients, &deployed.topic_arn).await?;
    let runtimes = lambdas::Runtimes::start().await?;
    let functions = lambdas::start(opts, emu, &clients, deployed, &runtimes, say).await?;
    let emulator_matches_patterns = super::delivery::pattern_evaluation(&clients, say).await;
    let scratch = tempfile::tempdir()?;
    let engine = engine::choose(emu)?;
    let podman_images = engine::ImageCleanup::new(scratch.path().join("podman-images"));
    emu.set_pipeline_minute_seconds(BAKE_MINUTE_SECONDS)?;
    say.simulated(&format!(
        "a minute of a bake lasts {BAKE_MINUTE_SECONDS} s in the emulator's CodePipeline"
    ));
    let ctx = RunContext {
        engine,
        podman_images: &podman_images,
        emulator_matches_patterns,
        opts,
        emu,
        clients: &clients,
        deployed,
        runtime_deploy: &runtimes.deploy,
        runtime_notify: &runtimes.notify,
        deploy_handler: &functions.deploy_handler,
        notifier: &functions.notifier,
        inbox: &inbox,
        say,
        scratch: scratch.path(),
        pipeline_role: role_credentials(&clients.sts, &deployed.pipeline_role_arn, "codepipeline")
            .await?,
        team: Some(&env.prod),
    };
    let teams = release::Teams {
        staging: &env.staging,
        prod: &env.prod,
    };
    let report = release::releases(&ctx, &teams, &env.approver).await?;
    let real_build = ctx.engine.is_real();
    notifications::unsubscribe_inbox(&clients, &inbox, say).await?;
    drop(functions);
    // Which grants the releases used, read before destroy takes the roles away.
    let (mut grants, policies) = audit::grant_usage(&clients, emu, opts, !real_build).await?;
    let approver = &env.approver;
    grants.extend(super::grants::usage(
        &approver.role,
        &approver.policy,
        &emu.iam_grants()?,
    ));
    say.step(&format!("Destroying environment `{}`", opts.env));
    let destroy_args = ["destroy", "--env", opts.env.as_str(), "--yes"];
    bootstrap(opts, emu, &env.deployer.env, &destroy_args, say).await?;
    let (grants, audit) = audit::audit_grants(emu, opts, &env.deployer, grants, policies, say)?;
    audit::nothing_denied(emu, say)?;
    Ok(PromotionReport {
        outputs: env.outputs,
        grants,
        audit,
        ..report
    })
}

/// The environment before the first release: the team's services and alarm, the status token,
/// the deployer and the approvers, and the deploy read back.
struct StagedEnvironment {
    staging: team::TeamService,
    prod: team::TeamService,
    deployer: super::deployer::Deployer,
    approver: approval::Approver,
    outputs: serde_json::Value,
    deployed: deployed::Deployed,
}

async fn environment_with_stages(
    opts: &DemoOptions,
    emu: &Emulator,
    clients: &Clients,
    say: &Narrator,
) -> Result<StagedEnvironment> {
    say.step("The team's services: staging is a Lambda function, production an ECS service with an alarm");
    let staging = team::TeamService::create(clients, team::Rollout::Lambda).await?;
    let prod = team::TeamService::create(clients, team::Rollout::Ecs).await?;
    for (stage, service) in [("staging", &staging), ("production", &prod)] {
        say.say(&format!(
            "{stage}: {} runs {}",
            service.describe(),
            service.first_image
        ));
    }
    bake::create_alarm(emu, PROD_ALARM)?;
    say.say(&format!(
        "production's alarm {PROD_ALARM} (5xx responses) is OK"
    ));
    status_token(emu, clients, opts).await?;
    let (staging_arg, prod_arg) = (
        format!("staging={}", staging.target),
        format!("prod={}", prod.target),
    );
    let mut target_args = stage_args(&staging_arg, &prod_arg);
    target_args.extend(["--github-status-token-secret", STATUS_SECRET]);
    let deployer = environment::create_deployer(opts, emu, clients, &target_args, say).await?;
    let artifacts_dir = opts.artifacts_dir.display().to_string();
    let deploy_args = environment::deploy_args(opts, &artifacts_dir, &target_args);
    say.step(&format!(
        "Deploying environment `{}` with two stages, an approval before production and a bake",
        opts.env
    ));
    let stdout = bootstrap(opts, emu, &deployer.env, &deploy_args, say).await?;
    let outputs: serde_json::Value = serde_json::from_str(super::cli::last_json_document(&stdout))
        .context("`bootstrap deploy --output json` printed no JSON outputs")?;
    plan_is_clean(opts, emu, &deployer.env, &deploy_args, say).await?;
    let deployed = deployed::read_deployed(clients, opts, &outputs).await?;
    let stages: Vec<&str> = deployed
        .stages
        .iter()
        .map(|s| s.deploy.stage.as_str())
        .collect();
    if stages != ["staging", "prod"] || deployed.stages[1].approval.is_none() {
        bail!(
            "the deployed pipeline's deploy stages are {stages:?} (approval before prod: {}); expected staging, then prod after an approval",
            deployed.stages.get(1).is_some_and(|s| s.approval.is_some())
        );
    }
    say.say(&format!(
        "read back: pipeline {} (Source → Build → staging → Approve-prod → prod, bake on {PROD_ALARM})",
        deployed.pipeline
    ));
    let approver = approval::create_approver(opts, emu, clients, &target_args, say).await?;
    Ok(StagedEnvironment {
        staging,
        prod,
        deployer,
        approver,
        outputs,
        deployed,
    })
}

/// `bootstrap plan` right after deploy has nothing to do.
async fn plan_is_clean(
    opts: &DemoOptions,
    emu: &Emulator,
    identity: &[(String, String)],
    deploy_args: &[&str],
    say: &Narrator,
) -> Result<()> {
    let plan_args = environment::plan_args(deploy_args);
    let (code, stdout, _) = bootstrap_exit(opts, emu, identity, &plan_args, say).await?;
    if code != 0 {
        bail!("`bootstrap plan` right after deploy shows changes (exit {code}):\n{stdout}");
    }
    say.say("plan after deploy: nothing to do");
    Ok(())
}

/// The GitHub token for commit statuses, stored as the team stores it before deploy, and the
/// GitHub stand-in that accepts it for the repository.
async fn status_token(emu: &Emulator, clients: &Clients, opts: &DemoOptions) -> Result<()> {
    emu.github_configure(&[STATUS_TOKEN], &[&opts.github_repo])?;
    clients
        .secrets
        .create_secret()
        .name(STATUS_SECRET)
        .secret_string(STATUS_TOKEN)
        .send()
        .await
        .context("storing the GitHub status token")?;
    Ok(())
}
