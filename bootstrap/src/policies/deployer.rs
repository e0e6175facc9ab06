//! The deployer's own policy: what a person or CI job needs to run `plan`, `deploy`, `outputs`
//! and `destroy` of one environment, scoped to that environment's names.
//!
//! Every action is one `bootstrap` calls (the rehearsal runs it under exactly this policy with
//! IAM enforced, and fails on a denial and on a grant no call used); every resource is an ARN of
//! the environment, except the few actions AWS authorises only on `*` ([`WILDCARD_ACTIONS`])
//! and the listings it authorises on every resource of their type ([`ACCOUNT_WIDE_LISTS`]).

use super::{document, statement};
use crate::aws::Target;
use crate::config::SourceMode;
use pipeline_common::{DeployTarget, EnvName, tags};
use serde_json::{Value, json};

/// Actions of the deployer that AWS authorises only on `"Resource": "*"` (the Service
/// Authorization Reference lists no resource type for them), with the reason bootstrap calls them.
pub const WILDCARD_ACTIONS: [(&str, &str); 4] = [
    (
        "tag:GetResources",
        "the tagging API searches the whole account; destroy and plan use it to find what \
         carries the environment's tags",
    ),
    (
        "logs:DescribeLogGroups",
        "the log-group listing reads a group's retention and key; AWS scopes it to no group",
    ),
    (
        "ecs:DescribeTaskDefinition",
        "plan reads the ECS target's task definition (its containers and roles); with a deploy target only",
    ),
    (
        "sns:Unsubscribe",
        "removing a subscriber you dropped from --notify-email/--notify-url; SNS checks that the \
         subscription is on a topic the caller may manage",
    ),
];

/// Listings AWS authorises on every resource of their type, and why bootstrap lists.
pub const ACCOUNT_WIDE_LISTS: [(&str, &str); 2] = [
    (
        "codepipeline:ListWebhooks",
        "bootstrap finds the environment's webhook by name in the account's list",
    ),
    (
        "codestar-connections:ListConnections",
        "a connection's ARN holds a random id, so bootstrap finds its connection by name",
    ),
];

/// IAM's size limits for a policy document, in characters without whitespace (IAM User Guide,
/// "IAM and AWS STS quotas"): which kind of policy can carry the deployer's.
pub const SIZE_LIMITS: [(&str, usize); 3] = [
    ("inline policies of a user (all together)", 2_048),
    ("a customer managed policy", 6_144),
    ("inline policies of a role (all together)", 10_240),
];

/// What the policy is scoped to: the environment, the account and region it lives in, and the
/// configuration choices that add grants.
#[derive(Clone, Copy, Debug)]
pub struct Scope<'a> {
    pub env: &'a EnvName,
    pub target: &'a Target,
    pub source: SourceMode,
    /// `--connection-arn`: an existing connection, used as it is.
    pub connection_arn: Option<&'a str>,
    /// `--github-token-secret`: name or ARN of the user's secret holding the GitHub token.
    pub github_token_secret: Option<&'a str>,
    /// `--deploy-webhook-secret-arn`: the user's secret the deploy-handler signs with.
    pub deploy_webhook_secret_arn: Option<&'a str>,
    /// `--deploy-target`: plan reads it to check it and to scope the deploy-handler's grants.
    pub deploy_target: Option<&'a DeployTarget>,
}

/// Secrets Manager appends `-` and six random characters to every secret's name in its ARN
/// (Secrets Manager User Guide, "Secret ARN"): a name matches its ARNs only with `-??????`.
fn secret_arn(target: &Target, name_or_arn: &str) -> String {
    if name_or_arn.starts_with("arn:") {
        if has_random_suffix(name_or_arn) {
            name_or_arn.to_owned()
        } else {
            format!("{name_or_arn}-??????")
        }
    } else {
        target.arn("secretsmanager", &format!("secret:{name_or_arn}-??????"))
    }
}

