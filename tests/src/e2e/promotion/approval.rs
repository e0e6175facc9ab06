//! The manual approval before production: the approvers' role made from `bootstrap
//! approver-policy`, the approval CodePipeline opens, and a person approving it with that role
//! alone (the token read through GetPipelineState, the answer through PutApprovalResult), as
//! the approval action's documentation describes (CodePipeline User Guide, "Approve or reject an
//! approval action in CodePipeline").

use super::release::Run;
use crate::e2e::DemoOptions;
use crate::e2e::cli::{bootstrap, last_json_document};
use crate::e2e::context::{Clients, role_credentials};
use crate::e2e::delivery::{action_level, emit};
use crate::e2e::deployed::Action;
use crate::e2e::events::Level;
use crate::e2e::report::EventDelivery;
use crate::e2e::support::Narrator;
use anyhow::{Context, Result, bail};
use aws_sdk_codepipeline::types::{ApprovalResult, ApprovalStatus};
use serde_json::{Value, json};
use testkit::Emulator;

/// The approvers' role: exactly `bootstrap approver-policy`, assumed as a person would.
pub(super) struct Approver {
    pub(super) role_arn: String,
    pub(super) role: String,
    /// What `bootstrap approver-policy` printed, the role's one policy.
    pub(super) policy: Value,
    env: Vec<(String, String)>,
}

/// Creates the approvers' role from the policy `bootstrap approver-policy` prints for the
/// environment's stages.
pub(super) async fn create_approver(
    opts: &DemoOptions,
    emu: &Emulator,
    clients: &Clients,
    stage_args: &[&str],
    say: &Narrator,
) -> Result<Approver> {
    say.step("The approvers' role, from `bootstrap approver-policy`");
    let mut args = vec![
        "approver-policy",
        "--env",
        opts.env.as_str(),
        "--output",
        "json",
    ];
    args.extend(stage_args);
    let stdout = bootstrap(opts, emu, &[], &args, say).await?;
    let policy: Value = serde_json::from_str(last_json_document(&stdout)).with_context(|| {
        format!(
            "`bootstrap approver-policy --output json` printed no policy; it printed:\n{stdout}"
        )
    })?;
    let role = format!("approvers-{}", opts.env);
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:aws:iam::{}:root", testkit::ACCOUNT_ID) },
            "Action": "sts:AssumeRole"
        }]
    });
    let created = clients
        .iam
        .create_role()
        .role_name(&role)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .with_context(|| format!("creating the approvers' role {role}"))?;
    let role_arn = created
        .role()
        .map(|r| r.arn().to_owned())
        .context("CreateRole returned no role")?;
    clients
        .iam
        .put_role_policy()
        .role_name(&role)
        .policy_name("approver")
        .policy_document(policy.to_string())
        .send()
        .await
        .with_context(|| format!("putting the approver policy on {role}"))?;
    say.say(&format!(
        "role {role} holds only that policy ({} statements)",
        policy["Statement"].as_array().map_or(0, Vec::len)
    ));
    let env = role_credentials(&clients.sts, &role_arn, "approver").await?;
    Ok(Approver {
        role_arn,
        role,
        policy,
        env,
    })
}

