//! CloudWatch Logs log groups, created by us with a retention so nothing grows forever.

use super::adopt::created_or_adopted;
use super::errors::{self, gone_is_done};
use super::tags::{map_tags, retag_with};
use super::{Ctx, util};
use crate::model::{LogGroupSpec, Observed};
use crate::policies::deployer::Scope;
use crate::policies::statement;
use anyhow::{Context, Result};
use aws_sdk_cloudwatchlogs::operation::{
    create_log_group::CreateLogGroupError, delete_log_group::DeleteLogGroupError,
};
use aws_sdk_cloudwatchlogs::types::LogGroup;
use serde_json::Value;

super::resource!(
    /// CloudWatch Logs log groups.
    LogGroupResource: LogGroup(LogGroupSpec), depends on []
);

errors::variants! { NotFound: DeleteLogGroupError => is_resource_not_found_exception }
errors::variants! { AlreadyExists: CreateLogGroupError => is_resource_already_exists_exception }

pub async fn observe(ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
    let logs = &ctx.clients.logs;
    // The tags are read beside the group, under the ARN its name gives: one round.
    let named_arn = ctx.target.arn("logs", &format!("log-group:{name}"));
    let (page, listed) = futures::join!(
        logs.describe_log_groups()
            .log_group_name_prefix(name)
            .send(),
        logs.list_tags_for_resource()
            .resource_arn(&named_arn)
            .send(),
    );
    // DescribeLogGroups filters by prefix only: pick the exact name out of the page.
    let page = page?;
    let Some(group) = util::named(page.log_groups(), name, LogGroup::log_group_name) else {
        return Ok(None);
    };
    let arn = group
        .arn()
        .map(|a| a.trim_end_matches(":*").to_owned())
        .unwrap_or_else(|| named_arn.clone());
    let listed = if arn == named_arn {
        listed?
    } else {
        logs.list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await?
    };
    let tags = map_tags(listed.tags());
    let spec = LogGroupSpec {
        name: name.to_owned(),
        retention_days: group.retention_in_days().unwrap_or(0),
        tags: tags.clone(),
    };
    Ok(Some(Observed::of(spec, Some(arn))))
}

pub async fn create(ctx: Ctx<'_>, spec: &LogGroupSpec) -> Result<()> {
    let logs = &ctx.clients.logs;
    let created = logs
        .create_log_group()
        .log_group_name(&spec.name)
        .set_tags(Some(spec.tags.clone().into_iter().collect()))
        .send()
        .await;
    // A crash between create and retention leaves the group behind: adopted.
    if !created_or_adopted::<LogGroupResource>(ctx, spec, created).await? {
        return Ok(());
    }
    put_retention(ctx, spec).await
}

pub async fn update(ctx: Ctx<'_>, desired: &LogGroupSpec, observed: &LogGroupSpec) -> Result<()> {
    if desired.retention_days != observed.retention_days {
        put_retention(ctx, desired).await?;
    }
    let logs = &ctx.clients.logs;
    let arn = ctx
        .target
        .arn("logs", &format!("log-group:{}", desired.name));
    retag_with!(logs, resource_arn(&arn), &desired.tags, &observed.tags).await
}

async fn put_retention(ctx: Ctx<'_>, spec: &LogGroupSpec) -> Result<()> {
    ctx.clients
        .logs
        .put_retention_policy()
        .log_group_name(&spec.name)
        .retention_in_days(spec.retention_days)
        .send()
        .await
        .context("setting the retention")?;
    Ok(())
}

pub async fn delete(ctx: Ctx<'_>, name: &str) -> Result<()> {
    let deleted = ctx
        .clients
        .logs
        .delete_log_group()
        .log_group_name(name)
        .send()
        .await;
    gone_is_done(deleted)
}

/// What the deployer needs for the environment's log groups; DescribeLogGroups has no resource
/// type, so it is granted on `*`.
pub fn deployer_grants(scope: &Scope<'_>) -> Vec<Value> {
    let n = scope.env.names();
    let groups = [
        n.codebuild_log_group(),
        n.deploy_handler_log_group(),
        n.event_notifier_log_group(),
    ]
    .iter()
    .map(|g| scope.target.arn("logs", &format!("log-group:{g}")))
    .collect();
    vec![
        statement(
            "AccountWideReads",
            &["logs:DescribeLogGroups"],
            vec!["*".to_owned()],
        ),
        statement(
            "LogGroups",
            &[
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:ListTagsForResource",
                "logs:PutRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
            ],
            groups,
        ),
    ]
}
