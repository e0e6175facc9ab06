//! `cargo xtask deny`: the dependency policy in deny.toml (licenses, bans, duplicates,
//! sources), plus RustSec advisories where their database can be fetched.

use crate::{pinned_tools_path, root, setup, sh, step};
use anyhow::{Context, Result};
use std::process::Command;

pub fn run() -> Result<()> {
    setup::run()?;
    sh("cargo", &["deny", "check", "licenses", "bans", "sources"])?;
    advisories()
}

/// The advisory check reads the RustSec database, which cargo-deny clones over the network.
/// Where that fails (an offline machine), the check is skipped and the reason printed; a
/// database that was fetched but reports an advisory fails the task.
fn advisories() -> Result<()> {
    step("cargo deny fetch db (RustSec advisory database)");
    let fetch = Command::new("cargo")
        .args(["deny", "fetch", "db"])
        .current_dir(root())
        .env("PATH", pinned_tools_path())
        .output()
        .context("starting cargo deny fetch")?;
    if fetch.status.success() {
        return sh("cargo", &["deny", "check", "--disable-fetch", "advisories"]);
    }
    // The reason is in cargo-deny's log only: its ERROR line, else its last line.
    let log = String::from_utf8_lossy(&fetch.stderr);
    let reason = log
        .lines()
        .find(|line| line.contains("[ERROR]"))
        .or_else(|| log.lines().last())
        .unwrap_or("cargo deny fetch db failed")
        .trim();
    eprintln!(
        "advisories: SKIPPED, the advisory database could not be fetched on this machine:\n  \
         {reason}\n  Run `cargo xtask deny` where the network reaches it; licenses, bans and \
         sources were checked above."
    );
    Ok(())
}
