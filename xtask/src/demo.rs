//! `cargo xtask demo`: the product's front door, run end to end on the local emulator.

use anyhow::Result;

pub fn run() -> Result<()> {
    anyhow::bail!("the demo is not written yet")
}
