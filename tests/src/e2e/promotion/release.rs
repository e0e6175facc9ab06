//! One release through the stages: the push, the one build, each stage in pipeline order (its
//! approval first, then the deploy-handler's job, then its bake), and what CodePipeline records
//! of the execution for the notifier to read.

use super::approval::{self, Approver};
use super::bake;
use crate::e2e::context::RunContext;
use crate::e2e::delivery::{emit, seed_execution};
use crate::e2e::deployed::DeployStage;
use crate::e2e::events::{Execution, Level};
use crate::e2e::report::{DeployReport, EventDelivery, Notification};
use crate::e2e::support::random_hex;
use crate::e2e::{build, deploy_job, github, grants, notifications, source, team};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The team's services, one per stage.
pub(in crate::e2e) struct Teams<'a> {
    pub(in crate::e2e) staging: &'a team::TeamService,
    pub(in crate::e2e) prod: &'a team::TeamService,
}

impl Teams<'_> {
    fn of(&self, stage: &str) -> &team::TeamService {
        if stage == "prod" {
            self.prod
        } else {
            self.staging
        }
    }
}

/// Everything the promotion story observed.
#[derive(Clone, Debug)]
pub struct PromotionReport {
    /// `bootstrap deploy --output json`.
    pub outputs: Value,
    pub releases: Vec<ReleaseReport>,
    /// Every commit status GitHub received, oldest first.
    pub statuses: Vec<Value>,
    /// Every grant of the environment's roles and the deployer's, with the calls that used it.
    pub grants: Vec<grants::GrantUse>,
    /// The replayed mutation test and the scope lint of the exercised policies.
    pub audit: grants::Audit,
}

/// One release: what was built once and where each stage's job deployed it.
#[derive(Clone, Debug)]
pub struct ReleaseReport {
    pub label: String,
    pub commit: String,
    pub execution_id: String,
    /// The digest the one build pushed.
    pub digest: String,
    /// Builds CodePipeline started during the release (StartBuild calls).
    pub builds: usize,
    /// Per stage, the `IMAGE_DIGEST` its deploy job reported.
    pub deployed: BTreeMap<String, String>,
    /// The emulator's record of each approval (status, approvedBy, summary).
    pub approvals: Vec<Value>,
    /// The bake's outcome, as the emulator's CodePipeline evaluated it.
    pub bake: Option<Value>,
    pub rollback: Option<Rollback>,
    /// Per stage, the image its service runs once the release is over.
    pub running: BTreeMap<String, String>,
    /// `SUCCEEDED` or `FAILED`.
    pub pipeline_state: String,
    pub notifications: Vec<Notification>,
}

/// The rollback execution CodePipeline started and the job that deployed its artifact.
#[derive(Clone, Debug)]
pub struct Rollback {
    pub execution_id: String,
    pub target_execution_id: String,
    pub deploy: DeployReport,
}

/// What a later release needs of an earlier one to roll back to it.
pub(super) struct Released {
    pub(super) commit: github::Commit,
    pub(super) execution_id: String,
    pub(super) output_key: String,
}

/// The two releases: the first goes all the way; the second's production alarm fires during the
/// bake and production is rolled back to the first.
pub(super) async fn releases(
    ctx: &RunContext<'_>,
    teams: &Teams<'_>,
    approver: &Approver,
) -> Result<PromotionReport> {
    let (first, released) = release(ctx, teams, approver, "first release", None).await?;
    let (second, _) = release(ctx, teams, approver, "second release", Some(&released)).await?;
    let statuses = ctx.emu.github_statuses()?;
    ctx.say.step("GitHub's commit statuses");
    for status in &statuses {
        ctx.say.say(&format!(
            "{} {:<24} {:<8} {}",
            &status["sha"].as_str().unwrap_or_default()
                [..12.min(status["sha"].as_str().unwrap_or_default().len())],
            status["context"].as_str().unwrap_or_default(),
            status["state"].as_str().unwrap_or_default(),
            status["description"].as_str().unwrap_or_default()
        ));
    }
    Ok(PromotionReport {
        outputs: Value::Null,
        releases: vec![first, second],
        statuses,
        grants: Vec::new(),
        audit: grants::Audit::default(),
    })
}