fn has_random_suffix(arn: &str) -> bool {
    let name = arn.rsplit(':').next().unwrap_or_default();
    name.rsplit_once('-')
        .is_some_and(|(_, tail)| tail.len() == 6 && tail.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// The least-privilege policy for running `bootstrap` against one environment.
pub fn policy(scope: &Scope<'_>) -> Value {
    let env = scope.env;
    let target = scope.target;
    let n = env.names();
    let bucket = format!(
        "arn:{}:s3:::{}",
        target.partition(),
        n.artifact_bucket(&target.account_id)
    );
    let roles: Vec<String> = [
        n.codebuild_role(),
        n.pipeline_role(),
        n.deploy_handler_role(),
        n.event_notifier_role(),
    ]
    .iter()
    .map(|role| target.role_arn(role))
    .collect();
    let functions: Vec<String> = [n.deploy_handler(), n.event_notifier()]
        .iter()
        .map(|f| target.arn("lambda", &format!("function:{f}")))
        .collect();
    let log_groups: Vec<String> = [
        n.codebuild_log_group(),
        n.deploy_handler_log_group(),
        n.event_notifier_log_group(),
    ]
    .iter()
    .map(|g| target.arn("logs", &format!("log-group:{g}")))
    .collect();
    let rules: Vec<String> = [n.events_rule(), n.failed_rule()]
        .iter()
        .map(|r| target.arn("events", &format!("rule/{r}")))
        .collect();

    let lambda_target = scope
        .deploy_target
        .filter(|t| matches!(t, DeployTarget::Lambda { .. }));
    let mut statements = vec![
        statement(
            "AccountWideReads",
            &["logs:DescribeLogGroups", "tag:GetResources"],
            vec!["*".to_owned()],
        ),
        statement(
            "RemoveSubscribers",
            &["sns:Unsubscribe"],
            vec!["*".to_owned()],
        ),
        statement(
            "ArtifactBucket",
            &[
                "s3:CreateBucket",
                "s3:DeleteBucket",
                "s3:GetBucketOwnershipControls",
                "s3:GetBucketPolicy",
                "s3:GetBucketPublicAccessBlock",
                "s3:GetBucketTagging",
                "s3:GetBucketVersioning",
                "s3:GetEncryptionConfiguration",
                "s3:GetLifecycleConfiguration",
                "s3:ListBucket",
                "s3:ListBucketVersions",
                "s3:PutBucketOwnershipControls",
                "s3:PutBucketPolicy",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutBucketTagging",
                "s3:PutBucketVersioning",
                "s3:PutEncryptionConfiguration",
                "s3:PutLifecycleConfiguration",
            ],
            vec![bucket.clone()],
        ),
        // destroy empties the bucket before deleting it; it is versioned, so every delete names
        // a version (s3:DeleteObjectVersion; S3 User Guide, "Deleting object versions")
        statement(
            "EmptyArtifactBucket",
            &["s3:DeleteObjectVersion"],
            vec![format!("{bucket}/*")],
        ),
        statement(
            "ImageRepository",
            &[
                "ecr:CreateRepository",
                "ecr:DeleteRepository",
                "ecr:DescribeRepositories",
                "ecr:GetLifecyclePolicy",
                "ecr:GetRepositoryPolicy",
                "ecr:ListTagsForResource",
                "ecr:PutImageScanningConfiguration",
                "ecr:PutImageTagMutability",
                "ecr:PutLifecyclePolicy",
                "ecr:TagResource",
                "ecr:UntagResource",
                // The repository has a policy only when Lambda pulls the image (a Lambda target):
                // then bootstrap sets it, otherwise it removes one found there.
                lambda_target.map_or("ecr:DeleteRepositoryPolicy", |_| "ecr:SetRepositoryPolicy"),
            ],
            vec![target.arn("ecr", &format!("repository/{}", n.ecr_repository()))],
        ),
        statement(
            "Roles",
            &[
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:DeleteRolePolicy",
                "iam:DetachRolePolicy",
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListAttachedRolePolicies",
                "iam:ListInstanceProfilesForRole",
                "iam:ListRolePolicies",
                "iam:ListRoleTags",
                "iam:PutRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:UpdateRole",
            ],
            roles.clone(),
        ),
        pass_role("PassBuildRole", &roles[..1], "codebuild.amazonaws.com"),
        pass_role(
            "PassPipelineRole",
            &roles[1..2],
            "codepipeline.amazonaws.com",
        ),
        pass_role("PassFunctionRoles", &roles[2..], "lambda.amazonaws.com"),
        statement(
            "Functions",
            &[
                "lambda:AddPermission",
                "lambda:CreateFunction",
                "lambda:DeleteFunction",
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:GetFunctionEventInvokeConfig",
                "lambda:GetPolicy",
                "lambda:ListTags",
                "lambda:PutFunctionEventInvokeConfig",
                "lambda:RemovePermission",
                "lambda:TagResource",
                "lambda:UntagResource",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
            ],
            functions,
        ),
        statement(
            "BuildProject",
            &[
                "codebuild:BatchGetProjects",
                "codebuild:CreateProject",
                "codebuild:DeleteProject",
                "codebuild:UpdateProject",
            ],
            vec![target.arn("codebuild", &format!("project/{}", n.codebuild_project()))],
        ),
        statement(
            "TestReportGroup",
            &[
                "codebuild:BatchGetReportGroups",
                "codebuild:CreateReportGroup",
                "codebuild:DeleteReportGroup",
                "codebuild:UpdateReportGroup",
            ],
            vec![target.arn(
                "codebuild",
                &format!("report-group/{}", n.codebuild_report_group()),
            )],
        ),
        statement(
            "Pipeline",
            &[
                "codepipeline:CreatePipeline",
                "codepipeline:DeletePipeline",
                "codepipeline:GetPipeline",
                "codepipeline:ListTagsForResource",
                "codepipeline:TagResource",
                "codepipeline:UntagResource",
                "codepipeline:UpdatePipeline",
            ],
            vec![target.arn("codepipeline", &n.pipeline())],
        ),
        statement(
            "LogGroups",
            &[
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:ListTagsForResource",
                "logs:PutRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
            ],
            log_groups,
        ),
        statement(
            "NotificationTopic",
            &[
                "sns:CreateTopic",
                "sns:DeleteTopic",
                "sns:GetTopicAttributes",
                "sns:ListSubscriptionsByTopic",
                "sns:ListTagsForResource",
                "sns:SetTopicAttributes",
                "sns:Subscribe",
                "sns:TagResource",
                "sns:UntagResource",
            ],
            vec![target.arn("sns", &n.notification_topic())],
        ),
        statement(
            "EventRules",
            &[
                "events:DeleteRule",
                "events:DescribeRule",
                "events:ListTagsForResource",
                "events:ListTargetsByRule",
                "events:PutRule",
                "events:PutTargets",
                "events:RemoveTargets",
                "events:TagResource",
                "events:UntagResource",
            ],
            rules,
        ),
        // plan, destroy and outputs look the environment's connection up by name in either mode
        statement(
            "FindConnection",
            &["codestar-connections:ListConnections"],
            vec![target.arn("codestar-connections", "connection/*")],
        ),
    ];
    match scope.source {
        SourceMode::GithubWebhook => {
            statements.push(statement(
                "PipelineWebhook",
                &[
                    "codepipeline:DeleteWebhook",
                    "codepipeline:DeregisterWebhookWithThirdParty",
                    "codepipeline:ListTagsForResource",
                    "codepipeline:PutWebhook",
                    "codepipeline:RegisterWebhookWithThirdParty",
                    "codepipeline:TagResource",
                    "codepipeline:UntagResource",
                ],
                vec![target.arn("codepipeline", &format!("webhook:{}", n.webhook()))],
            ));
            // PutWebhook is authorised on the webhook and on the pipeline it targets (Service
            // Authorization Reference, AWS CodePipeline: PutWebhook lists both resource types)
            statements.push(statement(
                "WebhookTargetsPipeline",
                &["codepipeline:PutWebhook"],
                vec![target.arn("codepipeline", &n.pipeline())],
            ));
            // ListWebhooks authorises on the account's webhooks as a whole
            statements.push(statement(
                "FindWebhook",
                &["codepipeline:ListWebhooks"],
                vec![target.arn("codepipeline", "webhook:*")],
            ));
            statements.push(statement(
                "WebhookSecret",
                &[
                    "secretsmanager:CreateSecret",
                    "secretsmanager:DeleteSecret",
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:RestoreSecret",
                    "secretsmanager:TagResource",
                    "secretsmanager:UntagResource",
                    "secretsmanager:UpdateSecret",
                ],
                // a secret that does not exist yet has no random suffix: reading it before
                // creating it is checked on the bare name's ARN, which no real secret has
                vec![
                    secret_arn(target, &n.webhook_secret()),
                    target.arn("secretsmanager", &format!("secret:{}", n.webhook_secret())),
                ],
            ));
            if let Some(secret) = scope.github_token_secret {
                statements.push(statement(
                    "ReadGitHubToken",
                    &["secretsmanager:GetSecretValue"],
                    vec![secret_arn(target, secret)],
                ));
            }
        }
        SourceMode::Codeconnections => {
            statements.push(connection(scope));
            if scope.connection_arn.is_none() {
                statements.push(create_connection(scope));
            }
        }
    }
    match scope.deploy_target {
        Some(DeployTarget::Ecs {
            cluster, service, ..
        }) => {
            statements.push(statement(
                "InspectDeployTarget",
                &["ecs:DescribeServices"],
                vec![target.arn("ecs", &format!("service/{cluster}/{service}"))],
            ));
            statements.push(statement(
                "ReadTargetTaskDefinition",
                &["ecs:DescribeTaskDefinition"],
                vec!["*".to_owned()],
            ));
        }
        Some(DeployTarget::Lambda { function, .. }) => {
            statements.push(statement(
                "InspectDeployTarget",
                &["lambda:GetAlias", "lambda:GetFunction"],
                vec![target.arn("lambda", &format!("function:{function}"))],
            ));
        }
        None => {}
    }
    if let Some(secret) = scope.deploy_webhook_secret_arn {
        statements.push(statement(
            "CheckDeploySigningSecret",
            &["secretsmanager:DescribeSecret"],
            vec![secret_arn(target, secret)],
        ));
    }
    document(statements)
}

fn pass_role(sid: &str, roles: &[String], service: &str) -> Value {
    // iam:PassRole is checked whenever a create or update call hands a role to a service; the
    // condition keeps each role to the one service that uses it (IAM User Guide, "Granting a
    // user permissions to pass a role to an AWS service").
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["iam:PassRole"],
        "Resource": roles,
        "Condition": { "StringEquals": { "iam:PassedToService": service } }
    })
}

