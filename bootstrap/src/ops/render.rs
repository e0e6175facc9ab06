//! What the commands show: the plan (text, or JSON with every IAM policy) and the confirmation
//! prompt. No AWS calls.

use super::{Output, Planned, Session};
use crate::config::Config;
use crate::plan::{self, Action};
use anyhow::{Result, bail};
use serde::Serialize;
use serde_json::{Value, json};
use std::io::IsTerminal;

#[derive(Serialize)]
struct PlanReport<'a> {
    env: &'a str,
    account: &'a str,
    region: &'a str,
    changes: &'a [plan::Change],
    summary: std::collections::BTreeMap<&'static str, usize>,
    /// What the pipeline is for: repository, branch, source, deploy target, subscribers.
    inputs: Value,
    /// Every IAM policy document, so anyone can audit them.
    policies: Value,
}

/// The inputs a reader checks first: is this the right repository, branch, target, audience?
fn inputs_of(config: &Config) -> Value {
    json!({
        "repository": format!("{}/{}", config.github_owner, config.github_repo),
        "branch": config.branch,
        "source": config.source,
        "deploy_target": config.deploy_target.as_ref().map(|target| target.spec()),
        "deploy_webhook_url": config.deploy_webhook_url,
        "subscribers": config.notify_emails.iter().chain(&config.notify_urls).collect::<Vec<_>>(),
        "notify_states": config.notify_states,
    })
}

fn policies_of(planned: &Planned) -> Value {
    let mut out = serde_json::Map::new();
    for want in &planned.desired {
        if let crate::model::Spec::Role(role) = &want.spec {
            out.insert(
                role.name.clone(),
                json!({ "trust": role.trust_policy, "inline": role.inline_policy }),
            );
        }
    }
    Value::Object(out)
}

pub(super) fn print_plan(session: &Session, config: &Config, planned: &Planned) {
    for warning in &planned.warnings {
        crate::progress::notice(&format!("warning: {warning}"));
    }
    let counts = planned.plan.counts();
    if session.output == Output::Json {
        let report = PlanReport {
            env: config.env.as_str(),
            account: &session.target.account_id,
            region: &session.target.region,
            changes: &planned.plan.changes,
            summary: counts,
            inputs: inputs_of(config),
            policies: policies_of(planned),
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
        return;
    }
    println!(
        "Plan for environment `{}` (account {}, {}):",
        config.env, session.target.account_id, session.target.region
    );
    let subscribers: Vec<&str> = config
        .notify_emails
        .iter()
        .chain(&config.notify_urls)
        .map(String::as_str)
        .collect();
    let deploys_to = match (&config.deploy_target, &config.deploy_webhook_url) {
        (Some(target), _) => target.spec(),
        (None, Some(url)) => format!("webhook {url}"),
        (None, None) => "an EventBridge event (no --deploy-target)".to_owned(),
    };
    println!(
        "  builds {}/{} branch {} ({}), deploys to {deploys_to}, notifies {} of {}",
        config.github_owner,
        config.github_repo,
        config.branch,
        serde_json::to_value(config.source)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        if subscribers.is_empty() {
            "no subscriber".to_owned()
        } else {
            subscribers.join(", ")
        },
        config.notify_states.join(",")
    );
    for change in &planned.plan.changes {
        let (symbol, detail) = match &change.action {
            Action::Create => ("+ create   ", String::new()),
            Action::Update { fields, values } => (
                "~ update   ",
                format!("  ({}){}", fields.join(", "), old_to_new(values)),
            ),
            Action::Unchanged => ("  unchanged", String::new()),
            Action::Delete => ("- delete   ", String::new()),
            Action::Conflict { reason } => ("! conflict ", format!("\n      {reason}")),
        };
        println!("  {symbol} {}{detail}", change.id);
    }
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} to {k}")).collect();
    println!(
        "{}",
        summary
            .join(", ")
            .replace("to unchanged", "unchanged")
            .replace("to conflict", "in conflict")
    );
}

/// Values longer than this are not printed in text (a policy document would fill the screen);
/// `--output json` carries them whole.
const SHOWN_VALUE_CHARS: usize = 100;

/// Each changed field as `field: old -> new`, one per line, as Terraform prints a plan.
fn old_to_new(values: &[plan::FieldChange]) -> String {
    values
        .iter()
        .map(|change| {
            let (old, new) = (change.old.to_string(), change.new.to_string());
            if old.chars().count() + new.chars().count() > SHOWN_VALUE_CHARS {
                format!(
                    "\n      {}: changed ({} -> {} characters; `plan --output json` shows both)",
                    change.field,
                    old.chars().count(),
                    new.chars().count()
                )
            } else {
                format!("\n      {}: {old} -> {new}", change.field)
            }
        })
        .collect()
}

