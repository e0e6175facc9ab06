//! The four commands' operations: plan, deploy, destroy, outputs. They compose config,
//! desired state, observation, the pure plan and the engine; the CLI layer only parses, what
//! the user sees is drawn in [`render`], and every AWS call is made in `resources/`.

pub mod approver;
mod render;

use crate::artifacts;
use crate::aws::{self, Clients, Target};
use crate::config::{Config, SourceMode};
use crate::desired::{self, Late, Zips};
use crate::engine;
use crate::model::{Kind, ResourceId};
use crate::plan::{self, Action, Plan};
use crate::progress::{Progress, StepAction};
use crate::resources::{self, Ctx, Inputs};
use crate::retry_notice::RetryNotice;
use crate::secret::Secret;
use crate::target_facts::TargetFacts;
use anyhow::{Context, Result, bail};
use pipeline_common::EnvName;
use render::{confirm, print_plan};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Text,
    Json,
}

/// Clients plus where they point, resolved once per command.
#[derive(Debug)]
pub struct Session {
    pub clients: Clients,
    pub target: Target,
    pub progress: Progress,
    pub output: Output,
}

impl Session {
    pub async fn connect(region: Option<&str>, output: Output) -> Result<Self> {
        let config = aws::load_config(region).await;
        let region = config
            .region()
            .map(ToString::to_string)
            .unwrap_or_else(|| "us-east-1".to_owned());
        let clients = Clients::with_notice(&config, RetryNotice::new(output == Output::Json));
        let account_id = resources::account::caller_account(&clients, &region).await?;
        Ok(Self {
            clients,
            target: Target { account_id, region },
            progress: Progress::new(output == Output::Json),
            output,
        })
    }

    pub fn ctx<'a>(&'a self, inputs: &'a Inputs) -> Ctx<'a> {
        Ctx {
            clients: &self.clients,
            target: &self.target,
            progress: &self.progress,
            inputs,
        }
    }
}

/// Everything `plan` computed, for printing and for `deploy` to apply.
#[derive(Debug)]
pub struct Planned {
    pub desired: Vec<crate::model::Desired>,
    pub observed: engine::ObservedMap,
    pub plan: Plan,
    /// What the user should know before applying (e.g. a target that does not roll back).
    pub warnings: Vec<String>,
}

async fn compute(session: &Session, config: &Config, inputs: &Inputs) -> Result<Planned> {
    config.check_target(&session.target)?;
    let [deploy_handler, event_notifier] = lambda_zips(config)?;
    let zips = Zips {
        deploy_handler,
        event_notifier,
    };
    let ctx = session.ctx(inputs);
    let inventory = desired::inventory(&config.env, &session.target);
    // Reads only, so the boundary's check goes out with them: one round, the refusal first.
    let (boundary, observed) = futures::join!(
        require_boundary(session, config),
        engine::observe_all(ctx, &inventory)
    );
    boundary?;
    let observed = observed?;
    let connection_id = ResourceId::new(Kind::Connection, config.env.names().connection());
    let deploy_webhook_secret_arn = match &config.deploy_webhook_secret_arn {
        Some(given) => {
            Some(resources::secrets::resolve_arn(ctx, given, "--deploy-webhook-secret-arn").await?)
        }
        None => None,
    };
    let deploy_target = match &config.deploy_target {
        Some(target) => Some(resources::deploy_target::inspect(ctx, target).await?),
        None => None,
    };
    let stage_targets = stage_targets(ctx, config).await?;
    // The same refusal as --deploy-webhook-secret-arn's: the secret must exist in the stack's
    // account and region, and the notifier's grant names its full ARN.
    let github_status_token_secret_arn = match &config.github_status_token_secret {
        Some(given) => {
            // in github-webhook mode the source's token secret sets statuses unless one is given
            let flag = if config.github_token_secret.as_ref() == Some(given) {
                "--github-token-secret (the token commit statuses are set with too)"
            } else {
                "--github-status-token-secret"
            };
            Some(resources::secrets::resolve_arn(ctx, given, flag).await?)
        }
        None => None,
    };
    let connection_warning = match &config.connection_arn {
        Some(arn) => resources::connection::inspect_given(ctx, arn).await?,
        None => None,
    };
    let late = Late {
        connection_arn: observed
            .get(&connection_id)
            .and_then(Option::as_ref)
            .and_then(|o| o.arn.clone()),
        deploy_webhook_secret_arn,
        deploy_target,
        stage_targets,
        github_status_token_secret_arn,
    };
    let mut warnings: Vec<String> = match (&config.deploy_target, &late.deploy_target) {
        (Some(target), Some(facts)) => facts.warning(target).into_iter().collect(),
        _ => Vec::new(),
    };
    for (stage, facts) in config.stages.iter().zip(&late.stage_targets) {
        warnings.extend(
            facts
                .warning(&stage.target)
                .map(|warning| format!("stage {}: {warning}", stage.name)),
        );
    }
    warnings.extend(connection_warning);
    let desired = desired::build(config, &session.target, &zips, &late);
    let plan = plan::plan(&desired, &observed, &inventory, config.env.as_str());
    Ok(Planned {
        desired,
        observed,
        plan,
        warnings,
    })
}

