//! Webhook resources (not implemented yet).

use super::Ctx;
use crate::model::{WebhookSpec, Observed};
use anyhow::{Result, bail};

pub async fn observe(_ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
    bail!("observing {name}: not implemented yet")
}

pub async fn create(_ctx: Ctx<'_>, spec: &WebhookSpec, _secret: &crate::secret::Secret) -> Result<()> {
    bail!("creating {}: not implemented yet", spec.name)
}

pub async fn update(
    _ctx: Ctx<'_>,
    desired: &WebhookSpec,
    _observed: &WebhookSpec,
    _secret: &crate::secret::Secret,
) -> Result<()> {
    bail!("updating {}: not implemented yet", desired.name)
}

pub async fn delete(_ctx: Ctx<'_>, name: &str) -> Result<()> {
    bail!("deleting {name}: not implemented yet")
}
