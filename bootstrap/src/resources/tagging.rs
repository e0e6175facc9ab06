//! The Resource Groups Tagging API: every resource in the region still tagged as one
//! environment's, whatever its service (destroy's last check that nothing is left).

use super::Ctx;
use crate::policies::deployer::Scope;
use crate::policies::statement;
use anyhow::Result;
use aws_sdk_resourcegroupstagging::types::TagFilter;
use pipeline_common::tags;
use serde_json::Value;

/// ARNs of the resources tagged `ManagedBy` = ours and `Environment` = `env`, every page.
pub async fn tagged_as_ours(ctx: Ctx<'_>, env: &str) -> Result<Vec<String>> {
    let mut arns = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ctx
            .clients
            .tagging
            .get_resources()
            .tag_filters(
                TagFilter::builder()
                    .key(tags::ENVIRONMENT)
                    .values(env)
                    .build(),
            )
            .tag_filters(
                TagFilter::builder()
                    .key(tags::MANAGED_BY)
                    .values(tags::MANAGED_BY_VALUE)
                    .build(),
            )
            .set_pagination_token(token.clone())
            .send()
            .await?;
        arns.extend(
            page.resource_tag_mapping_list()
                .iter()
                .filter_map(|m| m.resource_arn().map(str::to_owned)),
        );
        token = page
            .pagination_token()
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if token.is_none() {
            return Ok(arns);
        }
    }
}

/// What the deployer needs for the search: AWS authorises it on `*` only.
pub fn deployer_grants(_scope: &Scope<'_>) -> Vec<Value> {
    vec![statement(
        "AccountWideReads",
        &["tag:GetResources"],
        vec!["*".to_owned()],
    )]
}
