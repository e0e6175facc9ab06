//! The permissions boundary of the environment's four roles: a customer managed policy that
//! allows at most what those roles may do, made from the very functions that write their inline
//! policies, so the two cannot drift apart.
//!
//! The deployer writes the roles' policies (`iam:PutRolePolicy`) and the code they run (Lambda
//! code, the buildspec); without a boundary it could give a role of its environment any
//! permission in the account. IAM's answer for delegated role management is a permissions
//! boundary: the effective permissions of a role are the intersection of its policies and its
//! boundary, and the delegate may create and change roles only with that boundary attached
//! (`iam:PermissionsBoundary`), never remove it, never edit the boundary policy (IAM User Guide,
//! "Permissions boundaries for IAM entities",
//! https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html, "Delegating
//! responsibility to others using permissions boundaries"). The administrator creates the policy
//! once, with the deployer's role; `plan` and `deploy` refuse without it.

use super::{Arns, document};
use crate::aws::Target;
use crate::target_facts::TargetFacts;
use pipeline_common::{EnvName, tags};
use serde_json::{Value, json};

/// IAM's size limit for a customer managed policy, in characters without whitespace (IAM User
/// Guide, "IAM and AWS STS quotas"): the boundary is one.
pub const MANAGED_POLICY_LIMIT: usize = 6_144;

/// The boundary policy's ARN (path `/`).
pub fn arn(env: &EnvName, target: &Target) -> String {
    target.iam_arn(&format!("policy/{}", env.names().permissions_boundary()))
}

/// What the roles' policies depend on besides the environment's own ARNs: the configuration's
/// choices and what plan reads of the deploy target.
#[derive(Clone, Copy, Debug, Default)]
pub struct RoleInputs<'a> {
    /// `--source codeconnections`: the pipeline role uses a connection.
    pub codeconnections: bool,
    /// `--connection-arn`: the connection given; without it bootstrap creates one, whose ARN
    /// holds a random id, so the boundary names every connection carrying the environment's tag.
    pub connection_arn: Option<&'a str>,
    /// `--deploy-webhook-secret-arn` as given (a name or an ARN, with or without its suffix).
    pub webhook_secret: Option<&'a str>,
    /// What the deploy target was found to be.
    pub deploy_target: Option<&'a TargetFacts>,
    /// The stages' targets (`--stage`), granted like `--deploy-target`'s.
    pub stage_targets: &'a [TargetFacts],
    /// The ARNs of the alarms the stages bake with (the pipeline role reads them).
    pub bake_alarms: &'a [String],
    /// `--topic-kms-key`.
    pub topic_kms_key: Option<&'a str>,
    /// `--github-status-token-secret` as given (a name or an ARN): the event-notifier reads it.
    pub status_token_secret: Option<&'a str>,
    /// The ARNs of the alarms the stages' traffic shifts watch (the deploy-handler reads them);
    /// always among `bake_alarms`.
    pub shift_alarms: &'a [String],
    /// The ARN pattern of the repositories the build pulls base images through, when it uses
    /// the environment's pull-through cache.
    pub base_image_cache: Option<&'a str>,
}

/// The four roles' inline policies as the desired state writes them, labelled by role (the
/// label prefixes each statement's Sid in the boundary).
pub fn role_policies(
    arns: &Arns,
    target: &Target,
    inputs: &RoleInputs<'_>,
) -> Vec<(&'static str, Value)> {
    let connection = if inputs.codeconnections {
        Some(
            inputs
                .connection_arn
                .map(str::to_owned)
                .unwrap_or_else(|| target.arn("codestar-connections", "connection/*")),
        )
    } else {
        None
    };
    // The boundary caps the role at reading any alarm (`*`): the role's own policy names each
    // bake alarm, but the boundary is within a few dozen characters of a managed policy's 6,144
    // (IAM User Guide, "IAM and AWS STS quotas") for the longest environment name, and
    // DescribeAlarms only reads, so nothing of another environment can be changed through it.
    let bake_alarms: Vec<String> = if inputs.bake_alarms.is_empty() {
        Vec::new()
    } else {
        vec!["*".to_owned()]
    };
    let secret = inputs
        .webhook_secret
        .map(|given| super::deployer::secret_arn(target, given));
    let status_secret = inputs
        .status_token_secret
        .map(|given| super::deployer::secret_arn(target, given));
    vec![
        (
            "Build",
            super::codebuild_role_with(arns, inputs.base_image_cache),
        ),
        (
            "Pipeline",
            super::pipeline_role_watching(arns, connection.as_deref(), &bake_alarms),
        ),
        (
            "DeployHandler",
            super::deploy_handler_role_shifting(
                arns,
                true,
                secret.as_deref(),
                &inputs
                    .deploy_target
                    .into_iter()
                    .chain(inputs.stage_targets)
                    .collect::<Vec<_>>(),
                // No statement of its own: a shift's alarms are always bake alarms too (a stage
                // with alarms bakes at least a minute), and the pipeline's statement above
                // already caps DescribeAlarms at `*` for every role under the boundary.
                &[],
            ),
        ),
        (
            "EventNotifier",
            super::event_notifier_role_with_statuses(
                arns,
                inputs.topic_kms_key,
                status_secret.as_deref(),
            ),
        ),
    ]
}

