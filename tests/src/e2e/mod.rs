//! The whole pipeline rehearsed on one machine: `bootstrap deploy` against the local emulator,
//! a signed GitHub push checked against the deployed webhook, the source artifact, the
//! project's `buildspec.yml` run with podman as `docker` and the AWS CLI, the real deploy-handler and
//! event-notifier binaries, notifications read back from SNS, and `bootstrap destroy`.
//!
//! Everything that AWS would do is done from what the deploy created and is read back from the
//! emulator (pipeline, project, webhook, rules, function configuration), never re-derived, so
//! the rehearsal fails when the deployed configuration is wrong. What is simulated is said so
//! in the narration.

pub mod deployer;
mod drift;
pub mod engine;
pub mod events;
pub mod github;
pub mod grants;
pub mod mutants;
pub mod support;
pub mod team;

use crate::buildspec_runner::{Buildspec, PhaseStatus, RunConfig, run_buildspec};
use anyhow::{Context, Result, bail};
use events::{Execution, Level};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::{Narrator, now_iso8601, random_hex, uuid};
use testkit::{Emulator, LambdaProcess, RuntimeApi};

/// The build's `aws`: the real AWS CLI (from the venv), each call recorded for the demo.
const AWS_CLI: &str = include_str!("e2e/aws_cli.py");
const INVOKE_WAIT: Duration = Duration::from_secs(60);
/// Re-invocations with a continuation token before the rehearsal gives up on a rollout.
const MAX_DEPLOY_POLLS: u32 = 20;

/// What to rehearse and with which binaries.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    pub env: String,
    pub github_repo: String,
    pub branch: String,
    pub bootstrap_bin: PathBuf,
    pub deploy_handler_bin: PathBuf,
    pub event_notifier_bin: PathBuf,
    /// Directory holding `deploy-handler/bootstrap.zip` and `event-notifier/bootstrap.zip`.
    pub artifacts_dir: PathBuf,
    /// The sample application (the repository's content at each commit).
    pub app_dir: PathBuf,
    /// The project's `buildspec.yml`, committed at the repository's root.
    pub buildspec: PathBuf,
    /// Print each step for people.
    pub narrate: bool,
    /// Remove one grant before the calls that need it (`cargo xtask mutants`): the run must
    /// then fail with a denial naming it.
    pub mutant: Option<mutants::Mutant>,
    /// The team's existing service the pipeline rolls the image out to (`--deploy-target`);
    /// `None`: the Deploy stage only requests the deployment (EventBridge event).
    pub rollout: Option<team::Rollout>,
}

impl DemoOptions {
    /// The workspace's sample app and buildspec, environment `demo`, binaries from `target/debug`.
    pub fn for_workspace(artifacts_dir: PathBuf) -> Result<Self> {
        let root = testkit::workspace_root();
        Ok(Self {
            env: "demo".into(),
            github_repo: "example-org/hello-app".into(),
            branch: "main".into(),
            bootstrap_bin: testkit::lambda_binary("bootstrap")?,
            deploy_handler_bin: testkit::lambda_binary("deploy-handler")?,
            event_notifier_bin: testkit::lambda_binary("event-notifier")?,
            artifacts_dir,
            app_dir: root.join("examples/hello-app"),
            buildspec: root.join("buildspec.yml"),
            narrate: true,
            mutant: None,
            rollout: Some(team::Rollout::Ecs),
        })
    }
}

/// Everything the rehearsal observed, for tests and for the closing summary.
#[derive(Clone, Debug)]
pub struct DemoReport {
    /// `bootstrap deploy --output json`.
    pub outputs: Value,
    pub wrong_branch_push: PushCheck,
    pub runs: Vec<RunReport>,
    pub destroy: DestroyReport,
    /// Every grant of the pipeline's roles with the calls that used it.
    pub grants: Vec<grants::GrantUse>,
    /// The replayed mutation test and the scope lint of every exercised policy.
    pub audit: grants::Audit,
    /// The build ran with podman and the emulator's registry (not the stand-in `docker`).
    pub real_build: bool,
    pub total: Duration,
}

/// CodePipeline's checks of one push delivered to the webhook.
#[derive(Clone, Debug)]
pub struct PushCheck {
    pub git_ref: String,
    pub signature_valid: bool,
    pub filters: Vec<github::FilterVerdict>,
    /// Whether CodePipeline would start an execution.
    pub starts_execution: bool,
    /// AWS calls that changed something while the push was handled (none when nothing starts).
    pub mutating_calls: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct RunReport {
    pub label: String,
    pub commit: String,
    pub execution_id: String,
    pub push: PushCheck,
    pub source_key: String,
    pub source_version_id: Option<String>,
    pub build: BuildReport,
    /// The image under the build's tag in ECR after the run, if any.
    pub image: Option<EcrImage>,
    /// Whether ECR refused a second, different image under the same tag (tag immutability).
    pub retag_refused: Option<bool>,
    pub deploy: Option<DeployReport>,
    /// The image the team's service runs after the run (with a deploy target).
    pub team_image: Option<String>,
    /// `SUCCEEDED` or `FAILED`.
    pub pipeline_state: String,
    pub events: Vec<EventDelivery>,
    pub notifications: Vec<Notification>,
    /// CodePipeline job-result calls made during this run.
    pub job_result_calls: usize,
    pub duration: Duration,
}

#[derive(Clone, Debug)]
pub struct BuildReport {
    pub succeeded: bool,
    /// `(phase, failing command's first line)` when the build failed.
    pub failure: Option<(String, String)>,
    /// Every `docker` and `aws` call the build made, e.g. `["docker", "push", "…"]`.
    pub tool_calls: Vec<Vec<String>>,
    pub exported: BTreeMap<String, String>,
    pub output_key: Option<String>,
    pub log: String,
    /// `(image reference, digest)` of each push the real engine made (none with the stand-in).
    pub pushed: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EcrImage {
    pub tag: String,
    pub digest: String,
}

#[derive(Clone, Debug)]
pub struct DeployReport {
    pub job_id: String,
    /// The job as the emulator recorded it (`status`, `results`).
    pub job: Value,
    pub status: String,
    pub output_variables: BTreeMap<String, String>,
}

/// One state-change event and where EventBridge's rules sent it.
#[derive(Clone, Debug)]
pub struct EventDelivery {
    pub detail_type: String,
    pub state: String,
    pub what: String,
    pub matched_rules: Vec<String>,
    /// What each target answered, e.g. `event-notifier: published`.
    pub deliveries: Vec<String>,
}

/// One SNS message as a subscriber receives it.
#[derive(Clone, Debug)]
pub struct Notification {
    pub subject: Option<String>,
    /// The message (the notifier's machine-readable body, or the rule's plain text).
    pub message: String,
    pub attributes: BTreeMap<String, String>,
}

#[derive(Clone, Debug)]
pub struct DestroyReport {
    pub deleted: Vec<String>,
    pub remaining: Vec<String>,
    /// Anything of the environment still found by listing each service after destroy.
    pub leftovers: Vec<String>,
}

struct Clients {
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
    codepipeline: aws_sdk_codepipeline::Client,
    codebuild: aws_sdk_codebuild::Client,
    events: aws_sdk_eventbridge::Client,
    secrets: aws_sdk_secretsmanager::Client,
    ecr: aws_sdk_ecr::Client,
    lambda: aws_sdk_lambda::Client,
    ecs: aws_sdk_ecs::Client,
    sts: aws_sdk_sts::Client,
    iam: aws_sdk_iam::Client,
}

impl Clients {
    fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            s3: testkit::s3_client(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            codepipeline: aws_sdk_codepipeline::Client::new(sdk),
            codebuild: aws_sdk_codebuild::Client::new(sdk),
            events: aws_sdk_eventbridge::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            ecr: aws_sdk_ecr::Client::new(sdk),
            lambda: aws_sdk_lambda::Client::new(sdk),
            ecs: aws_sdk_ecs::Client::new(sdk),
            sts: aws_sdk_sts::Client::new(sdk),
            iam: aws_sdk_iam::Client::new(sdk),
        }
    }
}

/// One action of the deployed pipeline.
#[derive(Clone, Debug)]
struct Action {
    stage: String,
    name: String,
    category: String,
    owner: String,
    provider: String,
    configuration: BTreeMap<String, String>,
    output_artifact: Option<String>,
}

/// A deployed EventBridge rule and its targets.
#[derive(Clone, Debug)]
struct Rule {
    name: String,
    pattern: Value,
    targets: Vec<RuleTarget>,
}

#[derive(Clone, Debug)]
struct RuleTarget {
    arn: String,
    input_paths: Vec<(String, String)>,
    input_template: Option<String>,
}

/// What the deploy created, read back from the emulator.
#[derive(Debug)]
struct Deployed {
    pipeline: String,
    pipeline_arn: String,
    pipeline_role_arn: String,
    bucket: String,
    source: Action,
    build: Action,
    deploy: Action,
    build_env: Vec<(String, String)>,
    buildspec_name: String,
    webhook_name: String,
    webhook_arn: String,
    webhook_url: String,
    webhook_filters: Vec<github::Filter>,
    webhook_secret_token: String,
    github_secret: String,
    deploy_handler_env: Vec<(String, String)>,
    notifier_env: Vec<(String, String)>,
    notifier_arn: String,
    topic_arn: String,
    repository: String,
    rules: Vec<Rule>,
    account: String,
    region: String,
}

impl Deployed {
    fn role_arn(&self, name: &str) -> String {
        format!("arn:aws:iam::{}:role/{name}", self.account)
    }
}

/// Credentials of `role_arn` as a service gets them when it assumes the role, as environment
/// variables (later entries win over the emulator's static keys).
async fn role_credentials(
    sts: &aws_sdk_sts::Client,
    role_arn: &str,
    session: &str,
) -> Result<Vec<(String, String)>> {
    let assumed = sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session)
        .send()
        .await
        .with_context(|| format!("assuming {role_arn}"))?;
    let credentials = assumed
        .credentials()
        .context("AssumeRole returned no credentials")?;
    Ok(vec![
        (
            "AWS_ACCESS_KEY_ID".to_owned(),
            credentials.access_key_id().to_owned(),
        ),
        (
            "AWS_SECRET_ACCESS_KEY".to_owned(),
            credentials.secret_access_key().to_owned(),
        ),
        (
            "AWS_SESSION_TOKEN".to_owned(),
            credentials.session_token().to_owned(),
        ),
    ])
}

struct Inbox {
    queue_url: String,
    subscription_arn: String,
}