/// Reads every stage's target as `--deploy-target` is read, all at once. The image is built
/// once for all of them, so they must share one CPU architecture.
async fn stage_targets(ctx: Ctx<'_>, config: &Config) -> Result<Vec<TargetFacts>> {
    let reads = config.stages.iter().map(|stage| async move {
        resources::deploy_target::inspect(ctx, &stage.target)
            .await
            .with_context(|| format!("stage {}", stage.name))
    });
    let facts = futures::future::try_join_all(reads).await?;
    let architectures: Vec<String> = config
        .stages
        .iter()
        .zip(&facts)
        .map(|(stage, facts)| format!("{} {}", stage.name, facts.architecture()))
        .collect();
    if facts
        .windows(2)
        .any(|pair| pair[0].architecture() != pair[1].architecture())
    {
        anyhow::bail!(
            "the stages' targets run on different CPU architectures ({}): the one image the build makes runs on one; move the targets to one architecture, or give each its own environment",
            architectures.join(", ")
        );
    }
    Ok(facts)
}

/// Refuses, before any write, when the roles' permissions boundary is missing: the deployer may
/// create a role only with it attached, and only an administrator may create it.
async fn require_boundary(session: &Session, config: &Config) -> Result<()> {
    let inputs = Inputs::default();
    let arn = crate::policies::boundary::arn(&config.env, &session.target);
    if resources::iam::policy_exists(session.ctx(&inputs), &arn).await? {
        return Ok(());
    }
    let env = &config.env;
    bail!(
        "the permissions boundary {arn} does not exist: every role bootstrap creates carries it \
         (the most the environment's roles may ever do), and bootstrap may not create it itself. \
         An administrator creates it once: `bootstrap deployer-policy --env {env} --boundary \
         --output json > boundary-{env}.json` (with the same options as this command) and `aws iam \
         create-policy --policy-name {} --policy-document file://boundary-{env}.json`; then run \
         this again. Nothing was changed",
        env.names().permissions_boundary()
    )
}

/// The functions' zips (built in, or under `--artifacts-dir`), read before any AWS call so a
/// bootstrap without them says how to get them at once.
fn lambda_zips(config: &Config) -> Result<[artifacts::LambdaZip; 2]> {
    artifacts::resolve(config.artifacts_dir.as_deref(), config.lambda_arch)
}

/// `plan`: 0 when nothing would change, 2 when something would, 1 when `deploy` would refuse
/// (a conflict), as the README's exit codes say.
pub async fn plan(config: &Config, region: Option<&str>, output: Output) -> Result<u8> {
    lambda_zips(config)?;
    let session = Session::connect(region, output).await?;
    let mut planned = compute(&session, config, &Inputs::default()).await?;
    planned.warnings.extend(missing_github_token(config));
    print_plan(&session, config, &planned);
    Ok(if !planned.plan.conflicts().is_empty() {
        1
    } else if planned.plan.has_changes() {
        2
    } else {
        0
    })
}

/// What `deploy` will need that `plan` does not read: the GitHub OAuth token of the version 1
/// source, when neither `--github-token-secret` nor `GITHUB_TOKEN` provides it.
fn missing_github_token(config: &Config) -> Option<String> {
    let token_set = std::env::var("GITHUB_TOKEN").is_ok_and(|token| !token.trim().is_empty());
    (config.source == SourceMode::GithubWebhook
        && config.github_token_secret.is_none()
        && !token_set)
        .then(|| {
            "deploy will need the GitHub OAuth token of the webhook source: set GITHUB_TOKEN, or \
             pass --github-token-secret NAME of a Secrets Manager secret holding it (or use \
             --source codeconnections, which needs none)"
                .to_owned()
        })
}

