//! Secret resources (not implemented yet).

use super::Ctx;
use crate::model::{SecretSpec, Observed};
use anyhow::{Result, bail};

pub async fn observe(_ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
    bail!("observing {name}: not implemented yet")
}

pub async fn create(_ctx: Ctx<'_>, spec: &SecretSpec) -> Result<()> {
    bail!("creating {}: not implemented yet", spec.name)
}

pub async fn update(_ctx: Ctx<'_>, desired: &SecretSpec, _observed: &SecretSpec) -> Result<()> {
    bail!("updating {}: not implemented yet", desired.name)
}

pub async fn delete(_ctx: Ctx<'_>, name: &str) -> Result<()> {
    bail!("deleting {name}: not implemented yet")
}

/// The secret's current value (generated at create, never rotated by the bootstrap).
pub async fn read_value(_ctx: Ctx<'_>, name: &str) -> Result<crate::secret::Secret> {
    bail!("reading secret {name}: not implemented yet")
}
