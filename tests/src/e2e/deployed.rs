//! What the deploy created, read back from the emulator (pipeline, project, webhook, secret,
//! functions, rules): every step of a run works from this, so a wrongly deployed configuration
//! fails the rehearsal.

use super::context::{Clients, opts_names};
use super::support::Narrator;
use super::{DemoOptions, github};
use anyhow::{Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;

/// One action of the deployed pipeline.
#[derive(Clone, Debug)]
pub(super) struct Action {
    pub(super) stage: String,
    pub(super) name: String,
    pub(super) category: String,
    pub(super) owner: String,
    pub(super) provider: String,
    pub(super) configuration: BTreeMap<String, String>,
    pub(super) output_artifact: Option<String>,
}

/// A deployed EventBridge rule and its targets.
#[derive(Clone, Debug)]
pub(super) struct Rule {
    pub(super) name: String,
    pub(super) pattern: Value,
    pub(super) targets: Vec<RuleTarget>,
}

/// Where a rule sends a matching event, and how it shapes the input.
#[derive(Clone, Debug)]
pub(super) struct RuleTarget {
    pub(super) arn: String,
    pub(super) input_paths: Vec<(String, String)>,
    pub(super) input_template: Option<String>,
}

/// The webhook a push reaches (webhook source mode), and the secret GitHub signs with.
#[derive(Debug)]
pub(super) struct Webhook {
    pub(super) name: String,
    pub(super) arn: String,
    pub(super) url: String,
    pub(super) filters: Vec<github::Filter>,
    pub(super) secret_token: String,
    /// What the user pasted into GitHub's webhook settings (the environment's webhook secret).
    pub(super) github_secret: String,
}

/// A deploy stage of a pipeline with stages: its optional approval and its deploy action.
#[derive(Clone, Debug)]
pub(super) struct DeployStage {
    pub(super) approval: Option<Action>,
    pub(super) deploy: Action,
    /// The alarms the stage's `onSuccess` condition watches: its bake.
    pub(super) bake: Vec<BakeRule>,
}

/// One CloudWatchAlarm rule of a stage's `onSuccess` condition.
#[derive(Clone, Debug)]
pub(super) struct BakeRule {
    pub(super) alarm: String,
    pub(super) wait_minutes: String,
}

/// What the deploy created, read back from the emulator.
#[derive(Debug)]
pub(super) struct Deployed {
    pub(super) pipeline: String,
    pub(super) pipeline_arn: String,
    pub(super) pipeline_role_arn: String,
    pub(super) bucket: String,
    pub(super) source: Action,
    pub(super) build: Action,
    /// The first deploy action (the only one without stages).
    pub(super) deploy: Action,
    /// Every deploy stage in pipeline order, each with the approval before it.
    pub(super) stages: Vec<DeployStage>,
    pub(super) build_env: Vec<(String, String)>,
    pub(super) buildspec_name: String,
    /// `None` in codeconnections mode, where the connection starts the pipeline.
    pub(super) webhook: Option<Webhook>,
    pub(super) deploy_handler_env: Vec<(String, String)>,
    pub(super) notifier_env: Vec<(String, String)>,
    pub(super) notifier_arn: String,
    pub(super) topic_arn: String,
    pub(super) repository: String,
    pub(super) rules: Vec<Rule>,
    pub(super) account: String,
    pub(super) region: String,
}

impl Deployed {
    /// The webhook, which a push in webhook source mode needs.
    pub(super) fn webhook(&self) -> Result<&Webhook> {
        self.webhook.as_ref().with_context(|| {
            format!(
                "{} has no webhook (codeconnections mode): the connection starts it",
                self.pipeline
            )
        })
    }

    /// How CodePipeline names what started an execution: the webhook, or the connection
    /// (ListPipelineExecutions trigger types `Webhook` and `WebhookV2`).
    pub(super) fn trigger(&self) -> (&'static str, String) {
        match &self.webhook {
            Some(hook) => ("Webhook", hook.arn.clone()),
            None => (
                "WebhookV2",
                self.source
                    .configuration
                    .get("ConnectionArn")
                    .cloned()
                    .unwrap_or_default(),
            ),
        }
    }

    pub(super) fn role_arn(&self, name: &str) -> String {
        format!("arn:aws:iam::{}:role/{name}", self.account)
    }

    /// Says what was read back: the pipeline, its project, webhook and rules.
    pub(super) fn narrate(&self, say: &Narrator) {
        say.say(&format!(
            "read back: pipeline {} (Source → Build → Deploy), project {}, webhook {}, rules {}",
            self.pipeline,
            self.build
                .configuration
                .get("ProjectName")
                .map_or("?", String::as_str),
            self.webhook
                .as_ref()
                .map_or("none (codeconnections)", |w| w.name.as_str()),
            self.rules
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
}

/// The pipeline as GetPipeline answers: its ARN, role, artifact bucket and actions.
struct PipelineReadBack {
    arn: String,
    role_arn: String,
    bucket: String,
    source: Action,
    build: Action,
    stages: Vec<DeployStage>,
}

/// Reads back what `bootstrap deploy` created: every later step works from this, never from
/// what the product meant to create.
pub(super) async fn read_deployed(
    clients: &Clients,
    opts: &DemoOptions,
    outputs: &Value,
) -> Result<Deployed> {
    let env = opts_names(opts)?;
    let names = env.names();
    let pipeline_name = names.pipeline();
    let pipeline = read_pipeline(clients, &pipeline_name, outputs).await?;
    let (build_env, buildspec_name) = read_build_project(clients, &pipeline.build).await?;
    let webhook = match pipeline.source.provider.as_str() {
        "CodeStarSourceConnection" => None,
        _ => Some(read_webhook(clients, &pipeline_name, &names.webhook_secret()).await?),
    };
    let deploy = pipeline
        .stages
        .first()
        .map(|stage| stage.deploy.clone())
        .context("the deployed pipeline has no deploy action")?;
    let deploy_function = deploy
        .configuration
        .get("FunctionName")
        .cloned()
        .context("the Deploy action names no FunctionName")?;
    let (deploy_handler_env, _) = function_env(clients, deploy_function).await?;
    let (notifier_env, notifier_arn) = function_env(clients, names.event_notifier()).await?;
    let topic_arn = notifier_env
        .iter()
        .find(|(k, _)| k == pipeline_common::env_vars::NOTIFY_TOPIC_ARN)
        .map(|(_, v)| v.clone())
        .context("the event-notifier has no NOTIFY_TOPIC_ARN")?;
    let rules = read_rules(clients, [names.events_rule(), names.failed_rule()]).await?;
    Ok(Deployed {
        pipeline: pipeline_name,
        pipeline_arn: pipeline.arn,
        pipeline_role_arn: pipeline.role_arn,
        bucket: pipeline.bucket,
        source: pipeline.source,
        build: pipeline.build,
        deploy,
        stages: pipeline.stages,
        build_env,
        buildspec_name,
        webhook,
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

async fn read_pipeline(
    clients: &Clients,
    pipeline_name: &str,
    outputs: &Value,
) -> Result<PipelineReadBack> {
    let got = clients
        .codepipeline
        .get_pipeline()
        .name(pipeline_name)
        .send()
        .await
        .with_context(|| format!("GetPipeline {pipeline_name} after deploy"))?;
    let pipeline = got
        .pipeline()
        .context("GetPipeline answered without a pipeline")?;
    let arn = got
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
    let mut bakes = BTreeMap::new();
    for stage in pipeline.stages() {
        let rules = stage
            .on_success()
            .into_iter()
            .flat_map(|c| c.conditions())
            .flat_map(|c| c.rules());
        let bake: Vec<BakeRule> = rules
            .filter_map(|rule| {
                let config = rule.configuration()?;
                Some(BakeRule {
                    alarm: config.get("AlarmName")?.clone(),
                    wait_minutes: config.get("WaitTime").cloned().unwrap_or_default(),
                })
            })
            .collect();
        bakes.insert(stage.name().to_owned(), bake);
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
    let (source, build) = (find("Source")?, find("Build")?);
    let stages = deploy_stages(&actions, &mut bakes);
    let bucket = pipeline
        .artifact_store()
        .map(|s| s.location().to_owned())
        .or_else(|| outputs["artifactBucket"].as_str().map(str::to_owned))
        .context("the pipeline has no artifact store")?;
    Ok(PipelineReadBack {
        arn,
        role_arn: pipeline.role_arn().to_owned(),
        bucket,
        source,
        build,
        stages,
    })
}

/// The deploy actions in pipeline order, each with the manual approval of the stage before it
/// (bootstrap puts an approval in a stage of its own, `Approve-NAME`, before stage `NAME`).
fn deploy_stages(
    actions: &[Action],
    bakes: &mut BTreeMap<String, Vec<BakeRule>>,
) -> Vec<DeployStage> {
    let mut stages = Vec::new();
    let mut approval = None;
    for action in actions {
        match action.category.as_str() {
            "Approval" => approval = Some(action.clone()),
            "Invoke" => stages.push(DeployStage {
                approval: approval.take(),
                deploy: action.clone(),
                bake: bakes.remove(&action.stage).unwrap_or_default(),
            }),
            _ => {}
        }
    }
    stages
}

/// The Build action's project: its environment variables and the buildspec it runs.
async fn read_build_project(
    clients: &Clients,
    build: &Action,
) -> Result<(Vec<(String, String)>, String)> {
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
    Ok((build_env, buildspec_name))
}

async fn read_webhook(clients: &Clients, pipeline_name: &str, secret: &str) -> Result<Webhook> {
    let github_secret = clients
        .secrets
        .get_secret_value()
        .secret_id(secret)
        .send()
        .await
        .with_context(|| format!("reading the webhook secret {secret}"))?
        .secret_string()
        .context("the webhook secret has no string value")?
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
    let filters = definition
        .filters()
        .iter()
        .map(|f| github::Filter {
            json_path: f.json_path().to_owned(),
            match_equals: f.match_equals().map(str::to_owned),
        })
        .collect();
    let secret_token = definition
        .authentication_configuration()
        .and_then(|a| a.secret_token())
        .unwrap_or_default()
        .to_owned();
    Ok(Webhook {
        name: definition.name().to_owned(),
        arn: webhook.arn().unwrap_or_default().to_owned(),
        url: webhook.url().to_owned(),
        filters,
        secret_token,
        github_secret,
    })
}

/// A function's environment variables and ARN, as GetFunctionConfiguration answers.
async fn function_env(clients: &Clients, name: String) -> Result<(Vec<(String, String)>, String)> {
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
    Ok((vars, config.function_arn().unwrap_or_default().to_owned()))
}

/// Each rule's event pattern and its targets with their input transformers.
async fn read_rules(clients: &Clients, rule_names: [String; 2]) -> Result<Vec<Rule>> {
    let mut rules = Vec::new();
    for rule_name in rule_names {
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
    Ok(rules)
}