/// Runs the whole rehearsal: deploy, a wrong-branch push, a green run, a run whose unit test
/// fails, destroy. Fails with a message naming the step whenever the product misbehaves.
pub async fn run_pipeline_demo(opts: &DemoOptions) -> Result<DemoReport> {
    let say = Narrator::new(opts.narrate);
    say.step("Starting the local AWS emulator");
    let emu = Emulator::start().context("starting the local AWS emulator")?;
    match rehearse(opts, &emu, &say).await {
        Ok(report) => Ok(report),
        // A step that failed because IAM refused a call says so, whatever the step saw of it.
        Err(err) => match emu.iam_enforcement() {
            Ok((_, denials)) if !denials.is_empty() => Err(err.context(format!(
                "IAM denied {} call(s):\n  {}",
                denials.len(),
                one_per_line(&denials)
            ))),
            _ => Err(err),
        },
    }
}

/// The emulator's denial records, one per line.
fn one_per_line(denials: &[Value]) -> String {
    denials
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n  ")
}

async fn rehearse(opts: &DemoOptions, emu: &Emulator, say: &Narrator) -> Result<DemoReport> {
    say.say(&format!("emulator listening on {}", emu.endpoint()));
    say.simulated("every AWS API call below goes to this emulator (moto plus the project's shim), not to an AWS account");
    let sdk = emu.sdk_config().await;
    let clients = Clients::new(&sdk);

    let team = match opts.rollout {
        Some(rollout) => {
            say.step("The team's service, as it runs before the pipeline exists");
            let team = team::TeamService::create(&clients, rollout).await?;
            say.say(&format!("{} runs {}", team.describe(), team.first_image));
            Some(team)
        }
        None => None,
    };
    let target_args: Vec<&str> = team
        .as_ref()
        .map(|t| vec!["--deploy-target", t.target.as_str()])
        .unwrap_or_default();

    say.step("Creating the deployer's identity from `bootstrap deployer-policy`");
    let mut policy_args = vec!["deployer-policy", "--env", &opts.env, "--output", "json"];
    policy_args.extend(&target_args);
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
    let deployer = deployer::Deployer::create(
        &clients.iam,
        &clients.sts,
        &opts.env,
        testkit::ACCOUNT_ID,
        deployer_policy,
    )
    .await?;
    say.say(&format!(
        "role {} holds only that policy ({} statements); every `bootstrap` command below runs as a session of it, with IAM enforced",
        deployer.role,
        deployer.policy["Statement"].as_array().map_or(0, Vec::len)
    ));

    say.step(&format!(
        "Deploying environment `{}` with `bootstrap deploy`",
        opts.env
    ));
    let artifacts_dir = opts.artifacts_dir.display().to_string();
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
        &artifacts_dir,
    ];
    deploy_args.extend(&target_args);
    let deploy_stdout = bootstrap(opts, emu, &deployer.env, &deploy_args, say).await?;
    reconfigure_and_restore(opts, emu, &deployer, &deploy_args, say).await?;
    drift_and_repair(opts, emu, &clients, &deployer, &deploy_args, say).await?;
    if let Some(mutant) = opts.mutant.as_ref().filter(|m| m.role != mutants::DEPLOYER) {
        mutate_role(&clients, opts, mutant, say).await?;
    }
    let outputs: Value = serde_json::from_str(last_json_document(&deploy_stdout)).with_context(|| {
        format!("`bootstrap deploy --output json` printed no JSON outputs; it printed:\n{deploy_stdout}")
    })?;
    for (key, value) in outputs.as_object().into_iter().flatten() {
        say.say(&format!("{key:<22} {}", value.as_str().unwrap_or_default()));
    }
    let deployed = read_deployed(&clients, opts, &outputs).await?;
    say.say(&format!(
        "read back: pipeline {} (Source → Build → Deploy), project {}, webhook {}, rules {}",
        deployed.pipeline,
        deployed
            .build
            .configuration
            .get("ProjectName")
            .map_or("?", String::as_str),
        deployed.webhook_name,
        deployed
            .rules
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));

    let inbox = subscribe_inbox(&clients, &deployed.topic_arn).await?;
    say.say("subscribed an SQS queue to the notification topic, to read what email subscribers would get");

    let runtime_deploy = RuntimeApi::start().await?;
    let runtime_notify = RuntimeApi::start().await?;
    // Each function runs with its execution role's credentials, as Lambda gives them: the
    // emulator judges every call it makes against that role's policies (IAM enforcement).
    let names = opts_names(opts)?;
    let mut deploy_env = deployed.deploy_handler_env.clone();
    deploy_env.extend(emu.env());
    deploy_env.extend(
        role_credentials(
            &clients.sts,
            &deployed.role_arn(&names.names().deploy_handler_role()),
            "deploy-handler",
        )
        .await?,
    );
    deploy_env.push((
        "AWS_LAMBDA_FUNCTION_NAME".into(),
        deployed
            .deploy
            .configuration
            .get("FunctionName")
            .cloned()
            .unwrap_or_default(),
    ));
    let deploy_handler =
        LambdaProcess::spawn(&opts.deploy_handler_bin, &runtime_deploy, &deploy_env)?;
    let mut notifier_env = deployed.notifier_env.clone();
    notifier_env.extend(emu.env());
    notifier_env.extend(
        role_credentials(
            &clients.sts,
            &deployed.role_arn(&names.names().event_notifier_role()),
            "event-notifier",
        )
        .await?,
    );
    say.simulated("each Lambda runs with its execution role's credentials, the build's commands with the build role's, and what CodePipeline does itself (writing the source artifact, starting and reading the build) with the pipeline role's, so the emulator evaluates every call they make against those roles' policies and refuses what they do not grant, as IAM would");
    notifier_env.push((
        "AWS_LAMBDA_FUNCTION_NAME".into(),
        opts_names(opts)?.names().event_notifier(),
    ));
    let notifier = LambdaProcess::spawn(&opts.event_notifier_bin, &runtime_notify, &notifier_env)?;
    runtime_notify
        .wait_for_first_next(Duration::from_secs(20))
        .await
        .with_context(|| {
            format!(
                "the event-notifier did not start; its logs:\n{}",
                notifier.logs()
            )
        })?;
    runtime_deploy
        .wait_for_first_next(Duration::from_secs(20))
        .await
        .with_context(|| {
            format!(
                "the deploy-handler did not start; its logs:\n{}",
                deploy_handler.logs()
            )
        })?;
    say.simulated("both Lambda functions run as local processes under a Lambda Runtime API emulator, with the environment read from their deployed configuration");

    let emulator_matches_patterns = emulator_evaluates_patterns(&clients).await;
    if !emulator_matches_patterns {
        say.simulated("the emulator's EventBridge TestEventPattern does not evaluate patterns, so the deployed rules' patterns are matched locally (exact values and nested fields, as the rules use)");
    }
    let scratch = tempfile::tempdir()?;
    let engine = engine::choose(emu)?;
    // Declared before the context so it runs last, after every build and push of the runs.
    let podman_images = engine::ImageCleanup::new(scratch.path().join("podman-images"));
    let ctx = RunContext {
        engine,
        podman_images: &podman_images,
        emulator_matches_patterns,
        opts,
        emu,
        clients: &clients,
        deployed: &deployed,
        runtime_deploy: &runtime_deploy,
        runtime_notify: &runtime_notify,
        deploy_handler: &deploy_handler,
        notifier: &notifier,
        inbox: &inbox,
        say,
        scratch: scratch.path(),
        pipeline_role: role_credentials(&clients.sts, &deployed.pipeline_role_arn, "codepipeline")
            .await?,
        team: team.as_ref(),
    };

    say.step("A push to another branch");
    let feature_commit = github::Commit {
        id: random_hex(40),
        message: "Fix a typo in the README".into(),
        author: "Ada Lovelace".into(),
    };
    let wrong_branch_push = deliver_push(&ctx, "docs/readme-typo", &feature_commit).await?;
    if wrong_branch_push.starts_execution {
        bail!(
            "a push to refs/heads/docs/readme-typo would start {}: the webhook filter must only pass {}",
            deployed.pipeline,
            opts.branch
        );
    }
    say.say("nothing starts: no execution, no artifact, no build");

    let mut runs = Vec::new();
    runs.push(run_once(&ctx, "green", "Greet people by name", false, false).await?);
    retried_build_reuses_the_image(&ctx, &runs[0]).await?;
    runs.push(
        run_once(
            &ctx,
            "failing unit test",
            "Break the greeting on purpose",
            true,
            false,
        )
        .await?,
    );
    if let Some(team) = &team {
        let green = runs[0]
            .image
            .as_ref()
            .context("the green run pushed no image")?;
        team::expect_running(team, &clients, &green.digest).await?;
        say.say(&format!(
            "after the green run {} runs its image ({})",
            team.describe(),
            green.digest
        ));
        let run = run_once(
            &ctx,
            "image that crashes",
            "Read a setting that does not exist at startup",
            false,
            true,
        )
        .await?;
        let still = team::expect_running(team, &clients, &green.digest)
            .await
            .context("after the failed rollout the service must run the green image again")?;
        say.say(&format!(
            "the failed rollout left {} on {still}",
            team.describe()
        ));
        runs.push(run);
    }

    let real_build = ctx.engine.is_real();
    say.step("Cleaning up the demo's own subscription");
    clients
        .sns
        .unsubscribe()
        .subscription_arn(&inbox.subscription_arn)
        .send()
        .await?;
    clients
        .sqs
        .delete_queue()
        .queue_url(&inbox.queue_url)
        .send()
        .await?;
    drop(deploy_handler);
    drop(notifier);

    // Which grants the runs used, read before destroy takes the roles away.
    let (mut grants, role_policies) = grant_usage(&clients, emu, opts, !real_build).await?;

    say.step(&format!(
        "Destroying environment `{}` with `bootstrap destroy`",
        opts.env
    ));
    say.say(&format!(
        "first, by hand: {}",
        drift::attach_managed_policy(&clients, &opts_names(opts)?).await?
    ));
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
        leftovers: leftovers(&clients, opts).await?,
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

    say.step("Re-creating the environment right after destroy, then destroying it again");
    say.say("every name is free again at once (the secret was deleted without a recovery window)");
    bootstrap(opts, emu, &deployer.env, &deploy_args, say).await?;
    bootstrap(
        opts,
        emu,
        &deployer.env,
        &["destroy", "--env", &opts.env, "--yes", "--output", "json"],
        say,
    )
    .await?;
    let mut destroy = destroy;
    destroy.leftovers.extend(leftovers(&clients, opts).await?);

    // The deployer's grants, with every bootstrap command's calls (destroy's included).
    grants.extend(grants::usage(
        &deployer.role,
        &deployer.policy,
        &emu.iam_grants()?,
    ));
    // Would a run have failed without each grant (replay), and is each grant scoped?
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
    let unused: Vec<String> = grants
        .iter()
        .filter(|g| g.used_by.is_empty() && g.excused(&opts.env).is_none())
        .map(|g| format!("{} {} {}", g.role, g.sid, g.action))
        .collect();
    say.say(&format!(
        "IAM grants: {} actions in the roles' policies (the deployer's included), {} used by the runs, {} not rehearsable (SECURITY.md), {} unused",
        grants.len(),
        grants.iter().filter(|g| !g.used_by.is_empty()).count(),
        grants
            .iter()
            .filter(|g| g.used_by.is_empty() && g.excused(&opts.env).is_some())
            .count(),
        unused.len()
    ));
    for grant in &unused {
        say.say(&format!("  UNUSED: {grant}"));
    }

    // Every call the functions and the build made ran under their own roles: a grant missing
    // from a policy is a denial here, as it would be a failed pipeline on AWS.
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

    let total = say.elapsed();
    say.step(&format!("Done in {:.1}s", total.as_secs_f64()));
    for run in &runs {
        say.say(&format!(
            "run `{}`: commit {} → {} ({} notifications, {:.1}s)",
            run.label,
            &run.commit[..12],
            run.pipeline_state,
            run.notifications.len(),
            run.duration.as_secs_f64()
        ));
    }
    Ok(DemoReport {
        outputs,
        wrong_branch_push,
        runs,
        destroy,
        grants,
        audit,
        real_build,
        total,
    })
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
    let plan_args: Vec<&str> = std::iter::once("plan")
        .chain(
            deploy_args[1..]
                .iter()
                .copied()
                .filter(|a| !matches!(*a, "--yes" | "--output" | "json")),
        )
        .collect();
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

