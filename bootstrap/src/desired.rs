//! The desired state of one environment, built as data from the configuration.

use crate::artifacts::LambdaZip;
use crate::aws::Target;
use crate::config::{Config, SourceMode};
use crate::model::*;
use crate::policies::{self, Arns};
use pipeline_common::{EnvName, ResourceNames, codebuild_env, env_vars, tags};
use serde_json::json;
use std::collections::BTreeMap;

/// CodeBuild's managed image for Docker builds on x86_64.
pub const BUILD_IMAGE: &str = "aws/codebuild/amazonlinux-x86_64-standard:5.0";
/// Tagged images the repository keeps.
pub const KEEP_TAGGED_IMAGES: u32 = 30;
/// Artifacts and their old versions expire after this many days.
pub const ARTIFACT_EXPIRY_DAYS: i32 = 30;
pub const INLINE_POLICY_NAME: &str = "permissions";
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
    pub deploy_target: Option<crate::resources::deploy_target::TargetFacts>,
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

/// Every resource an environment can own, whatever its configuration (both source modes):
/// what `destroy` removes and what `deploy` deletes when no longer desired.
pub fn inventory(env: &EnvName, target: &Target) -> Vec<ResourceId> {
    let n = env.names();
    let mut ids = vec![
        id(Kind::Role, n.codebuild_role()),
        id(Kind::Role, n.pipeline_role()),
        id(Kind::Role, n.deploy_handler_role()),
        id(Kind::Role, n.event_notifier_role()),
        id(Kind::LogGroup, n.codebuild_log_group()),
        id(Kind::LogGroup, n.deploy_handler_log_group()),
        id(Kind::LogGroup, n.event_notifier_log_group()),
        id(Kind::Secret, n.webhook_secret()),
        id(Kind::Connection, n.connection()),
        id(Kind::Bucket, n.artifact_bucket(&target.account_id)),
        id(Kind::Repository, n.ecr_repository()),
        id(Kind::Topic, n.notification_topic()),
        id(Kind::Function, n.deploy_handler()),
        id(Kind::Function, n.event_notifier()),
        id(Kind::ReportGroup, n.codebuild_report_group()),
        id(Kind::Project, n.codebuild_project()),
        id(Kind::Pipeline, n.pipeline()),
        id(Kind::Webhook, n.webhook()),
        id(Kind::Rule, n.events_rule()),
        id(Kind::Rule, n.failed_rule()),
        id(
            Kind::Permission,
            format!("{}/{EVENTS_PERMISSION_SID}", n.event_notifier()),
        ),
    ];
    ids.sort();
    ids
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
        build_project,
        pipeline,
        events,
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
            policies::codebuild_role(arns),
        ),
        (
            n.pipeline_role(),
            "codepipeline.amazonaws.com",
            "CodePipeline runs Source, Build and Deploy",
            policies::pipeline_role(arns, connection_arn.as_deref()),
        ),
        (
            n.deploy_handler_role(),
            "lambda.amazonaws.com",
            "deploy-handler reports job results and triggers deployments",
            policies::deploy_handler_role(
                arns,
                true,
                late.deploy_webhook_secret_arn.as_deref(),
                late.deploy_target.as_ref(),
            ),
        ),
        (
            n.event_notifier_role(),
            "lambda.amazonaws.com",
            "event-notifier reads failure details and publishes notifications",
            policies::event_notifier_role(arns, config.topic_kms_key.as_deref()),
        ),
    ];
    for (name, service, description, policy) in roles {
        let spec = RoleSpec {
            name: name.clone(),
            description: format!("{description} ({env})"),
            trust_policy: policies::trust(service, target),
            inline_policy_name: INLINE_POLICY_NAME.to_owned(),
            inline_policy: policy,
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
            repository_policy: policies::repository(late.deploy_target.as_ref()),
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
    let notifier_env = BTreeMap::from([
        (env_vars::PIPELINE_ENV.to_owned(), env.to_string()),
        (env_vars::NOTIFY_TOPIC_ARN.to_owned(), arns.topic.clone()),
        (
            env_vars::NOTIFY_STATES.to_owned(),
            config.notify_states.join(","),
        ),
    ]);
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
            30,
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
                zip_path: zip.path.clone(),
                on_failure_destination: destination,
                max_retry_attempts: retries,
                tags: tags.clone(),
            }),
            depends_on,
        );
    }
}

