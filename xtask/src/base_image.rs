//! The base image the sample app's Dockerfile starts from, made on this machine once: Docker Hub
//! is out of reach here, so `python:3.11-slim-bookworm` is rebuilt from Debian's own packages
//! (debootstrap, minbase, plus python3) and kept in podman's image store, where every later
//! build finds it.
//!
//! It is what the rehearsal's real build path needs; without podman or debootstrap (a machine
//! without root, say) nothing is made and the rehearsal says it falls back to its stand-ins.
//! Under CI (`CI` set) a missing tool is an error: there the real path is what must be proven.

use crate::{root, step};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The image's name as the Dockerfile's `FROM python:3.11-slim-bookworm` resolves it. The same
/// Debian release and Python minor version as Docker Hub's image of that name; Docker Hub's
/// builds Python from source into /usr/local, this one takes Debian's python3 (3.11).
pub const IMAGE: &str = "docker.io/library/python:3.11-slim-bookworm";
const SUITE: &str = "bookworm";
/// Debian's python3 plus the `python` command Docker Hub's image has.
const PACKAGES: &str = "python3,python-is-python3";
/// Not needed in an image and a third of the root's size.
const TRIMMED: [&str; 6] = [
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
];
const INSTALL_HINT: &str = "install the Debian packages podman, docker-registry and debootstrap \
     (as root: apt-get install podman docker-registry debootstrap; .ci/run does)";

/// Makes the base image unless podman already holds it. Seconds when it exists; about
/// 40 s the first time (README, "What the first run costs").
pub fn ensure() -> Result<()> {
    let required = std::env::var_os("CI").is_some();
    let Some(missing) = missing_tools() else {
        return match build_unless_present() {
            Ok(()) => Ok(()),
            Err(error) if required => Err(error),
            // debootstrap needs root: a machine without it falls back, as without podman.
            Err(error) => {
                eprintln!(
                    "note: the base image could not be made ({error:#}), so the rehearsal builds with its stand-in `docker`"
                );
                Ok(())
            }
        };
    };
    if required {
        bail!(
            "{missing} is not installed, and CI must build the rehearsal's images for real: {INSTALL_HINT}"
        );
    }
    eprintln!(
        "note: {missing} is not installed, so no base image is made and the rehearsal builds with its stand-in `docker`; {INSTALL_HINT}"
    );
    Ok(())
}

fn missing_tools() -> Option<&'static str> {
    let runs = |program: &str| {
        Command::new(program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    if !runs("podman") {
        return Some("podman");
    }
    // debootstrap has no --version; it is a shell script in /usr/sbin.
    if which("debootstrap").is_none() {
        return Some("debootstrap");
    }
    None
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn build_unless_present() -> Result<()> {
    let exists = Command::new("podman")
        .args(["image", "exists", IMAGE])
        .status()
        .context("starting podman")?;
    if exists.success() {
        return Ok(());
    }
    let mirror = debian_mirror()?;
    step(&format!(
        "making the base image {IMAGE} from Debian {SUITE} (debootstrap minbase + {PACKAGES}), once"
    ));
    let started = Instant::now();
    let work = crate::target_dir().join("base-image");
    let rootfs = work.join("rootfs");
    if rootfs.exists() {
        std::fs::remove_dir_all(&rootfs)
            .with_context(|| format!("removing a stale {}", rootfs.display()))?;
    }
    std::fs::create_dir_all(&work)?;
    let debootstrap = which("debootstrap").context("debootstrap vanished")?;
    let log = work.join("debootstrap.log");
    let status = Command::new(&debootstrap)
        .args(["--variant=minbase", &format!("--include={PACKAGES}"), SUITE])
        .arg(&rootfs)
        .arg(&mirror)
        .stdout(std::fs::File::create(&log)?)
        .stderr(Stdio::inherit())
        .status()
        .context("starting debootstrap")?;
    if !status.success() {
        bail!(
            "debootstrap of Debian {SUITE} from {mirror} failed ({status}); its log is {}. It needs root and the Debian mirror",
            log.display()
        );
    }
    for dir in TRIMMED {
        let path = rootfs.join(dir);
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
            std::fs::create_dir_all(&path)?;
        }
    }
    import(&rootfs)?;
    std::fs::remove_dir_all(&rootfs)?;
    eprintln!(
        "base image {IMAGE} made in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `tar -C ROOTFS -c . | podman import - IMAGE`, with the config Docker Hub's image has.
fn import(rootfs: &Path) -> Result<()> {
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(rootfs)
        .args(["--numeric-owner", "-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .context("starting tar")?;
    let stdout = tar.stdout.take().context("tar's output")?;
    let imported = Command::new("podman")
        .args([
            "import",
            "--quiet",
            "--change",
            "ENV LANG=C.UTF-8",
            "--change",
            r#"CMD ["python3"]"#,
            "--message",
            "Debian minbase with python3, made by cargo xtask setup",
            "-",
            IMAGE,
        ])
        .stdin(stdout)
        .stdout(Stdio::null())
        .status()
        .context("starting podman import")?;
    let tarred = tar.wait()?;
    if !tarred.success() || !imported.success() {
        bail!(
            "importing {} as {IMAGE} failed (tar {tarred}, podman import {imported})",
            rootfs.display()
        );
    }
    Ok(())
}

/// The Debian mirror this machine's apt uses (`DEBIAN_MIRROR` overrides): the first `deb` source
/// of the main archive (not the security one) in apt's sources.
fn debian_mirror() -> Result<String> {
    if let Ok(mirror) = std::env::var("DEBIAN_MIRROR") {
        return Ok(mirror);
    }
    let mut sources = String::new();
    for file in ["/etc/apt/sources.list"]
        .into_iter()
        .map(PathBuf::from)
        .chain(
            std::fs::read_dir("/etc/apt/sources.list.d")
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| entry.path()),
        )
        .filter(|path| {
            path.extension()
                .is_some_and(|x| x == "list" || x == "sources")
        })
    {
        sources.push_str(&std::fs::read_to_string(&file).unwrap_or_default());
        sources.push('\n');
    }
    mirror_in(&sources).with_context(|| {
        format!(
            "no Debian archive in apt's sources (/etc/apt/sources.list*); set DEBIAN_MIRROR to one (run from {})",
            root().display()
        )
    })
}

/// The first URI ending in `/debian` in one-line (`deb URI suite ...`) or deb822 (`URIs: URI`)
/// sources.
fn mirror_in(sources: &str) -> Option<String> {
    sources
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .flat_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["deb", rest @ ..] => rest
                    .iter()
                    .find(|w| w.contains("://"))
                    .map(|w| vec![*w])
                    .unwrap_or_default(),
                ["URIs:", uris @ ..] => uris.to_vec(),
                _ => Vec::new(),
            }
        })
        .map(|uri| uri.trim_end_matches('/').to_owned())
        .find(|uri| uri.ends_with("/debian"))
}

#[cfg(test)]
mod tests {
    use super::mirror_in;

    #[test]
    fn the_mirror_is_the_main_archive_in_either_format() {
        let deb822 = "Types: deb\n# old\nURIs: http://mirror.example/debian-security\n\nTypes: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n";
        assert_eq!(
            mirror_in(deb822).as_deref(),
            Some("http://mirror.example/debian")
        );
        let one_line = "# deb http://old.example/debian bookworm main\ndeb [arch=amd64] http://mirror.example/debian bookworm main\n";
        assert_eq!(
            mirror_in(one_line).as_deref(),
            Some("http://mirror.example/debian")
        );
        assert_eq!(mirror_in("deb http://x.example/ubuntu jammy main"), None);
    }
}