/// Every grant of the four roles' inline policies, with the calls the emulator allowed with it.
async fn grant_usage(
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

fn opts_names(opts: &DemoOptions) -> Result<pipeline_common::EnvName> {
    pipeline_common::EnvName::parse(&opts.env).map_err(|e| anyhow::anyhow!("{e}"))
}

/// `bootstrap deploy --output json` prints progress on stderr and one JSON document on stdout.
fn last_json_document(stdout: &str) -> &str {
    stdout.find('{').map_or(stdout, |start| &stdout[start..])
}

/// Runs `bootstrap` against the emulator; `identity` (credentials as environment variables)
/// replaces the emulator's administrator keys when given. Fails unless it exits 0.
async fn bootstrap(
    opts: &DemoOptions,
    emu: &Emulator,
    identity: &[(String, String)],
    args: &[&str],
    say: &Narrator,
) -> Result<String> {
    let (code, stdout, stderr) = bootstrap_exit(opts, emu, identity, args, say).await?;
    if code != 0 {
        bail!(
            "`bootstrap {}` failed (exit {code}):\n{stderr}\n{stdout}",
            args.join(" ")
        );
    }
    Ok(stdout)
}

/// Runs `bootstrap` and returns its exit code, stdout and stderr.
async fn bootstrap_exit(
    opts: &DemoOptions,
    emu: &Emulator,
    identity: &[(String, String)],
    args: &[&str],
    say: &Narrator,
) -> Result<(i32, String, String)> {
    let started = Instant::now();
    let output = tokio::process::Command::new(&opts.bootstrap_bin)
        .args(args)
        .envs(emu.env())
        .envs(identity.iter().cloned())
        .env("GITHUB_TOKEN", "demo-token-not-used-by-the-emulator")
        .env_remove("BOOTSTRAP_CONFIG")
        .current_dir(opts.artifacts_dir.parent().unwrap_or(Path::new(".")))
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("starting {}", opts.bootstrap_bin.display()))?;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    say.block(stderr.trim_end());
    let code = output.status.code().unwrap_or(-1);
    say.say(&format!(
        "`bootstrap {}` exited {code} after {:.1}s",
        args[0],
        started.elapsed().as_secs_f64()
    ));
    Ok((code, stdout, stderr))
}

