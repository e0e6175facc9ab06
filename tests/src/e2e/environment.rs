//! The environment before the first push: the team's existing service, the deployer's identity
//! from `bootstrap deployer-policy`, and `bootstrap deploy` run as that identity, with a
//! configuration change, hand-made drift and its repair, and the mutant (if any) applied.

use super::cli::{bootstrap, bootstrap_exit, last_json_document};
use super::context::{Clients, opts_names};
use super::support::Narrator;
use super::{DemoOptions, deployer, drift, mutants, team};
use anyhow::{Context, Result, bail};
use serde_json::Value;
use testkit::Emulator;

/// The team's service, as it runs before the pipeline exists (when the rehearsal has one).
pub(super) async fn team_service(
    opts: &DemoOptions,
    clients: &Clients,
    say: &Narrator,
) -> Result<Option<team::TeamService>> {
    let Some(rollout) = opts.rollout else {
        return Ok(None);
    };
    say.step("The team's service, as it runs before the pipeline exists");
    let team = team::TeamService::create(clients, rollout).await?;
    say.say(&format!("{} runs {}", team.describe(), team.first_image));
    Ok(Some(team))
}

/// `--deploy-target <the team's service>`, or nothing without one.
pub(super) fn target_args(team: Option<&team::TeamService>) -> Vec<&str> {
    team.map(|t| vec!["--deploy-target", t.target.as_str()])
        .unwrap_or_default()
}

/// The deployer's role, holding only what `bootstrap deployer-policy` prints (less the
/// mutant's grant when the mutant is the deployer's).
pub(super) async fn create_deployer(
    opts: &DemoOptions,
    emu: &Emulator,
    clients: &Clients,
    target_args: &[&str],
    say: &Narrator,
) -> Result<deployer::Deployer> {
    say.step("Creating the deployer's identity from `bootstrap deployer-policy`");
    let mut policy_args = vec!["deployer-policy", "--env", &opts.env, "--output", "json"];
    policy_args.extend(target_args);
    let policy_stdout = bootstrap(opts, emu, &[], &policy_args, say).await?;
    let deployer_policy: Value = serde_json::from_str(&policy_stdout).with_context(|| {
        format!("`bootstrap deployer-policy --output json` printed no policy; it printed:\n{policy_stdout}")
    })?;
    let deployer_policy = match &opts.mutant {
        Some(mutant) if mutant.role == mutants::DEPLOYER => {
            say.say(&format!("MUTANT: the deployer's policy without {mutant}"));
            mutant.apply(&deployer_policy)?
        }
        _ => deployer_policy,
    };
    let mut boundary_args = vec!["deployer-policy", "--env", &opts.env, "--boundary"];
    boundary_args.extend(target_args);
    boundary_args.extend(["--output", "json"]);
    let boundary_stdout = bootstrap(opts, emu, &[], &boundary_args, say).await?;
    let boundary: Value = serde_json::from_str(&boundary_stdout).with_context(|| {
        format!("`bootstrap deployer-policy --boundary` printed no policy; it printed:\n{boundary_stdout}")
    })?;
    let boundary_arn = deployer::create_boundary(&clients.iam, &opts.env, &boundary).await?;
    say.say(&format!(
        "the administrator created the roles' permissions boundary {boundary_arn} ({} statements)",
        boundary["Statement"].as_array().map_or(0, Vec::len)
    ));
    let deployer = deployer::Deployer::create(
        &clients.iam,
        &clients.sts,
        &opts.env,
        testkit::ACCOUNT_ID,
        deployer_policy,
    )
    .await?;
    let deployer_iam = aws_sdk_iam::Client::new(&emu.sdk_config_with(&deployer.env).await);
    let role = opts_names(opts)?.names().codebuild_role();
    let refusals = deployer::cannot_create_unbounded_roles(&deployer_iam, &role).await?;
    deployer::forget_probe_denials(emu, refusals.len())?;
    for refusal in refusals {
        say.say(&refusal);
    }
    say.say(&format!(
        "role {} holds only that policy ({} statements); every `bootstrap` command below runs as a session of it, with IAM enforced",
        deployer.role,
        deployer.policy["Statement"].as_array().map_or(0, Vec::len)
    ));
    Ok(deployer)
}

/// `bootstrap deploy`'s arguments for the options (`artifacts_dir` is the options' directory).
pub(super) fn deploy_args<'a>(
    opts: &'a DemoOptions,
    artifacts_dir: &'a str,
    target_args: &[&'a str],
) -> Vec<&'a str> {
    let mut deploy_args = vec![
        "deploy",
        "--env",
        &opts.env,
        "--github-repo",
        &opts.github_repo,
        "--branch",
        &opts.branch,
        "--yes",
        "--output",
        "json",
        "--artifacts-dir",
        artifacts_dir,
        // The functions run here under the Runtime API emulator, so on this machine's
        // architecture; a release's built-in zips default to arm64.
        "--lambda-arch",
        "x86_64",
    ];
    deploy_args.extend(target_args);
    deploy_args
}

