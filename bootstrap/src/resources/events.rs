//! EventBridge rules with their targets (retry policy and input transformer per target).

use super::Ctx;
use super::errors::{self, absent_as_none, gone_is_done};
use super::tags::{model_tags, retag_with, sdk_tags};
use crate::model::{Observed, RuleSpec, RuleTarget};
use crate::policies::deployer::Scope;
use crate::policies::statement;
use anyhow::{Context, Result, bail};
use aws_sdk_eventbridge::operation::{
    delete_rule::DeleteRuleError, describe_rule::DescribeRuleError,
    list_targets_by_rule::ListTargetsByRuleError,
};
use aws_sdk_eventbridge::types::{InputTransformer, RetryPolicy, RuleState, Tag, Target};
use serde_json::Value;

super::resource!(
    /// EventBridge rules with their targets.
    RuleResource: Rule(RuleSpec), depends on [Function, Topic]
);

/// EventBridge's retry defaults, reported when a target has no retry policy of its own.
const DEFAULT_MAX_EVENT_AGE_SECONDS: i32 = 86_400;
const DEFAULT_MAX_RETRY_ATTEMPTS: i32 = 185;

errors::variants! {
    NotFound:
    DescribeRuleError => is_resource_not_found_exception,
    ListTargetsByRuleError => is_resource_not_found_exception,
    DeleteRuleError => is_resource_not_found_exception,
}

pub async fn observe(ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
    let events = &ctx.clients.events;
    // The rule, its tags (under the ARN its name gives on the default bus) and its targets are
    // read at once: one round.
    let named_arn = ctx.target.arn("events", &format!("rule/{name}"));
    let (answer, listed, targets) = futures::join!(
        events.describe_rule().name(name).send(),
        events
            .list_tags_for_resource()
            .resource_arn(&named_arn)
            .send(),
        list_targets(ctx, name),
    );
    let Some(rule) = absent_as_none(answer)? else {
        return Ok(None);
    };
    let event_pattern = match rule.event_pattern() {
        Some(text) => {
            serde_json::from_str(text).context("the rule's event pattern is not valid JSON")?
        }
        None => Value::Null,
    };
    let arn = rule.arn().map_or_else(|| named_arn.clone(), str::to_owned);
    let listed = if arn == named_arn {
        listed
    } else {
        let list = events.list_tags_for_resource().resource_arn(&arn);
        list.send().await
    };
    let tags = model_tags(listed.context("listing the rule's tags")?.tags());
    let mut targets: Vec<RuleTarget> = targets?
        .unwrap_or_default()
        .iter()
        .map(target_spec)
        .collect();
    targets.sort_by(|a, b| a.id.cmp(&b.id));
    let spec = RuleSpec {
        name: name.to_owned(),
        description: rule.description().unwrap_or_default().to_owned(),
        event_pattern,
        targets,
        tags: tags.clone(),
    };
    let status = rule.state().map(|s| s.as_str().to_owned());
    Ok(Some(Observed::of(spec, Some(arn)).with_status(status)))
}

/// Every target of the rule, page by page; `None` when the rule does not exist.
async fn list_targets(ctx: Ctx<'_>, rule: &str) -> Result<Option<Vec<Target>>> {
    let mut targets = Vec::new();
    let mut next_token = None;
    loop {
        let answer = ctx
            .clients
            .events
            .list_targets_by_rule()
            .rule(rule)
            .set_next_token(next_token)
            .send()
            .await;
        let Some(page) = absent_as_none(answer).context("listing the rule's targets")? else {
            return Ok(None);
        };
        targets.extend_from_slice(page.targets());
        next_token = page.next_token().map(str::to_owned);
        if next_token.is_none() {
            return Ok(Some(targets));
        }
    }
}

fn target_spec(target: &Target) -> RuleTarget {
    let retry = target.retry_policy();
    let transformer = target.input_transformer();
    RuleTarget {
        id: target.id().to_owned(),
        arn: target.arn().to_owned(),
        max_event_age_seconds: retry
            .and_then(|r| r.maximum_event_age_in_seconds())
            .unwrap_or(DEFAULT_MAX_EVENT_AGE_SECONDS),
        max_retry_attempts: retry
            .and_then(|r| r.maximum_retry_attempts())
            .unwrap_or(DEFAULT_MAX_RETRY_ATTEMPTS),
        input_paths: transformer
            .and_then(|t| t.input_paths_map())
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        input_template: transformer.map(|t| t.input_template().to_owned()),
    }
}

fn sdk_target(target: &RuleTarget) -> Result<Target> {
    let transformer = match &target.input_template {
        Some(template) => Some(
            InputTransformer::builder()
                .set_input_paths_map(target.input_paths.clone().map(|m| m.into_iter().collect()))
                .input_template(template)
                .build()
                .context("building an input transformer")?,
        ),
        None => None,
    };
    Target::builder()
        .id(&target.id)
        .arn(&target.arn)
        .retry_policy(
            RetryPolicy::builder()
                .maximum_event_age_in_seconds(target.max_event_age_seconds)
                .maximum_retry_attempts(target.max_retry_attempts)
                .build(),
        )
        .set_input_transformer(transformer)
        .build()
        .with_context(|| format!("building target {}", target.id))
}

