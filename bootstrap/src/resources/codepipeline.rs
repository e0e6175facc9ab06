//! Pipeline resources (not implemented yet).

use super::Ctx;
use crate::model::{PipelineSpec, Observed};
use anyhow::{Result, bail};

pub async fn observe(_ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
    bail!("observing {name}: not implemented yet")
}

pub async fn create(_ctx: Ctx<'_>, spec: &PipelineSpec) -> Result<()> {
    bail!("creating {}: not implemented yet", spec.name)
}

pub async fn update(_ctx: Ctx<'_>, desired: &PipelineSpec, _observed: &PipelineSpec) -> Result<()> {
    bail!("updating {}: not implemented yet", desired.name)
}

pub async fn delete(_ctx: Ctx<'_>, name: &str) -> Result<()> {
    bail!("deleting {name}: not implemented yet")
}
