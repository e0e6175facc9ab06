//! Which `docker` the rehearsal's build runs: podman, building the Dockerfile for real and
//! pushing to the emulator's ECR registry, when this machine has podman, the base image and a
//! registry behind the emulator; otherwise the stand-in, said once per process. Under CI (`CI`
//! set) a missing piece is an error, so the real path is what CI proves.

use anyhow::{Result, bail};
use std::process::{Command, Stdio};
use std::sync::Once;
use testkit::Emulator;

/// The stand-in `docker`: interprets the Dockerfile with the host's tools.
pub const STANDIN_DOCKER: &str = include_str!("standin_docker.py");
/// The real one: podman behind a thin translation (see its docstring).
pub const PODMAN_DOCKER: &str = include_str!("podman_docker.py");
/// The sample app's base image, made by `cargo xtask setup` (xtask/src/base_image.rs).
pub const BASE_IMAGE: &str = "docker.io/library/python:3.11-slim-bookworm";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildEngine {
    /// podman; `registry` is where the account's ECR host is served (`127.0.0.1:PORT`).
    Podman { registry: String },
    /// The stand-in, and why the real engine is not used.
    StandIn { why: String },
}

impl BuildEngine {
    pub fn is_real(&self) -> bool {
        matches!(self, Self::Podman { .. })
    }
}

/// The engine for builds against `emu`.
pub fn choose(emu: &Emulator) -> Result<BuildEngine> {
    let engine = match missing(emu)? {
        None => {
            let registry = emu.registry()?;
            BuildEngine::Podman {
                registry: registry.endpoint.unwrap_or_default(),
            }
        }
        Some(why) => {
            if std::env::var_os("CI").is_some() {
                bail!(
                    "{why}: CI must build the sample app's image for real (.ci/run installs podman, docker-registry and debootstrap, and `cargo xtask setup` makes the base image)"
                );
            }
            BuildEngine::StandIn { why }
        }
    };
    if let BuildEngine::StandIn { why } = &engine {
        static SAID: Once = Once::new();
        SAID.call_once(|| {
            eprintln!(
                "note: {why}, so the rehearsal builds with its stand-in `docker` (the tests run with the host's Python; no real image is built). Install podman, docker-registry and debootstrap (Debian packages) and run `cargo xtask setup` for the real build."
            );
        });
    }
    Ok(engine)
}

fn missing(emu: &Emulator) -> Result<Option<String>> {
    let podman = Command::new("podman")
        .args(["image", "exists", BASE_IMAGE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match podman {
        Err(_) => return Ok(Some("podman is not installed".to_owned())),
        Ok(status) if !status.success() => {
            return Ok(Some(format!(
                "podman has no base image {BASE_IMAGE} (`cargo xtask setup` makes it)"
            )));
        }
        Ok(_) => {}
    }
    let registry = emu.registry()?;
    if !registry.running {
        return Ok(Some(registry.reason.unwrap_or_else(|| {
            "the emulator serves no ECR registry".to_owned()
        })));
    }
    Ok(None)
}
