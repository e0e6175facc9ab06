//! Which `docker` the rehearsal's build runs: podman, building the Dockerfile for real and
//! pushing to the emulator's ECR registry, when this machine has podman, the base image and a
//! registry behind the emulator; otherwise the stand-in, said once per process. Under CI (`CI`
//! set) a missing piece is an error, so the real path is what CI proves.

use anyhow::{Context, Result, bail};
use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
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
    if let Some(why) = machine_lacks() {
        return Ok(Some(why));
    }
    let registry = emu.registry()?;
    if !registry.running {
        return Ok(Some(registry.reason.unwrap_or_else(|| {
            "the emulator serves no ECR registry".to_owned()
        })));
    }
    Ok(None)
}

/// What this machine lacks for the real build, before any emulator runs: podman with the base
/// image, and the `docker-registry` the emulator fronts (unless `EMULATOR_REGISTRY=off`).
pub fn machine_lacks() -> Option<String> {
    let podman = Command::new("podman")
        .args(["image", "exists", BASE_IMAGE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match podman {
        Err(_) => return Some("podman is not installed".to_owned()),
        Ok(status) if !status.success() => {
            return Some(format!(
                "podman has no base image {BASE_IMAGE} (`cargo xtask setup` makes it)"
            ));
        }
        Ok(_) => {}
    }
    if std::env::var("EMULATOR_REGISTRY").is_ok_and(|value| value == "off") {
        return Some("EMULATOR_REGISTRY=off turns the emulator's registry off".to_owned());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let binary = std::env::var_os("EMULATOR_REGISTRY_BINARY");
    let installed = match binary {
        Some(binary) => Path::new(&binary).is_file(),
        None => std::env::split_paths(&path).any(|dir| dir.join("docker-registry").is_file()),
    };
    if !installed {
        return Some("docker-registry is not installed".to_owned());
    }
    None
}

/// Removes, when dropped, the images a rehearsal's builds named (the wrapper lists them in the
/// file at [`Self::path`]), so `podman images` does not fill up with the rehearsals' tags. The
/// unnamed layers stay: they are the layer cache, as on a build host.
#[derive(Debug)]
pub struct ImageCleanup {
    path: PathBuf,
}

impl ImageCleanup {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ImageCleanup {
    fn drop(&mut self) {
        let listed = std::fs::read_to_string(&self.path).unwrap_or_default();
        let names: BTreeSet<&str> = listed.lines().filter(|l| !l.trim().is_empty()).collect();
        if names.is_empty() {
            return;
        }
        let removed = Command::new("podman")
            .args(["rmi", "--force", "--ignore"])
            .args(&names)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output();
        match removed {
            Ok(output) if output.status.success() => {}
            Ok(output) => eprintln!(
                "note: podman could not remove the rehearsal's images {names:?}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            Err(error) => eprintln!(
                "note: podman could not be started to remove the rehearsal's images: {error}"
            ),
        }
    }
}

/// Another image pushed by a real client under an existing tag of the (immutable) repository:
/// `Some(podman's error)` when the registry refuses it, `None` when it took it. Logs in with a
/// token from `ecr` (GetAuthorizationToken), as `docker login` does.
pub async fn push_over_existing_tag(
    ecr: &aws_sdk_ecr::Client,
    registry: &str,
    local_image: &str,
    repository: &str,
    tag: &str,
    scratch: &Path,
) -> Result<Option<String>> {
    let token = ecr
        .get_authorization_token()
        .send()
        .await
        .context("GetAuthorizationToken")?;
    let encoded = token
        .authorization_data()
        .first()
        .and_then(|data| data.authorization_token())
        .context("GetAuthorizationToken returned no token")?;
    let decoded = run("base64", &["-d"], Some(encoded))?;
    let password = decoded
        .strip_prefix("AWS:")
        .context("the token does not decode to AWS:PASSWORD")?;
    let authfile = scratch.join("retag-auth.json").display().to_string();
    let login = [
        "login",
        "--tls-verify=false",
        "--authfile",
        &authfile,
        "--username",
        "AWS",
        "--password-stdin",
        registry,
    ];
    run("podman", &login, Some(password))?;
    let destination = format!("{registry}/{repository}:{tag}");
    let push = [
        "push",
        "--tls-verify=false",
        "--authfile",
        &authfile,
        "--format",
        "v2s2",
        local_image,
        &destination,
    ];
    match run("podman", &push, None) {
        Ok(_) => Ok(None),
        Err(refusal) => Ok(Some(
            refusal
                .to_string()
                .lines()
                .rev()
                .find(|line| !line.trim().is_empty())
                .unwrap_or_default()
                .trim()
                .to_owned(),
        )),
    }
}

/// Runs a program with `input` on stdin; its stdout, or an error holding its stderr.
fn run(program: &str, args: &[&str], input: Option<&str>) -> Result<String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    if let Some(input) = input {
        child
            .stdin
            .take()
            .context("stdin")?
            .write_all(input.as_bytes())?;
    }
    drop(child.stdin.take());
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!(
            "`{program} {}` failed ({}): {}",
            args.first().copied().unwrap_or_default(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::BASE_IMAGE;

    /// The Dockerfile's base, the image `cargo xtask setup` makes and the one the rehearsal looks
    /// for are one name: a drift would send podman to Docker Hub, which is out of reach.
    #[test]
    fn the_dockerfile_starts_from_the_base_image_setup_makes() {
        let dockerfile = include_str!("../../../examples/hello-app/Dockerfile");
        // `FROM ${BASE_IMAGE_REGISTRY}/...` with the ARG's default: what a build without the
        // argument, and the rehearsal's (bootstrap's default docker-hub), resolve it to.
        let registry = dockerfile
            .lines()
            .find_map(|line| line.strip_prefix("ARG BASE_IMAGE_REGISTRY="))
            .expect("an ARG BASE_IMAGE_REGISTRY line with a default");
        let from = dockerfile
            .lines()
            .find_map(|line| line.strip_prefix("FROM "))
            .and_then(|rest| rest.split_whitespace().next())
            .expect("a FROM line")
            .replace("${BASE_IMAGE_REGISTRY}", registry.trim());
        assert_eq!(from, BASE_IMAGE);
        let xtask = include_str!("../../../xtask/src/base_image.rs");
        assert!(
            xtask.contains(&format!("pub const IMAGE: &str = \"{BASE_IMAGE}\";")),
            "xtask/src/base_image.rs must make {BASE_IMAGE}"
        );
    }
}
