//! Secrets Manager secrets whose value the bootstrap generates once (32 random bytes, hex) and
//! never rotates, such as the GitHub webhook's HMAC secret. The value never enters a spec or a log.

use super::Ctx;
use super::adopt::created_or_adopted;
use super::errors::{self, absent_as_none, gone_is_done};
use super::tags::{model_tags, retag_with, sdk_tags};
use crate::config::SourceMode;
use crate::model::{Observed, SecretSpec};
use crate::policies::deployer::{Scope, secret_arn};
use crate::policies::statement;
use crate::secret::Secret;
use anyhow::{Context, Result, bail};
use aws_sdk_secretsmanager::operation::{
    create_secret::CreateSecretError, delete_secret::DeleteSecretError,
    describe_secret::DescribeSecretError, describe_secret::DescribeSecretOutput,
    get_secret_value::GetSecretValueError,
};
use serde_json::Value;

super::resource!(
    /// Secrets Manager secrets the bootstrap generates.
    SecretResource: Secret(SecretSpec), depends on []
);

/// A fresh secret value: 32 random bytes from the OS-seeded thread RNG, hex-encoded (64 chars).
pub fn generate_value() -> Secret {
    Secret::new(hex::encode(rand::random::<[u8; 32]>()))
}

errors::variants! {
    NotFound:
    DescribeSecretError => is_resource_not_found_exception,
    DeleteSecretError => is_resource_not_found_exception,
    GetSecretValueError => is_resource_not_found_exception,
}
errors::variants! { AlreadyExists: CreateSecretError => is_resource_exists_exception }

/// DescribeSecret, `None` when the secret does not exist at all.
async fn describe(ctx: Ctx<'_>, name: &str) -> Result<Option<DescribeSecretOutput>> {
    let secrets = &ctx.clients.secrets;
    absent_as_none(secrets.describe_secret().secret_id(name).send().await)
}

fn observed_spec(name: &str, described: &DescribeSecretOutput) -> SecretSpec {
    SecretSpec {
        name: name.to_owned(),
        description: described.description().unwrap_or_default().to_owned(),
        tags: model_tags(described.tags()),
    }
}

/// A secret scheduled for deletion reads as absent: it cannot be used until restored, and
/// [`create`] restores it rather than failing on the name.
pub async fn observe(ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
    let Some(described) = describe(ctx, name).await? else {
        return Ok(None);
    };
    if described.deleted_date().is_some() {
        return Ok(None);
    }
    let spec = observed_spec(name, &described);
    Ok(Some(Observed::of(spec, described.arn().map(str::to_owned))))
}

pub async fn create(ctx: Ctx<'_>, spec: &SecretSpec) -> Result<()> {
    let secrets = &ctx.clients.secrets;
    if let Some(existing) = describe(ctx, &spec.name).await? {
        // Left behind by a crash, or scheduled for deletion by a destroy that was not forced:
        // keep its value (webhooks may already be signed with it) and converge the rest.
        if existing.deleted_date().is_some() {
            secrets
                .restore_secret()
                .secret_id(&spec.name)
                .send()
                .await
                .context("restoring the secret scheduled for deletion")?;
            ctx.progress.line(&format!(
                "restored secret {} (it was scheduled for deletion), keeping its value",
                spec.name
            ));
        }
        return update(ctx, spec, &observed_spec(&spec.name, &existing)).await;
    }
    let value = generate_value();
    let created = secrets
        .create_secret()
        .name(&spec.name)
        .description(&spec.description)
        .secret_string(value.expose())
        .set_tags(Some(sdk_tags(&spec.tags)?))
        .send()
        .await;
    // Created between our DescribeSecret and now: adopted, never overwriting a value in use.
    created_or_adopted::<SecretResource>(ctx, spec, created)
        .await
        .map(drop)
}

/// Converges description and tags; the value is never touched.
pub async fn update(ctx: Ctx<'_>, desired: &SecretSpec, observed: &SecretSpec) -> Result<()> {
    let secrets = &ctx.clients.secrets;
    if desired.description != observed.description {
        secrets
            .update_secret()
            .secret_id(&desired.name)
            .description(&desired.description)
            .send()
            .await
            .context("setting the secret's description")?;
    }
    retag_with!(
        secrets,
        secret_id(&desired.name),
        &desired.tags,
        &observed.tags
    )
    .await
}

/// Deletes at once, without the recovery window, so that nothing of the secret is left.
pub async fn delete(ctx: Ctx<'_>, name: &str) -> Result<()> {
    let deleted = ctx
        .clients
        .secrets
        .delete_secret()
        .secret_id(name)
        .force_delete_without_recovery(true)
        .send()
        .await;
    gone_is_done(deleted)
}

