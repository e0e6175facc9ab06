//! Secrets Manager secrets whose value the bootstrap generates once (32 random bytes, hex) and
//! never rotates, such as the GitHub webhook's HMAC secret. The value never enters a spec or a log.

use super::Ctx;
use super::util::{self, TagChanges};
use crate::model::{Observed, SecretSpec, Spec, Tags};
use crate::secret::Secret;
use anyhow::{Context, Result, bail};
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::types::Tag;

super::resource!(
    /// Secrets Manager secrets the bootstrap generates.
    SecretResource: Secret(SecretSpec), depends on []
);

/// A fresh secret value: 32 random bytes from the OS-seeded thread RNG, hex-encoded (64 chars).
pub fn generate_value() -> Secret {
    Secret::new(hex::encode(rand::random::<[u8; 32]>()))
}

fn secret_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// DescribeSecret, `None` when the secret does not exist at all.
async fn describe(ctx: Ctx<'_>, name: &str) -> Result<Option<DescribeSecretOutput>> {
    let answer = ctx
        .clients
        .secrets
        .describe_secret()
        .secret_id(name)
        .send()
        .await;
    util::absent_as_none(answer, |e| e.is_resource_not_found_exception())
}

fn observed_spec(name: &str, described: &DescribeSecretOutput) -> SecretSpec {
    SecretSpec {
        name: name.to_owned(),
        description: described.description().unwrap_or_default().to_owned(),
        tags: described
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                ))
            })
            .collect(),
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
    let tags = spec.tags.clone();
    Ok(Some(Observed {
        crash_leftover: false,
        spec: Spec::Secret(spec),
        tags,
        arn: described.arn().map(str::to_owned),
        status: None,
    }))
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
        .set_tags(Some(secret_tags(&spec.tags)))
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        // Created between our DescribeSecret and now: never overwrite a value someone uses.
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_exists_exception()) =>
        {
            let existing = describe(ctx, &spec.name)
                .await?
                .with_context(|| format!("secret {} exists but cannot be described", spec.name))?;
            update(ctx, spec, &observed_spec(&spec.name, &existing)).await
        }
        Err(err) => Err(err.into()),
    }
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
    if desired.tags != observed.tags {
        let TagChanges {
            remove: stale,
            set: changed,
        } = TagChanges::between(&desired.tags, &observed.tags);
        if !stale.is_empty() {
            secrets
                .untag_resource()
                .secret_id(&desired.name)
                .set_tag_keys(Some(stale))
                .send()
                .await
                .context("removing tags")?;
        }
        if !changed.is_empty() {
            secrets
                .tag_resource()
                .secret_id(&desired.name)
                .set_tags(Some(secret_tags(&changed)))
                .send()
                .await
                .context("tagging the secret")?;
        }
    }
    Ok(())
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
    util::gone_is_done(deleted, |e| e.is_resource_not_found_exception())
}

/// The full ARN of a secret the user names (a name, a partial ARN or a full one). A policy
/// resource must be the full ARN: Secrets Manager appends a random 6-character suffix to every
/// secret's ARN (`secret:NAME-AbCdEf`, Secrets Manager User Guide, "Secret ARN"), so a policy on
/// the bare name or a partial ARN never matches and the read is denied at run time.
pub async fn resolve_arn(ctx: Ctx<'_>, given: &str, flag: &str) -> Result<String> {
    let Some(described) = describe(ctx, given).await? else {
        bail!(
            "{flag} `{given}`: no such secret in account {} region {}; create it first \
             (`aws secretsmanager create-secret --name NAME --secret-string ...`) or fix the name",
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
    let answer = match ctx
        .clients
        .secrets
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
    {
        Ok(answer) => answer,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(err) => {
            return Err(
                anyhow::Error::new(err).context(format!("reading the value of secret {name}"))
            );
        }
    };
    match answer.secret_string() {
        Some(value) => Ok(Some(Secret::new(value))),
        None => bail!(
            "secret {name} holds no text value (a binary secret): store the value as text, \
             e.g. `aws secretsmanager put-secret-value --secret-id {name} --secret-string VALUE`"
        ),
    }
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
