//! Function resources (not implemented yet).

use super::Ctx;
use crate::model::{FunctionSpec, Observed};
use anyhow::{Result, bail};

pub async fn observe(_ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
    bail!("observing {name}: not implemented yet")
}

pub async fn create(_ctx: Ctx<'_>, spec: &FunctionSpec) -> Result<()> {
    bail!("creating {}: not implemented yet", spec.name)
}

pub async fn update(_ctx: Ctx<'_>, desired: &FunctionSpec, _observed: &FunctionSpec) -> Result<()> {
    bail!("updating {}: not implemented yet", desired.name)
}

pub async fn delete(_ctx: Ctx<'_>, name: &str) -> Result<()> {
    bail!("deleting {name}: not implemented yet")
}

/// `name` is `FUNCTION/STATEMENT_ID`.
pub async fn observe_permission(_ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
    bail!("observing permission {name}: not implemented yet")
}

pub async fn create_permission(_ctx: Ctx<'_>, spec: &crate::model::PermissionSpec) -> Result<()> {
    bail!("creating permission {}: not implemented yet", spec.statement_id)
}

pub async fn update_permission(
    _ctx: Ctx<'_>,
    desired: &crate::model::PermissionSpec,
    _observed: &crate::model::PermissionSpec,
) -> Result<()> {
    bail!("updating permission {}: not implemented yet", desired.statement_id)
}

pub async fn delete_permission(_ctx: Ctx<'_>, name: &str) -> Result<()> {
    bail!("deleting permission {name}: not implemented yet")
}