async fn github_token(session: &Session, config: &Config) -> Result<Secret> {
    if let Some(name) = &config.github_token_secret {
        let inputs = Inputs::default();
        let token = resources::secrets::read_value_if_exists(session.ctx(&inputs), name)
            .await
            .with_context(|| format!("reading the GitHub token from the secret `{name}`"))?;
        return token.with_context(|| {
            format!(
                "--github-token-secret {name}: no such secret in account {} region {}. Create it \
                 with the GitHub token (one that may admin the repository's webhooks): `aws \
                 secretsmanager create-secret --name {name} --secret-string TOKEN`, or set \
                 GITHUB_TOKEN instead of --github-token-secret",
                session.target.account_id, session.target.region
            )
        });
    }
    match std::env::var("GITHUB_TOKEN") {
        Ok(token) if !token.trim().is_empty() => Ok(Secret::new(token.trim())),
        _ => bail!(
            "the GitHub source (version 1 action) needs an OAuth token: set GITHUB_TOKEN, or pass \
             --github-token-secret NAME of a Secrets Manager secret holding it"
        ),
    }
}

/// `deploy`: create or converge everything, then print the outputs.
pub async fn deploy(
    config: &Config,
    region: Option<&str>,
    output: Output,
    yes: bool,
) -> Result<()> {
    lambda_zips(config)?;
    let session = Session::connect(region, output).await?;
    let mut inputs = Inputs::default();
    let mut planned = compute(&session, config, &inputs).await?;
    if let Some(Action::Conflict { reason }) = planned.plan.conflicts().first().map(|c| &c.action) {
        bail!("{reason}\nnothing was changed");
    }
    if !planned.plan.has_changes() {
        session
            .progress
            .line("no changes: everything is up to date");
        return print_outputs(&session, &config.env, &inputs, Some(&planned.observed)).await;
    }
    if output == Output::Text {
        print_plan(&session, config, &planned);
    }
    confirm("deploy these changes", yes)?;
    crate::interrupt::install();
    let pipeline_id = ResourceId::new(Kind::Pipeline, config.env.names().pipeline());
    let pipeline_changes = matches!(
        planned.plan.action(&pipeline_id),
        Some(Action::Create | Action::Update { .. })
    );
    if config.source == SourceMode::GithubWebhook {
        if pipeline_changes {
            inputs.github_token = Some(github_token(&session, config).await?);
        }
        session.progress.line(
            "note: the GitHub version 1 source action is no longer recommended by AWS; \
             `--source codeconnections` uses a CodeStar connection instead",
        );
    }
    // A connection's ARN carries a random id: create it first so the pipeline and its role can name it.
    if config.source == SourceMode::Codeconnections && config.connection_arn.is_none() {
        let connection_id = ResourceId::new(Kind::Connection, config.env.names().connection());
        let to_create = planned.desired.iter().find(|d| {
            d.id == connection_id && matches!(planned.plan.action(&d.id), Some(Action::Create))
        });
        if let Some(want) = to_create {
            let create = resources::create(session.ctx(&inputs), want);
            session
                .progress
                .step(&connection_id, StepAction::Create, None, create)
                .await?;
            planned = compute(&session, config, &inputs).await?;
        }
    }
    engine::apply(
        session.ctx(&inputs),
        &planned.plan,
        &planned.desired,
        &planned.observed,
    )
    .await?;
    let counts = planned.plan.counts();
    session.progress.line(&format!(
        "deploy finished in {:.1?}: {} created, {} updated, {} deleted, {} unchanged",
        session.progress.elapsed(),
        counts.get("create").unwrap_or(&0),
        counts.get("update").unwrap_or(&0),
        counts.get("delete").unwrap_or(&0),
        counts.get("unchanged").unwrap_or(&0),
    ));
    if !config.notify_emails.is_empty() {
        session.progress.line("email subscriptions stay pending until each recipient confirms the message AWS sends them");
    }
    print_outputs(&session, &config.env, &inputs, None).await
}

