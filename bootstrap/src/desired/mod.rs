//! The desired state of one environment, built as data from the configuration: the roles, log
//! groups, storage and functions here; the build and the pipeline in [`pipeline`]; the
//! notification rules in [`notifications`]; every id an environment can own in [`inventory`].

#[cfg(test)]
mod base_image_tests;
#[cfg(test)]
mod build_tests;
mod inventory;
mod notifications;
mod pipeline;
#[cfg(test)]
mod status_shift_tests;

pub use pipeline::{ECR_PUBLIC, OFFICIAL_IMAGES, base_image_registry};

pub use inventory::inventory;

use crate::artifacts::LambdaZip;
use crate::aws::Target;
use crate::config::{BaseImageSource, Config, SourceMode};
use crate::model::*;
use crate::policies::{self, Arns};
use pipeline_common::{EnvName, ResourceNames, codebuild_env, env_vars, tags};
use serde_json::json;
use std::collections::BTreeMap;

/// CodeBuild's managed image for Docker builds on x86_64.
pub const BUILD_IMAGE: &str = "aws/codebuild/amazonlinux-x86_64-standard:5.0";
/// The build project's one local cache mode: the Docker layers of earlier builds on that host.
pub const BUILD_CACHE_MODE: &str = "LOCAL_DOCKER_LAYER_CACHE";
/// The KMS key CodePipeline and CodeBuild encrypt the artifacts with: the AWS managed key for
/// S3, which is their default too, named on the artifact store so the declaration says it.
pub const ARTIFACT_KEY_ALIAS: &str = "alias/aws/s3";
/// Tagged images the repository keeps.
pub const KEEP_TAGGED_IMAGES: u32 = 30;
/// Artifacts and their old versions expire after this many days.
pub const ARTIFACT_EXPIRY_DAYS: i32 = 30;
pub use crate::model::INLINE_POLICY_NAME;
/// The event-notifier's timeout: a commit status's retries are bounded to 19 s in all.
pub const NOTIFIER_TIMEOUT_SECONDS: i32 = 30;
/// Statement id of the permission letting the events rule invoke the notifier.
pub const EVENTS_PERMISSION_SID: &str = "events-rule-invoke";

/// The Lambda zips the environment deploys.
#[derive(Clone, Debug)]
pub struct Zips {
    pub deploy_handler: LambdaZip,
    pub event_notifier: LambdaZip,
}

/// Values only known once something exists (a created connection's ARN).
#[derive(Clone, Debug, Default)]
pub struct Late {
    pub connection_arn: Option<String>,
    /// `--deploy-webhook-secret-arn` resolved to the secret's full ARN (with its random suffix).
    pub deploy_webhook_secret_arn: Option<String>,
    /// What `--deploy-target` was found to be: what the deploy-handler's grants are scoped to.
    pub deploy_target: Option<crate::target_facts::TargetFacts>,
    /// What each stage's target (`--stage`) was found to be, in the stages' order.
    pub stage_targets: Vec<crate::target_facts::TargetFacts>,
    /// `--github-status-token-secret` resolved to the secret's full ARN: the event-notifier sets
    /// commit statuses with the token in it; `None`: no commit status.
    pub github_status_token_secret_arn: Option<String>,
}

/// The ARNs of the alarms the stages bake with (CloudWatch alarm ARN:
/// `arn:PARTITION:cloudwatch:REGION:ACCOUNT:alarm:NAME`).
pub fn bake_alarm_arns(config: &Config, target: &Target) -> Vec<String> {
    let mut arns: Vec<String> = config
        .stages
        .iter()
        .flat_map(|stage| &stage.alarms)
        .map(|alarm| target.arn("cloudwatch", &format!("alarm:{alarm}")))
        .collect();
    arns.sort();
    arns.dedup();
    arns
}

/// The ARNs of the alarms the stages' traffic shifts watch (the deploy-handler reads them).
pub fn shift_alarm_arns(config: &Config, target: &Target) -> Vec<String> {
    crate::config::shift_alarms(&config.stages)
        .iter()
        .map(|alarm| target.arn("cloudwatch", &format!("alarm:{alarm}")))
        .collect()
}

impl Late {
    /// Every target the deploy-handler rolls out to: `--deploy-target`'s or the stages'.
    pub fn rollout_targets(&self) -> Vec<&crate::target_facts::TargetFacts> {
        self.deploy_target
            .iter()
            .chain(self.stage_targets.iter())
            .collect()
    }
}