/// One push through Source, Build and every stage. With `previous`, production's alarm fires
/// during the bake and the rollback deploys `previous`'s artifact.
async fn release(
    ctx: &RunContext<'_>,
    teams: &Teams<'_>,
    approver: &Approver,
    label: &str,
    previous: Option<&Released>,
) -> Result<(ReleaseReport, Released)> {
    let message = if previous.is_none() {
        "Greet people by name"
    } else {
        "Greet people in French"
    };
    let mut built = push_and_build(ctx, label, message).await?;
    let mut report = ReleaseReport {
        label: label.to_owned(),
        commit: built.commit.id.clone(),
        execution_id: built.execution.execution_id.clone(),
        digest: built.digest.clone(),
        builds: 0,
        deployed: BTreeMap::new(),
        approvals: Vec::new(),
        bake: None,
        rollback: None,
        running: BTreeMap::new(),
        pipeline_state: "SUCCEEDED".into(),
        notifications: Vec::new(),
    };
    for stage in &ctx.deployed.stages {
        through_stage(ctx, approver, stage, previous, &mut built, &mut report).await?;
    }
    let Built {
        commit,
        execution,
        output_key,
        done,
        mut log,
        ..
    } = built;
    if report.pipeline_state == "SUCCEEDED" {
        record_execution(ctx, &execution, &commit, "Succeeded", &done)?;
        emit(ctx, &execution, Level::Pipeline, "SUCCEEDED", &mut log).await?;
    }
    report.builds = ctx
        .emu
        .calls()?
        .iter()
        .filter(|c| c.service == "codebuild" && c.operation == "StartBuild")
        .count();
    for stage in &ctx.deployed.stages {
        let (name, team) = (&stage.deploy.stage, teams.of(&stage.deploy.stage));
        let running = team.running_image(ctx.clients).await?;
        ctx.say
            .say(&format!("{name}: {} now runs {running}", team.describe()));
        report.running.insert(name.clone(), running);
    }
    report.notifications = notifications::received(ctx, &log).await?;
    let execution_id = execution.execution_id;
    let released = Released {
        commit,
        execution_id,
        output_key,
    };
    Ok((report, released))
}

/// What a release has once its one build succeeded.
struct Built {
    commit: github::Commit,
    execution: Execution,
    output_key: String,
    digest: String,
    /// What the execution's finished actions reported, for ListActionExecutions.
    done: Vec<Value>,
    log: Vec<EventDelivery>,
}

/// The push, the execution it starts, Source and the one Build of the release.
async fn push_and_build(ctx: &RunContext<'_>, label: &str, message: &str) -> Result<Built> {
    ctx.say.step(&format!(
        "Release `{label}`: push \"{message}\" to {}",
        ctx.opts.branch
    ));
    let commit = github::Commit {
        id: random_hex(40),
        message: message.into(),
        author: "Ada Lovelace".into(),
    };
    let mut log = Vec::new();
    let execution = source::start_execution(ctx, &mut log).await?;
    ctx.say.simulated("on AWS, the push reaches CodePipeline through the GitHub connection, which starts the execution; here it starts directly");
    record_execution(ctx, &execution, &commit, "InProgress", &[])?;
    let source = source::source_stage(ctx, &execution, &commit, (false, false), &mut log).await?;
    let built = build::build_stage(ctx, &execution, &commit, &source.key, &mut log).await?;
    if let Some((phase, command)) = &built.report.failure {
        bail!(
            "the build of {label} failed in {phase} at `{command}`:\n{}",
            built.report.log
        );
    }
    let (image, _) = build::build_succeeded(ctx, &execution, &built, &mut log).await?;
    let output_key = built
        .report
        .output_key
        .clone()
        .context("the build wrote no output artifact")?;
    let done = vec![json!({
        "stageName": ctx.deployed.build.stage, "actionName": ctx.deployed.build.name, "status": "Succeeded",
        "output": {"outputVariables": built.report.exported}
    })];
    Ok(Built {
        commit,
        execution,
        output_key,
        digest: image.digest,
        done,
        log,
    })
}