/// The connection grants: an existing connection by its ARN; a connection bootstrap creates
/// has a random id, so it is scoped by the environment's tag instead.
fn connection(scope: &Scope<'_>) -> Value {
    // Creating a pipeline whose source uses a connection needs PassConnection on it (Developer
    // Tools console User Guide, "Connections permissions reference").
    let actions = [
        "codestar-connections:DeleteConnection",
        "codestar-connections:GetConnection",
        "codestar-connections:ListTagsForResource",
        "codestar-connections:PassConnection",
        "codestar-connections:TagResource",
        "codestar-connections:UntagResource",
    ];
    if let Some(arn) = scope.connection_arn {
        return statement(
            "UseGivenConnection",
            &[
                "codestar-connections:GetConnection",
                "codestar-connections:PassConnection",
            ],
            vec![arn.to_owned()],
        );
    }
    json!({
        "Sid": "EnvironmentConnection",
        "Effect": "Allow",
        "Action": actions,
        "Resource": scope.target.arn("codestar-connections", "connection/*"),
        "Condition": {
            "StringEquals": { format!("aws:ResourceTag/{}", tags::ENVIRONMENT): scope.env.as_str() }
        }
    })
}

/// CreateConnection has no resource type; the request's own tags scope it to the environment.
fn create_connection(scope: &Scope<'_>) -> Value {
    json!({
        "Sid": "CreateEnvironmentConnection",
        "Effect": "Allow",
        "Action": ["codestar-connections:CreateConnection", "codestar-connections:TagResource"],
        "Resource": "*",
        "Condition": {
            "StringEquals": { format!("aws:RequestTag/{}", tags::ENVIRONMENT): scope.env.as_str() }
        }
    })
}

