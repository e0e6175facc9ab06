//! Least privilege, checked from what the runs did: which grants of the four pipeline roles and
//! the deployer's some call used, the replayed mutation test and scope lint of the policies, and
//! that IAM denied nothing.

use super::context::{Clients, opts_names};
use super::support::Narrator;
use super::{DemoOptions, deployer, grants, one_per_line};
use anyhow::{Context, Result, bail};
use serde_json::Value;
use testkit::Emulator;

/// Every grant of the four roles' inline policies, with the calls the emulator allowed with it.
pub(super) async fn grant_usage(
    clients: &Clients,
    emu: &Emulator,
    opts: &DemoOptions,
    standin_build: bool,
) -> Result<(Vec<grants::GrantUse>, Vec<(String, Value)>)> {
    let names = opts_names(opts)?;
    let n = names.names();
    let allowed = emu.iam_grants()?;
    let mut uses = Vec::new();
    let mut documents = Vec::new();
    for role in [
        n.pipeline_role(),
        n.codebuild_role(),
        n.deploy_handler_role(),
        n.event_notifier_role(),
    ] {
        let inline = clients
            .iam
            .get_role_policy()
            .role_name(&role)
            .policy_name("permissions")
            .send()
            .await
            .with_context(|| format!("reading the policy of {role}"))?;
        let document = bootstrap::resources::util::parse_policy(inline.policy_document())?;
        uses.extend(
            grants::usage(&role, &document, &allowed)
                .into_iter()
                .map(|grant| grants::GrantUse {
                    standin_build,
                    ..grant
                }),
        );
        documents.push((role, document));
    }
    Ok((uses, documents))
}

/// Adds the deployer's grants (every bootstrap command's calls, destroy's included) to the
/// pipeline roles', then asks whether a run would have failed without each grant (replay) and
/// whether each grant is scoped; says what it found and which grants no call used.
pub(super) fn audit_grants(
    emu: &Emulator,
    opts: &DemoOptions,
    deployer: &deployer::Deployer,
    mut grants: Vec<grants::GrantUse>,
    role_policies: Vec<(String, Value)>,
    say: &Narrator,
) -> Result<(Vec<grants::GrantUse>, grants::Audit)> {
    grants.extend(grants::usage(
        &deployer.role,
        &deployer.policy,
        &emu.iam_grants()?,
    ));
    let mut documents: serde_json::Map<String, Value> = role_policies.into_iter().collect();
    documents.insert(deployer.role.clone(), deployer.policy.clone());
    let audit = grants::audit(
        &grants,
        &emu.iam_mutants()?,
        &emu.iam_scope(&documents)?,
        &opts.env,
    );
    say.say(&format!(
        "mutation test by replay: {} mutants (one statement or action removed), {} caught by a recorded call, {} survivors not explained by an excused unused grant; scope: {} problems, {} broadenings to * unnoticed",
        audit.mutants,
        audit.caught,
        audit.survivors.len(),
        audit.scope_problems.len(),
        audit.broadening_missed.len()
    ));
    for finding in audit
        .survivors
        .iter()
        .chain(&audit.scope_problems)
        .chain(&audit.broadening_missed)
    {
        say.say(&format!("  AUDIT: {finding}"));
    }
    narrate_unused(&grants, &opts.env, say);
    Ok((grants, audit))
}

fn narrate_unused(grants: &[grants::GrantUse], env: &str, say: &Narrator) {
    let unused: Vec<String> = grants
        .iter()
        .filter(|g| g.used_by.is_empty() && g.excused(env).is_none())
        .map(|g| format!("{} {} {}", g.role, g.sid, g.action))
        .collect();
    say.say(&format!(
        "IAM grants: {} actions in the roles' policies (the deployer's included), {} used by the runs, {} not rehearsable (SECURITY.md), {} unused",
        grants.len(),
        grants.iter().filter(|g| !g.used_by.is_empty()).count(),
        grants
            .iter()
            .filter(|g| g.used_by.is_empty() && g.excused(env).is_some())
            .count(),
        unused.len()
    ));
    for grant in &unused {
        say.say(&format!("  UNUSED: {grant}"));
    }
}

/// Every call the functions and the build made ran under their own roles: a grant missing
/// from a policy is a denial here, as it would be a failed pipeline on AWS.
pub(super) fn nothing_denied(emu: &Emulator, say: &Narrator) -> Result<()> {
    let (evaluated, denials) = emu.iam_enforcement()?;
    if !denials.is_empty() {
        bail!(
            "IAM denied {} of the calls the pipeline's roles made; a policy lacks a grant:\n  {}",
            denials.len(),
            one_per_line(&denials)
        );
    }
    say.say(&format!(
        "IAM: {evaluated} calls made under the pipeline's four roles and the deployer's were judged against their policies, none denied"
    ));
    if evaluated == 0 {
        bail!("no call ran under a pipeline role: IAM enforcement was not exercised");
    }
    Ok(())
}