/// The approval action of `action`'s stage: CodePipeline opens it and notifies; the approver
/// reads the token and approves with the approvers' role; CodePipeline moves on. Answers the
/// emulator's record of the approval.
pub(super) async fn approve(
    run: &Run<'_>,
    approver: &Approver,
    action: &Action,
    log: &mut Vec<EventDelivery>,
) -> Result<Value> {
    let Run { ctx, execution, .. } = *run;
    let pipeline = &ctx.deployed.pipeline;
    emit(ctx, execution, Level::Stage(&action.stage), "STARTED", log).await?;
    emit(
        ctx,
        execution,
        action_level(action, "Approval", None),
        "STARTED",
        log,
    )
    .await?;
    let token = ctx.emu.open_approval(
        pipeline,
        &execution.execution_id,
        &action.stage,
        &action.name,
    )?;
    ctx.say.say(&format!(
        "CodePipeline waits at {}/{} for a person to approve",
        action.stage, action.name
    ));
    let codepipeline =
        aws_sdk_codepipeline::Client::new(&ctx.emu.sdk_config_with(&approver.env).await);
    let state = codepipeline
        .get_pipeline_state()
        .name(pipeline)
        .send()
        .await
        .context("the approver reading the pipeline's state (GetPipelineState)")?;
    let read = state
        .stage_states()
        .iter()
        .filter(|s| s.stage_name() == Some(action.stage.as_str()))
        .flat_map(|s| s.action_states())
        .filter(|a| a.action_name() == Some(action.name.as_str()))
        .find_map(|a| a.latest_execution().and_then(|e| e.token()))
        .map(str::to_owned);
    if read.as_deref() != Some(token.as_str()) {
        bail!(
            "GetPipelineState shows the approver the token {read:?}, not the open approval's {token}"
        );
    }
    review(&codepipeline, pipeline, &execution.execution_id, ctx.say).await?;
    let summary = "staging is healthy; promoting to production";
    codepipeline
        .put_approval_result()
        .pipeline_name(pipeline)
        .stage_name(&action.stage)
        .action_name(&action.name)
        .token(&token)
        .result(
            ApprovalResult::builder()
                .status(ApprovalStatus::Approved)
                .summary(summary)
                .build()
                .context("building the approval result")?,
        )
        .send()
        .await
        .context("the approver approving with the approvers' role (PutApprovalResult)")?;
    let record = ctx.emu.approval(&token)?;
    let by = record["approvedBy"].as_str().unwrap_or_default();
    if record["status"] != "Approved" || !by.contains(&approver_role_name(&approver.role_arn)) {
        bail!(
            "the emulator's CodePipeline recorded the approval as {record}; expected Approved by {}",
            approver.role_arn
        );
    }
    ctx.say.say(&format!("approved by {by}: \"{summary}\""));
    let result = json!({"external-execution-summary": summary});
    emit(
        ctx,
        execution,
        action_level(action, "Approval", Some(result)),
        "SUCCEEDED",
        log,
    )
    .await?;
    emit(
        ctx,
        execution,
        Level::Stage(&action.stage),
        "SUCCEEDED",
        log,
    )
    .await?;
    Ok(record)
}

/// `approvers-ENV` of `arn:aws:iam::ACCOUNT:role/approvers-ENV`.
fn approver_role_name(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_owned()
}

/// What the approver reads before answering, as `approver-policy` allows: the executions of the
/// pipeline, and the one waiting, with the commit it would promote.
async fn review(
    codepipeline: &aws_sdk_codepipeline::Client,
    pipeline: &str,
    execution_id: &str,
    say: &Narrator,
) -> Result<()> {
    let listed = codepipeline
        .list_pipeline_executions()
        .pipeline_name(pipeline)
        .send()
        .await
        .context("the approver listing the pipeline's executions (ListPipelineExecutions)")?;
    let waiting = listed
        .pipeline_execution_summaries()
        .iter()
        .any(|e| e.pipeline_execution_id() == Some(execution_id));
    if !waiting {
        bail!("ListPipelineExecutions does not show the approver execution {execution_id}");
    }
    let execution = codepipeline
        .get_pipeline_execution()
        .pipeline_name(pipeline)
        .pipeline_execution_id(execution_id)
        .send()
        .await
        .context("the approver reading the waiting execution (GetPipelineExecution)")?;
    let commit = execution
        .pipeline_execution()
        .and_then(|e| e.artifact_revisions().first())
        .and_then(|r| r.revision_id())
        .unwrap_or("?")
        .to_owned();
    say.say(&format!(
        "the approver reviews execution {execution_id}: commit {}",
        &commit[..12.min(commit.len())]
    ));
    Ok(())
}