async fn read_deployed(clients: &Clients, opts: &DemoOptions, outputs: &Value) -> Result<Deployed> {
    let env = opts_names(opts)?;
    let names = env.names();
    let pipeline_name = names.pipeline();
    let got = clients
        .codepipeline
        .get_pipeline()
        .name(&pipeline_name)
        .send()
        .await
        .with_context(|| format!("GetPipeline {pipeline_name} after deploy"))?;
    let pipeline = got
        .pipeline()
        .context("GetPipeline answered without a pipeline")?;
    let pipeline_arn = got
        .metadata()
        .and_then(|m| m.pipeline_arn())
        .map(str::to_owned)
        .unwrap_or_else(|| {
            format!(
                "arn:aws:codepipeline:{}:{}:{pipeline_name}",
                testkit::REGION,
                testkit::ACCOUNT_ID
            )
        });
    let mut actions = Vec::new();
    for stage in pipeline.stages() {
        for action in stage.actions() {
            let type_id = action
                .action_type_id()
                .context("an action without actionTypeId")?;
            actions.push(Action {
                stage: stage.name().to_owned(),
                name: action.name().to_owned(),
                category: type_id.category().as_str().to_owned(),
                owner: type_id.owner().as_str().to_owned(),
                provider: type_id.provider().to_owned(),
                configuration: action
                    .configuration()
                    .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
                output_artifact: action
                    .output_artifacts()
                    .first()
                    .map(|a| a.name().to_owned()),
            });
        }
    }
    let find = |category: &str| -> Result<Action> {
        actions.iter().find(|a| a.category == category).cloned().with_context(|| {
            format!("the deployed pipeline {pipeline_name} has no {category} action; redeploy with `bootstrap deploy`")
        })
    };
    let (source, build, deploy) = (find("Source")?, find("Build")?, find("Invoke")?);
    let bucket = pipeline
        .artifact_store()
        .map(|s| s.location().to_owned())
        .or_else(|| outputs["artifactBucket"].as_str().map(str::to_owned))
        .context("the pipeline has no artifact store")?;

    let project_name = build
        .configuration
        .get("ProjectName")
        .cloned()
        .context("the Build action names no ProjectName")?;
    let projects = clients
        .codebuild
        .batch_get_projects()
        .names(&project_name)
        .send()
        .await?;
    let project = projects
        .projects()
        .first()
        .with_context(|| format!("CodeBuild project {project_name} does not exist"))?;
    let build_env: Vec<(String, String)> = project
        .environment()
        .map(|e| {
            e.environment_variables()
                .iter()
                .map(|v| (v.name().to_owned(), v.value().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let buildspec_name = project
        .source()
        .and_then(|s| s.buildspec())
        .filter(|b| !b.is_empty())
        .unwrap_or("buildspec.yml")
        .to_owned();

    let webhooks = clients.codepipeline.list_webhooks().send().await?;
    let webhook = webhooks
        .webhooks()
        .iter()
        .find(|w| {
            w.definition()
                .is_some_and(|d| d.target_pipeline() == pipeline_name)
        })
        .with_context(|| {
            format!("no webhook targets {pipeline_name}: pushes would never start it")
        })?;
    let definition = webhook.definition().context("webhook without definition")?;
    let webhook_filters = definition
        .filters()
        .iter()
        .map(|f| github::Filter {
            json_path: f.json_path().to_owned(),
            match_equals: f.match_equals().map(str::to_owned),
        })
        .collect();
    let webhook_secret_token = definition
        .authentication_configuration()
        .and_then(|a| a.secret_token())
        .unwrap_or_default()
        .to_owned();
    let github_secret = clients
        .secrets
        .get_secret_value()
        .secret_id(names.webhook_secret())
        .send()
        .await
        .with_context(|| format!("reading the webhook secret {}", names.webhook_secret()))?
        .secret_string()
        .context("the webhook secret has no string value")?
        .to_owned();

    let function_env = |name: String| async move {
        let config = clients
            .lambda
            .get_function_configuration()
            .function_name(&name)
            .send()
            .await
            .with_context(|| format!("GetFunctionConfiguration {name}"))?;
        let vars: Vec<(String, String)> = config
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        Ok::<_, anyhow::Error>((vars, config.function_arn().unwrap_or_default().to_owned()))
    };
    let deploy_function = deploy
        .configuration
        .get("FunctionName")
        .cloned()
        .context("the Deploy action names no FunctionName")?;
    let (deploy_handler_env, _) = function_env(deploy_function).await?;
    let (notifier_env, notifier_arn) = function_env(names.event_notifier()).await?;
    let topic_arn = notifier_env
        .iter()
        .find(|(k, _)| k == pipeline_common::env_vars::NOTIFY_TOPIC_ARN)
        .map(|(_, v)| v.clone())
        .context("the event-notifier has no NOTIFY_TOPIC_ARN")?;

    let mut rules = Vec::new();
    for rule_name in [names.events_rule(), names.failed_rule()] {
        let rule = clients
            .events
            .describe_rule()
            .name(&rule_name)
            .send()
            .await
            .with_context(|| format!("DescribeRule {rule_name}"))?;
        let pattern: Value = serde_json::from_str(
            rule.event_pattern()
                .context("a rule without an event pattern")?,
        )?;
        let listed = clients
            .events
            .list_targets_by_rule()
            .rule(&rule_name)
            .send()
            .await?;
        let targets = listed
            .targets()
            .iter()
            .map(|t| RuleTarget {
                arn: t.arn().to_owned(),
                input_paths: t
                    .input_transformer()
                    .and_then(|i| i.input_paths_map())
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
                input_template: t.input_transformer().map(|i| i.input_template().to_owned()),
            })
            .collect();
        rules.push(Rule {
            name: rule_name,
            pattern,
            targets,
        });
    }

    Ok(Deployed {
        pipeline: pipeline_name,
        pipeline_arn,
        pipeline_role_arn: pipeline.role_arn().to_owned(),
        bucket,
        source,
        build,
        deploy,
        build_env,
        buildspec_name,
        webhook_name: definition.name().to_owned(),
        webhook_arn: webhook.arn().unwrap_or_default().to_owned(),
        webhook_url: webhook.url().to_owned(),
        webhook_filters,
        webhook_secret_token,
        github_secret,
        deploy_handler_env,
        notifier_env,
        notifier_arn,
        topic_arn,
        repository: names.ecr_repository(),
        rules,
        account: testkit::ACCOUNT_ID.to_owned(),
        region: testkit::REGION.to_owned(),
    })
}

async fn subscribe_inbox(clients: &Clients, topic_arn: &str) -> Result<Inbox> {
    let queue_url = clients
        .sqs
        .create_queue()
        .queue_name("demo-notification-inbox")
        .send()
        .await?
        .queue_url()
        .context("CreateQueue returned no URL")?
        .to_owned();
    let attributes = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await?;
    let queue_arn = attributes
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .context("the inbox queue has no ARN")?
        .clone();
    let subscription = clients
        .sns
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .attributes("RawMessageDelivery", "false")
        .send()
        .await
        .with_context(|| format!("subscribing the inbox to {topic_arn}"))?;
    Ok(Inbox {
        queue_url,
        subscription_arn: subscription
            .subscription_arn()
            .unwrap_or_default()
            .to_owned(),
    })
}

struct RunContext<'a> {
    emulator_matches_patterns: bool,
    opts: &'a DemoOptions,
    emu: &'a Emulator,
    clients: &'a Clients,
    deployed: &'a Deployed,
    runtime_deploy: &'a RuntimeApi,
    runtime_notify: &'a RuntimeApi,
    deploy_handler: &'a LambdaProcess,
    notifier: &'a LambdaProcess,
    inbox: &'a Inbox,
    say: &'a Narrator,
    scratch: &'a Path,
    /// Credentials of the pipeline role, for what CodePipeline itself does.
    pipeline_role: Vec<(String, String)>,
    /// The team's service the Deploy stage rolls out to, when the rehearsal has one.
    team: Option<&'a team::TeamService>,
    /// What `docker` is in the build.
    engine: engine::BuildEngine,
    /// The images the real engine's builds named, removed when the rehearsal ends.
    podman_images: &'a engine::ImageCleanup,
}

/// Signs a push as GitHub does and checks it as CodePipeline does.
async fn deliver_push(
    ctx: &RunContext<'_>,
    branch: &str,
    commit: &github::Commit,
) -> Result<PushCheck> {
    let d = ctx.deployed;
    ctx.emu.clear_calls()?;
    let payload = github::push_payload(&ctx.opts.github_repo, branch, &random_hex(40), commit);
    let body = serde_json::to_vec(&payload)?;
    // GitHub signs with the secret the user pasted into the repository's webhook settings.
    let header = github::signature_header(d.github_secret.as_bytes(), &body);
    ctx.say.say(&format!(
        "GitHub sends push {} ({}) to {} with X-Hub-Signature-256: {}…",
        payload["ref"].as_str().unwrap_or_default(),
        &commit.id[..12],
        d.webhook_url,
        &header[..19]
    ));
    ctx.say.simulated("on AWS, GitHub calls the webhook URL and CodePipeline checks and starts the execution; here the same checks run locally against the deployed webhook");
    // CodePipeline verifies with the SecretToken stored in the webhook definition.
    let signature_valid =
        github::signature_is_valid(d.webhook_secret_token.as_bytes(), &body, &header);
    let filters = github::evaluate_filters(
        &d.webhook_filters,
        &payload,
        &d.source
            .configuration
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>(),
    )?;
    for verdict in &filters {
        ctx.say.say(&format!(
            "filter {} == {:?}: found {:?} → {}",
            verdict.json_path,
            verdict.expected.as_deref().unwrap_or("(exists)"),
            verdict.found.as_deref().unwrap_or("nothing"),
            if verdict.matched { "match" } else { "no match" }
        ));
    }
    ctx.say.say(&format!(
        "signature {}",
        if signature_valid {
            "verified with the webhook's secret"
        } else {
            "REJECTED"
        }
    ));
    let starts_execution =
        signature_valid && !filters.is_empty() && filters.iter().all(|f| f.matched);
    let mutating_calls = ctx
        .emu
        .mutating_calls()?
        .into_iter()
        .map(|c| format!("{} {}", c.service, c.operation))
        .collect();
    Ok(PushCheck {
        git_ref: payload["ref"].as_str().unwrap_or_default().to_owned(),
        signature_valid,
        filters,
        starts_execution,
        mutating_calls,
    })
}

/// Delivers one state-change event through the deployed rules, as EventBridge would.
async fn emit(
    ctx: &RunContext<'_>,
    execution: &Execution,
    level: Level<'_>,
    state: &str,
    log: &mut Vec<EventDelivery>,
) -> Result<()> {
    let event = events::state_change(execution, &level, state, &uuid(), &now_iso8601());
    let what = match &level {
        Level::Pipeline => format!("pipeline {state}"),
        Level::Stage(stage) => format!("stage {stage} {state}"),
        Level::Action { stage, action, .. } => format!("action {stage}/{action} {state}"),
    };
    let event_text = event.to_string();
    let mut matched_rules = Vec::new();
    let mut deliveries = Vec::new();
    for rule in &ctx.deployed.rules {
        if !rule_matches(ctx, rule, &event, &event_text).await? {
            continue;
        }
        matched_rules.push(rule.name.clone());
        let d = ctx.deployed;
        let rule_arn = format!(
            "arn:aws:events:{}:{}:rule/{}",
            d.region, d.account, rule.name
        );
        for target in &rule.targets {
            // EventBridge delivers only where the target's own policy lets the rule do it.
            let action = if target.arn == d.notifier_arn {
                Some("lambda:InvokeFunction")
            } else if target.arn == d.topic_arn {
                Some("sns:Publish")
            } else {
                None
            };
            if let Some(action) = action {
                ctx.emu
                    .service_call(
                        "events.amazonaws.com",
                        action,
                        &target.arn,
                        &rule_arn,
                        &d.account,
                    )
                    .with_context(|| format!("EventBridge delivering {what} to {}", target.arn))?;
            }
            if target.arn == ctx.deployed.notifier_arn {
                let invocation = ctx
                    .runtime_notify
                    .invoke(event.clone(), INVOKE_WAIT)
                    .await
                    .with_context(|| {
                        format!(
                            "the event-notifier did not answer; its logs:\n{}",
                            ctx.notifier.logs()
                        )
                    })?;
                let outcome = match &invocation.result {
                    Ok(answer) => answer["outcome"].as_str().unwrap_or("answered").to_owned(),
                    Err(error) => bail!(
                        "the event-notifier failed on {what}: {error}\nits logs:\n{}",
                        ctx.notifier.logs()
                    ),
                };
                deliveries.push(format!("event-notifier: {outcome}"));
            } else if target.arn == ctx.deployed.topic_arn {
                let message = match &target.input_template {
                    Some(template) => {
                        events::transform_input(&event, &target.input_paths, template)?
                    }
                    None => event_text.clone(),
                };
                ctx.clients
                    .sns
                    .publish()
                    .topic_arn(&target.arn)
                    .message(message)
                    .send()
                    .await
                    .with_context(|| {
                        format!("publishing rule {}'s message to {}", rule.name, target.arn)
                    })?;
                deliveries.push("SNS topic: published".to_owned());
            } else {
                deliveries.push(format!("{}: not simulated", target.arn));
            }
        }
    }
    ctx.say.say(&format!(
        "event: {what}{}",
        if matched_rules.is_empty() {
            " (no rule matches)".to_owned()
        } else {
            format!(
                " → {} → {}",
                matched_rules.join(", "),
                deliveries.join(", ")
            )
        }
    ));
    log.push(EventDelivery {
        detail_type: event["detail-type"].as_str().unwrap_or_default().to_owned(),
        state: state.to_owned(),
        what,
        matched_rules,
        deliveries,
    });
    Ok(())
}

/// TestEventPattern decides when the emulator really evaluates patterns (see
/// [`emulator_evaluates_patterns`]); otherwise the local matcher does, and both must agree.
async fn rule_matches(
    ctx: &RunContext<'_>,
    rule: &Rule,
    event: &Value,
    event_text: &str,
) -> Result<bool> {
    let local = events::pattern_matches(&rule.pattern, event)?;
    if !ctx.emulator_matches_patterns {
        return Ok(local);
    }
    let answer = ctx
        .clients
        .events
        .test_event_pattern()
        .event_pattern(rule.pattern.to_string())
        .event(event_text)
        .send()
        .await
        .with_context(|| format!("TestEventPattern for rule {}", rule.name))?;
    if answer.result() != local {
        bail!(
            "TestEventPattern says {} but the local matcher says {local} for rule {}: the rehearsal's matcher is wrong",
            answer.result(),
            rule.name
        );
    }
    Ok(local)
}

/// moto 5.2 answers TestEventPattern with an empty body (so `false`) for every input; a
/// pattern that must match tells a real evaluator from that stub.
async fn emulator_evaluates_patterns(clients: &Clients) -> bool {
    let event = json!({"version": "0", "id": "probe", "detail-type": "probe", "source": "aws.codepipeline",
        "account": testkit::ACCOUNT_ID, "time": now_iso8601(), "region": testkit::REGION, "resources": [], "detail": {}});
    let matching = clients
        .events
        .test_event_pattern()
        .event_pattern(r#"{"source":["aws.codepipeline"]}"#)
        .event(event.to_string())
        .send()
        .await;
    let other = clients
        .events
        .test_event_pattern()
        .event_pattern(r#"{"source":["aws.s3"]}"#)
        .event(event.to_string())
        .send()
        .await;
    matches!((matching, other), (Ok(yes), Ok(no)) if yes.result() && !no.result())
}

async fn run_once(
    ctx: &RunContext<'_>,
    label: &str,
    message: &str,
    fail_tests: bool,
    bad_image: bool,
) -> Result<RunReport> {
    let started = Instant::now();
    let d = ctx.deployed;
    let say = ctx.say;
    say.step(&format!(
        "Run `{label}`: push \"{message}\" to {}",
        ctx.opts.branch
    ));
    let commit = github::Commit {
        id: random_hex(40),
        message: message.into(),
        author: "Ada Lovelace".into(),
    };
    let push = deliver_push(ctx, &ctx.opts.branch, &commit).await?;
    if !push.starts_execution {
        bail!(
            "a signed push to {} did not pass the deployed webhook's checks ({:?}); the pipeline would never start",
            ctx.opts.branch,
            push
        );
    }
    ctx.emu.clear_calls()?;
    let execution = Execution {
        pipeline: d.pipeline.clone(),
        pipeline_arn: d.pipeline_arn.clone(),
        execution_id: uuid(),
        region: d.region.clone(),
        account: d.account.clone(),
        start_time: now_iso8601(),
        webhook_arn: d.webhook_arn.clone(),
    };
    say.say(&format!(
        "CodePipeline starts execution {}",
        execution.execution_id
    ));
    let mut events_log = Vec::new();
    emit(ctx, &execution, Level::Pipeline, "STARTED", &mut events_log).await?;

    // Source: the repository at the commit, zipped into the artifact bucket.
    let source_level = |state_result: Option<Value>| Level::Action {
        stage: &d.source.stage,
        action: &d.source.name,
        category: "Source",
        provider: &d.source.provider,
        owner: &d.source.owner,
        result: state_result,
    };
    emit(
        ctx,
        &execution,
        Level::Stage(&d.source.stage),
        "STARTED",
        &mut events_log,
    )
    .await?;
    emit(
        ctx,
        &execution,
        source_level(None),
        "STARTED",
        &mut events_log,
    )
    .await?;
    let checkout = ctx.scratch.join(format!("checkout-{}", &commit.id[..12]));
    copy_dir(&ctx.opts.app_dir, &checkout)?;
    std::fs::copy(&ctx.opts.buildspec, checkout.join("buildspec.yml"))
        .context("copying buildspec.yml into the commit")?;
    if fail_tests {
        // The sample app's documented switch: an empty FAIL_TESTS file makes its tests fail.
        std::fs::write(checkout.join("FAIL_TESTS"), "")?;
        say.say("this commit adds examples/hello-app/FAIL_TESTS, which makes a unit test fail");
    }
    if bad_image {
        // The tests pass, the image builds, and the process dies at startup: a setting the
        // service does not have is read before the server starts.
        let hello = checkout.join("hello.py");
        let code = std::fs::read_to_string(&hello)?.replace(
            "def main():\n",
            "def main():\n    style = os.environ[\"GREETING_STYLE\"]  # not set in the service\n",
        );
        std::fs::write(&hello, code)?;
        say.say("this commit makes hello.py read GREETING_STYLE at startup, which the service does not set: its tasks exit at once");
    }
    let source_zip = support::zip_dir(&checkout)?;
    let source_key = artifact_key(
        &d.pipeline,
        d.source
            .output_artifact
            .as_deref()
            .unwrap_or("SourceArtifact"),
    );
    // CodePipeline writes the source artifact with the pipeline role's credentials.
    let pipeline_role = ctx.emu.sdk_config_with(&ctx.pipeline_role).await;
    let pipeline_s3 = testkit::s3_client(&pipeline_role);
    pipeline_s3
        .get_bucket_versioning()
        .bucket(&d.bucket)
        .send()
        .await
        .context("CodePipeline (pipeline role) checking the artifact bucket")?;
    let put = pipeline_s3
        .put_object()
        .bucket(&d.bucket)
        .key(&source_key)
        .body(source_zip.clone().into())
        .metadata("codepipeline-artifact-revision-summary", &commit.message)
        .send()
        .await
        .with_context(|| {
            format!(
                "uploading the source artifact to s3://{}/{source_key}",
                d.bucket
            )
        })?;
    let source_version_id = put.version_id().map(str::to_owned);
    say.say(&format!(
        "source artifact s3://{}/{source_key} ({} bytes, object version {}), revision {}",
        d.bucket,
        source_zip.len(),
        source_version_id.as_deref().unwrap_or("none"),
        commit.id
    ));
    say.simulated("on AWS, the GitHub source action downloads the commit's archive; here the sample app directory is the commit");
    let source_result = json!({
        "external-execution-id": commit.id,
        "external-execution-summary": commit.message,
        "external-execution-url": format!("https://github.com/{}/commit/{}", ctx.opts.github_repo, commit.id),
    });
    emit(
        ctx,
        &execution,
        source_level(Some(source_result)),
        "SUCCEEDED",
        &mut events_log,
    )
    .await?;
    emit(
        ctx,
        &execution,
        Level::Stage(&d.source.stage),
        "SUCCEEDED",
        &mut events_log,
    )
    .await?;

    // Build: CodePipeline starts it and follows it with the pipeline role's credentials.
    let pipeline_codebuild = aws_sdk_codebuild::Client::new(&pipeline_role);
    let build_started = pipeline_codebuild
        .start_build()
        .project_name(
            d.build
                .configuration
                .get("ProjectName")
                .map_or("build", String::as_str),
        )
        .send()
        .await
        .context("CodePipeline (pipeline role) starting the build")?;
    let build_id = build_started
        .build_value()
        .and_then(|b| b.id())
        .context("StartBuild returned no build id")?
        .to_owned();
    pipeline_codebuild
        .batch_get_builds()
        .ids(&build_id)
        .send()
        .await
        .context("CodePipeline (pipeline role) reading the build")?;
    let build_level = |result: Option<Value>| Level::Action {
        stage: &d.build.stage,
        action: &d.build.name,
        category: "Build",
        provider: &d.build.provider,
        owner: &d.build.owner,
        result,
    };
    emit(
        ctx,
        &execution,
        Level::Stage(&d.build.stage),
        "STARTED",
        &mut events_log,
    )
    .await?;
    emit(
        ctx,
        &execution,
        build_level(None),
        "STARTED",
        &mut events_log,
    )
    .await?;
    let build = run_build(ctx, &commit, &source_key, &build_id).await?;
    let image_tag = commit.id[..12].to_owned();
    let image = ecr_image(ctx.clients, &d.repository, &image_tag).await?;
    let build_url = format!(
        "https://{0}.console.aws.amazon.com/codesuite/codebuild/projects/{1}/build/{2}/log?region={0}",
        d.region,
        d.build
            .configuration
            .get("ProjectName")
            .map_or("", String::as_str),
        build_id.replace(':', "%3A")
    );

    let mut retag_refused = None;
    let mut deploy = None;
    let mut team_image = None;
    let pipeline_state;
    if let Some((phase, command)) = &build.failure {
        let summary = format!(
            "Build terminated with state: FAILED. Phase: {}, Code: COMMAND_EXECUTION_ERROR, Message: Error while executing command: {command}. Reason: exit status 1",
            phase.to_uppercase()
        );
        say.say(&format!("build FAILED in {phase}: {command}"));
        match &image {
            Some(found) => say.say(&format!(
                "UNEXPECTED: ECR holds {}:{}",
                d.repository, found.tag
            )),
            None => say.say(&format!(
                "nothing was pushed: ECR has no {}:{image_tag}",
                d.repository
            )),
        }
        if ctx.engine.is_real() {
            let in_registry = ctx
                .emu
                .registry_manifest_digest(&d.repository, &image_tag)?;
            if !build.pushed.is_empty() || in_registry.is_some() {
                bail!(
                    "the failed build pushed {:?} and the registry holds {in_registry:?} for {}:{image_tag}: a failing build must push nothing",
                    build.pushed,
                    d.repository
                );
            }
            say.say("and the registry holds no manifest under that tag");
        }
        let result = json!({"external-execution-id": build_id, "external-execution-summary": summary, "external-execution-url": build_url, "error-code": "JobFailed"});
        emit(
            ctx,
            &execution,
            build_level(Some(result)),
            "FAILED",
            &mut events_log,
        )
        .await?;
        emit(
            ctx,
            &execution,
            Level::Stage(&d.build.stage),
            "FAILED",
            &mut events_log,
        )
        .await?;
        seed_failed_execution(ctx, &execution, &commit, &d.build, &summary, &build_url).await?;
        say.say("Deploy does not run: the Build stage failed");
        emit(ctx, &execution, Level::Pipeline, "FAILED", &mut events_log).await?;
        pipeline_state = "FAILED".to_owned();
    } else {
        let found = image.clone().with_context(|| {
            format!(
                "the build succeeded but ECR has no image {}:{image_tag}",
                d.repository
            )
        })?;
        say.say(&format!(
            "image {}:{} pushed ({})",
            d.repository, found.tag, found.digest
        ));
        if ctx.engine.is_real() {
            same_digest_everywhere(ctx, &build, &found)?;
            scanned_on_push(ctx, &found).await?;
        }
        retag_refused = Some(retag_is_refused(ctx.clients, &d.repository, &image_tag).await?);
        say.say(&format!(
            "ECR tag immutability: pushing different content under {image_tag} again is {}",
            if retag_refused == Some(true) {
                "refused (ImageTagAlreadyExistsException)"
            } else {
                "ACCEPTED (the repository is not immutable!)"
            }
        ));
        if let engine::BuildEngine::Podman { registry } = &ctx.engine {
            registry_keeps_the_tag(ctx, registry, &found).await?;
        }
        let result = json!({"external-execution-id": build_id, "external-execution-summary": "Build succeeded", "external-execution-url": build_url});
        emit(
            ctx,
            &execution,
            build_level(Some(result)),
            "SUCCEEDED",
            &mut events_log,
        )
        .await?;
        emit(
            ctx,
            &execution,
            Level::Stage(&d.build.stage),
            "SUCCEEDED",
            &mut events_log,
        )
        .await?;

        let output_key = build
            .output_key
            .clone()
            .context("a successful build wrote no output artifact")?;
        if bad_image {
            ctx.emu.mark_bad_image(&found.digest)?;
            say.simulated(&format!(
                "this image's tasks will not start: the emulator fails the rollout of {} as ECS (or Lambda) fails an image that crashes",
                found.digest
            ));
        }
        let report = run_deploy(ctx, &execution, &commit, &output_key, &mut events_log).await?;
        if let Some(team) = ctx.team {
            let running = team.running_image(ctx.clients).await?;
            say.say(&format!("{} now runs {running}", team.describe()));
            team_image = Some(running);
        }
        pipeline_state = if report.status == "Succeeded" {
            "SUCCEEDED"
        } else {
            "FAILED"
        }
        .to_owned();
        if pipeline_state == "FAILED" {
            let summary = report.job["results"][0]["failureDetails"]["message"]
                .as_str()
                .unwrap_or("deploy failed")
                .to_owned();
            seed_failed_execution(ctx, &execution, &commit, &d.deploy, &summary, "").await?;
        }
        emit(
            ctx,
            &execution,
            Level::Pipeline,
            &pipeline_state,
            &mut events_log,
        )
        .await?;
        deploy = Some(report);
    }

    let job_result_calls = ctx
        .emu
        .calls()?
        .iter()
        .filter(|c| c.service == "codepipeline" && c.operation.starts_with("PutJob"))
        .count();
    let published = events_log
        .iter()
        .flat_map(|e| &e.deliveries)
        .filter(|x| x.ends_with(": published"))
        .count();
    let notifications = drain_inbox(ctx, published).await?;
    say.say(&format!(
        "{} notification(s) arrived at the subscription:",
        notifications.len()
    ));
    for notification in &notifications {
        say.block(&render_notification(notification));
    }
    say.simulated("on AWS, EventBridge invokes the event-notifier and publishes to SNS itself; here each event CodePipeline would emit is matched against the deployed rules and delivered the same way");
    Ok(RunReport {
        label: label.to_owned(),
        commit: commit.id,
        execution_id: execution.execution_id,
        push,
        source_key,
        source_version_id,
        build,
        image,
        retag_refused,
        deploy,
        team_image,
        pipeline_state,
        events: events_log,
        notifications,
        job_result_calls,
        duration: started.elapsed(),
    })
}

/// A retried Build stage (or the same commit released again) builds a commit whose image ECR
/// already holds: the buildspec must reuse that image, building and pushing nothing.
async fn retried_build_reuses_the_image(ctx: &RunContext<'_>, run: &RunReport) -> Result<()> {
    let image = run
        .image
        .as_ref()
        .context("the green run left no image in ECR")?;
    ctx.say.step(&format!(
        "The Build stage retried for commit {}",
        &run.commit[..12]
    ));
    let commit = github::Commit {
        id: run.commit.clone(),
        message: "Greet people by name".into(),
        author: "Ada Lovelace".into(),
    };
    let project = ctx
        .deployed
        .build
        .configuration
        .get("ProjectName")
        .map_or("build", String::as_str);
    let build_id = format!("{project}:{}", uuid());
    let again = run_build(ctx, &commit, &run.source_key, &build_id).await?;
    let engine_work: Vec<String> = again
        .tool_calls
        .iter()
        .filter(|call| {
            call.len() > 1 && call[0] == "docker" && matches!(call[1].as_str(), "build" | "push")
        })
        .map(|call| call.join(" "))
        .collect();
    let digest = again.exported.get("IMAGE_DIGEST");
    if !again.succeeded || !engine_work.is_empty() || digest != Some(&image.digest) {
        bail!(
            "a retried build of {} must reuse {}: it succeeded={}, ran {engine_work:?}, exported IMAGE_DIGEST={digest:?}",
            &run.commit[..12],
            image.digest,
            again.succeeded
        );
    }
    ctx.say.say(&format!(
        "nothing built or pushed: the build reused {}",
        image.digest
    ));
    Ok(())
}

/// `pipeline/ArtifactNa/abc1234`: CodePipeline keeps the first 10 characters of the name.
fn artifact_key(pipeline: &str, artifact: &str) -> String {
    let short: String = artifact.chars().take(10).collect();
    format!("{pipeline}/{short}/{}", random_hex(7))
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let path = entry?.path();
        let target = to.join(path.file_name().context("a file without a name")?);
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            std::fs::copy(&path, &target)?;
        }
    }
    Ok(())
}

/// The buildspec as the runner takes it (`env.variables` and each phase's `commands`).
fn parse_buildspec(text: &str) -> Result<Buildspec> {
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(text).context("buildspec.yml is not valid YAML")?;
    let mut spec = Buildspec::default();
    if let Some(variables) = yaml["env"]["variables"].as_mapping() {
        for (name, value) in variables {
            let value = match value {
                serde_yaml::Value::String(s) => s.clone(),
                other => serde_yaml::to_string(other)?.trim().to_owned(),
            };
            spec.variables.push((
                name.as_str()
                    .context("a variable name that is not a string")?
                    .to_owned(),
                value,
            ));
        }
    }
    let phases = yaml["phases"]
        .as_mapping()
        .context("buildspec.yml has no `phases`")?;
    for (name, phase) in phases {
        let name = name.as_str().context("a phase name that is not a string")?;
        let commands = phase["commands"]
            .as_sequence()
            .with_context(|| format!("phase {name} has no `commands` list"))?
            .iter()
            .map(|c| {
                c.as_str()
                    .map(str::to_owned)
                    .context("a command that is not a string")
            })
            .collect::<Result<Vec<_>>>()?;
        spec.phases.insert(name.to_owned(), commands);
    }
    Ok(spec)
}

fn artifact_files(text: &str) -> Result<Vec<String>> {
    let yaml: serde_yaml::Value = serde_yaml::from_str(text)?;
    Ok(yaml["artifacts"]["files"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_owned))
        .collect())
}

/// The report groups `buildspec.yml`'s `reports:` section names.
fn report_groups(text: &str) -> Result<Vec<String>> {
    let yaml: serde_yaml::Value = serde_yaml::from_str(text)?;
    Ok(yaml["reports"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(name, _)| name.as_str().map(str::to_owned))
        .collect())
}

async fn run_build(
    ctx: &RunContext<'_>,
    commit: &github::Commit,
    source_key: &str,
    build_id: &str,
) -> Result<BuildReport> {
    let d = ctx.deployed;
    let say = ctx.say;
    // CodeBuild reads the source, runs the commands and uploads the output with the build role.
    let build_role = role_credentials(
        &ctx.clients.sts,
        &d.role_arn(&opts_names(ctx.opts)?.names().codebuild_role()),
        "codebuild",
    )
    .await?;
    let build_s3 = testkit::s3_client(&ctx.emu.sdk_config_with(&build_role).await);
    let object = build_s3
        .get_object()
        .bucket(&d.bucket)
        .key(source_key)
        .send()
        .await
        .with_context(|| {
            format!(
                "CodeBuild reading its source s3://{}/{source_key}",
                d.bucket
            )
        })?;
    let bytes = object.body.collect().await?.into_bytes();
    // One directory per build: a retried build of the same commit starts afresh, as on CodeBuild.
    let build_number = build_id.rsplit(':').next().unwrap_or(build_id);
    let build_dir = ctx
        .scratch
        .join(format!("codebuild-{}-{build_number}", &commit.id[..12]));
    let src = build_dir.join("src");
    std::fs::create_dir_all(&src)?;
    let files = support::unzip_into(&bytes, &src)?;
    let buildspec_text =
        std::fs::read_to_string(src.join(&d.buildspec_name)).with_context(|| {
            format!(
                "the source has no {} at its root, which the CodeBuild project {} runs",
                d.buildspec_name, build_id
            )
        })?;
    let buildspec = parse_buildspec(&buildspec_text)?;
    let tools = build_dir.join("tools");
    let state = build_dir.join("standin-state");
    std::fs::create_dir_all(&tools)?;
    std::fs::create_dir_all(&state)?;
    let python = testkit::workspace_root().join(".venv/bin/python");
    let docker = match &ctx.engine {
        engine::BuildEngine::Podman { .. } => engine::PODMAN_DOCKER,
        engine::BuildEngine::StandIn { .. } => engine::STANDIN_DOCKER,
    };
    for (name, script) in [("docker", docker), ("aws", AWS_CLI)] {
        let path = tools.join(name);
        std::fs::write(&path, format!("#!{}\n{script}", python.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    let mut config = RunConfig::new(&src, &tools);
    config.command_timeout = Duration::from_secs(120);
    config.env.extend(d.build_env.iter().cloned());
    for (name, value) in [
        ("CODEBUILD_RESOLVED_SOURCE_VERSION", commit.id.clone()),
        (
            "CODEBUILD_SOURCE_VERSION",
            format!("arn:aws:s3:::{}/{source_key}", d.bucket),
        ),
        ("CODEBUILD_BUILD_ID", build_id.to_owned()),
        (
            "CODEBUILD_INITIATOR",
            format!("codepipeline/{}", d.pipeline),
        ),
        ("AWS_REGION", d.region.clone()),
        ("AWS_DEFAULT_REGION", d.region.clone()),
        ("STANDIN_STATE_DIR", state.display().to_string()),
        (
            "STANDIN_IMAGE_PATH",
            format!(
                "{}:/usr/local/bin:/usr/bin:/bin",
                python.parent().unwrap_or(Path::new("/")).display()
            ),
        ),
    ] {
        config.env.push((name.to_owned(), value));
    }
    if let engine::BuildEngine::Podman { registry } = &ctx.engine {
        // A fresh login per build, as in CodeBuild's fresh container.
        config
            .env
            .push(("ECR_REGISTRY_ENDPOINT".to_owned(), registry.clone()));
        config.env.push((
            "PODMAN_TAGS_FILE".to_owned(),
            ctx.podman_images.path().display().to_string(),
        ));
        config.env.push((
            "LAYER_CACHE_MARKER".to_owned(),
            ctx.scratch
                .join("layer-cache-started")
                .display()
                .to_string(),
        ));
        config.env.push((
            "REGISTRY_AUTH_FILE".to_owned(),
            build_dir.join("auth.json").display().to_string(),
        ));
    }
    config.env.extend(ctx.emu.env());
    config.env.extend(build_role.iter().cloned());
    // CodeBuild's container has no AWS config or credentials files: the host's must not steer
    // the build's `aws` (a profile's region or credentials would win over nothing here).
    for name in ["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"] {
        config.env.push((
            name.to_owned(),
            build_dir.join("no-aws-files").display().to_string(),
        ));
    }
    say.say(&format!(
        "CodeBuild runs {} ({} files) with the project's variables: {}",
        d.buildspec_name,
        files,
        d.build_env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    match &ctx.engine {
        engine::BuildEngine::Podman { registry } => say.simulated(&format!("on AWS the build runs in CodeBuild's container with Docker and the AWS CLI; here the buildspec's phases run with bash, `docker` is podman (chroot isolation, the base image made from Debian's packages) pushing to the emulator's ECR registry at {registry}, and `aws` is the AWS CLI (version 1; CodeBuild has version 2) against the emulator")),
        engine::BuildEngine::StandIn { why } => say.simulated(&format!("on AWS the build runs in CodeBuild's container with Docker and the AWS CLI; here ({why}) the buildspec's phases run with bash, a stand-in `docker` and the AWS CLI (version 1) against the emulator: the tests really run (with the host's Python), the image manifest is really pushed to the emulator's ECR")),
    }
    let outcome = tokio::task::spawn_blocking(move || run_buildspec(&buildspec, &config)).await??;
    let tool_calls = std::fs::read_to_string(state.join("calls.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .map(|call| {
            let mut words = vec![call["tool"].as_str().unwrap_or_default().to_owned()];
            words.extend(
                call["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a.as_str().map(str::to_owned)),
            );
            words
        })
        .collect::<Vec<_>>();
    for call in &tool_calls {
        let line = call.join(" ");
        say.say(&format!(
            "  $ {}",
            if line.len() > 110 {
                format!("{}…", &line[..110])
            } else {
                line
            }
        ));
    }
    let spec_again = parse_buildspec(&buildspec_text)?;
    // The tool call that failed names the command better than the multi-line script holding it.
    let last_tool_call = tool_calls.last().map(|call| call.join(" "));
    let failure = outcome.phases.iter().find_map(|phase| match &phase.status {
        PhaseStatus::Failed { command_index, .. } => {
            let script_line = spec_again
                .phases
                .get(&phase.name)
                .and_then(|c| c.get(*command_index))
                .and_then(|c| {
                    c.lines()
                        .map(str::trim)
                        .find(|l| !l.is_empty() && !l.starts_with("set "))
                })
                .unwrap_or_default()
                .to_owned();
            Some((
                phase.name.clone(),
                last_tool_call.clone().unwrap_or(script_line),
            ))
        }
        _ => None,
    });
    let log_tail: Vec<&str> = outcome
        .log
        .lines()
        .filter(|l| {
            // The commands' own text (shown before each runs) is not output.
            let text = l.trim_start();
            !text.starts_with("echo ") && !text.starts_with("--") && !text.starts_with('#')
        })
        .filter(|l| {
            l.contains("FAIL")
                || l.contains("ERROR")
                || l.contains("Error:")
                || l.contains("STEP ")
                || l.contains("Ran ")
                || l.trim() == "OK"
                || l.contains("layer cache")
                || l.contains("JUnit")
                || l.contains("Pushed")
                || l.contains(": digest: ")
                || l.contains("nothing is pushed")
        })
        .collect();
    say.block(&log_tail.join("\n"));
    // CodeBuild uploads the files a `reports:` group matches after the build phases, to the
    // report group `<project>-<group>` (creating it, untagged, when it does not exist).
    let report_groups = report_groups(&buildspec_text)?;
    let report_dir = src.join("reports");
    let has_reports = support::files_under(&report_dir)
        .iter()
        .any(|path| path.extension().is_some_and(|x| x == "xml"));
    if has_reports && !report_groups.is_empty() {
        let project = build_id.split(':').next().unwrap_or(build_id);
        let arns = ctx.emu.record_build_reports(project, &report_groups)?;
        say.say(&format!("test reports uploaded to {}", arns.join(", ")));
    }
    let exported: BTreeMap<String, String> = ["IMAGE_TAG", "IMAGE_DIGEST"]
        .iter()
        .filter_map(|k| {
            outcome
                .final_env
                .get(*k)
                .map(|v| ((*k).to_owned(), v.clone()))
        })
        .collect();
    let mut output_key = None;
    if outcome.succeeded() {
        let mut entries = Vec::new();
        for file in artifact_files(&buildspec_text)? {
            let bytes = std::fs::read(src.join(&file)).with_context(|| format!("the build succeeded but wrote no {file}, which buildspec.yml lists as an artifact"))?;
            entries.push((file, bytes));
        }
        let key = artifact_key(
            &d.pipeline,
            d.build
                .output_artifact
                .as_deref()
                .unwrap_or("BuildArtifact"),
        );
        build_s3
            .put_object()
            .bucket(&d.bucket)
            .key(&key)
            .body(support::zip_entries(&entries)?.into())
            .send()
            .await
            .context("CodeBuild (build role) uploading the output artifact")?;
        say.say(&format!(
            "build output artifact s3://{}/{key} ({})",
            d.bucket,
            entries
                .iter()
                .map(|e| e.0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        output_key = Some(key);
    }
    let pushed = std::fs::read_to_string(state.join("pushes.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|push| {
            Some((
                push["ref"].as_str()?.to_owned(),
                push["digest"].as_str()?.to_owned(),
            ))
        })
        .collect();
    Ok(BuildReport {
        succeeded: outcome.succeeded(),
        failure,
        tool_calls,
        exported,
        output_key,
        log: outcome.log,
        pushed,
    })
}

/// The digest podman's push printed, the one the registry holds under the tag, ECR's answer and
/// what the buildspec exported are one and the same: the manifest's sha256.
fn same_digest_everywhere(ctx: &RunContext<'_>, build: &BuildReport, ecr: &EcrImage) -> Result<()> {
    let repository = &ctx.deployed.repository;
    let registry = ctx
        .emu
        .registry_manifest_digest(repository, &ecr.tag)?
        .with_context(|| {
            format!(
                "ECR lists {repository}:{} but the registry behind it has no such manifest",
                ecr.tag
            )
        })?;
    let pushed = match build.pushed.as_slice() {
        [(_, digest)] => digest.clone(),
        pushes => bail!(
            "the build pushed {} images, not one: {pushes:?}",
            pushes.len()
        ),
    };
    let exported = build
        .exported
        .get("IMAGE_DIGEST")
        .cloned()
        .unwrap_or_default();
    if [&pushed, &registry, &exported]
        .iter()
        .any(|digest| **digest != ecr.digest)
    {
        bail!(
            "digests disagree for {repository}:{}: podman pushed {pushed}, the registry holds {registry}, ECR answers {}, the build exported {exported}",
            ecr.tag,
            ecr.digest
        );
    }
    ctx.say.say(&format!(
        "podman's push, the registry's manifest, ECR's DescribeImages and the build's IMAGE_DIGEST agree: {}",
        ecr.digest
    ));
    Ok(())
}

/// A real client pushing the build's test-stage image under the pushed tag: the registry refuses
/// it before its tag moves, as ECR's does for an immutable repository.
async fn registry_keeps_the_tag(
    ctx: &RunContext<'_>,
    registry: &str,
    image: &EcrImage,
) -> Result<()> {
    let repository = &ctx.deployed.repository;
    let test_image = format!("localhost/{repository}:test-{}", image.tag);
    let refusal = engine::push_over_existing_tag(
        &ctx.clients.ecr,
        registry,
        &test_image,
        repository,
        &image.tag,
        ctx.scratch,
    )
    .await?
    .with_context(|| {
        format!(
            "the registry took {test_image} under {repository}:{}, a tag of an immutable repository",
            image.tag
        )
    })?;
    let still = ctx.emu.registry_manifest_digest(repository, &image.tag)?;
    if still.as_deref() != Some(image.digest.as_str()) {
        bail!(
            "after the refused push the registry holds {still:?} under {repository}:{}, not {}",
            image.tag,
            image.digest
        );
    }
    ctx.say.say(&format!(
        "podman pushing the test-stage image under {} too is refused (\"{refusal}\") and the registry's tag did not move",
        image.tag
    ));
    Ok(())
}

/// The repository scans on push (bootstrap sets `scanOnPush`): ECR scans the image podman pushed.
/// A basic scan is `IN_PROGRESS` for a while after the push; this polls DescribeImageScanFindings
/// until it is `COMPLETE` and fails on `FAILED`, the acceptors of the SDKs' `ImageScanComplete`
/// waiter (botocore `ecr/2015-09-21/waiters-2.json`), whose 5-second minimum delay is meant for
/// AWS's scanners: the emulator's scan completes after one poll, so this polls every 100 ms, at
/// most 50 times.
async fn scanned_on_push(ctx: &RunContext<'_>, image: &EcrImage) -> Result<()> {
    const POLLS: usize = 50;
    let mut seen = Vec::new();
    for _ in 0..POLLS {
        let findings = ctx
            .clients
            .ecr
            .describe_image_scan_findings()
            .repository_name(&ctx.deployed.repository)
            .image_id(
                aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_digest(&image.digest)
                    .build(),
            )
            .send()
            .await
            .with_context(|| {
                format!(
                    "ECR has no scan of {} although the repository scans on push",
                    image.digest
                )
            })?;
        let status = findings
            .image_scan_status()
            .and_then(|s| s.status())
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        match status.as_str() {
            "COMPLETE" => {
                let counts = findings
                    .image_scan_findings()
                    .and_then(|f| f.finding_severity_counts())
                    .map(|counts| {
                        let mut counts: Vec<String> =
                            counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
                        counts.sort();
                        counts.join(", ")
                    })
                    .filter(|counts| !counts.is_empty())
                    .unwrap_or_else(|| "no findings".to_owned());
                ctx.say.say(&format!(
                    "ECR scanned the image on push ({}): {counts}",
                    seen.join(" → ")
                ));
                return Ok(());
            }
            "FAILED" => bail!(
                "ECR's scan of {} failed: {}",
                image.digest,
                findings
                    .image_scan_status()
                    .and_then(|s| s.description())
                    .unwrap_or("no description")
            ),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    bail!(
        "ECR's scan of {} did not complete within {POLLS} polls 100 ms apart (statuses seen: {})",
        image.digest,
        seen.join(" → ")
    )
}

async fn ecr_image(clients: &Clients, repository: &str, tag: &str) -> Result<Option<EcrImage>> {
    let answer = clients
        .ecr
        .describe_images()
        .repository_name(repository)
        .image_ids(
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_tag(tag)
                .build(),
        )
        .send()
        .await;
    match answer {
        Ok(found) => Ok(found.image_details().first().map(|image| EcrImage {
            tag: tag.to_owned(),
            digest: image.image_digest().unwrap_or_default().to_owned(),
        })),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_image_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(error) => {
            Err(anyhow::Error::new(error).context(format!("DescribeImages {repository}:{tag}")))
        }
    }
}

/// Pushes a different manifest under an existing tag; an immutable repository must refuse it.
async fn retag_is_refused(clients: &Clients, repository: &str, tag: &str) -> Result<bool> {
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": format!("sha256:{}", random_hex(64))},
        "layers": []
    });
    let answer = clients
        .ecr
        .put_image()
        .repository_name(repository)
        .image_tag(tag)
        .image_manifest(manifest.to_string())
        .image_manifest_media_type("application/vnd.docker.distribution.manifest.v2+json")
        .send()
        .await;
    match answer {
        Ok(_) => Ok(false),
        Err(error)
            if error.as_service_error().is_some_and(|e| {
                e.is_image_tag_already_exists_exception() || e.is_image_already_exists_exception()
            }) =>
        {
            Ok(true)
        }
        Err(error) => {
            Err(anyhow::Error::new(error).context(format!("PutImage {repository}:{tag}")))
        }
    }
}

async fn run_deploy(
    ctx: &RunContext<'_>,
    execution: &Execution,
    commit: &github::Commit,
    output_key: &str,
    log: &mut Vec<EventDelivery>,
) -> Result<DeployReport> {
    let d = ctx.deployed;
    let action = &d.deploy;
    let level = |result: Option<Value>| Level::Action {
        stage: &action.stage,
        action: &action.name,
        category: "Invoke",
        provider: &action.provider,
        owner: &action.owner,
        result,
    };
    emit(ctx, execution, Level::Stage(&action.stage), "STARTED", log).await?;
    emit(ctx, execution, level(None), "STARTED", log).await?;
    let mut continuation: Option<String> = None;
    let mut polls = 0;
    let (job_id, job, status, last) = loop {
        // CodePipeline hands the function short-lived credentials of the pipeline's role for the artifacts.
        let assumed = ctx
            .clients
            .sts
            .assume_role()
            .role_arn(&d.pipeline_role_arn)
            .role_session_name(format!("codepipeline-{}", &execution.execution_id[..8]))
            .send()
            .await
            .with_context(|| format!("assuming the pipeline role {}", d.pipeline_role_arn))?;
        let credentials = assumed
            .credentials()
            .context("AssumeRole returned no credentials")?;
        let job_id = ctx.emu.create_job(
        json!({"pipelineName": d.pipeline, "stageName": action.stage, "actionName": action.name}),
    )?;
        let mut configuration = json!({});
        for (key, value) in &action.configuration {
            configuration[key] = json!(value);
        }
        let event = json!({"CodePipeline.job": {
            "id": job_id,
            "accountId": d.account,
            "data": {
                "actionConfiguration": {"configuration": configuration},
                "inputArtifacts": [{
                    "name": d.build.output_artifact.clone().unwrap_or_default(),
                    "revision": commit.id,
                    "location": {"type": "S3", "s3Location": {"bucketName": d.bucket, "objectKey": output_key}}
                }],
                "outputArtifacts": [],
                "continuationToken": continuation,
                "artifactCredentials": {
                    "accessKeyId": credentials.access_key_id(),
                    "secretAccessKey": credentials.secret_access_key(),
                    "sessionToken": credentials.session_token(),
                    "expirationTime": 1_900_000_000_000_u64
                }
            }
        }});
        if continuation.is_none() {
            ctx.say.say(&format!(
                "CodePipeline invokes {} with job {job_id} (UserParameters {})",
                action
                    .configuration
                    .get("FunctionName")
                    .map_or("?", String::as_str),
                action
                    .configuration
                    .get("UserParameters")
                    .map_or("none", String::as_str)
            ));
        }
        // CodePipeline invokes the function with the pipeline role's credentials: a DryRun invoke
        // has IAM judge that (lambda:InvokeFunction on the function) and runs nothing (Lambda API
        // Reference, Invoke: "DryRun – Validate parameter values and verify that the user or role
        // has permission to invoke the function"); the job itself reaches the function through the
        // Runtime API below.
        let function_name = action
            .configuration
            .get("FunctionName")
            .context("the Deploy action names no FunctionName")?;
        aws_sdk_lambda::Client::new(&ctx.emu.sdk_config_with(&ctx.pipeline_role).await)
            .invoke()
            .function_name(function_name)
            .invocation_type(aws_sdk_lambda::types::InvocationType::DryRun)
            .send()
            .await
            .with_context(|| {
                format!("CodePipeline, as the pipeline role, may not invoke {function_name}")
            })?;
        let invocation = ctx
            .runtime_deploy
            .invoke(event, INVOKE_WAIT)
            .await
            .with_context(|| {
                format!(
                    "the deploy-handler did not answer; its logs:\n{}",
                    ctx.deploy_handler.logs()
                )
            })?;
        if let Err(error) = &invocation.result {
            bail!(
                "the deploy-handler's invocation failed: {error}\nits logs:\n{}",
                ctx.deploy_handler.logs()
            );
        }
        let job = ctx.emu.job(&job_id)?;
        let status = job["status"].as_str().unwrap_or_default().to_owned();
        let last = job["results"]
            .as_array()
            .and_then(|r| r.last())
            .cloned()
            .unwrap_or(Value::Null);
        if status == "InProgress" {
            // CodePipeline creates a new job for the action with the token and invokes the function
            // again (CodePipeline User Guide, "Invoke an AWS Lambda function in a pipeline":
            // continuation tokens).
            let token = last["continuationToken"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            ctx.say.say(&format!(
                "in progress: {}",
                last["executionDetails"]["summary"]
                    .as_str()
                    .unwrap_or_default()
            ));
            polls += 1;
            if polls > MAX_DEPLOY_POLLS {
                bail!(
                    "the deploy-handler still reports the rollout in progress after {MAX_DEPLOY_POLLS} invocations"
                );
            }
            continuation = Some(token);
            continue;
        }
        break (job_id, job, status, last);
    };
    let output_variables: BTreeMap<String, String> = last["outputVariables"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    ctx.say.say(&format!(
        "the deploy-handler reported the job {status} after {} invocation(s)",
        polls + 1
    ));
    for (key, value) in &output_variables {
        ctx.say.say(&format!("  output variable {key} = {value}"));
    }
    let (state, result) = if status == "Succeeded" {
        (
            "SUCCEEDED",
            json!({"external-execution-id": job_id, "external-execution-summary": last["executionDetails"]["summary"]}),
        )
    } else {
        (
            "FAILED",
            json!({"external-execution-id": job_id, "external-execution-summary": last["failureDetails"]["message"], "error-code": last["failureDetails"]["type"]}),
        )
    };
    emit(ctx, execution, level(Some(result)), state, log).await?;
    emit(ctx, execution, Level::Stage(&action.stage), state, log).await?;
    Ok(DeployReport {
        job_id,
        job,
        status,
        output_variables,
    })
}

/// What GetPipelineExecution / ListActionExecutions answer for a failed run, so the
/// event-notifier's enrichment finds the failed action as it would on AWS.
async fn seed_failed_execution(
    ctx: &RunContext<'_>,
    execution: &Execution,
    commit: &github::Commit,
    failed: &Action,
    summary: &str,
    url: &str,
) -> Result<()> {
    let d = ctx.deployed;
    let now = now_iso8601();
    let mut details = vec![json!({
        "stageName": d.source.stage, "actionName": d.source.name, "status": "Succeeded",
        "startTime": execution.start_time, "lastUpdateTime": execution.start_time,
        "input": {"actionTypeId": {"category": "Source", "owner": d.source.owner, "provider": d.source.provider, "version": "1"}},
        "output": {"executionResult": {"externalExecutionId": commit.id, "externalExecutionSummary": commit.message}}
    })];
    if failed.stage != d.build.stage {
        details.push(json!({"stageName": d.build.stage, "actionName": d.build.name, "status": "Succeeded", "startTime": execution.start_time, "lastUpdateTime": now}));
    }
    details.push(json!({
        "stageName": failed.stage, "actionName": failed.name, "status": "Failed",
        "startTime": execution.start_time, "lastUpdateTime": now,
        "input": {"actionTypeId": {"category": failed.category, "owner": failed.owner, "provider": failed.provider, "version": "1"}},
        "output": {"executionResult": {"externalExecutionSummary": summary, "externalExecutionUrl": url, "errorDetails": {"code": "JobFailed", "message": summary}}}
    }));
    ctx.emu.seed_execution(json!({
        "pipelineName": d.pipeline,
        "pipelineExecution": {
            "pipelineExecutionId": execution.execution_id,
            "pipelineVersion": 1,
            "status": "Failed",
            "trigger": {"triggerType": "Webhook", "triggerDetail": d.webhook_arn},
            "artifactRevisions": [{
                "name": d.source.output_artifact.clone().unwrap_or_default(),
                "revisionId": commit.id,
                "revisionSummary": commit.message,
                "revisionUrl": format!("https://github.com/{}/commit/{}", ctx.opts.github_repo, commit.id)
            }]
        },
        "actionExecutionDetails": details
    }))?;
    ctx.say.simulated("the emulator cannot run a pipeline execution, so what CodePipeline would record for this failed run is seeded for the notifier to look up");
    Ok(())
}

/// Reads every SNS envelope that reached the inbox, waiting up to 10 s for at least `expected`.
async fn drain_inbox(ctx: &RunContext<'_>, expected: usize) -> Result<Vec<Notification>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    loop {
        let received = ctx
            .clients
            .sqs
            .receive_message()
            .queue_url(&ctx.inbox.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await?;
        for message in received.messages() {
            let envelope: Value = serde_json::from_str(message.body().unwrap_or("{}"))
                .context("an SNS envelope that is not JSON")?;
            out.push(Notification {
                subject: envelope["Subject"].as_str().map(str::to_owned),
                message: envelope["Message"].as_str().unwrap_or_default().to_owned(),
                attributes: envelope["MessageAttributes"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v["Value"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect(),
            });
            if let Some(handle) = message.receipt_handle() {
                ctx.clients
                    .sqs
                    .delete_message()
                    .queue_url(&ctx.inbox.queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await?;
            }
        }
        if (received.messages().is_empty() && out.len() >= expected) || Instant::now() > deadline {
            return Ok(out);
        }
    }
}

/// A notification as its email would read: subject, then the facts of the message.
pub fn render_notification(notification: &Notification) -> String {
    let subject = notification
        .subject
        .clone()
        .unwrap_or_else(|| "AWS Notification Message".to_owned());
    let mut text = format!("Subject: {subject}\n");
    match serde_json::from_str::<Value>(&notification.message) {
        Ok(body) if body.is_object() => {
            for (label, value) in [
                ("Pipeline", &body["pipeline"]),
                ("Environment", &body["environment"]),
                ("State", &body["state"]),
                ("Stage", &body["stage"]),
                ("Action", &body["action"]),
                ("Execution", &body["executionId"]),
                ("Commit", &body["commit"]["id"]),
                ("Message", &body["commit"]["message"]),
                ("Repository", &body["commit"]["repository"]),
            ] {
                if let Some(value) = value.as_str() {
                    text.push_str(&format!("{label}: {value}\n"));
                }
            }
            for failure in body["failures"].as_array().into_iter().flatten() {
                text.push_str(&format!(
                    "Failed: {}/{}: {} ({})\n",
                    failure["stage"].as_str().unwrap_or("?"),
                    failure["action"].as_str().unwrap_or("?"),
                    failure["summary"].as_str().unwrap_or(""),
                    failure["errorCode"].as_str().unwrap_or("")
                ));
            }
            if let Some(url) = body["consoleUrl"].as_str() {
                text.push_str(&format!("Details: {url}\n"));
            }
        }
        _ => text.push_str(&notification.message),
    }
    text
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
