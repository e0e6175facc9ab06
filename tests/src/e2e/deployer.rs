//! The deployer's identity in the rehearsal: a role whose only policy is the one
//! `bootstrap deployer-policy` prints, and a session of it that every `bootstrap` command of the
//! rehearsal runs under, so a grant the policy lacks is a denial here.
//!
//! A role rather than a user: the policy (about 6,300 characters for one environment) is over a
//! customer managed policy's 6,144 and far over a user's 2,048 of inline policy, but within a
//! role's 10,240 (IAM User Guide, "IAM and AWS STS quotas"); a CI job assumes a role anyway.

use anyhow::{Context, Result};
use aws_sdk_iam::Client as IamClient;
use aws_sdk_sts::Client as StsClient;
use serde_json::{Value, json};

/// The deployer role's name for an environment.
pub fn role_name(env: &str) -> String {
    format!("bootstrap-deployer-{env}")
}

/// Name of the deployer role's one inline policy.
pub const POLICY_NAME: &str = "deployer";

/// The deployer: its role and a session's credentials as environment variables.
#[derive(Clone, Debug)]
pub struct Deployer {
    pub role: String,
    pub policy: Value,
    pub env: Vec<(String, String)>,
}

impl Deployer {
    /// Creates the role (trusting principals of the account that may assume it), gives it
    /// `policy` and assumes it.
    pub async fn create(
        iam: &IamClient,
        sts: &StsClient,
        env: &str,
        account: &str,
        policy: Value,
    ) -> Result<Self> {
        let role = role_name(env);
        let trust = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "AWS": format!("arn:aws:iam::{account}:root") },
                "Action": "sts:AssumeRole"
            }]
        });
        let created = iam
            .create_role()
            .role_name(&role)
            .assume_role_policy_document(trust.to_string())
            .description(
                "runs bootstrap in the rehearsal, with exactly `bootstrap deployer-policy`",
            )
            .send()
            .await
            .with_context(|| format!("creating the deployer role {role}"))?;
        let arn = created
            .role()
            .map(|r| r.arn().to_owned())
            .context("CreateRole returned no role")?;
        iam.put_role_policy()
            .role_name(&role)
            .policy_name(POLICY_NAME)
            .policy_document(policy.to_string())
            .send()
            .await
            .with_context(|| format!("putting the deployer policy on {role}"))?;
        let env = super::role_credentials(sts, &arn, "bootstrap").await?;
        Ok(Self { role, policy, env })
    }
}
