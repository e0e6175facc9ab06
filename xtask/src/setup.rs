//! Creates the project-local Python venv with the pinned emulator and build tools.
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
    step("setting up .venv (local AWS emulator, cargo-lambda, zig)");
    if !venv.join("bin/python").exists() {
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
        sh(&python, &["-m", "venv", ".venv"])?;
    }
    let pip = venv.join("bin/pip").display().to_string();
    sh(
        &pip,
        &[
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            "emulator/requirements.txt",
        ],
    )?;
    std::fs::write(&stamp, wanted)?;
    Ok(())
}

/// Cargo subcommands the tasks need, pinned, installed into `.tools/` (not the user's
/// `~/.cargo/bin`) on first use.
pub const CARGO_DENY: (&str, &str) = ("cargo-deny", "0.20.2");
pub const CARGO_FUZZ: (&str, &str) = ("cargo-fuzz", "0.13.2");

/// Installs the pinned `tool` into `.tools/bin` unless that version is already there.
pub fn cargo_tool((name, version): (&str, &str)) -> Result<()> {
    let binary = tools_bin().join(name);
    let installed = std::process::Command::new(&binary)
        .arg("--version")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(version));
    if installed {
        return Ok(());
    }
    step(&format!(
        "installing {name} {version} into .tools (once; a few minutes on two cores)"
    ));
    let spec = format!("{name}@{version}");
    sh(
        "cargo",
        &["install", "--locked", "--quiet", "--root", ".tools", &spec],
    )
}

/// Where [`cargo_tool`] installs; first on the PATH the tasks use.
pub fn tools_bin() -> std::path::PathBuf {
    root().join(".tools/bin")
}
