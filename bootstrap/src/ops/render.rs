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
    /// Every IAM policy document, so anyone can audit them.
    policies: Value,
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
    let counts = planned.plan.counts();
    if session.output == Output::Json {
        let report = PlanReport {
            env: config.env.as_str(),
            account: &session.target.account_id,
            region: &session.target.region,
            changes: &planned.plan.changes,
            summary: counts,
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
    for change in &planned.plan.changes {
        let (symbol, detail) = match &change.action {
            Action::Create => ("+ create   ", String::new()),
            Action::Update { fields } => ("~ update   ", format!("  ({})", fields.join(", "))),
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
