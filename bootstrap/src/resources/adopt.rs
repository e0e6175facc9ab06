//! Adopting what a create finds under its name: a leftover of a run that crashed after the
//! create, or what a run at the same time made. Ours by its tags, it is converged to the spec;
//! anyone else's is refused with the plan's conflict message.

use super::errors::{AlreadyExists, already_exists, already_exists_in};
use super::{Ctx, Resource};
use crate::model::{ResourceId, Spec, Tags};
use anyhow::{Context, Result, bail};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;

/// A kind whose create can find its name taken: its specs name the resource and carry its tags.
pub trait Adopt: Resource<Spec: TryFrom<Spec>> {
    fn identity(spec: &Self::Spec) -> (&str, &Tags);
}

/// Reads back what holds the name of `desired` and updates it to `desired` when it carries our
/// ownership tags (`ManagedBy` and the `Environment` `desired` carries); refuses it otherwise.
pub async fn adopt<R: Adopt>(ctx: Ctx<'_>, desired: &R::Spec) -> Result<()> {
    let (name, tags) = R::identity(desired);
    let id = ResourceId::new(R::KIND, name);
    let observed = R::observe(ctx, name).await?.with_context(|| {
        format!("{id} exists according to its create call but cannot be read back; run again")
    })?;
    let env = tags
        .get(pipeline_common::tags::ENVIRONMENT)
        .map_or("", String::as_str);
    if !crate::plan::is_ours(&observed, env) {
        bail!(crate::plan::not_ours_reason(&id, env));
    }
    let Ok(observed) = R::Spec::try_from(observed.spec) else {
        bail!("{id} read back as another kind of resource");
    };
    R::update(ctx, desired, &observed).await
}

/// What a create call answered: `true` when it made the resource; when the name was taken
/// (the service's modeled error for it), what holds it is [`adopt`]ed and `false`.
pub async fn created_or_adopted<R: Adopt>(
    ctx: Ctx<'_>,
    desired: &R::Spec,
    created: Result<
        impl Sized,
        SdkError<impl AlreadyExists + std::error::Error + Send + Sync + 'static, Response>,
    >,
) -> Result<bool> {
    match created {
        Ok(_) => Ok(true),
        Err(err) if already_exists(&err) => adopt::<R>(ctx, desired).await.map(|()| false),
        Err(err) => Err(err.into()),
    }
}

/// [`created_or_adopted`] for a create that went through the IAM-propagation retry, whose
/// error is an `anyhow::Error` carrying the SDK error of operation `E`.
pub async fn created_or_adopted_in<R: Adopt, E>(
    ctx: Ctx<'_>,
    desired: &R::Spec,
    created: Result<impl Sized>,
) -> Result<bool>
where
    E: AlreadyExists + std::error::Error + Send + Sync + 'static,
{
    match created {
        Ok(_) => Ok(true),
        Err(err) if already_exists_in::<E>(&err) => adopt::<R>(ctx, desired).await.map(|()| false),
        Err(err) => Err(err),
    }
}