pub fn arns(env: &EnvName, target: &Target) -> Arns {
    let n = env.names();
    let bucket = n.artifact_bucket(&target.account_id);
    Arns {
        bucket: format!("arn:{}:s3:::{bucket}", target.partition()),
        repository: target.arn("ecr", &format!("repository/{}", n.ecr_repository())),
        project: target.arn("codebuild", &format!("project/{}", n.codebuild_project())),
        report_group: target.arn(
            "codebuild",
            &format!("report-group/{}", n.codebuild_report_group()),
        ),
        pipeline: target.arn("codepipeline", &n.pipeline()),
        deploy_handler: target.arn("lambda", &format!("function:{}", n.deploy_handler())),
        codebuild_log_group: target.arn("logs", &format!("log-group:{}", n.codebuild_log_group())),
        deploy_handler_log_group: target.arn(
            "logs",
            &format!("log-group:{}", n.deploy_handler_log_group()),
        ),
        event_notifier_log_group: target.arn(
            "logs",
            &format!("log-group:{}", n.event_notifier_log_group()),
        ),
        topic: target.arn("sns", &n.notification_topic()),
        failed_rule: target.arn("events", &format!("rule/{}", n.failed_rule())),
        event_bus: target.arn("events", "event-bus/default"),
        deployment_event_source: n.deployment_event_source(),
        codebuild_role: target.role_arn(&n.codebuild_role()),
        pipeline_role: target.role_arn(&n.pipeline_role()),
    }
}

pub fn repository_uri(env: &EnvName, target: &Target) -> String {
    format!(
        "{}.dkr.ecr.{}.{}/{}",
        target.account_id,
        target.region,
        target.dns_suffix(),
        env.names().ecr_repository()
    )
}

fn id(kind: Kind, name: impl Into<String>) -> ResourceId {
    ResourceId::new(kind, name)
}

pub fn resource_tags(config: &Config) -> Tags {
    let mut all = config.tags.clone();
    all.insert(
        tags::PROJECT.to_owned(),
        config
            .tags
            .get(tags::PROJECT)
            .cloned()
            .unwrap_or_else(|| tags::PROJECT_VALUE.to_owned()),
    );
    all.insert(tags::ENVIRONMENT.to_owned(), config.env.to_string());
    all.insert(
        tags::MANAGED_BY.to_owned(),
        tags::MANAGED_BY_VALUE.to_owned(),
    );
    all
}

/// Builds the whole desired state. Pure: same inputs, same output.
/// What every family of resources is built from.
struct Stack<'a> {
    config: &'a Config,
    target: &'a Target,
    zips: &'a Zips,
    late: &'a Late,
    env: &'a EnvName,
    n: ResourceNames<'a>,
    arns: Arns,
    tags: Tags,
    webhook_mode: bool,
    /// The connection the pipeline uses; `None` in webhook mode (a connection left from the
    /// other source mode is about to be deleted: nothing is granted on it).
    connection_arn: Option<String>,
}

fn desired(kind: Kind, name: String, spec: Spec, depends_on: Vec<ResourceId>) -> Desired {
    Desired {
        id: id(kind, name),
        spec,
        depends_on,
    }
}