/// The CodeBuild project and the report group its builds write to.
fn build_project(s: &Stack<'_>, out: &mut Vec<Desired>) {
    let Stack {
        config,
        target,
        env,
        n,
        tags,
        ..
    } = s;
    let mut push = |kind, name, spec, depends_on| out.push(desired(kind, name, spec, depends_on));

    let build_env = BTreeMap::from([
        (
            codebuild_env::ACCOUNT_ID.to_owned(),
            target.account_id.clone(),
        ),
        (
            codebuild_env::REPOSITORY_URI.to_owned(),
            repository_uri(env, target),
        ),
        (
            codebuild_env::REPOSITORY_NAME.to_owned(),
            n.ecr_repository(),
        ),
        (codebuild_env::PIPELINE_ENV.to_owned(), env.to_string()),
        (codebuild_env::DOCKER_CONTEXT.to_owned(), ".".to_owned()),
    ]);
    push(
        Kind::ReportGroup,
        n.codebuild_report_group(),
        Spec::ReportGroup(ReportGroupSpec {
            name: n.codebuild_report_group(),
            report_type: "TEST".to_owned(),
            export_config: "NO_EXPORT".to_owned(),
            tags: tags.clone(),
        }),
        vec![],
    );
    push(
        Kind::Project,
        n.codebuild_project(),
        Spec::Project(ProjectSpec {
            name: n.codebuild_project(),
            service_role_arn: target.role_arn(&n.codebuild_role()),
            image: BUILD_IMAGE.to_owned(),
            compute_type: "BUILD_GENERAL1_SMALL".to_owned(),
            environment_type: "LINUX_CONTAINER".to_owned(),
            privileged_mode: true,
            environment: build_env,
            buildspec: "buildspec.yml".to_owned(),
            log_group: n.codebuild_log_group(),
            timeout_minutes: config.build_timeout_minutes,
            queued_timeout_minutes: 60,
            cache_modes: vec![
                "LOCAL_DOCKER_LAYER_CACHE".to_owned(),
                "LOCAL_SOURCE_CACHE".to_owned(),
            ],
            tags: tags.clone(),
        }),
        vec![
            id(Kind::Role, n.codebuild_role()),
            id(Kind::LogGroup, n.codebuild_log_group()),
            // The project's builds write to it: created first, deleted after the project.
            id(Kind::ReportGroup, n.codebuild_report_group()),
        ],
    );
}

/// The pipeline and what starts it: a webhook with its secret, or a connection.
fn pipeline(s: &Stack<'_>, out: &mut Vec<Desired>) {
    let Stack {
        config,
        target,
        env,
        n,
        tags,
        connection_arn,
        ..
    } = s;
    let mut push = |kind, name, spec, depends_on| out.push(desired(kind, name, spec, depends_on));

    let (source, pipeline_type) = if s.webhook_mode {
        (
            SourceSpec::GithubWebhook {
                owner: config.github_owner.clone(),
                repo: config.github_repo.clone(),
                branch: config.branch.clone(),
            },
            "V1",
        )
    } else {
        (
            SourceSpec::Connection {
                connection_arn: connection_arn.clone(),
                full_repository_id: format!("{}/{}", config.github_owner, config.github_repo),
                branch: config.branch.clone(),
                file_path_includes: config.file_path_includes.clone(),
                file_path_excludes: config.file_path_excludes.clone(),
            },
            "V2",
        )
    };
    let bucket = n.artifact_bucket(&target.account_id);
    let mut pipeline_deps = vec![
        id(Kind::Role, n.pipeline_role()),
        id(Kind::Bucket, bucket.clone()),
        id(Kind::Project, n.codebuild_project()),
        id(Kind::Function, n.deploy_handler()),
    ];
    if !s.webhook_mode && config.connection_arn.is_none() {
        pipeline_deps.push(id(Kind::Connection, n.connection()));
    }
    let user_parameters =
        json!({ "environment": env.as_str(), "service": n.ecr_repository() }).to_string();
    push(
        Kind::Pipeline,
        n.pipeline(),
        Spec::Pipeline(PipelineSpec {
            name: n.pipeline(),
            role_arn: target.role_arn(&n.pipeline_role()),
            pipeline_type: pipeline_type.to_owned(),
            artifact_bucket: bucket,
            source,
            build_project: n.codebuild_project(),
            deploy_function: n.deploy_handler(),
            deploy_user_parameters: user_parameters,
            tags: tags.clone(),
        }),
        pipeline_deps,
    );

    if s.webhook_mode {
        push(
            Kind::Secret,
            n.webhook_secret(),
            Spec::Secret(SecretSpec {
                name: n.webhook_secret(),
                description: format!(
                    "HMAC secret of the GitHub webhook of {} (generated once, never printed)",
                    n.pipeline()
                ),
                tags: tags.clone(),
            }),
            vec![],
        );
        push(
            Kind::Webhook,
            n.webhook(),
            Spec::Webhook(WebhookSpec {
                name: n.webhook(),
                target_pipeline: n.pipeline(),
                target_action: "Source".to_owned(),
                filters: vec![WebhookFilter {
                    json_path: "$.ref".to_owned(),
                    match_equals: format!("refs/heads/{}", config.branch),
                }],
                authentication: "GITHUB_HMAC".to_owned(),
                secret_name: n.webhook_secret(),
                registered: true,
                tags: tags.clone(),
            }),
            vec![
                id(Kind::Pipeline, n.pipeline()),
                id(Kind::Secret, n.webhook_secret()),
            ],
        );
    } else if config.connection_arn.is_none() {
        push(
            Kind::Connection,
            n.connection(),
            Spec::Connection(ConnectionSpec::github(n.connection(), tags.clone())),
            vec![],
        );
    }
}

