//! The Deploy step: CodePipeline's job for the Invoke action, handed to the real deploy-handler
//! through the Lambda Runtime API emulator with the pipeline role's artifact credentials, and
//! invoked again with each continuation token while the rollout is in progress; then the
//! team's service as the rollout left it, and the pipeline's end state.

use super::context::{INVOKE_WAIT, RunContext};
use super::delivery::{action_level, emit, seed_failed_execution};
use super::deployed::Action;
use super::events::{Execution, Level};
use super::github;
use super::report::{BuildReport, DeployReport, EcrImage, EventDelivery};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Re-invocations with a continuation token before the rehearsal gives up on a rollout.
const MAX_DEPLOY_POLLS: u32 = 20;

/// What the Deploy stage did and how the pipeline ended.
pub(super) struct DeployOutcome {
    pub(super) report: DeployReport,
    /// The image the team's service runs afterwards (with a deploy target).
    pub(super) team_image: Option<String>,
    /// `SUCCEEDED` or `FAILED`.
    pub(super) pipeline_state: String,
}

/// Deploys the build's output artifact; `bad_image` has the emulator fail the image's
/// rollout, as ECS (or Lambda) fails an image that crashes.
pub(super) async fn deploy_stage(
    ctx: &RunContext<'_>,
    execution: &Execution,
    commit: &github::Commit,
    build: &BuildReport,
    image: &EcrImage,
    bad_image: bool,
    log: &mut Vec<EventDelivery>,
) -> Result<DeployOutcome> {
    let say = ctx.say;
    let output_key = build
        .output_key
        .clone()
        .context("a successful build wrote no output artifact")?;
    if bad_image {
        ctx.emu.mark_bad_image(&image.digest)?;
        say.simulated(&format!(
            "this image's tasks will not start: the emulator fails the rollout of {} as ECS (or Lambda) fails an image that crashes",
            image.digest
        ));
    }
    let report = run_deploy(
        ctx,
        &ctx.deployed.deploy,
        execution,
        commit,
        &output_key,
        log,
    )
    .await?;
    let mut team_image = None;
    if let Some(team) = ctx.team {
        let running = team.running_image(ctx.clients).await?;
        say.say(&format!("{} now runs {running}", team.describe()));
        team_image = Some(running);
    }
    let pipeline_state = if report.status == "Succeeded" {
        "SUCCEEDED"
    } else {
        "FAILED"
    }
    .to_owned();
    if pipeline_state == "FAILED" {
        let summary = report.job["results"][0]["failureDetails"]["message"]
            .as_str()
            .unwrap_or("deploy failed")
            .to_owned();
        let deploy = &ctx.deployed.deploy;
        seed_failed_execution(ctx, execution, commit, deploy, &summary, "").await?;
    }
    emit(ctx, execution, Level::Pipeline, &pipeline_state, log).await?;
    Ok(DeployOutcome {
        report,
        team_image,
        pipeline_state,
    })
}

