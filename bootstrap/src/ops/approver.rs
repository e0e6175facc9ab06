//! `approver-policy`: the IAM policy for the people (or the chat bot) who approve promotions.

use super::{Output, Session};
use crate::config::PolicyScope;
use crate::policies::approver;
use anyhow::{Context, Result};

/// Prints the approvers' policy for the scope's approval stages (or the one `only` names); JSON
/// output is the document alone, ready for `aws iam create-policy`.
pub async fn approver_policy(
    scope: &PolicyScope,
    only: Option<&str>,
    region: Option<&str>,
    output: Output,
) -> Result<()> {
    // Checked before connecting: a wrong stage name needs no account to be refused.
    let stages = approver::stages_to_approve(&scope.approval_stages, only)?;
    let session = Session::connect(region, output).await?;
    let policy = approver::policy(&scope.env, &session.target, &stages);
    let text = serde_json::to_string_pretty(&policy).context("rendering the policy")?;
    if output == Output::Json {
        println!("{text}");
        return Ok(());
    }
    println!(
        "Least-privilege policy for approving or rejecting {} of environment `{}` in account {} ({}):\n",
        stages
            .iter()
            .map(|stage| format!("the promotion to {stage}"))
            .collect::<Vec<_>>()
            .join(", "),
        scope.env,
        session.target.account_id,
        session.target.region
    );
    println!("{text}\n");
    println!(
        "Attach it to the approvers' role or group; they read the token with `aws codepipeline get-pipeline-state --name {}` and answer with `aws codepipeline put-approval-result`.",
        scope.env.names().pipeline()
    );
    Ok(())
}
