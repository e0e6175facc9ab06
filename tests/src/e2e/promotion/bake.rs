//! The bake after production deploys: the stage's `onSuccess` condition with its CloudWatchAlarm
//! rule, evaluated by the emulator's CodePipeline with the pipeline role; the team's alarm,
//! through the AWS CLI (the workspace carries no CloudWatch SDK crate); and the rollback
//! execution CodePipeline starts when the alarm fires, whose job deploys the earlier release's
//! artifact (CodePipeline User Guide, "Configure stage rollback" and "Create a success
//! condition": a failed onSuccess condition with result ROLLBACK rolls the stage back to the
//! last execution that succeeded in it).

use super::release::{Released, Rollback, Run};
use crate::e2e::context::RunContext;
use crate::e2e::delivery::emit;
use crate::e2e::deployed::DeployStage;
use crate::e2e::events::{Execution, Level};
use crate::e2e::report::EventDelivery;
use crate::e2e::support::now_iso8601;
use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::time::Duration;
use testkit::Emulator;

/// How often the rehearsal asks the emulator whether the bake is over, and how many times.
const POLL: Duration = Duration::from_millis(250);
const MAX_POLLS: u32 = 120;

/// `aws cloudwatch ARGS` against the emulator with its administrator's keys.
fn cloudwatch(emu: &Emulator, args: &[&str]) -> Result<()> {
    emu.aws_cli("cloudwatch", args).map(drop)
}

fn set_alarm(emu: &Emulator, alarm: &str, state: &str, reason: &str) -> Result<()> {
    cloudwatch(
        emu,
        &[
            "set-alarm-state",
            "--alarm-name",
            alarm,
            "--state-value",
            state,
            "--state-reason",
            reason,
        ],
    )
}

/// The team's alarm on its service's 5xx responses, quiet to begin with.
pub(super) fn create_alarm(emu: &Emulator, alarm: &str) -> Result<()> {
    cloudwatch(
        emu,
        &[
            "put-metric-alarm",
            "--alarm-name",
            alarm,
            "--namespace",
            "AWS/ApplicationELB",
            "--metric-name",
            "HTTPCode_Target_5XX_Count",
            "--statistic",
            "Sum",
            "--period",
            "60",
            "--evaluation-periods",
            "1",
            "--threshold",
            "5",
            "--comparison-operator",
            "GreaterThanOrEqualToThreshold",
        ],
    )?;
    set_alarm(emu, alarm, "OK", "no 5xx responses")
}

/// The bake of `stage`: the emulator's CodePipeline watches the stage's alarms for the wait
/// time; with `fires`, the alarm goes off during it. Answers the condition's outcome, which
/// with a fired alarm carries the rollback execution CodePipeline started.
pub(super) async fn bake(
    run: &Run<'_>,
    stage: &DeployStage,
    fires: bool,
    log: &mut Vec<EventDelivery>,
) -> Result<Value> {
    let Run { ctx, execution, .. } = *run;
    let _ = log;
    let name = &stage.deploy.stage;
    ctx.say.simulated("the emulator's CodePipeline evaluates the rule: it reads each alarm as the pipeline role (cloudwatch:DescribeAlarms, judged by IAM) and judges it from the alarm's state and history when the wait is over");
    let id = ctx
        .emu
        .start_conditions(&ctx.deployed.pipeline, &execution.execution_id, name)?;
    let alarms: Vec<String> = stage
        .bake
        .iter()
        .map(|b| format!("{} for {} min", b.alarm, b.wait_minutes))
        .collect();
    ctx.say.say(&format!(
        "{name} bakes: CodePipeline watches {}",
        alarms.join(", ")
    ));
    if fires {
        for rule in &stage.bake {
            set_alarm(
                ctx.emu,
                &rule.alarm,
                "ALARM",
                "5xx responses above threshold after the release",
            )?;
            ctx.say.say(&format!(
                "the team's alarm {} goes off during the bake",
                rule.alarm
            ));
        }
        ctx.say.simulated("the alarm's state is set by hand; on AWS, CloudWatch sets it from the service's metrics");
    }
    let mut outcome = ctx.emu.condition(&id)?;
    for _ in 0..MAX_POLLS {
        if outcome["status"] != "InProgress" {
            break;
        }
        tokio::time::sleep(POLL).await;
        outcome = ctx.emu.condition(&id)?;
    }
    let (expected, wanted) = if fires {
        ("Failed", true)
    } else {
        ("Succeeded", false)
    };
    if outcome["status"] != expected || outcome["rollback"].is_object() != wanted {
        bail!(
            "{name}'s bake ended {outcome}; with the alarm {} it must end {expected}{}",
            if fires { "in ALARM" } else { "quiet" },
            if wanted {
                " and start a rollback"
            } else {
                " with no rollback"
            }
        );
    }
    ctx.say.say(&format!(
        "bake {}: {}",
        outcome["status"].as_str().unwrap_or_default(),
        outcome["ruleResults"]
    ));
    Ok(outcome)
}

/// The rollback execution CodePipeline started: its job deploys `previous`'s build artifact to
/// the stage, and the alarm quiets down.
pub(super) async fn roll_back(
    ctx: &RunContext<'_>,
    stage: &DeployStage,
    rollback: &Value,
    previous: &Released,
    log: &mut Vec<EventDelivery>,
) -> Result<Rollback> {
    let execution_id = rollback["pipelineExecutionId"]
        .as_str()
        .context("the rollback names no pipelineExecutionId")?
        .to_owned();
    let target = rollback["targetPipelineExecutionId"]
        .as_str()
        .unwrap_or_default();
    if target != previous.execution_id {
        bail!(
            "CodePipeline rolled {} back to execution {target}, not to the last one that succeeded in it ({})",
            stage.deploy.stage,
            previous.execution_id
        );
    }
    let d = ctx.deployed;
    let execution = Execution {
        pipeline: d.pipeline.clone(),
        pipeline_arn: d.pipeline_arn.clone(),
        execution_id: execution_id.clone(),
        region: d.region.clone(),
        account: d.account.clone(),
        start_time: now_iso8601(),
        trigger: ("AutomatedRollback", target.to_owned()),
    };
    ctx.say.step(&format!(
        "CodePipeline rolls {} back: execution {execution_id} redeploys execution {target}'s artifact",
        stage.deploy.stage
    ));
    emit(ctx, &execution, Level::Pipeline, "STARTED", log).await?;
    let run = Run {
        ctx,
        execution: &execution,
        commit: &previous.commit,
        output_key: &previous.output_key,
    };
    let deploy = run.deploy(stage, log).await?;
    emit(ctx, &execution, Level::Pipeline, "SUCCEEDED", log).await?;
    for rule in &stage.bake {
        set_alarm(
            ctx.emu,
            &rule.alarm,
            "OK",
            "5xx responses back to normal after the rollback",
        )?;
    }
    Ok(Rollback {
        execution_id,
        target_execution_id: target.to_owned(),
        deploy,
    })
}