/// An Invoke action (`action`, of any deploy stage): jobs handed to the deploy-handler until one
/// is no longer in progress, with the stage's and the action's events around them.
pub(super) async fn run_deploy(
    ctx: &RunContext<'_>,
    action: &Action,
    execution: &Execution,
    commit: &github::Commit,
    output_key: &str,
    log: &mut Vec<EventDelivery>,
) -> Result<DeployReport> {
    emit(ctx, execution, Level::Stage(&action.stage), "STARTED", log).await?;
    emit(
        ctx,
        execution,
        action_level(action, "Invoke", None),
        "STARTED",
        log,
    )
    .await?;
    let mut continuation: Option<String> = None;
    let mut polls = 0;
    let (job_id, job, status, last) = loop {
        let job = JobInput {
            action,
            execution,
            commit,
            output_key,
        };
        let job_id = invoke_job(ctx, &job, continuation.as_deref()).await?;
        let job = ctx.emu.job(&job_id)?;
        let status = job["status"].as_str().unwrap_or_default().to_owned();
        let last = job["results"]
            .as_array()
            .and_then(|r| r.last())
            .cloned()
            .unwrap_or(Value::Null);
        if status == "InProgress" {
            // CodePipeline creates a new job for the action with the token and invokes the function
            // again (CodePipeline User Guide, "Invoke an AWS Lambda function in a pipeline":
            // continuation tokens).
            let token = last["continuationToken"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            ctx.say.say(&format!(
                "in progress: {}",
                last["executionDetails"]["summary"]
                    .as_str()
                    .unwrap_or_default()
            ));
            polls += 1;
            if polls > MAX_DEPLOY_POLLS {
                bail!(
                    "the deploy-handler still reports the rollout in progress after {MAX_DEPLOY_POLLS} invocations"
                );
            }
            continuation = Some(token);
            continue;
        }
        break (job_id, job, status, last);
    };
    let output_variables: BTreeMap<String, String> = last["outputVariables"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    ctx.say.say(&format!(
        "the deploy-handler reported the job {status} after {} invocation(s)",
        polls + 1
    ));
    for (key, value) in &output_variables {
        ctx.say.say(&format!("  output variable {key} = {value}"));
    }
    let (state, result) = if status == "Succeeded" {
        (
            "SUCCEEDED",
            json!({"external-execution-id": job_id, "external-execution-summary": last["executionDetails"]["summary"]}),
        )
    } else {
        (
            "FAILED",
            json!({"external-execution-id": job_id, "external-execution-summary": last["failureDetails"]["message"], "error-code": last["failureDetails"]["type"]}),
        )
    };
    emit(
        ctx,
        execution,
        action_level(action, "Invoke", Some(result)),
        state,
        log,
    )
    .await?;
    emit(ctx, execution, Level::Stage(&action.stage), state, log).await?;
    Ok(DeployReport {
        job_id,
        job,
        status,
        output_variables,
    })
}

/// What one job of an action is made of: the action, its execution, the commit and the build's
/// output artifact it deploys.
struct JobInput<'a> {
    action: &'a Action,
    execution: &'a Execution,
    commit: &'a github::Commit,
    output_key: &'a str,
}

/// One job of the action, handed to the deploy-handler as CodePipeline invokes it; returns the
/// job's id once the function has answered.
async fn invoke_job(
    ctx: &RunContext<'_>,
    job: &JobInput<'_>,
    continuation: Option<&str>,
) -> Result<String> {
    let d = ctx.deployed;
    let JobInput {
        action,
        execution,
        commit,
        output_key,
    } = *job;
    // CodePipeline hands the function short-lived credentials of the pipeline's role for the artifacts.
    let assumed = ctx
        .clients
        .sts
        .assume_role()
        .role_arn(&d.pipeline_role_arn)
        .role_session_name(format!("codepipeline-{}", &execution.execution_id[..8]))
        .send()
        .await
        .with_context(|| format!("assuming the pipeline role {}", d.pipeline_role_arn))?;
    let credentials = assumed
        .credentials()
        .context("AssumeRole returned no credentials")?;
    let job_id = ctx.emu.create_job(
        json!({"pipelineName": d.pipeline, "stageName": action.stage, "actionName": action.name, "pipelineExecutionId": execution.execution_id}),
    )?;
    let mut configuration = json!({});
    for (key, value) in &action.configuration {
        configuration[key] = json!(value);
    }
    let event = json!({"CodePipeline.job": {
        "id": job_id,
        "accountId": d.account,
        "data": {
            "actionConfiguration": {"configuration": configuration},
            "inputArtifacts": [{
                "name": d.build.output_artifact.clone().unwrap_or_default(),
                "revision": commit.id,
                "location": {"type": "S3", "s3Location": {"bucketName": d.bucket, "objectKey": output_key}}
            }],
            "outputArtifacts": [],
            "continuationToken": continuation,
            "artifactCredentials": {
                "accessKeyId": credentials.access_key_id(),
                "secretAccessKey": credentials.secret_access_key(),
                "sessionToken": credentials.session_token(),
                "expirationTime": 1_900_000_000_000_u64
            }
        }
    }});
    if continuation.is_none() {
        ctx.say.say(&format!(
            "CodePipeline invokes {} with job {job_id} (UserParameters {})",
            action
                .configuration
                .get("FunctionName")
                .map_or("?", String::as_str),
            action
                .configuration
                .get("UserParameters")
                .map_or("none", String::as_str)
        ));
    }
    pipeline_role_may_invoke(ctx, action).await?;
    let invocation = ctx
        .runtime_deploy
        .invoke(event, INVOKE_WAIT)
        .await
        .with_context(|| {
            format!(
                "the deploy-handler did not answer; its logs:\n{}",
                ctx.deploy_handler.logs()
            )
        })?;
    if let Err(error) = &invocation.result {
        bail!(
            "the deploy-handler's invocation failed: {error}\nits logs:\n{}",
            ctx.deploy_handler.logs()
        );
    }
    Ok(job_id)
}

/// CodePipeline invokes the function with the pipeline role's credentials: a DryRun invoke
/// has IAM judge that (lambda:InvokeFunction on the function) and runs nothing (Lambda API
/// Reference, Invoke: "DryRun – Validate parameter values and verify that the user or role
/// has permission to invoke the function"); the job itself reaches the function through the
/// Runtime API.
async fn pipeline_role_may_invoke(ctx: &RunContext<'_>, action: &Action) -> Result<()> {
    let function_name = action
        .configuration
        .get("FunctionName")
        .context("the Deploy action names no FunctionName")?;
    aws_sdk_lambda::Client::new(&ctx.emu.sdk_config_with(&ctx.pipeline_role).await)
        .invoke()
        .function_name(function_name)
        .invocation_type(aws_sdk_lambda::types::InvocationType::DryRun)
        .send()
        .await
        .with_context(|| {
            format!("CodePipeline, as the pipeline role, may not invoke {function_name}")
        })?;
    Ok(())
}
