//! Event delivery: each state change CodePipeline would emit, matched against the deployed
//! EventBridge rules and delivered to their targets as EventBridge would (the event-notifier
//! through the Runtime API, the FAILED rule's message to SNS), each delivery judged by the
//! target's resource policy; and what CodePipeline records of a failed run, for the notifier.

use super::context::{Clients, INVOKE_WAIT, RunContext};
use super::deployed::{Action, Rule, RuleTarget};
use super::events::{self, Execution, Level};
use super::github;
use super::report::EventDelivery;
use super::support::{Narrator, now_iso8601, uuid};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// The state change of one of the pipeline's actions (`category` as the event names it).
pub(super) fn action_level<'a>(
    action: &'a Action,
    category: &'a str,
    result: Option<Value>,
) -> Level<'a> {
    Level::Action {
        stage: &action.stage,
        action: &action.name,
        category,
        provider: &action.provider,
        owner: &action.owner,
        result,
    }
}

/// Delivers one state-change event through the deployed rules, as EventBridge would.
pub(super) async fn emit(
    ctx: &RunContext<'_>,
    execution: &Execution,
    level: Level<'_>,
    state: &str,
    log: &mut Vec<EventDelivery>,
) -> Result<()> {
    let event = events::state_change(execution, &level, state, &uuid(), &now_iso8601());
    let what = match &level {
        Level::Pipeline => format!("pipeline {state}"),
        Level::Stage(stage) => format!("stage {stage} {state}"),
        Level::Action { stage, action, .. } => format!("action {stage}/{action} {state}"),
    };
    let event_text = event.to_string();
    let mut matched_rules = Vec::new();
    let mut deliveries = Vec::new();
    for rule in &ctx.deployed.rules {
        if !rule_matches(ctx, rule, &event, &event_text).await? {
            continue;
        }
        matched_rules.push(rule.name.clone());
        for target in &rule.targets {
            deliveries.push(deliver(ctx, rule, target, &event, &event_text, &what).await?);
        }
    }
    ctx.say.say(&format!(
        "event: {what}{}",
        if matched_rules.is_empty() {
            " (no rule matches)".to_owned()
        } else {
            format!(
                " → {} → {}",
                matched_rules.join(", "),
                deliveries.join(", ")
            )
        }
    ));
    log.push(EventDelivery {
        detail_type: event["detail-type"].as_str().unwrap_or_default().to_owned(),
        state: state.to_owned(),
        what,
        matched_rules,
        deliveries,
    });
    Ok(())
}

/// Delivers the event to one target of a matching rule; returns what the target answered,
/// e.g. `event-notifier: published`.
async fn deliver(
    ctx: &RunContext<'_>,
    rule: &Rule,
    target: &RuleTarget,
    event: &Value,
    event_text: &str,
    what: &str,
) -> Result<String> {
    let d = ctx.deployed;
    let rule_arn = format!(
        "arn:aws:events:{}:{}:rule/{}",
        d.region, d.account, rule.name
    );
    // EventBridge delivers only where the target's own policy lets the rule do it.
    let action = if target.arn == d.notifier_arn {
        Some("lambda:InvokeFunction")
    } else if target.arn == d.topic_arn {
        Some("sns:Publish")
    } else {
        None
    };
    if let Some(action) = action {
        ctx.emu
            .service_call(
                "events.amazonaws.com",
                action,
                &target.arn,
                &rule_arn,
                &d.account,
            )
            .with_context(|| format!("EventBridge delivering {what} to {}", target.arn))?;
    }
    if target.arn == d.notifier_arn {
        invoke_notifier(ctx, event, what).await
    } else if target.arn == d.topic_arn {
        let message = match &target.input_template {
            Some(template) => events::transform_input(event, &target.input_paths, template)?,
            None => event_text.to_owned(),
        };
        ctx.clients
            .sns
            .publish()
            .topic_arn(&target.arn)
            .message(message)
            .send()
            .await
            .with_context(|| {
                format!("publishing rule {}'s message to {}", rule.name, target.arn)
            })?;
        Ok("SNS topic: published".to_owned())
    } else {
        Ok(format!("{}: not simulated", target.arn))
    }
}

/// The event-notifier's answer to one event, invoked through its Runtime API.
async fn invoke_notifier(ctx: &RunContext<'_>, event: &Value, what: &str) -> Result<String> {
    let invocation = ctx
        .runtime_notify
        .invoke(event.clone(), INVOKE_WAIT)
        .await
        .with_context(|| {
            format!(
                "the event-notifier did not answer; its logs:\n{}",
                ctx.notifier.logs()
            )
        })?;
    let outcome = match &invocation.result {
        Ok(answer) => answer["outcome"].as_str().unwrap_or("answered").to_owned(),
        Err(error) => bail!(
            "the event-notifier failed on {what}: {error}\nits logs:\n{}",
            ctx.notifier.logs()
        ),
    };
    Ok(format!("event-notifier: {outcome}"))
}