/// The outputs for people, and the one step a PENDING connection still needs.
pub(super) fn print_outputs(
    env: &pipeline_common::EnvName,
    target: &crate::aws::Target,
    outputs: &serde_json::Map<String, Value>,
    pending_connection: bool,
) {
    println!("Outputs of environment `{env}`:");
    for (key, value) in outputs {
        println!(
            "  {key:<22} {}",
            value
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| value.to_string())
        );
    }
    if pending_connection {
        let own_name = env.names().connection();
        let connection = outputs
            .get("connectionArn")
            .and_then(Value::as_str)
            .unwrap_or(&own_name);
        println!(
            "\nThe GitHub connection is PENDING: open https://{region}.console.aws.amazon.com/codesuite/settings/connections?region={region} , \
             choose {} and 'Update pending connection' to authorize GitHub; the pipeline starts on the next push after that.",
            connection,
            region = target.region,
        );
    }
}

pub(super) fn confirm(verb: &str, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "refusing to {verb} without confirmation: there is no terminal to ask on; add --yes to proceed"
        );
    }
    eprint!("Do you want to {verb}? Only 'yes' will be accepted: ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if answer.trim() != "yes" {
        bail!("{verb} cancelled; nothing was changed");
    }
    Ok(())
}

/// The deployer policy with where it fits: IAM counts characters without whitespace.
pub(super) fn print_deployer_policy(
    env: &pipeline_common::EnvName,
    target: &crate::aws::Target,
    document: &str,
    size: usize,
) {
    use crate::policies::deployer::{ACCOUNT_WIDE_LISTS, SIZE_LIMITS, WILDCARD_ACTIONS};
    println!(
        "Least-privilege policy for running `bootstrap` plan, deploy, outputs and destroy of \
         environment `{env}` in account {} ({}):\n",
        target.account_id, target.region
    );
    println!("{document}\n");
    let fits: Vec<&str> = SIZE_LIMITS
        .iter()
        .filter(|(_, limit)| size <= *limit)
        .map(|(kind, _)| *kind)
        .collect();
    println!(
        "{size} characters without whitespace; fits {}.",
        if fits.is_empty() {
            "no single IAM policy: split it".to_owned()
        } else {
            fits.join(", ")
        }
    );
    println!("Resource \"*\" only where AWS leaves no narrower choice:");
    for (action, why) in WILDCARD_ACTIONS {
        println!("  {action}: {why}");
    }
    println!("Every resource of a type only for listings AWS authorises that way:");
    for (action, why) in ACCOUNT_WIDE_LISTS {
        println!("  {action}: {why}");
    }
    println!(
        "Attach it with e.g. `bootstrap deployer-policy --env {env} --output json > policy.json` and \
         `aws iam create-policy --policy-name bootstrap-deployer-{env} --policy-document file://policy.json`."
    );
    println!(
        "It creates and changes the environment's roles only with their permissions boundary {} \
         attached, which an administrator creates once: `bootstrap deployer-policy --env {env} \
         --boundary` prints it.",
        env.names().permissions_boundary()
    );
}

/// The roles' permissions boundary, with how the administrator creates it.
pub(super) fn print_boundary_policy(
    env: &pipeline_common::EnvName,
    target: &crate::aws::Target,
    document: &str,
    size: usize,
) {
    use crate::policies::boundary::MANAGED_POLICY_LIMIT;
    let name = env.names().permissions_boundary();
    println!(
        "Permissions boundary of environment `{env}`'s roles in account {} ({}): the most they \
         may ever do, whatever policy the deployer writes on them:\n",
        target.account_id, target.region
    );
    println!("{document}\n");
    println!(
        "{size} characters without whitespace (a managed policy takes {MANAGED_POLICY_LIMIT})."
    );
    println!(
        "An administrator creates it once, before the first deploy: `bootstrap deployer-policy \
         --env {env} --boundary --output json > boundary.json` (with the options given to deploy) \
         and `aws iam create-policy --policy-name {name} --policy-document file://boundary.json`; \
         after a change of those options, `aws iam create-policy-version --policy-arn {} \
         --policy-document file://boundary.json --set-as-default`. The deployer may read it, never \
         change or remove it.",
        crate::policies::boundary::arn(env, target)
    );
}