/// The EventBridge rules and the permission letting the first invoke the notifier.
fn events(s: &Stack<'_>, out: &mut Vec<Desired>) {
    let Stack {
        config,
        target,
        n,
        arns,
        tags,
        ..
    } = s;
    let mut push = |kind, name, spec, depends_on| out.push(desired(kind, name, spec, depends_on));

    let pipeline_arn = arns.pipeline.clone();
    let notify_states: Vec<&str> = {
        let mut states: Vec<&str> = config.notify_states.iter().map(String::as_str).collect();
        if !states.contains(&"FAILED") {
            states.push("FAILED");
        }
        states
    };
    push(
        Kind::Rule,
        n.events_rule(),
        Spec::Rule(RuleSpec {
            name: n.events_rule(),
            description: format!("{} state changes to the event-notifier", n.pipeline()),
            event_pattern: json!({
                "source": ["aws.codepipeline"],
                "detail-type": ["CodePipeline Pipeline Execution State Change", "CodePipeline Action Execution State Change"],
                "resources": [pipeline_arn],
                "detail": { "state": notify_states }
            }),
            targets: vec![RuleTarget {
                id: "event-notifier".to_owned(),
                arn: target.arn("lambda", &format!("function:{}", n.event_notifier())),
                max_event_age_seconds: 3600,
                max_retry_attempts: 8,
                input_paths: None,
                input_template: None,
            }],
            tags: tags.clone(),
        }),
        vec![id(Kind::Function, n.event_notifier())],
    );
    push(
        Kind::Rule,
        n.failed_rule(),
        Spec::Rule(RuleSpec {
            name: n.failed_rule(),
            description: format!(
                "{} FAILED straight to SNS, so failure mail arrives even if the notifier is broken",
                n.pipeline()
            ),
            event_pattern: json!({
                "source": ["aws.codepipeline"],
                "detail-type": ["CodePipeline Pipeline Execution State Change"],
                "resources": [arns.pipeline],
                "detail": { "state": ["FAILED"] }
            }),
            targets: vec![RuleTarget {
                id: "notifications-topic".to_owned(),
                arn: arns.topic.clone(),
                max_event_age_seconds: 3600,
                max_retry_attempts: 8,
                input_paths: Some(BTreeMap::from([
                    ("pipeline".to_owned(), "$.detail.pipeline".to_owned()),
                    ("execution".to_owned(), "$.detail.execution-id".to_owned()),
                    ("time".to_owned(), "$.time".to_owned()),
                ])),
                input_template: Some(format!(
                    "\"Pipeline <pipeline> FAILED at <time> (execution <execution>). Details: https://{region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/<pipeline>/executions/<execution>/timeline?region={region}\"",
                    region = target.region
                )),
            }],
            tags: tags.clone(),
        }),
        vec![id(Kind::Topic, n.notification_topic())],
    );

    push(
        Kind::Permission,
        format!("{}/{EVENTS_PERMISSION_SID}", n.event_notifier()),
        Spec::Permission(PermissionSpec {
            function_name: n.event_notifier(),
            statement_id: EVENTS_PERMISSION_SID.to_owned(),
            principal: "events.amazonaws.com".to_owned(),
            source_arn: target.arn("events", &format!("rule/{}", n.events_rule())),
            source_account: target.account_id.clone(),
        }),
        vec![id(Kind::Function, n.event_notifier())],
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::{Layer, resolve};
    use crate::policies::{WILDCARD_RESOURCE_ACTIONS, actions};
    use serde_json::Value;
    use std::path::PathBuf;

    fn target() -> Target {
        Target {
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
        }
    }

    fn zip(arch: &str) -> LambdaZip {
        LambdaZip {
            path: PathBuf::from("x.zip"),
            code_sha256: "abc=".into(),
            architecture: arch.into(),
        }
    }

    fn zips() -> Zips {
        Zips {
            deploy_handler: zip("arm64"),
            event_notifier: zip("x86_64"),
        }
    }

    fn config(source: &str) -> Config {
        let given = Layer {
            env: Some("dev".into()),
            github_repo: Some("octo/app".into()),
            source: Some(source.parse().unwrap()),
            notify_email: Some(vec!["b@example.com".into(), "a@example.com".into()]),
            ..Layer::default()
        };
        resolve(given, Layer::default()).unwrap()
    }

    fn statements(policy: &Value) -> Vec<&Value> {
        policy["Statement"]
            .as_array()
            .map(|s| s.iter().collect())
            .unwrap_or_default()
    }

    #[test]
    fn no_wildcard_action_and_wildcard_resources_only_where_listed() {
        for source in ["github-webhook", "codeconnections"] {
            for want in build(&config(source), &target(), &zips(), &Late::default()) {
                let Spec::Role(role) = &want.spec else {
                    continue;
                };
                for policy in [&role.inline_policy, &role.trust_policy] {
                    for action in actions(policy) {
                        assert!(
                            !action.contains('*'),
                            "{}: wildcard action {action}",
                            role.name
                        );
                    }
                }
                for statement in statements(&role.inline_policy) {
                    let resources: Vec<&str> = match &statement["Resource"] {
                        Value::String(r) => vec![r.as_str()],
                        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
                        other => panic!("{}: resource {other}", role.name),
                    };
                    if resources.contains(&"*") {
                        for action in actions(&json!({ "Statement": [statement] })) {
                            assert!(
                                WILDCARD_RESOURCE_ACTIONS.iter().any(|(a, _)| *a == action),
                                "{}: {action} on * is not a listed exception",
                                role.name
                            );
                        }
                    }
                }
                // A trust condition only for a service documented to send the key when it
                // assumes the role (policies::TRUST_SOURCE_ACCOUNT); CodeBuild is one.
                let trust = &role.trust_policy["Statement"][0];
                let service = trust["Principal"]["Service"].as_str().expect("service");
                let condition = &trust["Condition"]["StringEquals"]["aws:SourceAccount"];
                if service == "codebuild.amazonaws.com" {
                    assert_eq!(condition, "123456789012", "{}", role.name);
                } else {
                    assert!(
                        trust.get("Condition").is_none(),
                        "{}: {service} sends no aws:SourceAccount when assuming a role, so a \
                         condition on it would make the role unusable",
                        role.name
                    );
                }
            }
        }
    }

    #[test]
    fn every_resource_is_named_for_the_env_and_tagged_as_ours() {
        let all = build(
            &config("github-webhook"),
            &target(),
            &zips(),
            &Late::default(),
        );
        assert_eq!(
            all,
            build(
                &config("github-webhook"),
                &target(),
                &zips(),
                &Late::default()
            ),
            "deterministic"
        );
        for want in &all {
            assert!(
                want.id.name.contains("dev"),
                "{} lacks the env suffix",
                want.id
            );
            if let Some(tags) = want.spec.tags() {
                assert_eq!(
                    tags.get("ManagedBy").map(String::as_str),
                    Some(tags::MANAGED_BY_VALUE)
                );
                assert_eq!(tags.get("Environment").map(String::as_str), Some("dev"));
                assert!(tags.contains_key("Project"));
            }
            for dep in &want.depends_on {
                assert!(
                    all.iter().any(|d| &d.id == dep),
                    "{} depends on {dep}, which is not desired",
                    want.id
                );
            }
        }
        let inventory = inventory(&config("github-webhook").env, &target());
        for want in &all {
            assert!(
                inventory.contains(&want.id),
                "{} is missing from the inventory destroy uses",
                want.id
            );
        }
    }

    #[test]
    fn every_edge_apply_follows_is_one_destroy_walks_in_reverse() {
        // Destroy orders kinds by `Resource::DEPENDS_ON`; apply by these finer edges. An edge the
        // kinds' graph does not cover would let destroy delete a resource before its dependant.
        let levels = crate::engine::kind_levels(crate::resources::depends_on);
        let late = Late {
            connection_arn: Some(
                "arn:aws:codestar-connections:eu-west-1:123456789012:connection/x".into(),
            ),
            ..Late::default()
        };
        for source in ["github-webhook", "codeconnections"] {
            for want in build(&config(source), &target(), &zips(), &late) {
                for dep in &want.depends_on {
                    assert!(
                        levels[&want.id.kind] > levels[&dep.kind],
                        "{} depends on {dep}, but {:?} is not among the kinds {:?} depends on \
                         (resources/{:?}'s DEPENDS_ON)",
                        want.id,
                        dep.kind,
                        want.id.kind,
                        want.id.kind
                    );
                }
            }
        }
    }

    #[test]
    fn source_modes_shape_the_pipeline() {
        let webhook = build(
            &config("github-webhook"),
            &target(),
            &zips(),
            &Late::default(),
        );
        assert!(webhook.iter().any(|d| d.id.kind == Kind::Webhook));
        assert!(webhook.iter().any(|d| d.id.kind == Kind::Secret));
        assert!(!webhook.iter().any(|d| d.id.kind == Kind::Connection));
        let late = Late {
            connection_arn: Some(
                "arn:aws:codestar-connections:eu-west-1:123456789012:connection/x".into(),
            ),
            ..Late::default()
        };
        let connections = build(&config("codeconnections"), &target(), &zips(), &late);
        assert!(!connections.iter().any(|d| d.id.kind == Kind::Webhook));
        let pipeline = connections.iter().find_map(|d| match &d.spec {
            Spec::Pipeline(p) => Some(p),
            _ => None,
        });
        let pipeline = pipeline.expect("pipeline");
        assert_eq!(pipeline.pipeline_type, "V2");
        assert!(matches!(
            &pipeline.source,
            SourceSpec::Connection {
                connection_arn: Some(_),
                ..
            }
        ));
        assert!(pipeline.deploy_user_parameters.len() <= 1000);
        let role = connections
            .iter()
            .find_map(|d| match &d.spec {
                Spec::Role(r) if r.name.starts_with("codepipeline-role") => Some(r),
                _ => None,
            })
            .expect("pipeline role");
        assert!(
            actions(&role.inline_policy).contains(&"codestar-connections:UseConnection".to_owned())
        );
    }

    #[test]
    fn functions_take_the_architecture_of_their_zip() {
        for want in build(
            &config("github-webhook"),
            &target(),
            &zips(),
            &Late::default(),
        ) {
            if let Spec::Function(f) = &want.spec {
                let expected = if f.name.starts_with("deploy-handler") {
                    "arm64"
                } else {
                    "x86_64"
                };
                assert_eq!(f.architecture, expected);
            }
        }
    }

    #[test]
    fn a_topic_key_encrypts_the_topic_and_only_the_notifier_may_use_it() {
        let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let mut with_key = config("github-webhook");
        with_key.topic_kms_key = Some(key.into());
        for (config, expected) in [(config("github-webhook"), None), (with_key, Some(key))] {
            for want in build(&config, &target(), &zips(), &Late::default()) {
                match &want.spec {
                    Spec::Topic(topic) => assert_eq!(topic.kms_key_id.as_deref(), expected),
                    Spec::Role(role) => {
                        let kms: Vec<_> = statements(&role.inline_policy)
                            .into_iter()
                            .filter(|s| s["Action"].to_string().contains("kms:"))
                            .collect();
                        let may_use = expected.is_some() && role.name.starts_with("event-notifier");
                        assert_eq!(kms.len(), usize::from(may_use), "{}", role.name);
                        if let Some(statement) = kms.first() {
                            assert_eq!(statement["Resource"], json!([key]));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}
