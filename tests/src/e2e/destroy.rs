//! The destroy checks: `bootstrap destroy` as the deployer after a hand-made change, every
//! service listed for what is left of the environment, then the environment created again at
//! once and destroyed again.

use super::cli::{bootstrap, last_json_document};
use super::context::{Clients, opts_names};
use super::report::DestroyReport;
use super::support::Narrator;
use super::{DemoOptions, deployer, drift};
use anyhow::{Context, Result};
use serde_json::Value;
use testkit::Emulator;

/// Destroys the environment, checks nothing is left, re-creates it and destroys it again.
pub(super) async fn destroy_and_recreate(
    opts: &DemoOptions,
    emu: &Emulator,
    clients: &Clients,
    deployer: &deployer::Deployer,
    deploy_args: &[&str],
    say: &Narrator,
) -> Result<DestroyReport> {
    say.step(&format!(
        "Destroying environment `{}` with `bootstrap destroy`",
        opts.env
    ));
    say.say(&format!(
        "first, by hand: {}",
        drift::attach_managed_policy(clients, &opts_names(opts)?).await?
    ));
    let mut destroy = destroy(opts, emu, clients, deployer, say).await?;
    say.step("Re-creating the environment right after destroy, then destroying it again");
    say.say("every name is free again at once (the secret was deleted without a recovery window)");
    bootstrap(opts, emu, &deployer.env, deploy_args, say).await?;
    bootstrap(
        opts,
        emu,
        &deployer.env,
        &["destroy", "--env", &opts.env, "--yes", "--output", "json"],
        say,
    )
    .await?;
    destroy.leftovers.extend(leftovers(clients, opts).await?);
    Ok(destroy)
}

/// `bootstrap destroy --output json` as the deployer: what it deleted, what it says remains,
/// and what listing every service still finds.
async fn destroy(
    opts: &DemoOptions,
    emu: &Emulator,
    clients: &Clients,
    deployer: &deployer::Deployer,
    say: &Narrator,
) -> Result<DestroyReport> {
    let destroy_stdout = bootstrap(
        opts,
        emu,
        &deployer.env,
        &["destroy", "--env", &opts.env, "--yes", "--output", "json"],
        say,
    )
    .await?;
    let destroyed: Value =
        serde_json::from_str(last_json_document(&destroy_stdout)).with_context(|| {
            format!(
                "`bootstrap destroy --output json` printed no JSON; it printed:\n{destroy_stdout}"
            )
        })?;
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    let destroy = DestroyReport {
        deleted: strings(&destroyed["deleted"]),
        remaining: strings(&destroyed["remaining"]),
        leftovers: leftovers(clients, opts).await?,
    };
    say.say(&format!(
        "bootstrap deleted {} resources and reports none remaining",
        destroy.deleted.len()
    ));
    if destroy.leftovers.is_empty() {
        say.say("double-checked by listing every service: nothing of the environment is left");
    } else {
        say.say(&format!("LEFT BEHIND: {}", destroy.leftovers.join(", ")));
    }
    Ok(destroy)
}

/// Anything of the environment still found by listing each service.
async fn leftovers(clients: &Clients, opts: &DemoOptions) -> Result<Vec<String>> {
    let suffix = format!("-{}", opts.env);
    let ours = |name: &str| {
        name.ends_with(&suffix)
            || name.contains(&format!("{suffix}-"))
            || name.contains(&format!("{suffix}/"))
    };
    let mut left = Vec::new();
    for f in clients.lambda.list_functions().send().await?.functions() {
        if let Some(name) = f.function_name().filter(|n| ours(n)) {
            left.push(format!("function {name}"));
        }
    }
    for b in clients.s3.list_buckets().send().await?.buckets() {
        if let Some(name) = b.name().filter(|n| ours(n)) {
            left.push(format!("bucket {name}"));
        }
    }
    for r in clients
        .ecr
        .describe_repositories()
        .send()
        .await?
        .repositories()
    {
        if let Some(name) = r.repository_name().filter(|n| ours(n)) {
            left.push(format!("repository {name}"));
        }
    }
    for p in clients
        .codepipeline
        .list_pipelines()
        .send()
        .await?
        .pipelines()
    {
        if let Some(name) = p.name().filter(|n| ours(n)) {
            left.push(format!("pipeline {name}"));
        }
    }
    for w in clients
        .codepipeline
        .list_webhooks()
        .send()
        .await?
        .webhooks()
    {
        if let Some(name) = w.definition().map(|d| d.name()).filter(|n| ours(n)) {
            left.push(format!("webhook {name}"));
        }
    }
    for name in clients.codebuild.list_projects().send().await?.projects() {
        if ours(name) {
            left.push(format!("project {name}"));
        }
    }
    for r in clients.events.list_rules().send().await?.rules() {
        if let Some(name) = r.name().filter(|n| ours(n)) {
            left.push(format!("rule {name}"));
        }
    }
    for t in clients.sns.list_topics().send().await?.topics() {
        if let Some(arn) = t.topic_arn().filter(|n| ours(n)) {
            left.push(format!("topic {arn}"));
        }
    }
    for s in clients.secrets.list_secrets().send().await?.secret_list() {
        if let Some(name) = s.name().filter(|n| ours(n)) {
            left.push(format!("secret {name}"));
        }
    }
    for arn in clients
        .codebuild
        .list_report_groups()
        .send()
        .await?
        .report_groups()
    {
        if ours(arn) {
            left.push(format!("report group {arn}"));
        }
    }
    // The deployer's role is the rehearsal's identity, not part of the environment.
    let deployer_role = deployer::role_name(&opts.env);
    for r in clients.iam.list_roles().send().await?.roles() {
        if ours(r.role_name()) && r.role_name() != deployer_role {
            left.push(format!("role {}", r.role_name()));
        }
    }
    Ok(left)
}