/// The environment's desired state, family by family, sorted by id.
pub fn build(config: &Config, target: &Target, zips: &Zips, late: &Late) -> Vec<Desired> {
    let env = &config.env;
    let webhook_mode = config.source == SourceMode::GithubWebhook;
    let stack = Stack {
        config,
        target,
        zips,
        late,
        env,
        n: env.names(),
        arns: arns(env, target),
        tags: resource_tags(config),
        webhook_mode,
        connection_arn: (!webhook_mode)
            .then(|| {
                config
                    .connection_arn
                    .clone()
                    .or_else(|| late.connection_arn.clone())
            })
            .flatten(),
    };
    let mut out = Vec::new();
    for family in [
        identities,
        storage,
        functions,
        pipeline::build_project,
        pipeline::pipeline,
        notifications::events,
    ] {
        family(&stack, &mut out);
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// The four roles (their policies name computed ARNs, so they depend on nothing) and the log groups.
fn identities(s: &Stack<'_>, out: &mut Vec<Desired>) {
    let Stack {
        config,
        target,
        late,
        env,
        n,
        arns,
        tags,
        connection_arn,
        ..
    } = s;
    let mut push = |kind, name, spec, depends_on| out.push(desired(kind, name, spec, depends_on));

    // Roles: policies name computed ARNs, so roles depend on nothing.
    let roles = [
        (
            n.codebuild_role(),
            "codebuild.amazonaws.com",
            "CodeBuild builds and pushes the image",
            policies::codebuild_role_with(
                arns,
                (config.base_image_source == BaseImageSource::PullThroughCache)
                    .then(|| target.arn("ecr", &format!("repository/{}/*", n.base_image_cache())))
                    .as_deref(),
            ),
        ),
        (
            n.pipeline_role(),
            "codepipeline.amazonaws.com",
            "CodePipeline runs Source, Build and Deploy",
            policies::pipeline_role_watching(
                arns,
                connection_arn.as_deref(),
                &bake_alarm_arns(config, target),
            ),
        ),
        (
            n.deploy_handler_role(),
            "lambda.amazonaws.com",
            "deploy-handler reports job results and triggers deployments",
            policies::deploy_handler_role_shifting(
                arns,
                true,
                late.deploy_webhook_secret_arn.as_deref(),
                &late.rollout_targets(),
                &shift_alarm_arns(config, target),
            ),
        ),
        (
            n.event_notifier_role(),
            "lambda.amazonaws.com",
            "event-notifier reads failure details and publishes notifications",
            policies::event_notifier_role_with_statuses(
                arns,
                config.topic_kms_key.as_deref(),
                late.github_status_token_secret_arn.as_deref(),
            ),
        ),
    ];
    for (name, service, description, policy) in roles {
        let spec = RoleSpec {
            name: name.clone(),
            description: format!("{description} ({env})"),
            trust_policy: policies::trust(service, target),
            inline_policy_name: INLINE_POLICY_NAME.to_owned(),
            inline_policy: policy,
            permissions_boundary: policies::boundary::arn(env, target),
            tags: tags.clone(),
        };
        push(Kind::Role, name, Spec::Role(spec), vec![]);
    }

    for group in [
        n.codebuild_log_group(),
        n.deploy_handler_log_group(),
        n.event_notifier_log_group(),
    ] {
        let spec = LogGroupSpec {
            name: group.clone(),
            retention_days: config.log_retention_days,
            tags: tags.clone(),
        };
        push(Kind::LogGroup, group, Spec::LogGroup(spec), vec![]);
    }
}

/// The artifact bucket, the image repository and the notification topic.
fn storage(s: &Stack<'_>, out: &mut Vec<Desired>) {
    let Stack {
        config,
        target,
        late,
        n,
        arns,
        tags,
        ..
    } = s;
    let mut push = |kind, name, spec, depends_on| out.push(desired(kind, name, spec, depends_on));

    let bucket = n.artifact_bucket(&target.account_id);
    push(
        Kind::Bucket,
        bucket.clone(),
        Spec::Bucket(BucketSpec {
            name: bucket.clone(),
            versioning: true,
            sse_algorithm: "AES256".to_owned(),
            kms_key_id: None,
            expire_days: ARTIFACT_EXPIRY_DAYS,
            noncurrent_expire_days: ARTIFACT_EXPIRY_DAYS,
            abort_multipart_days: 7,
            block_public_access: true,
            object_ownership: "BucketOwnerEnforced".to_owned(),
            policy: policies::bucket(arns),
            tags: tags.clone(),
        }),
        // The policy names the roles as principals, and AWS rejects principals that don't exist.
        vec![
            id(Kind::Role, n.pipeline_role()),
            id(Kind::Role, n.codebuild_role()),
        ],
    );

    push(
        Kind::Repository,
        n.ecr_repository(),
        Spec::Repository(RepositorySpec {
            name: n.ecr_repository(),
            tag_immutable: true,
            scan_on_push: true,
            encryption_type: "AES256".to_owned(),
            kms_key: None,
            lifecycle_policy: policies::repository_lifecycle(KEEP_TAGGED_IMAGES),
            repository_policy: policies::repository(&late.rollout_targets()),
            tags: tags.clone(),
        }),
        vec![id(Kind::Role, n.codebuild_role())],
    );

    let mut subscriptions: Vec<Subscription> = config
        .notify_emails
        .iter()
        .map(|e| Subscription {
            protocol: "email".to_owned(),
            endpoint: e.clone(),
        })
        .chain(config.notify_urls.iter().map(|u| Subscription {
            protocol: "https".to_owned(),
            endpoint: u.clone(),
        }))
        .collect();
    subscriptions.sort();
    subscriptions.dedup();
    push(
        Kind::Topic,
        n.notification_topic(),
        Spec::Topic(TopicSpec {
            name: n.notification_topic(),
            policy: policies::topic(arns),
            // Only a customer managed key: EventBridge cannot publish to a topic encrypted with
            // the AWS managed key (alias/aws/sns), and the FAILED rule publishes directly.
            kms_key_id: config.topic_kms_key.clone(),
            subscriptions,
            tags: tags.clone(),
        }),
        vec![],
    );
}

/// The event-notifier's environment: what it notifies, and with commit statuses the token's
/// secret and the repository the statuses go to.
fn notifier_environment(s: &Stack<'_>) -> BTreeMap<String, String> {
    let Stack {
        config,
        late,
        env,
        arns,
        ..
    } = s;
    let mut notifier_env = BTreeMap::from([
        (env_vars::PIPELINE_ENV.to_owned(), env.to_string()),
        (env_vars::NOTIFY_TOPIC_ARN.to_owned(), arns.topic.clone()),
        (
            env_vars::NOTIFY_STATES.to_owned(),
            config.notify_states.join(","),
        ),
    ]);
    if let Some(secret) = &late.github_status_token_secret_arn {
        notifier_env.insert(
            env_vars::GITHUB_STATUS_TOKEN_SECRET.to_owned(),
            secret.clone(),
        );
        notifier_env.insert(
            env_vars::GITHUB_REPOSITORY.to_owned(),
            format!("{}/{}", config.github_owner, config.github_repo),
        );
    }
    notifier_env
}

/// The deploy-handler and the event-notifier.
fn functions(s: &Stack<'_>, out: &mut Vec<Desired>) {
    let Stack {
        config,
        target,
        zips,
        late,
        env,
        n,
        arns,
        tags,
        ..
    } = s;
    let mut push = |kind, name, spec, depends_on| out.push(desired(kind, name, spec, depends_on));

    let mut deploy_env = BTreeMap::from([
        (env_vars::PIPELINE_ENV.to_owned(), env.to_string()),
        (env_vars::DEPLOY_EVENT_BUS.to_owned(), "default".to_owned()),
    ]);
    if let Some(url) = &config.deploy_webhook_url {
        deploy_env.insert(env_vars::DEPLOY_WEBHOOK_URL.to_owned(), url.clone());
    }
    if let Some(secret) = &late.deploy_webhook_secret_arn {
        deploy_env.insert(
            env_vars::DEPLOY_WEBHOOK_SECRET_ARN.to_owned(),
            secret.clone(),
        );
    }
    if let Some(target) = &config.deploy_target {
        deploy_env.insert(env_vars::DEPLOY_TARGET.to_owned(), target.spec());
    }
    let notifier_env = notifier_environment(s);
    let functions = [
        (
            n.deploy_handler(),
            n.deploy_handler_role(),
            n.deploy_handler_log_group(),
            &zips.deploy_handler,
            deploy_env,
            config.deploy_timeout_seconds,
            None,
            None,
        ),
        (
            n.event_notifier(),
            n.event_notifier_role(),
            n.event_notifier_log_group(),
            &zips.event_notifier,
            notifier_env,
            // Room for a commit status's bounded retries (functions/event-notifier/src/github.rs:
            // 3 attempts of at most 3 s with at most 5 s between them, 19 s) after the token and
            // execution reads, with the SNS publish of a failed stage still to come.
            NOTIFIER_TIMEOUT_SECONDS,
            Some(arns.topic.clone()),
            Some(2),
        ),
    ];
    for (name, role, log_group, zip, environment, timeout, destination, retries) in functions {
        let mut depends_on = vec![
            id(Kind::Role, role.clone()),
            id(Kind::LogGroup, log_group.clone()),
        ];
        if destination.is_some() {
            depends_on.push(id(Kind::Topic, n.notification_topic()));
        }
        push(
            Kind::Function,
            name.clone(),
            Spec::Function(FunctionSpec {
                name,
                role_arn: target.role_arn(&role),
                runtime: "provided.al2023".to_owned(),
                handler: "bootstrap".to_owned(),
                architecture: zip.architecture.clone(),
                memory_mb: config.lambda_memory_mb,
                timeout_seconds: timeout,
                environment,
                log_group,
                log_format: "JSON".to_owned(),
                code_sha256: zip.code_sha256.clone(),
                package: zip.package.clone(),
                on_failure_destination: destination,
                max_retry_attempts: retries,
                tags: tags.clone(),
            }),
            depends_on,
        );
    }
}
