//! The account the credentials belong to (STS GetCallerIdentity): every ARN and name that
//! carries an account id is built from it.

use crate::aws::Clients;
use anyhow::{Context, Result};

pub async fn caller_account(clients: &Clients) -> Result<String> {
    let identity = clients
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|err| {
            anyhow::anyhow!(
                "could not find out which AWS account to use: {}\ncheck your credentials \
             (AWS_PROFILE, AWS_ACCESS_KEY_ID, `aws sso login`) and AWS_ENDPOINT_URL",
                crate::error_text(&err)
            )
        })?;
    Ok(identity
        .account()
        .context("STS returned no account id")?
        .to_owned())
}
