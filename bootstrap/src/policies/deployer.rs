//! The deployer's own policy: what a person or CI job needs to run `plan`, `deploy`, `outputs`
//! and `destroy` of one environment, scoped to that environment's names.
//!
//! Every action is one `bootstrap` calls (the rehearsal runs it under exactly this policy with
//! IAM enforced, and fails on a denial and on a grant no call used); every resource is an ARN of
//! the environment, except the few actions AWS authorises only on `*` ([`WILDCARD_ACTIONS`])
//! and the listings it authorises on every resource of their type ([`ACCOUNT_WIDE_LISTS`]).

use super::document;
use crate::aws::Target;
use crate::config::{BaseImageSource, SourceMode};
use pipeline_common::{DeployTarget, EnvName};
use serde_json::{Value, json};

/// Actions of the deployer that AWS authorises only on `"Resource": "*"` (the Service
/// Authorization Reference lists no resource type for them), with the reason bootstrap calls them.
pub const WILDCARD_ACTIONS: [(&str, &str); 7] = [
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
        "ecr:DescribePullThroughCacheRules",
        "plan, deploy and destroy look for the environment's base-image cache rule; ECR's \
         pull-through cache rules have no ARN",
    ),
    (
        "ecr:CreatePullThroughCacheRule",
        "--base-image-source pull-through-cache creates the environment's cache rule; the rules \
         have no ARN",
    ),
    (
        "ecr:DeletePullThroughCacheRule",
        "destroy (and a deploy leaving pull-through-cache) deletes the environment's cache rule; \
         the rules have no ARN",
    ),
    (
        "sns:Unsubscribe",
        "removing a subscriber you dropped from --notify-email/--notify-url; SNS checks that the \
         subscription is on a topic the caller may manage",
    ),
];

/// Listings AWS authorises on every resource of their type, and why bootstrap lists.
pub const ACCOUNT_WIDE_LISTS: [(&str, &str); 3] = [
    (
        "codepipeline:ListWebhooks",
        "bootstrap finds the environment's webhook by name in the account's list",
    ),
    (
        "codestar-connections:ListConnections",
        "a connection's ARN holds a random id, so bootstrap finds its connection by name",
    ),
    (
        "ecr:DescribeRepositories",
        "with --base-image-source pull-through-cache, destroy finds the repositories the cache \
         created under the environment's prefix in the registry's list (ECR lists by no prefix)",
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
    /// `--stage` targets: plan reads each, as it reads `--deploy-target`.
    pub stage_targets: &'a [DeployTarget],
    /// `--base-image-source`: pull-through-cache adds the cache rule's grants.
    pub base_image_source: BaseImageSource,
    /// `--github-status-token-secret` (or its webhook-mode default): plan resolves its ARN.
    pub github_status_token_secret: Option<&'a str>,
}

impl Scope<'_> {
    /// Every target plan reads: `--deploy-target`'s and the stages'.
    pub fn rollout_targets(&self) -> Vec<&DeployTarget> {
        self.deploy_target
            .into_iter()
            .chain(self.stage_targets)
            .collect()
    }
}

/// Secrets Manager appends `-` and six random characters to every secret's name in its ARN
/// (Secrets Manager User Guide, "Secret ARN"): a name matches its ARNs only with `-??????`.
pub fn secret_arn(target: &Target, name_or_arn: &str) -> String {
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

/// The least-privilege policy for running `bootstrap` against one environment, assembled from
/// what each resource kind declares it needs (`resources::Resource::deployer_grants`): the
/// statements several kinds declare under one Sid are one, the account-wide ones (on `*`, with
/// no condition) come first, the grants for reading what the options name last.
pub fn policy(scope: &Scope<'_>) -> Value {
    let grants = crate::resources::deployer_grants(scope);
    let (account_wide, scoped): (Vec<Value>, Vec<Value>) = merge_by_sid(grants.stack)
        .into_iter()
        .partition(|s| s["Resource"] == json!(["*"]) && s.get("Condition").is_none());
    document(
        account_wide
            .into_iter()
            .chain(scoped)
            .chain(grants.inputs)
            .collect(),
    )
}

/// Statements of one Sid on the same resources (a function's grants and its permissions', the
/// account-wide reads of the tagging API and of Logs) as one, with the union of their actions
/// in order, where the first of them stood.
fn merge_by_sid(statements: Vec<Value>) -> Vec<Value> {
    let mut merged: Vec<Value> = Vec::new();
    for statement in statements {
        let same = merged.iter_mut().find(|m| {
            m["Sid"] == statement["Sid"]
                && m["Resource"] == statement["Resource"]
                && m.get("Condition") == statement.get("Condition")
        });
        let Some(existing) = same else {
            merged.push(statement);
            continue;
        };
        let of = |one: &Value| super::actions(&json!({ "Statement": [one] }));
        let mut actions = of(existing);
        actions.extend(of(&statement));
        actions.sort();
        actions.dedup();
        existing["Action"] = json!(actions);
    }
    merged
}

/// iam:PassRole on `roles`, to `service` only.
pub fn pass_role(sid: &str, roles: &[String], service: &str) -> Value {
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
    use super::super::statement;
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
            stage_targets: &[],
            base_image_source: BaseImageSource::DockerHub,
            github_status_token_secret: None,
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
    fn the_kinds_declarations_make_one_statement_per_sid() {
        let env = EnvName::parse("dev").unwrap();
        let target = target();
        let ecs = DeployTarget::parse("ecs:prod/web").unwrap();
        for source in [SourceMode::GithubWebhook, SourceMode::Codeconnections] {
            let mut scope = scope(&env, &target, source);
            scope.github_token_secret = Some("gh-token");
            scope.deploy_target = Some(&ecs);
            let policy = policy(&scope);
            let mut sids: Vec<&str> = policy["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["Sid"].as_str().unwrap())
                .collect();
            assert_eq!(sids[..2], ["AccountWideReads", "RemoveSubscribers"]);
            let count = sids.len();
            sids.sort();
            sids.dedup();
            assert_eq!(sids.len(), count, "a Sid twice in {policy}");
        }
        let merged = merge_by_sid(vec![
            statement("S", &["b:B", "a:A"], vec!["r".into()]),
            statement("T", &["c:C"], vec!["r".into()]),
            statement("S", &["a:A", "c:C"], vec!["r".into()]),
        ]);
        assert_eq!(
            merged,
            vec![
                statement("S", &["a:A", "b:B", "c:C"], vec!["r".into()]),
                statement("T", &["c:C"], vec!["r".into()]),
            ]
        );
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