/// One stage of the release: its approval, its deploy, its bake; with `previous`, the bake's
/// alarm fires and the rollback to `previous` runs.
async fn through_stage(
    ctx: &RunContext<'_>,
    approver: &Approver,
    stage: &DeployStage,
    previous: Option<&Released>,
    built: &mut Built,
    report: &mut ReleaseReport,
) -> Result<()> {
    let Built {
        commit,
        execution,
        output_key,
        done,
        log,
        ..
    } = built;
    let run = Run {
        ctx,
        execution,
        commit,
        output_key,
    };
    if let Some(action) = &stage.approval {
        record_execution(ctx, execution, commit, "InProgress", done)?;
        report
            .approvals
            .push(approval::approve(&run, approver, action, log).await?);
    }
    let deploy = run.deploy(stage, log).await?;
    let summary = deploy.job["results"]
        .as_array()
        .and_then(|r| r.last())
        .map(|r| r["executionDetails"]["summary"].clone())
        .unwrap_or_default();
    done.push(json!({
        "stageName": stage.deploy.stage, "actionName": stage.deploy.name, "status": "Succeeded",
        "output": {"executionResult": {"externalExecutionSummary": summary}, "outputVariables": deploy.output_variables}
    }));
    let digest = deploy.output_variables.get("IMAGE_DIGEST").cloned();
    report
        .deployed
        .insert(stage.deploy.stage.clone(), digest.unwrap_or_default());
    if stage.bake.is_empty() {
        return Ok(());
    }
    let baked = bake::bake(&run, stage, previous.is_some(), log).await?;
    let rollback = baked["rollback"].clone();
    report.bake = Some(baked);
    if let Some(previous) = previous {
        report.pipeline_state = "FAILED".into();
        emit(
            ctx,
            execution,
            Level::Stage(&stage.deploy.stage),
            "FAILED",
            log,
        )
        .await?;
        record_execution(ctx, execution, commit, "Failed", done)?;
        emit(ctx, execution, Level::Pipeline, "FAILED", log).await?;
        report.rollback = Some(bake::roll_back(ctx, stage, &rollback, previous, log).await?);
    }
    Ok(())
}

/// One execution's context, as each stage's steps need it.
pub(super) struct Run<'a> {
    pub(super) ctx: &'a RunContext<'a>,
    pub(super) execution: &'a Execution,
    pub(super) commit: &'a github::Commit,
    pub(super) output_key: &'a str,
}

impl Run<'_> {
    /// The stage's deploy action, run to its end; the emulator's CodePipeline learns the outcome.
    pub(super) async fn deploy(
        &self,
        stage: &DeployStage,
        log: &mut Vec<EventDelivery>,
    ) -> Result<DeployReport> {
        let Run {
            ctx,
            execution,
            commit,
            output_key,
        } = *self;
        let report =
            deploy_job::run_deploy(ctx, &stage.deploy, execution, commit, output_key, log).await?;
        let status = if report.status == "Succeeded" {
            "Succeeded"
        } else {
            "Failed"
        };
        ctx.emu.stage_result(
            &ctx.deployed.pipeline,
            &execution.execution_id,
            &stage.deploy.stage,
            status,
        )?;
        if report.status != "Succeeded" {
            bail!(
                "stage {} of execution {} failed: {}",
                stage.deploy.stage,
                execution.execution_id,
                report.job["results"]
            );
        }
        Ok(report)
    }
}

/// What CodePipeline records of the execution (GetPipelineExecution, ListActionExecutions), which
/// the event-notifier reads for the commit, the image digest and what earlier stages did.
pub(super) fn record_execution(
    ctx: &RunContext<'_>,
    execution: &Execution,
    commit: &github::Commit,
    status: &str,
    done: &[Value],
) -> Result<()> {
    let details: Vec<Value> = done
        .iter()
        .map(|detail| {
            let mut detail = detail.clone();
            detail["startTime"] = json!(execution.start_time);
            detail["lastUpdateTime"] = json!(execution.start_time);
            detail
        })
        .collect();
    seed_execution(ctx, execution, commit, status, details)
}
