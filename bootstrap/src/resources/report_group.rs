//! The CodeBuild report group the buildspec's `reports:` section writes to. CodeBuild creates
//! `<project>-<group>` on the first build that uploads a report, untagged, unless it exists
//! (CodeBuild User Guide, "Create a report group": "If you do not create a report group before
//! you run a build ... CodeBuild creates one"), and nothing would ever delete it or its reports.
//! So the bootstrap creates it first, tagged, and destroy deletes it with its reports.

use super::Ctx;
use super::adopt::created_or_adopted;
use super::errors;
use super::tags::{model_tags, sdk_tags};
use crate::model::{Observed, ReportGroupSpec};
use crate::policies::deployer::Scope;
use crate::policies::statement;
use anyhow::{Context, Result};
use aws_sdk_codebuild::operation::create_report_group::CreateReportGroupError;
use aws_sdk_codebuild::types::{
    ReportExportConfig, ReportExportConfigType, ReportGroup, ReportType,
};
use serde_json::Value;

super::resource!(
    /// CodeBuild report groups (test reports of the project's builds).
    ReportGroupResource: ReportGroup(ReportGroupSpec), depends on []
);

fn arn(ctx: Ctx<'_>, name: &str) -> String {
    arn_in(ctx.target, name)
}

fn arn_in(target: &crate::aws::Target, name: &str) -> String {
    target.arn("codebuild", &format!("report-group/{name}"))
}

errors::variants! { AlreadyExists: CreateReportGroupError => is_resource_already_exists_exception }

fn export_config(spec: &ReportGroupSpec) -> ReportExportConfig {
    ReportExportConfig::builder()
        .export_config_type(ReportExportConfigType::from(spec.export_config.as_str()))
        .build()
}

fn report_group_spec(name: &str, group: &ReportGroup) -> ReportGroupSpec {
    let export_type = group.export_config().and_then(|c| c.export_config_type());
    ReportGroupSpec {
        name: name.to_owned(),
        report_type: group.r#type().map_or("", ReportType::as_str).to_owned(),
        export_config: export_type
            .map_or("", ReportExportConfigType::as_str)
            .to_owned(),
        tags: model_tags(group.tags()),
    }
}

pub async fn observe(ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
    let arn = arn(ctx, name);
    let out = ctx
        .clients
        .codebuild
        .batch_get_report_groups()
        .report_group_arns(&arn)
        .send()
        .await?;
    let Some(group) = out
        .report_groups()
        .iter()
        .find(|g| g.arn() == Some(arn.as_str()))
    else {
        return Ok(None);
    };
    let spec = report_group_spec(name, group);
    Ok(Some(Observed {
        // Untagged is what CodeBuild's own creation on a build of our project leaves (a stack
        // deployed before the bootstrap created the group): adopted and tagged, not refused.
        crash_leftover: spec.tags.is_empty(),
        ..Observed::of(spec, Some(arn))
    }))
}

pub async fn create(ctx: Ctx<'_>, spec: &ReportGroupSpec) -> Result<()> {
    let codebuild = &ctx.clients.codebuild;
    let created = codebuild
        .create_report_group()
        .name(&spec.name)
        .r#type(ReportType::from(spec.report_type.as_str()))
        .export_config(export_config(spec))
        .set_tags(Some(sdk_tags(&spec.tags)?))
        .send()
        .await;
    // A build got there first (CodeBuild creates it untagged, which reads as ours): adopted.
    created_or_adopted::<ReportGroupResource>(ctx, spec, created).await?;
    Ok(())
}

pub async fn update(
    ctx: Ctx<'_>,
    desired: &ReportGroupSpec,
    _observed: &ReportGroupSpec,
) -> Result<()> {
    // The type cannot change after creation; the export config and the tags are replaced whole.
    put(ctx, desired).await
}

async fn put(ctx: Ctx<'_>, spec: &ReportGroupSpec) -> Result<()> {
    ctx.clients
        .codebuild
        .update_report_group()
        .arn(arn(ctx, &spec.name))
        .export_config(export_config(spec))
        .set_tags(Some(sdk_tags(&spec.tags)?))
        .send()
        .await
        .context("UpdateReportGroup failed")?;
    Ok(())
}

/// Deletes the group with its reports (`deleteReports`: without it AWS refuses a group that has
/// any). DeleteReportGroup of an absent group succeeds, so deleting twice is fine.
pub async fn delete(ctx: Ctx<'_>, name: &str) -> Result<()> {
    let codebuild = &ctx.clients.codebuild;
    let delete = codebuild.delete_report_group().arn(arn(ctx, name));
    let deleted = delete.delete_reports(true).send().await;
    deleted.context("DeleteReportGroup failed").map(drop)
}

/// What the deployer needs for the report group.
pub fn deployer_grants(scope: &Scope<'_>) -> Vec<Value> {
    let group = scope.env.names().codebuild_report_group();
    vec![statement(
        "TestReportGroup",
        &[
            "codebuild:BatchGetReportGroups",
            "codebuild:CreateReportGroup",
            "codebuild:DeleteReportGroup",
            "codebuild:UpdateReportGroup",
        ],
        vec![arn_in(scope.target, &group)],
    )]
}