/// Whether the emulator's TestEventPattern evaluates patterns; says so when it does not, as
/// the deployed rules are then matched locally.
pub(super) async fn pattern_evaluation(clients: &Clients, say: &Narrator) -> bool {
    let emulator_matches_patterns = emulator_evaluates_patterns(clients).await;
    if !emulator_matches_patterns {
        say.simulated("the emulator's EventBridge TestEventPattern does not evaluate patterns, so the deployed rules' patterns are matched locally (exact values and nested fields, as the rules use)");
    }
    emulator_matches_patterns
}

/// TestEventPattern decides when the emulator really evaluates patterns (see
/// [`emulator_evaluates_patterns`]); otherwise the local matcher does, and both must agree.
async fn rule_matches(
    ctx: &RunContext<'_>,
    rule: &Rule,
    event: &Value,
    event_text: &str,
) -> Result<bool> {
    let local = events::pattern_matches(&rule.pattern, event)?;
    if !ctx.emulator_matches_patterns {
        return Ok(local);
    }
    let answer = ctx
        .clients
        .events
        .test_event_pattern()
        .event_pattern(rule.pattern.to_string())
        .event(event_text)
        .send()
        .await
        .with_context(|| format!("TestEventPattern for rule {}", rule.name))?;
    if answer.result() != local {
        bail!(
            "TestEventPattern says {} but the local matcher says {local} for rule {}: the rehearsal's matcher is wrong",
            answer.result(),
            rule.name
        );
    }
    Ok(local)
}

/// moto 5.2 answers TestEventPattern with an empty body (so `false`) for every input; a
/// pattern that must match tells a real evaluator from that stub.
async fn emulator_evaluates_patterns(clients: &Clients) -> bool {
    let event = json!({"version": "0", "id": "probe", "detail-type": "probe", "source": "aws.codepipeline",
        "account": testkit::ACCOUNT_ID, "time": now_iso8601(), "region": testkit::REGION, "resources": [], "detail": {}});
    let matching = clients
        .events
        .test_event_pattern()
        .event_pattern(r#"{"source":["aws.codepipeline"]}"#)
        .event(event.to_string())
        .send()
        .await;
    let other = clients
        .events
        .test_event_pattern()
        .event_pattern(r#"{"source":["aws.s3"]}"#)
        .event(event.to_string())
        .send()
        .await;
    matches!((matching, other), (Ok(yes), Ok(no)) if yes.result() && !no.result())
}

/// What GetPipelineExecution / ListActionExecutions answer for a failed run, so the
/// event-notifier's enrichment finds the failed action as it would on AWS.
pub(super) async fn seed_failed_execution(
    ctx: &RunContext<'_>,
    execution: &Execution,
    commit: &github::Commit,
    failed: &Action,
    summary: &str,
    url: &str,
) -> Result<()> {
    let d = ctx.deployed;
    let now = now_iso8601();
    let mut details = vec![json!({
        "stageName": d.source.stage, "actionName": d.source.name, "status": "Succeeded",
        "startTime": execution.start_time, "lastUpdateTime": execution.start_time,
        "input": {"actionTypeId": {"category": "Source", "owner": d.source.owner, "provider": d.source.provider, "version": "1"}},
        "output": {"executionResult": {"externalExecutionId": commit.id, "externalExecutionSummary": commit.message}}
    })];
    if failed.stage != d.build.stage {
        details.push(json!({"stageName": d.build.stage, "actionName": d.build.name, "status": "Succeeded", "startTime": execution.start_time, "lastUpdateTime": now}));
    }
    details.push(json!({
        "stageName": failed.stage, "actionName": failed.name, "status": "Failed",
        "startTime": execution.start_time, "lastUpdateTime": now,
        "input": {"actionTypeId": {"category": failed.category, "owner": failed.owner, "provider": failed.provider, "version": "1"}},
        "output": {"executionResult": {"externalExecutionSummary": summary, "externalExecutionUrl": url, "errorDetails": {"code": "JobFailed", "message": summary}}}
    }));
    seed_execution(ctx, execution, commit, "Failed", details)?;
    ctx.say.simulated("the emulator cannot run a pipeline execution, so what CodePipeline would record for this failed run is seeded for the notifier to look up");
    Ok(())
}

/// Seeds what GetPipelineExecution and ListActionExecutions answer for `execution`: its status,
/// trigger and source revision (the commit), and the action executions in `details`.
pub(super) fn seed_execution(
    ctx: &RunContext<'_>,
    execution: &Execution,
    commit: &github::Commit,
    status: &str,
    details: Vec<Value>,
) -> Result<()> {
    let d = ctx.deployed;
    ctx.emu.seed_execution(json!({
        "pipelineName": d.pipeline,
        "pipelineExecution": {
            "pipelineExecutionId": execution.execution_id,
            "pipelineVersion": 1,
            "status": status,
            "executionType": "STANDARD",
            "trigger": {"triggerType": execution.trigger.0, "triggerDetail": execution.trigger.1},
            "artifactRevisions": [{
                "name": d.source.output_artifact.clone().unwrap_or_default(),
                "revisionId": commit.id,
                "revisionSummary": commit.message,
                "revisionUrl": format!("https://github.com/{}/commit/{}", ctx.opts.github_repo, commit.id)
            }]
        },
        "actionExecutionDetails": details
    }))
}
