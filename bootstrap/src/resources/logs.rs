//! CloudWatch Logs log groups, created by us with a retention so nothing grows forever.

use super::{Ctx, util};
use crate::model::{LogGroupSpec, Observed, Spec, Tags};
use anyhow::{Context, Result};

super::resource!(
    /// CloudWatch Logs log groups.
    LogGroupResource: LogGroup(LogGroupSpec), depends on []
);

pub async fn observe(ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
    let logs = &ctx.clients.logs;
    // DescribeLogGroups filters by prefix only: pick the exact name out of the page.
    let page = logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await?;
    let Some(group) = page
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
    else {
        return Ok(None);
    };
    let arn = group
        .arn()
        .map(|a| a.trim_end_matches(":*").to_owned())
        .unwrap_or_else(|| ctx.target.arn("logs", &format!("log-group:{name}")));
    let tags: Tags = logs
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await?
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let spec = LogGroupSpec {
        name: name.to_owned(),
        retention_days: group.retention_in_days().unwrap_or(0),
        tags: tags.clone(),
    };
    Ok(Some(Observed {
        crash_leftover: false,
        spec: Spec::LogGroup(spec),
        tags,
        arn: Some(arn),
        status: None,
    }))
}

pub async fn create(ctx: Ctx<'_>, spec: &LogGroupSpec) -> Result<()> {
    let logs = &ctx.clients.logs;
    let created = logs
        .create_log_group()
        .log_group_name(&spec.name)
        .set_tags(Some(spec.tags.clone().into_iter().collect()))
        .send()
        .await;
    if let Err(err) = created {
        // A crash between create and retention leaves the group behind: adopt it.
        if !err
            .as_service_error()
            .is_some_and(|e| e.is_resource_already_exists_exception())
        {
            return Err(err.into());
        }
    }
    put_retention(ctx, spec).await
}

pub async fn update(ctx: Ctx<'_>, desired: &LogGroupSpec, observed: &LogGroupSpec) -> Result<()> {
    if desired.retention_days != observed.retention_days {
        put_retention(ctx, desired).await?;
    }
    if desired.tags != observed.tags {
        let arn = ctx
            .target
            .arn("logs", &format!("log-group:{}", desired.name));
        let stale: Vec<String> = observed
            .tags
            .keys()
            .filter(|k| !desired.tags.contains_key(*k))
            .cloned()
            .collect();
        if !stale.is_empty() {
            ctx.clients
                .logs
                .untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(stale))
                .send()
                .await?;
        }
        ctx.clients
            .logs
            .tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(desired.tags.clone().into_iter().collect()))
            .send()
            .await?;
    }
    Ok(())
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
    util::gone_is_done(deleted, |e| e.is_resource_not_found_exception())
}
