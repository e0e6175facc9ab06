//! The account the credentials belong to (STS GetCallerIdentity): every ARN and name that
//! carries an account id is built from it.

use crate::aws::Clients;
use anyhow::{Context, Result};
use aws_sdk_sts::error::SdkError;

pub async fn caller_account(clients: &Clients, region: &str) -> Result<String> {
    let identity = clients
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|err| {
            anyhow::anyhow!(
                "could not find out which AWS account to use (region {region}, {}): {}\n{}",
                profile(),
                crate::error_text(&err),
                hint(&err, region)
            )
        })?;
    Ok(identity
        .account()
        .context("STS returned no account id")?
        .to_owned())
}

/// Which profile the standard chain reads, as the user would name it.
fn profile() -> String {
    match std::env::var("AWS_PROFILE") {
        Ok(name) if !name.is_empty() => format!("profile `{name}`"),
        _ => "the default profile or environment credentials".to_owned(),
    }
}

/// The one hint that fits how the call failed: unreachable endpoint, no credentials, or
/// credentials STS refused (its code says which).
fn hint<E, R>(err: &SdkError<E, R>, region: &str) -> String {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .map(|url| format!("AWS_ENDPOINT_URL={url}"))
        .unwrap_or_else(|_| format!("sts.{region}.amazonaws.com"));
    match err {
        SdkError::DispatchFailure(failure) if failure.is_io() || failure.is_timeout() => format!(
            "hint: {endpoint} could not be reached: check that `{region}` is a region name (e.g. \
             --region eu-west-1) and, if set, AWS_ENDPOINT_URL"
        ),
        SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_) => format!(
            "hint: no usable credentials for {}: run `aws sso login`, set AWS_PROFILE to a \
             profile that has them, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            profile()
        ),
        SdkError::ServiceError(_) => "hint: STS refused these credentials: they may have expired \
                                      (`aws sso login` again) or belong to another partition"
            .to_owned(),
        _ => String::new(),
    }
}