/// The boundary document: every statement of the four roles' policies, its Sid prefixed with
/// the role. A connection bootstrap creates is named by the environment's tag: CodeConnections
/// authorises `UseConnection` by the connection's tags (Service Authorization Reference,
/// AWS CodeConnections: the connection resource type takes `aws:ResourceTag/${TagKey}`).
pub fn document_for(env: &EnvName, arns: &Arns, target: &Target, inputs: &RoleInputs<'_>) -> Value {
    let tagged_connection = inputs.codeconnections && inputs.connection_arn.is_none();
    let mut statements = Vec::new();
    for (role, policy) in role_policies(arns, target, inputs) {
        for mut statement in policy["Statement"].as_array().cloned().unwrap_or_default() {
            let sid = statement["Sid"].as_str().unwrap_or_default().to_owned();
            statement["Sid"] = json!(format!("{role}{sid}"));
            if tagged_connection && sid == "UseGitHubConnection" {
                statement["Condition"] = json!({
                    "StringEquals": { format!("aws:ResourceTag/{}", tags::ENVIRONMENT): env.as_str() }
                });
            }
            statements.push(statement);
        }
    }
    document(same_grants_merged(statements))
}

/// Statements of different roles that grant the same actions under the same condition become
/// one over all their resources (the first one's Sid): a boundary is a union of allows, so the
/// document allows exactly the same, in fewer characters (the roles' log writes, their artifact
/// reads, their secret reads), which keeps it under a managed policy's size limit.
fn same_grants_merged(statements: Vec<Value>) -> Vec<Value> {
    let mut merged: Vec<Value> = Vec::new();
    for statement in statements {
        let same = merged.iter_mut().find(|m| {
            m["Action"] == statement["Action"]
                && m["Effect"] == statement["Effect"]
                && m.get("Condition") == statement.get("Condition")
        });
        match same {
            Some(existing) => {
                let mut resources = super::resources_of(&existing["Resource"]);
                for resource in super::resources_of(&statement["Resource"]) {
                    if !resources.contains(&resource) {
                        resources.push(resource);
                    }
                }
                existing["Resource"] = json!(resources);
            }
            None => merged.push(statement),
        }
    }
    merged
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::policies::deployer::size;

    fn target() -> Target {
        Target {
            account_id: "123456789012".to_owned(),
            region: "eu-west-1".to_owned(),
        }
    }

    fn ecs_facts(env: &str) -> TargetFacts {
        TargetFacts::Ecs {
            service_arn: format!("arn:aws:ecs:eu-west-1:123456789012:service/{env}/web"),
            family: format!("arn:aws:ecs:eu-west-1:123456789012:task-definition/{env}-web"),
            pass_roles: vec![format!("arn:aws:iam::123456789012:role/{env}-web-task")],
            rollback: true,
            architecture: pipeline_common::CpuArchitecture::X86_64,
        }
    }

    #[test]
    fn every_role_statement_is_in_the_boundary_under_its_roles_sid() {
        let env = EnvName::parse("dev").unwrap();
        let target = target();
        let arns = crate::desired::arns(&env, &target);
        let facts = ecs_facts("dev");
        let alarms = [target.arn("cloudwatch", "alarm:web-5xx")];
        let inputs = RoleInputs {
            deploy_target: Some(&facts),
            stage_targets: &[],
            bake_alarms: &alarms,
            topic_kms_key: Some("arn:aws:kms:eu-west-1:123456789012:key/k"),
            status_token_secret: Some("gh-status"),
            shift_alarms: &alarms,
            ..RoleInputs::default()
        };
        let boundary = document_for(&env, &arns, &target, &inputs);
        let statements = boundary["Statement"].as_array().unwrap();
        for (role, policy) in role_policies(&arns, &target, &inputs) {
            for statement in policy["Statement"].as_array().unwrap() {
                let sid = format!("{role}{}", statement["Sid"].as_str().unwrap());
                // under its own Sid, or merged into one granting the same over more resources
                let found = statements
                    .iter()
                    .find(|s| {
                        s["Action"] == statement["Action"]
                            && s.get("Condition").is_none() == statement.get("Condition").is_none()
                    })
                    .unwrap_or_else(|| panic!("{sid} not in {boundary}"));
                let allowed = crate::policies::resources_of(&found["Resource"]);
                for resource in crate::policies::resources_of(&statement["Resource"]) {
                    assert!(allowed.contains(&resource), "{sid}: {resource}");
                }
            }
        }
        let mut sids: Vec<&str> = statements
            .iter()
            .map(|s| s["Sid"].as_str().unwrap())
            .collect();
        let count = sids.len();
        sids.sort();
        sids.dedup();
        assert_eq!(sids.len(), count, "a Sid twice in {boundary}");
        assert!(arn(&env, &target).ends_with(":policy/pipeline-boundary-dev"));
        let by_sid = |sid: &str| statements.iter().find(|s| s["Sid"] == sid).unwrap();
        // the deploy-handler's reads of the shifts' alarms pass the bake alarms' cap
        assert_eq!(by_sid("PipelineWatchBakeAlarms")["Resource"], json!(["*"]));
        assert!(
            !statements
                .iter()
                .any(|s| s["Sid"] == "DeployHandlerWatchShiftAlarms")
        );
        assert_eq!(
            by_sid("EventNotifierReadCommitStatusToken")["Resource"],
            json!(["arn:aws:secretsmanager:eu-west-1:123456789012:secret:gh-status-??????"])
        );
    }

    #[test]
    fn a_created_connection_is_allowed_by_the_environments_tag_only() {
        let env = EnvName::parse("dev").unwrap();
        let target = target();
        let arns = crate::desired::arns(&env, &target);
        let inputs = RoleInputs {
            codeconnections: true,
            ..RoleInputs::default()
        };
        let boundary = document_for(&env, &arns, &target, &inputs);
        let connection = boundary["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "PipelineUseGitHubConnection")
            .unwrap();
        assert_eq!(
            connection["Condition"]["StringEquals"]["aws:ResourceTag/Environment"],
            "dev"
        );
        let given = "arn:aws:codeconnections:eu-west-1:123456789012:connection/abc";
        let inputs = RoleInputs {
            connection_arn: Some(given),
            ..inputs
        };
        let boundary = document_for(&env, &arns, &target, &inputs);
        let connection = boundary["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "PipelineUseGitHubConnection")
            .unwrap();
        assert_eq!(connection["Resource"], json!([given]));
        assert!(connection.get("Condition").is_none());
    }

    #[test]
    fn the_boundary_fits_a_managed_policy_for_the_longest_environment() {
        let env = EnvName::parse("a-forty-character-environment-name-xxxxx").unwrap();
        let target = target();
        let arns = crate::desired::arns(&env, &target);
        let facts = ecs_facts(env.as_str());
        let cache = target.arn(
            "ecr",
            &format!("repository/{}/*", env.names().base_image_cache()),
        );
        let alarms = [
            target.arn("cloudwatch", "alarm:web-5xx-errors-over-one-percent"),
            target.arn("cloudwatch", "alarm:web-p99-latency-over-two-seconds"),
        ];
        let inputs = RoleInputs {
            codeconnections: true,
            connection_arn: None,
            webhook_secret: Some("a-deploy-webhook-signing-secret-with-a-long-name"),
            deploy_target: Some(&facts),
            stage_targets: &[],
            bake_alarms: &alarms,
            topic_kms_key: Some(
                "arn:aws:kms:eu-west-1:123456789012:key/0d3b1a1e-0000-4000-8000-000000000000",
            ),
            base_image_cache: Some(&cache),
            status_token_secret: Some("a-github-commit-status-token-with-a-long-name"),
            shift_alarms: &alarms,
        };
        let size = size(&document_for(&env, &arns, &target, &inputs));
        assert!(
            size <= MANAGED_POLICY_LIMIT,
            "{size} characters: over a managed policy's {MANAGED_POLICY_LIMIT}"
        );
    }
}