async fn put_rule(ctx: Ctx<'_>, spec: &RuleSpec, tags: Option<Vec<Tag>>) -> Result<()> {
    let pattern =
        serde_json::to_string(&spec.event_pattern).context("serialising the event pattern")?;
    ctx.clients
        .events
        .put_rule()
        .name(&spec.name)
        .event_pattern(pattern)
        .description(&spec.description)
        .state(RuleState::Enabled)
        .set_tags(tags)
        .send()
        .await
        .context("PutRule failed")?;
    Ok(())
}

async fn put_targets(ctx: Ctx<'_>, rule: &str, targets: &[&RuleTarget]) -> Result<()> {
    if targets.is_empty() {
        return Ok(());
    }
    let sdk_targets = targets
        .iter()
        .map(|t| sdk_target(t))
        .collect::<Result<Vec<_>>>()?;
    let out = ctx
        .clients
        .events
        .put_targets()
        .rule(rule)
        .set_targets(Some(sdk_targets))
        .send()
        .await
        .context("PutTargets failed")?;
    if out.failed_entry_count() > 0 {
        let reasons: Vec<String> = out
            .failed_entries()
            .iter()
            .map(|e| {
                format!(
                    "{}: {} {}",
                    e.target_id().unwrap_or("?"),
                    e.error_code().unwrap_or(""),
                    e.error_message().unwrap_or("")
                )
            })
            .collect();
        bail!(
            "EventBridge rejected targets of rule {rule} ({}); fix the target ARNs or their permissions and run again",
            reasons.join("; ")
        );
    }
    Ok(())
}

pub async fn create(ctx: Ctx<'_>, spec: &RuleSpec) -> Result<()> {
    // PutRule is an upsert, so a rule left behind by a crash is simply converged.
    put_rule(ctx, spec, Some(sdk_tags(&spec.tags)?)).await?;
    put_targets(ctx, &spec.name, &spec.targets.iter().collect::<Vec<_>>()).await
}

pub async fn update(ctx: Ctx<'_>, desired: &RuleSpec, observed: &RuleSpec) -> Result<()> {
    let events = &ctx.clients.events;
    if desired.event_pattern != observed.event_pattern
        || desired.description != observed.description
    {
        put_rule(ctx, desired, None).await?;
    }
    let changed: Vec<&RuleTarget> = desired
        .targets
        .iter()
        .filter(|t| !observed.targets.contains(t))
        .collect();
    put_targets(ctx, &desired.name, &changed).await?;
    let extra: Vec<String> = observed
        .targets
        .iter()
        .filter(|o| !desired.targets.iter().any(|d| d.id == o.id))
        .map(|o| o.id.clone())
        .collect();
    if !extra.is_empty() {
        remove_targets(ctx, &desired.name, extra).await?;
    }
    let arn = ctx.target.arn("events", &format!("rule/{}", desired.name));
    retag_with!(events, resource_arn(&arn), &desired.tags, &observed.tags).await
}

async fn remove_targets(ctx: Ctx<'_>, rule: &str, ids: Vec<String>) -> Result<()> {
    for chunk in ids.chunks(10) {
        let out = ctx
            .clients
            .events
            .remove_targets()
            .rule(rule)
            .set_ids(Some(chunk.to_vec()))
            .send()
            .await
            .context("RemoveTargets failed")?;
        if out.failed_entry_count() > 0 {
            bail!(
                "EventBridge could not remove {} target(s) of rule {rule}; run again",
                out.failed_entry_count()
            );
        }
    }
    Ok(())
}

/// Removes every target (EventBridge refuses to delete a rule that has any), then the rule.
pub async fn delete(ctx: Ctx<'_>, name: &str) -> Result<()> {
    let Some(targets) = list_targets(ctx, name).await? else {
        return Ok(());
    };
    let ids: Vec<String> = targets.iter().map(|t| t.id().to_owned()).collect();
    if !ids.is_empty() {
        remove_targets(ctx, name, ids).await?;
    }
    gone_is_done(ctx.clients.events.delete_rule().name(name).send().await)
}

/// What the deployer needs for the environment's rules.
pub fn deployer_grants(scope: &Scope<'_>) -> Vec<Value> {
    let n = scope.env.names();
    let rules = [n.events_rule(), n.failed_rule()]
        .iter()
        .map(|r| scope.target.arn("events", &format!("rule/{r}")))
        .collect();
    vec![statement(
        "EventRules",
        &[
            "events:DeleteRule",
            "events:DescribeRule",
            "events:ListTagsForResource",
            "events:ListTargetsByRule",
            "events:PutRule",
            "events:PutTargets",
            "events:RemoveTargets",
            "events:TagResource",
            "events:UntagResource",
        ],
        rules,
    )]
}
