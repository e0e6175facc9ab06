//! The least-privilege policy a person (or a chat bot) needs to approve a stage's promotion:
//! read what is waiting, and answer the approval of the stages given, nothing else.

use super::statement;
use crate::aws::Target;
use crate::config::stages::{APPROVAL_ACTION, approval_stage};
use anyhow::{Result, bail};
use pipeline_common::EnvName;
use serde_json::{Value, json};

/// The policy for approving `stages` (the stage names that have an approval before them) of
/// `env`'s pipeline. PutApprovalResult is authorised on the approval action
/// (`arn:PARTITION:codepipeline:REGION:ACCOUNT:PIPELINE/STAGE/ACTION`); reading the token and
/// what is being approved takes GetPipelineState, GetPipelineExecution and
/// ListPipelineExecutions on the pipeline (Service Authorization Reference, AWS CodePipeline:
/// the action and pipeline resource types; CodePipeline User Guide, "Approve or reject an
/// approval action").
pub fn policy(env: &EnvName, target: &Target, stages: &[&str]) -> Value {
    let pipeline = env.names().pipeline();
    let actions: Vec<String> = stages
        .iter()
        .map(|stage| {
            target.arn(
                "codepipeline",
                &format!("{pipeline}/{}/{APPROVAL_ACTION}", approval_stage(stage)),
            )
        })
        .collect();
    json!({
        "Version": "2012-10-17",
        "Statement": [
            statement(
                "ReadWhatWaitsForApproval",
                &[
                    "codepipeline:GetPipelineExecution",
                    "codepipeline:GetPipelineState",
                    "codepipeline:ListPipelineExecutions",
                ],
                vec![target.arn("codepipeline", &pipeline)],
            ),
            statement("ApproveOrReject", &["codepipeline:PutApprovalResult"], actions),
        ]
    })
}

/// The stages to approve: `only`, which must ask for approval, else every stage that does.
pub fn stages_to_approve<'a>(
    approving: &'a [String],
    only: Option<&'a str>,
) -> Result<Vec<&'a str>> {
    if approving.is_empty() {
        bail!(
            "no stage of this environment has an approval before it: give the stages as for deploy (--stage NAME=TARGET ...) with --approve-before NAME"
        );
    }
    match only {
        None => Ok(approving.iter().map(String::as_str).collect()),
        Some(name) if approving.iter().any(|s| s == name) => Ok(vec![name]),
        Some(name) => {
            bail!("stage `{name}` has no approval before it; the stages with one are {approving:?}")
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
        }
    }

    #[test]
    fn approving_names_each_approval_action_and_reads_only_the_pipeline() {
        let env = EnvName::parse("dev").unwrap();
        let document = policy(&env, &target(), &["prod"]);
        let statements = document["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 2);
        assert_eq!(
            statements[1]["Resource"],
            json!([
                "arn:aws:codepipeline:eu-west-1:123456789012:pipeline-dev/Approve-prod/Approval"
            ])
        );
        assert_eq!(
            statements[0]["Resource"],
            json!(["arn:aws:codepipeline:eu-west-1:123456789012:pipeline-dev"])
        );
    }

    #[test]
    fn a_stage_without_an_approval_is_refused_with_those_that_have_one() {
        let approving = vec!["prod".to_owned()];
        assert_eq!(stages_to_approve(&approving, None).unwrap(), ["prod"]);
        let err = stages_to_approve(&approving, Some("staging")).unwrap_err();
        assert!(err.to_string().contains("[\"prod\"]"), "{err}");
        let err = stages_to_approve(&[], None).unwrap_err();
        assert!(err.to_string().contains("--approve-before"), "{err}");
    }
}