/// Characters IAM counts against its size limits (whitespace excluded).
pub fn size(policy: &Value) -> usize {
    policy
        .to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .count()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            account_id: "123456789012".to_owned(),
            region: "eu-west-1".to_owned(),
        }
    }

    fn scope<'a>(env: &'a EnvName, target: &'a Target, source: SourceMode) -> Scope<'a> {
        Scope {
            env,
            target,
            source,
            connection_arn: None,
            github_token_secret: None,
            deploy_webhook_secret_arn: None,
            deploy_target: None,
        }
    }

    fn resources(policy: &Value) -> Vec<String> {
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| match &s["Resource"] {
                Value::String(r) => vec![r.clone()],
                Value::Array(list) => list
                    .iter()
                    .map(|r| r.as_str().unwrap().to_owned())
                    .collect(),
                _ => vec![],
            })
            .collect()
    }

    #[test]
    fn every_resource_names_the_environment_or_is_a_documented_wildcard() {
        let env = EnvName::parse("dev").unwrap();
        let target = target();
        for source in [SourceMode::GithubWebhook, SourceMode::Codeconnections] {
            let policy = policy(&scope(&env, &target, source));
            for statement in policy["Statement"].as_array().unwrap() {
                let actions = super::super::actions(&json!({ "Statement": [statement] }));
                let listed: Vec<String> = match &statement["Resource"] {
                    Value::String(r) => vec![r.clone()],
                    Value::Array(list) => list
                        .iter()
                        .map(|r| r.as_str().unwrap().to_owned())
                        .collect(),
                    _ => panic!("statement without Resource: {statement}"),
                };
                for resource in listed {
                    let scoped = resource.contains("-dev");
                    let all_in = |list: &[(&str, &str)]| {
                        actions.iter().all(|a| list.iter().any(|(w, _)| w == a))
                    };
                    let wildcard_ok = resource == "*" && all_in(&WILDCARD_ACTIONS);
                    let list_ok = (resource.ends_with(":webhook:*")
                        || resource.ends_with(":connection/*"))
                        && all_in(&ACCOUNT_WIDE_LISTS);
                    let condition = &statement["Condition"]["StringEquals"];
                    let tag_scoped = condition["aws:ResourceTag/Environment"] == "dev"
                        || condition["aws:RequestTag/Environment"] == "dev";
                    assert!(
                        scoped || wildcard_ok || list_ok || tag_scoped,
                        "{resource} in {} is neither the environment's nor a documented wildcard",
                        statement["Sid"]
                    );
                }
            }
        }
    }

    #[test]
    fn another_environment_gets_none_of_these_resources() {
        let target = target();
        let dev = EnvName::parse("dev").unwrap();
        let prod = EnvName::parse("prod").unwrap();
        let dev_resources = resources(&policy(&scope(&dev, &target, SourceMode::GithubWebhook)));
        let prod_resources = resources(&policy(&scope(&prod, &target, SourceMode::GithubWebhook)));
        let shared: Vec<_> = dev_resources
            .iter()
            .filter(|r| prod_resources.contains(r))
            .filter(|r| *r != "*" && !r.ends_with(":webhook:*") && !r.ends_with(":connection/*"))
            .collect();
        assert!(shared.is_empty(), "dev and prod share {shared:?}");
    }

    #[test]
    fn secrets_are_matched_with_their_random_suffix() {
        let target = target();
        assert_eq!(
            secret_arn(&target, "gh-token"),
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:gh-token-??????"
        );
        let full = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:gh-token-AbC123";
        assert_eq!(secret_arn(&target, full), full);
        let partial = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:gh-token";
        assert_eq!(secret_arn(&target, partial), format!("{partial}-??????"));
    }

    #[test]
    fn the_policy_fits_a_roles_inline_policy_for_the_longest_environment() {
        let target = target();
        let env = EnvName::parse("a-forty-character-environment-name-xxxxx").unwrap();
        for source in [SourceMode::GithubWebhook, SourceMode::Codeconnections] {
            let mut scope = scope(&env, &target, source);
            scope.github_token_secret = Some("a-github-token-secret-with-a-long-name");
            scope.deploy_webhook_secret_arn =
                Some("arn:aws:secretsmanager:eu-west-1:123456789012:secret:deploy-signing-AbC123");
            let size = size(&policy(&scope));
            assert!(
                size <= 10_240,
                "{size} characters: over a role's 10,240 of inline policy"
            );
        }
    }

    #[test]
    fn only_documented_wildcard_actions_use_a_star() {
        let env = EnvName::parse("dev").unwrap();
        let target = target();
        let policy = policy(&scope(&env, &target, SourceMode::GithubWebhook));
        for statement in policy["Statement"].as_array().unwrap() {
            if statement["Resource"] == json!(["*"]) || statement["Resource"] == "*" {
                for action in super::super::actions(&json!({ "Statement": [statement] })) {
                    assert!(
                        WILDCARD_ACTIONS.iter().any(|(a, _)| *a == action),
                        "{action} on * is not in WILDCARD_ACTIONS"
                    );
                }
            }
        }
    }
}