/// `bootstrap deploy` as the deployer, then a configuration change and back, drift and its
/// repair, and the mutant applied to its role; returns the first deploy's JSON outputs.
pub(super) async fn deploy(
    opts: &DemoOptions,
    emu: &Emulator,
    clients: &Clients,
    deployer: &deployer::Deployer,
    deploy_args: &[&str],
    say: &Narrator,
) -> Result<Value> {
    say.step(&format!(
        "Deploying environment `{}` with `bootstrap deploy` (functions on x86_64, which this \
         machine executes: --lambda-arch x86_64 with the zips of `cargo xtask dist`)",
        opts.env
    ));
    let deploy_stdout = bootstrap(opts, emu, &deployer.env, deploy_args, say).await?;
    reconfigure_and_restore(opts, emu, deployer, deploy_args, say).await?;
    drift_and_repair(opts, emu, clients, deployer, deploy_args, say).await?;
    say.step("The deployer tries to get past the roles' permissions boundary");
    let role = opts_names(opts)?.names().event_notifier_role();
    let boundary_arn = format!(
        "arn:aws:iam::{}:policy/{}",
        testkit::ACCOUNT_ID,
        opts_names(opts)?.names().permissions_boundary()
    );
    let refusals =
        deployer::boundary_holds(emu, &clients.sts, deployer, &role, &boundary_arn).await?;
    deployer::forget_probe_denials(emu, refusals.len())?;
    for refusal in refusals {
        say.say(&refusal);
    }
    if let Some(mutant) = opts.mutant.as_ref().filter(|m| m.role != mutants::DEPLOYER) {
        mutate_role(clients, opts, mutant, say).await?;
    }
    let outputs: Value = serde_json::from_str(last_json_document(&deploy_stdout)).with_context(|| {
        format!("`bootstrap deploy --output json` printed no JSON outputs; it printed:\n{deploy_stdout}")
    })?;
    for (key, value) in outputs.as_object().into_iter().flatten() {
        say.say(&format!("{key:<22} {}", value.as_str().unwrap_or_default()));
    }
    Ok(outputs)
}

/// A second deploy with other settings and a third with the first's: the update paths a team
/// takes when it changes its configuration (tags added and removed, sizes, retention, a
/// subscriber), run by the deployer like the first, so their grants are proven too. The
/// environment ends as the first deploy left it.
async fn reconfigure_and_restore(
    opts: &DemoOptions,
    emu: &Emulator,
    deployer: &deployer::Deployer,
    deploy_args: &[&str],
    say: &Narrator,
) -> Result<()> {
    say.step("Changing the configuration and changing it back");
    let mut changed = deploy_args.to_vec();
    changed.extend([
        "--tag",
        "cost-center=rehearsal",
        "--lambda-memory-mb",
        "256",
        "--deploy-timeout-seconds",
        "300",
        "--build-timeout-minutes",
        "20",
        "--log-retention-days",
        "14",
        "--notify-email",
        "oncall@example.com",
    ]);
    if let Some(branch) = changed.iter().position(|a| *a == "--branch") {
        changed[branch + 1] = "release";
    }
    bootstrap(opts, emu, &deployer.env, &changed, say).await?;
    bootstrap(opts, emu, &deployer.env, deploy_args, say).await?;
    Ok(())
}

/// Changes made by hand show in `plan` (exit 2) and the deployer's `deploy` puts them back,
/// after which `plan` shows nothing to do.
async fn drift_and_repair(
    opts: &DemoOptions,
    emu: &Emulator,
    clients: &Clients,
    deployer: &deployer::Deployer,
    deploy_args: &[&str],
    say: &Narrator,
) -> Result<()> {
    say.step("Someone changes the environment by hand");
    let env = opts_names(opts)?;
    for change in drift::by_hand(clients, &env, &opts.artifacts_dir).await? {
        say.say(&change);
    }
    let plan_args = plan_args(deploy_args);
    let (code, stdout, _) = bootstrap_exit(opts, emu, &deployer.env, &plan_args, say).await?;
    say.block(stdout.trim_end());
    if code != 2 {
        bail!(
            "`bootstrap plan` after hand-made changes exited {code}; it must show them as changes (exit 2):\n{stdout}"
        );
    }
    let n = env.names();
    for name in [
        n.ecr_repository(),
        n.deploy_handler_role(),
        n.deploy_handler(),
        n.webhook_secret(),
        n.notification_topic(),
    ] {
        if !stdout.contains(&name) {
            bail!("`bootstrap plan` does not show the hand-made change to {name}:\n{stdout}");
        }
    }
    bootstrap(opts, emu, &deployer.env, deploy_args, say).await?;
    let (code, stdout, _) = bootstrap_exit(opts, emu, &deployer.env, &plan_args, say).await?;
    if code != 0 {
        bail!(
            "after the repairing deploy, `bootstrap plan` still shows changes (exit {code}):\n{stdout}"
        );
    }
    say.say("plan showed each change, deploy put everything back, plan now shows nothing to do");
    Ok(())
}

/// `bootstrap plan` with `deploy`'s options (`deploy_args` starts with `deploy`), in text.
pub(super) fn plan_args<'a>(deploy_args: &[&'a str]) -> Vec<&'a str> {
    std::iter::once("plan")
        .chain(
            deploy_args[1..]
                .iter()
                .copied()
                .filter(|a| !matches!(*a, "--yes" | "--output" | "json")),
        )
        .collect()
}

/// Replaces a pipeline role's policy by the mutant's, as an administrator would by hand.
async fn mutate_role(
    clients: &Clients,
    opts: &DemoOptions,
    mutant: &mutants::Mutant,
    say: &Narrator,
) -> Result<()> {
    let role = format!("{}-{}", mutant.role, opts.env);
    let inline = clients
        .iam
        .get_role_policy()
        .role_name(&role)
        .policy_name(bootstrap::desired::INLINE_POLICY_NAME)
        .send()
        .await
        .with_context(|| format!("reading the policy of {role} to mutate it"))?;
    let document = bootstrap::resources::util::parse_policy(inline.policy_document())?;
    clients
        .iam
        .put_role_policy()
        .role_name(&role)
        .policy_name(bootstrap::desired::INLINE_POLICY_NAME)
        .policy_document(mutant.apply(&document)?.to_string())
        .send()
        .await
        .with_context(|| format!("putting the mutated policy on {role}"))?;
    say.say(&format!("MUTANT: {role}'s policy without {mutant}"));
    Ok(())
}