/// `destroy`: remove everything the environment owns, then verify nothing is left.
pub async fn destroy(
    env_name: &EnvName,
    region: Option<&str>,
    output: Output,
    yes: bool,
) -> Result<()> {
    let session = Session::connect(region, output).await?;
    let inputs = Inputs::default();
    let ctx = session.ctx(&inputs);
    let env = env_name.as_str();
    let inventory = desired::inventory(env_name, &session.target);
    let observed = engine::observe_all(ctx, &inventory).await?;
    let existing: Vec<&ResourceId> = inventory
        .iter()
        .filter(|id| matches!(observed.get(*id), Some(Some(_))))
        .collect();
    if output == Output::Text {
        println!(
            "Destroy environment `{env}` (account {}, {}):",
            session.target.account_id, session.target.region
        );
        for id in &existing {
            let ours = observed[*id]
                .as_ref()
                .is_some_and(|o| plan::is_ours(o, env));
            println!(
                "  {} {id}",
                if ours {
                    "- delete"
                } else {
                    "! keep (not ours)"
                }
            );
        }
        if existing.is_empty() {
            println!("  nothing to delete");
        }
    }
    if !existing.is_empty() {
        confirm(&format!("destroy environment `{env}`"), yes)?;
    }
    crate::interrupt::install();
    let deleted = engine::destroy(ctx, &inventory, &observed, env).await?;
    let after = engine::observe_all(ctx, &inventory).await?;
    let remaining: Vec<String> = after
        .iter()
        .filter_map(|(id, o)| {
            o.as_ref()
                .filter(|o| plan::is_ours(o, env))
                .map(|_| id.to_string())
        })
        .chain(tagged_leftovers(&session, env).await)
        .collect();
    if output == Output::Json {
        let deleted: Vec<String> = deleted.iter().map(ToString::to_string).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({ "env": env, "deleted": deleted, "remaining": remaining })
            )?
        );
    }
    if !remaining.is_empty() {
        bail!(
            "destroy finished but these remain:\n  {}\nrun destroy again; if they persist, remove them by hand",
            remaining.join("\n  ")
        );
    }
    session.progress.line(&format!(
        "destroy finished in {:.1?}: {} deleted, nothing of `{env}` remains",
        session.progress.elapsed(),
        deleted.len()
    ));
    // The boundary is the administrator's, made with the deployer's role: the deployer may not
    // delete it, and a later deploy of the environment needs it again.
    session.progress.line(&format!(
        "the roles' permissions boundary {} stays (an administrator created it; `aws iam \
         delete-policy --policy-arn {}` removes it once the environment is gone for good)",
        env_name.names().permissions_boundary(),
        crate::policies::boundary::arn(env_name, &session.target)
    ));
    Ok(())
}

/// Anything still tagged as ours, through the Resource Groups Tagging API, which can lag behind
/// deletions for a few seconds: asked up to 4 times, 2 s apart, while it still lists something.
/// The connection `--connection-arn` gave the pipeline (bootstrap made none of its own), read
/// from the pipeline's source, with its status.
async fn given_connection(
    ctx: Ctx<'_>,
    pipeline: &crate::model::Observed,
) -> Result<Option<(Option<String>, Option<String>)>> {
    let crate::model::Spec::Pipeline(spec) = &pipeline.spec else {
        return Ok(None);
    };
    let crate::model::SourceSpec::Connection {
        connection_arn: Some(arn),
        ..
    } = &spec.source
    else {
        return Ok(None);
    };
    let status = resources::connection::status_of(ctx, arn).await?;
    Ok(Some((Some(arn.clone()), status)))
}

/// Why there are no outputs: nothing deployed, or an environment a `deploy` or `destroy` left
/// half done (what exists costs money, so it is named).
async fn not_deployed(ctx: Ctx<'_>, env: &EnvName) -> anyhow::Error {
    let target = ctx.target;
    let partly = match made_so_far(ctx, env).await {
        Ok(partly) => partly,
        Err(err) => return err,
    };
    if partly.is_empty() {
        return anyhow::anyhow!(
            "environment `{env}` is not deployed in account {} ({}): run `bootstrap deploy --env {env}` first",
            target.account_id,
            target.region,
        );
    }
    anyhow::anyhow!(
        "environment `{env}` is only partly there in account {} ({}): its pipeline does not \
         exist, but {} of its resources do ({}). They cost money until `bootstrap deploy \
         --env {env}` finishes the environment or `bootstrap destroy --env {env}` removes them",
        target.account_id,
        target.region,
        partly.len(),
        partly.join(", ")
    )
}

