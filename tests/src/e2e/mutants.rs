//! Mutation testing of the policies: a mutant is one policy with one statement, or one action
//! of a statement, removed. The rehearsal applies a mutant to the role it names before the
//! calls that need the grant, and must then fail with a denial naming the removed action.
//!
//! The e2e test checks every mutant at once by replay (the emulator re-evaluates every recorded
//! call without the grant, `/_shim/iam/mutants`); `cargo xtask mutants` runs the real rehearsal
//! for a sample of them, which also proves the replay tells the truth.

use anyhow::{Context, Result, bail};
use bootstrap::aws::Target;
use bootstrap::config::SourceMode;
use bootstrap::policies::{self, deployer};
use bootstrap::resources::deploy_target::TargetFacts;
use pipeline_common::{DeployTarget, EnvName};
use serde_json::Value;
use std::fmt;

/// The deployer role's name without the environment suffix (`bootstrap-deployer-{env}`).
pub const DEPLOYER: &str = "bootstrap-deployer";

/// One statement, or one action of it, removed from one role's policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mutant {
    /// The role's name without the environment suffix, e.g. `codebuild-role`.
    pub role: String,
    pub sid: String,
    /// `None`: the whole statement goes.
    pub action: Option<String>,
}

impl fmt::Display for Mutant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.role, self.sid)?;
        if let Some(action) = &self.action {
            write!(f, ":{action}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Mutant {
    type Err = anyhow::Error;
    fn from_str(text: &str) -> Result<Self> {
        let mut parts = text.splitn(3, ':');
        let (Some(role), Some(sid)) = (parts.next(), parts.next()) else {
            bail!(
                "mutant `{text}`: write ROLE:SID or ROLE:SID:ACTION, e.g. codebuild-role:LogInToEcr"
            );
        };
        // an action has a colon of its own (`ecr:PutImage`): the third part is the rest
        let action = parts.next().map(str::to_owned);
        Ok(Self {
            role: role.to_owned(),
            sid: sid.to_owned(),
            action,
        })
    }
}

fn actions_of(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

impl Mutant {
    /// Whether this mutant is of the role `role_name` in environment `env`.
    pub fn is_of(&self, role_name: &str, env: &str) -> bool {
        role_name == format!("{}-{env}", self.role)
    }

    /// The actions the rehearsal loses: a denial naming one of them catches the mutant.
    pub fn removed_actions(&self, policy: &Value) -> Vec<String> {
        match &self.action {
            Some(action) => vec![action.clone()],
            None => policy["Statement"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| s["Sid"] == self.sid.as_str())
                .flat_map(actions_of)
                .collect(),
        }
    }

    /// `policy` without the statement or the action; an error when it has neither.
    pub fn apply(&self, policy: &Value) -> Result<Value> {
        let mut mutated = policy.clone();
        let statements = mutated["Statement"]
            .as_array_mut()
            .context("the policy has no Statement list")?;
        let index = statements
            .iter()
            .position(|s| s["Sid"] == self.sid.as_str())
            .with_context(|| format!("mutant {self}: the policy has no statement {}", self.sid))?;
        match &self.action {
            None => {
                statements.remove(index);
            }
            Some(action) => {
                let kept: Vec<String> = actions_of(&statements[index])
                    .into_iter()
                    .filter(|a| a != action)
                    .collect();
                if kept.len() == actions_of(&statements[index]).len() {
                    bail!(
                        "mutant {self}: statement {} has no action {action}",
                        self.sid
                    );
                }
                if kept.is_empty() {
                    statements.remove(index);
                } else {
                    statements[index]["Action"] = kept.into();
                }
            }
        }
        Ok(mutated)
    }
}

/// Every mutant of `policy`, the policy of role `role` (name without the suffix): each
/// statement, then each action of each statement with more than one.
pub fn of_policy(role: &str, policy: &Value) -> Vec<Mutant> {
    let mut out = Vec::new();
    for statement in policy["Statement"].as_array().into_iter().flatten() {
        if statement["Effect"] != "Allow" {
            continue;
        }
        let sid = statement["Sid"].as_str().unwrap_or_default().to_owned();
        out.push(Mutant {
            role: role.to_owned(),
            sid: sid.clone(),
            action: None,
        });
        let actions = actions_of(statement);
        if actions.len() > 1 {
            out.extend(actions.into_iter().map(|action| Mutant {
                role: role.to_owned(),
                sid: sid.clone(),
                action: Some(action),
            }));
        }
    }
    out
}

/// The policies the rehearsal deploys (GitHub webhook source, EventBridge deployment events, no
/// topic key, the team's ECS service as the deploy target), built by the same functions
/// `bootstrap` uses, with their roles' base names.
pub fn rehearsed_policies(env: &EnvName, target: &Target) -> Vec<(String, Value)> {
    let arns = bootstrap::desired::arns(env, target);
    let deploy_target = DeployTarget::parse("ecs:team/web").unwrap_or(DeployTarget::Ecs {
        cluster: "team".into(),
        service: "web".into(),
        container: None,
    });
    let facts = TargetFacts::Ecs {
        service_arn: target.arn("ecs", "service/team/web"),
        family: target.arn("ecs", "task-definition/web"),
        pass_roles: vec![target.role_arn("web-task")],
        rollback: true,
        architecture: pipeline_common::CpuArchitecture::X86_64,
    };
    vec![
        ("codebuild-role".to_owned(), policies::codebuild_role(&arns)),
        (
            "codepipeline-role".to_owned(),
            policies::pipeline_role(&arns, None),
        ),
        (
            "deploy-handler-role".to_owned(),
            policies::deploy_handler_role(&arns, true, None, &[&facts]),
        ),
        (
            "event-notifier-role".to_owned(),
            policies::event_notifier_role(&arns, None),
        ),
        (
            DEPLOYER.to_owned(),
            deployer::policy(&deployer::Scope {
                env,
                target,
                source: SourceMode::GithubWebhook,
                connection_arn: None,
                github_token_secret: None,
                deploy_webhook_secret_arn: None,
                deploy_target: Some(&deploy_target),
                stage_targets: &[],
                base_image_source: bootstrap::config::BaseImageSource::DockerHub,
                github_status_token_secret: None,
            }),
        ),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy() -> Value {
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "A", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"},
            {"Sid": "B", "Effect": "Allow", "Action": "sns:Publish", "Resource": "*"},
            {"Sid": "D", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}
        ]})
    }

    #[test]
    fn every_allow_statement_and_every_action_of_a_list_is_a_mutant() {
        let names: Vec<String> = of_policy("r", &policy())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            names,
            ["r:A", "r:A:s3:GetObject", "r:A:s3:PutObject", "r:B"]
        );
    }

    #[test]
    fn a_mutant_parses_back_and_removes_what_it_names() {
        let mutant: Mutant = "r:A:s3:PutObject".parse().unwrap();
        assert_eq!(mutant.action.as_deref(), Some("s3:PutObject"));
        let mutated = mutant.apply(&policy()).unwrap();
        assert_eq!(mutated["Statement"][0]["Action"], json!(["s3:GetObject"]));
        let statement: Mutant = "r:B".parse().unwrap();
        let mutated = statement.apply(&policy()).unwrap();
        assert_eq!(mutated["Statement"].as_array().unwrap().len(), 2);
        assert_eq!(statement.removed_actions(&policy()), ["sns:Publish"]);
        assert!("r:Z".parse::<Mutant>().unwrap().apply(&policy()).is_err());
        assert!(
            "r:B:s3:GetObject"
                .parse::<Mutant>()
                .unwrap()
                .apply(&policy())
                .is_err()
        );
        assert!("nonsense".parse::<Mutant>().is_err());
    }

    #[test]
    fn the_rehearsed_policies_have_a_mutant_per_statement() {
        let env = EnvName::parse("demo").unwrap();
        let target = Target {
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
        };
        for (role, policy) in rehearsed_policies(&env, &target) {
            let statements = policy["Statement"].as_array().unwrap().len();
            let mutants = of_policy(&role, &policy);
            assert_eq!(
                mutants.iter().filter(|m| m.action.is_none()).count(),
                statements,
                "{role}"
            );
        }
    }
}