/// The full ARN of a secret the user names (a name, a partial ARN or a full one). A policy
/// resource must be the full ARN: Secrets Manager appends a random 6-character suffix to every
/// secret's ARN (`secret:NAME-AbCdEf`, Secrets Manager User Guide, "Secret ARN"), so a policy on
/// the bare name or a partial ARN never matches and the read is denied at run time.
pub async fn resolve_arn(ctx: Ctx<'_>, given: &str, flag: &str) -> Result<String> {
    let Some(described) = describe(ctx, given).await? else {
        let name = if given.starts_with("arn:") {
            "NAME"
        } else {
            given
        };
        bail!(
            "{flag} `{given}`: no such secret in account {} region {}; create it first \
             (`aws secretsmanager create-secret --name {name} --secret-string ...`) or fix the name",
            ctx.target.account_id,
            ctx.target.region
        );
    };
    described
        .arn()
        .map(str::to_owned)
        .with_context(|| format!("{flag} `{given}`: Secrets Manager returned no ARN for it"))
}

/// The value of the webhook secret bootstrap generated at create (never rotated by it).
pub async fn read_value(ctx: Ctx<'_>, name: &str) -> Result<Secret> {
    match read_value_if_exists(ctx, name).await? {
        Some(secret) => Ok(secret),
        None => bail!(
            "secret {name} does not exist: it is made earlier in the same deploy, so run the \
             deploy again and it is created first"
        ),
    }
}

/// A secret's text value; `None` when no secret has that name or ARN in this account and
/// region (the caller knows what the fix is).
pub async fn read_value_if_exists(ctx: Ctx<'_>, name: &str) -> Result<Option<Secret>> {
    let answer = ctx
        .clients
        .secrets
        .get_secret_value()
        .secret_id(name)
        .send()
        .await;
    let Some(answer) =
        absent_as_none(answer).with_context(|| format!("reading the value of secret {name}"))?
    else {
        return Ok(None);
    };
    match answer.secret_string() {
        Some(value) => Ok(Some(Secret::new(value))),
        None => bail!(
            "secret {name} holds no text value (a binary secret): store the value as text, \
             e.g. `aws secretsmanager put-secret-value --secret-id {name} --secret-string VALUE`"
        ),
    }
}

/// What the deployer needs for the webhook's secret and to read `--github-token-secret` (GitHub
/// webhook mode only).
pub fn deployer_grants(scope: &Scope<'_>) -> Vec<Value> {
    let mut grants = source_secret_grants(scope);
    // plan resolves the commit status token's secret to its full ARN (DescribeSecret), which
    // the event-notifier's grant names; the deployer never reads the token itself.
    grants.extend(scope.github_status_token_secret.map(|secret| {
        let arn = vec![secret_arn(scope.target, secret)];
        statement(
            "FindCommitStatusToken",
            &["secretsmanager:DescribeSecret"],
            arn,
        )
    }));
    grants
}

/// The webhook's secret and the GitHub token of the source, by source mode.
fn source_secret_grants(scope: &Scope<'_>) -> Vec<Value> {
    let (target, name) = (scope.target, scope.env.names().webhook_secret());
    if scope.source != SourceMode::GithubWebhook {
        // In codeconnections mode the webhook's secret is looked for too, and one an earlier
        // webhook-mode deploy left is deleted when the source mode changes.
        return vec![statement(
            "WebhookSecretLeftover",
            &[
                "secretsmanager:DeleteSecret",
                "secretsmanager:DescribeSecret",
            ],
            vec![
                secret_arn(target, &name),
                target.arn("secretsmanager", &format!("secret:{name}")),
            ],
        )];
    }
    let mut grants = vec![statement(
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
        // a secret that does not exist yet has no random suffix: reading it before creating it
        // is checked on the bare name's ARN, which no real secret has
        vec![
            secret_arn(target, &name),
            target.arn("secretsmanager", &format!("secret:{name}")),
        ],
    )];
    let read_token = |secret| {
        let arn = vec![secret_arn(target, secret)];
        statement("ReadGitHubToken", &["secretsmanager:GetSecretValue"], arn)
    };
    grants.extend(scope.github_token_secret.map(read_token));
    grants
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_are_64_hex_chars_and_differ() {
        let (a, b) = (generate_value(), generate_value());
        assert_eq!(a.expose().len(), 64);
        assert!(
            a.expose()
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
        assert_eq!(
            format!("{a:?} {a}"),
            "Secret(****) ****",
            "the value never prints"
        );
    }
}