/// What of the environment exists and is ours, for an environment a `deploy` or `destroy` left
/// half done.
async fn made_so_far(ctx: Ctx<'_>, env: &EnvName) -> Result<Vec<String>> {
    let ids = desired::inventory(env, ctx.target);
    let observed = engine::observe_all(ctx, &ids).await?;
    Ok(ids
        .iter()
        .filter(|id| {
            observed
                .get(*id)
                .and_then(Option::as_ref)
                .is_some_and(|found| plan::is_ours(found, env.as_str()))
        })
        .map(ToString::to_string)
        .collect())
}

async fn tagged_leftovers(session: &Session, env: &str) -> Vec<String> {
    let inputs = Inputs::default();
    let ctx = session.ctx(&inputs);
    let mut last = Vec::new();
    for attempt in 0..4 {
        if attempt > 0 {
            session
                .progress
                .line("waiting for the tagging API to reflect the deletions");
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
        match resources::tagging::tagged_as_ours(ctx, env).await {
            Ok(arns) if arns.is_empty() => return arns,
            Ok(arns) => last = arns,
            Err(err) => {
                session.progress.line(&format!(
                    "could not double-check through the tagging API ({err:#}); the per-service check above passed"
                ));
                return Vec::new();
            }
        }
    }
    last
}

/// `outputs`: what users wire into other systems.
pub async fn outputs(env: &EnvName, region: Option<&str>, output: Output) -> Result<()> {
    let session = Session::connect(region, output).await?;
    print_outputs(&session, env, &Inputs::default(), None).await
}

/// Prints the outputs; `known` is a state read moments ago (a no-op deploy's), which saves
/// reading the pipeline and the connection again.
async fn print_outputs(
    session: &Session,
    env: &EnvName,
    inputs: &Inputs,
    known: Option<&engine::ObservedMap>,
) -> Result<()> {
    let ctx = session.ctx(inputs);
    let n = env.names();
    let target = &session.target;
    let ids = [
        ResourceId::new(Kind::Pipeline, n.pipeline()),
        ResourceId::new(Kind::Connection, n.connection()),
    ];
    let webhook = ResourceId::new(Kind::Webhook, n.webhook());
    // An observed webhook's status is its URL; otherwise it is read beside the rest.
    let (observed, webhook_url) = match known {
        Some(known) => {
            let observed = ids
                .iter()
                .map(|id| (id.clone(), known.get(id).cloned().flatten()))
                .collect();
            let url = match known.get(&webhook) {
                Some(seen) => Ok(seen.as_ref().and_then(|w| w.status.clone())),
                None => resources::webhook::url_of(ctx, &webhook.name).await,
            };
            (observed, url)
        }
        None => {
            let (observed, url) = futures::join!(
                engine::observe_all(ctx, &ids),
                resources::webhook::url_of(ctx, &webhook.name)
            );
            (observed?, url)
        }
    };
    let Some(Some(pipeline)) = observed.get(&ids[0]) else {
        return Err(not_deployed(ctx, env).await);
    };
    // Only once the pipeline is known to exist: "not deployed" is the more useful answer.
    let webhook_url = webhook_url?;
    let connection = match observed.get(&ids[1]).and_then(Option::as_ref) {
        Some(own) => Some((own.arn.clone(), own.status.clone())),
        None => given_connection(ctx, pipeline).await?,
    };
    let mut outputs = serde_json::Map::new();
    let console = format!("https://{}.console.aws.amazon.com", target.region);
    outputs.insert(
        "pipelineUrl".into(),
        json!(format!(
            "{console}/codesuite/codepipeline/pipelines/{}/view?region={}",
            n.pipeline(),
            target.region
        )),
    );
    outputs.insert(
        "ecrRepositoryUri".into(),
        json!(desired::repository_uri(env, target)),
    );
    outputs.insert(
        "artifactBucket".into(),
        json!(n.artifact_bucket(&target.account_id)),
    );
    outputs.insert(
        "deployHandlerArn".into(),
        json!(target.arn("lambda", &format!("function:{}", n.deploy_handler()))),
    );
    outputs.insert(
        "eventNotifierArn".into(),
        json!(target.arn("lambda", &format!("function:{}", n.event_notifier()))),
    );
    outputs.insert(
        "notificationTopicArn".into(),
        json!(target.arn("sns", &n.notification_topic())),
    );
    if let Some(url) = webhook_url {
        outputs.insert("webhookUrl".into(), json!(url));
    }
    let pending = connection
        .as_ref()
        .is_some_and(|(_, status)| status.as_deref() == Some("PENDING"));
    if let Some((arn, status)) = connection {
        outputs.insert("connectionArn".into(), json!(arn));
        outputs.insert("connectionStatus".into(), json!(status));
    }
    if session.output == Output::Json {
        println!("{}", serde_json::to_string_pretty(&Value::Object(outputs))?);
    } else {
        render::print_outputs(env, target, &outputs, pending);
    }
    Ok(())
}

/// `deployer-policy`: the IAM policy a person or CI job needs to run this environment's
/// commands, or with `boundary` the permissions boundary of the environment's roles (which the
/// administrator creates once). JSON output is the document alone, ready for `aws iam`.
pub async fn deployer_policy(
    scope: &crate::config::PolicyScope,
    region: Option<&str>,
    output: Output,
    boundary: bool,
) -> Result<()> {
    use crate::policies::deployer;
    let session = Session::connect(region, output).await?;
    if boundary {
        return boundary_policy(&session, scope).await;
    }
    let policy = deployer::policy(&deployer::Scope {
        env: &scope.env,
        target: &session.target,
        source: scope.source,
        connection_arn: scope.connection_arn.as_deref(),
        github_token_secret: scope.github_token_secret.as_deref(),
        deploy_webhook_secret_arn: scope.deploy_webhook_secret_arn.as_deref(),
        deploy_target: scope.deploy_target.as_ref(),
        stage_targets: &scope.stage_targets,
        base_image_source: scope.base_image_source,
        github_status_token_secret: scope.github_status_token_secret.as_deref(),
    });
    let text = serde_json::to_string_pretty(&policy).context("rendering the policy")?;
    if output == Output::Json {
        println!("{text}");
        return Ok(());
    }
    render::print_deployer_policy(&scope.env, &session.target, &text, deployer::size(&policy));
    Ok(())
}

/// The roles' permissions boundary for the scope: the deploy target is read (as `plan` reads
/// it) because the deploy-handler's grants are scoped to what it is.
async fn boundary_policy(session: &Session, scope: &crate::config::PolicyScope) -> Result<()> {
    use crate::policies::boundary;
    let inputs = Inputs::default();
    let facts = match &scope.deploy_target {
        Some(target) => {
            Some(resources::deploy_target::inspect(session.ctx(&inputs), target).await?)
        }
        None => None,
    };
    let alarm_arns: Vec<String> = scope
        .stage_alarms
        .iter()
        .map(|alarm| session.target.arn("cloudwatch", &format!("alarm:{alarm}")))
        .collect();
    let shift_alarm_arns: Vec<String> = scope
        .shift_alarms
        .iter()
        .map(|alarm| session.target.arn("cloudwatch", &format!("alarm:{alarm}")))
        .collect();
    let mut stage_facts = Vec::new();
    for target in &scope.stage_targets {
        stage_facts.push(resources::deploy_target::inspect(session.ctx(&inputs), target).await?);
    }
    let target = &session.target;
    let cache =
        (scope.base_image_source == crate::config::BaseImageSource::PullThroughCache).then(|| {
            target.arn(
                "ecr",
                &format!("repository/{}/*", scope.env.names().base_image_cache()),
            )
        });
    let role_inputs = boundary::RoleInputs {
        codeconnections: scope.source == SourceMode::Codeconnections,
        connection_arn: scope.connection_arn.as_deref(),
        webhook_secret: scope.deploy_webhook_secret_arn.as_deref(),
        deploy_target: facts.as_ref(),
        stage_targets: &stage_facts,
        bake_alarms: &alarm_arns,
        topic_kms_key: scope.topic_kms_key.as_deref(),
        base_image_cache: cache.as_deref(),
        status_token_secret: scope.github_status_token_secret.as_deref(),
        shift_alarms: &shift_alarm_arns,
    };
    let arns = desired::arns(&scope.env, target);
    let policy = boundary::document_for(&scope.env, &arns, target, &role_inputs);
    let text = serde_json::to_string_pretty(&policy).context("rendering the boundary")?;
    if session.output == Output::Json {
        println!("{text}");
        return Ok(());
    }
    let size = crate::policies::deployer::size(&policy);
    render::print_boundary_policy(&scope.env, target, &text, size);
    Ok(())
}
