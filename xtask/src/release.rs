//! The Lambda zips (`dist`) and the one-file release of `bootstrap` (`release`): the deployer
//! with both functions' zips inside, packed as `bootstrap-VERSION-TARGET.tar.gz` beside its
//! `.sha256`, and the check CI runs on it: unpacked in an empty directory, that binary alone
//! deploys, plans clean and destroys an environment in the emulator.

use crate::cargo::{Profile, Steps};
use crate::lambda_zip;
use crate::{root, setup, step, target_dir};
use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const FUNCTIONS: [&str; 2] = ["deploy-handler", "event-notifier"];

/// The CPU architectures Lambda runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Arm64,
}

impl Arch {
    /// Lambda's name for it (`Architectures` of CreateFunction).
    pub fn lambda_name(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Arm64 => "arm64",
        }
    }

    /// The Rust target cargo lambda builds the functions for, and the release's archive is for.
    pub fn rust_target(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64-unknown-linux-gnu",
            Self::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }

    /// Where its zips go, laid out as `--artifacts-dir` reads them: `DIR/<function>/bootstrap.zip`.
    /// x86_64 keeps target/lambda, where the tests and the demo have always found them.
    pub fn zips_dir(self) -> PathBuf {
        match self {
            Self::X86_64 => target_dir().join("lambda"),
            Self::Arm64 => target_dir().join("lambda-arm64"),
        }
    }

    /// The variable naming that directory to bootstrap's build script (bootstrap/build.rs).
    fn embed_variable(self) -> &'static str {
        match self {
            Self::X86_64 => "BOOTSTRAP_EMBED_X86_64",
            Self::Arm64 => "BOOTSTRAP_EMBED_ARM64",
        }
    }

    /// The architecture of the machine running xtask (what the rehearsal can execute).
    pub fn host() -> Result<Self> {
        match std::env::consts::ARCH {
            "x86_64" => Ok(Self::X86_64),
            "aarch64" => Ok(Self::Arm64),
            other => bail!("no Lambda architecture matches this machine ({other})"),
        }
    }
}

/// Builds both functions in release with cargo lambda (cross-built with zig for arm64), then
/// packs each binary into a reproducible zip (`lambda_zip`): `Arch::zips_dir()/<fn>/bootstrap.zip`.
pub fn dist(steps: &mut Steps, arch: Arch) -> Result<()> {
    setup::run()?;
    let binaries = target_dir().join("lambda-bin").join(arch.lambda_name());
    let binaries_arg = binaries.display().to_string();
    let args = [
        "lambda",
        "build",
        "--release",
        "--target",
        arch.rust_target(),
        "--output-format",
        "binary",
        "--lambda-dir",
        &binaries_arg,
        "-p",
        "deploy-handler",
        "-p",
        "event-notifier",
    ];
    let label = format!("Lambda zips {} (cargo lambda)", arch.lambda_name());
    steps.cargo(&label, Profile::Release, &args)?;
    for function in FUNCTIONS {
        let path = arch.zips_dir().join(function).join("bootstrap.zip");
        let binary = binaries.join(function).join("bootstrap");
        let size = lambda_zip::repack_if_rebuilt(&binary, &path)?;
        eprintln!(
            "{function} ({}): {} ({:.2} MB, CodeSha256 {})",
            arch.lambda_name(),
            path.display(),
            size as f64 / 1e6,
            sha256_base64(&path)?
        );
    }
    Ok(())
}

/// What bootstrap's build script reads: the zip directories to embed and the commit to print.
pub fn embed_env(archs: &[Arch]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = archs
        .iter()
        .map(|arch| {
            (
                arch.embed_variable().to_owned(),
                arch.zips_dir().display().to_string(),
            )
        })
        .collect();
    env.push(("BOOTSTRAP_COMMIT".to_owned(), commit()));
    env
}

/// `git describe`-like: the commit, with `-modified` when tracked files differ from it.
fn commit() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root())
            .output()
            .ok()
    };
    let Some(head) = git(&["rev-parse", "HEAD"]).filter(|o| o.status.success()) else {
        return "unknown (not built from a git checkout)".to_owned();
    };
    let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    let clean = git(&["diff", "--quiet", "HEAD", "--"]).is_some_and(|o| o.status.success());
    if clean {
        head
    } else {
        format!("{head}-modified")
    }
}

/// `cargo xtask release [--profile dev] [--host-only]`.
pub fn release(steps: &mut Steps, args: &[String]) -> Result<Vec<PathBuf>> {
    let dev = match args.iter().position(|a| a == "--profile") {
        Some(at) => match args.get(at + 1).map(String::as_str) {
            Some("dev") => true,
            Some("release") => false,
            other => bail!("--profile takes dev or release, not {other:?}"),
        },
        None => false,
    };
    let host_only = dev || args.iter().any(|a| a == "--host-only");
    let archs = if host_only {
        vec![Arch::host()?]
    } else {
        vec![Arch::X86_64, Arch::Arm64]
    };
    for arch in &archs {
        dist(steps, *arch)?;
    }
    steps.set_env(embed_env(&archs));
    let version = package_version()?;
    let mut archives = Vec::new();
    for target in archs.iter().map(|arch| arch.rust_target()) {
        let binary = if dev {
            crate::build_workspace(steps)?;
            target_dir().join("debug/bootstrap")
        } else {
            build_cli_release(steps, target)?
        };
        steps.timed(&format!("archive {target}"), || {
            check_embedded(&binary, &archs)?;
            archives.push(pack(&binary, &version, target)?);
            Ok(())
        })?;
    }
    Ok(archives)
}

/// The CLI for one target in the workspace's `cli` profile (the release settings), built through
/// cargo lambda as the functions are: it links with zig (cargo-zigbuild), so no cross toolchain
/// is needed. Not with `--release`: that adds `-C target-cpu=haswell` / `neoverse-n1`, while a
/// named profile gets no such flag (cargo-lambda, crates/cargo-lambda-build/src/lib.rs: the
/// target-cpu only `if self.build.release`; target_arch.rs: the CPUs), so the CLI runs on any
/// CPU of its architecture. What the binaries need: BENCHMARKS.md, "Release build".
fn build_cli_release(steps: &mut Steps, target: &str) -> Result<PathBuf> {
    let out = target_dir().join("release-cli").join(target);
    let out_arg = out.display().to_string();
    let args = [
        "lambda",
        "build",
        "--profile",
        "cli",
        "--target",
        target,
        "--output-format",
        "binary",
        "--lambda-dir",
        &out_arg,
        "-p",
        "bootstrap",
        "--bin",
        "bootstrap",
    ];
    steps.cargo(
        &format!("bootstrap CLI {target} (release)"),
        Profile::Release,
        &args,
    )?;
    Ok(out.join("bootstrap/bootstrap"))
}

/// bootstrap's version, read from its manifest (xtask links no TOML parser).
fn package_version() -> Result<String> {
    let manifest = std::fs::read_to_string(root().join("bootstrap/Cargo.toml"))?;
    manifest
        .lines()
        .find_map(|line| line.strip_prefix("version = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .map(str::to_owned)
        .context("no version in bootstrap/Cargo.toml")
}

/// `target/dist/bootstrap-VERSION-TARGET.tar.gz` (the binary and the README in one directory of
/// that name, as `[package.metadata.binstall]` says) and its `.sha256`, as `sha256sum -c` reads it.
/// Entries are sorted, owned by root, dated 1970 and gzip stores no time: packing the same binary
/// twice gives the same archive.
fn pack(binary: &Path, version: &str, target: &str) -> Result<PathBuf> {
    let name = archive_stem(version, target);
    let dist = target_dir().join("dist");
    let stage = dist.join("stage");
    let dir = stage.join(&name);
    if stage.exists() {
        std::fs::remove_dir_all(&stage)?;
    }
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(binary, dir.join("bootstrap"))
        .with_context(|| format!("copying {}", binary.display()))?;
    std::fs::copy(root().join("README.md"), dir.join("README.md"))?;
    let tar = dist.join(format!("{name}.tar"));
    run(Command::new("tar")
        .current_dir(&stage)
        .args([
            "--sort=name",
            "--mtime=@0",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "--mode=go-w",
            "-cf",
        ])
        .arg(&tar)
        .arg(&name))?;
    // gzip's default level: -9 took three times as long for 1% less (a 116 MB debug binary).
    run(Command::new("gzip").args(["-n", "-f"]).arg(&tar))?;
    let archive = dist.join(format!("{name}.tar.gz"));
    let sum = Command::new("sha256sum")
        .current_dir(&dist)
        .arg(format!("{name}.tar.gz"))
        .output()
        .context("running sha256sum")?;
    if !sum.status.success() {
        bail!("sha256sum failed ({})", sum.status);
    }
    std::fs::write(dist.join(format!("{name}.tar.gz.sha256")), &sum.stdout)?;
    std::fs::remove_dir_all(&stage)?;
    eprintln!(
        "{}: {:.1} MB, sha256 {}",
        archive.display(),
        std::fs::metadata(&archive)?.len() as f64 / 1e6,
        String::from_utf8_lossy(&sum.stdout)
            .split_whitespace()
            .next()
            .unwrap_or("")
    );
    Ok(archive)
}

/// The archive's name without `.tar.gz`, which is also the one directory inside it.
fn archive_stem(version: &str, target: &str) -> String {
    format!("bootstrap-{version}-{target}")
}

/// Fails unless `binary` holds each zip of `archs` byte for byte: bootstrap/build.rs builds them
/// in with `include_bytes!`, so they sit in the binary unchanged. It checks a cross-built binary
/// this machine cannot run (`--version` lists the same zips' hashes where it runs), and catches a
/// build that kept stale zips.
fn check_embedded(binary: &Path, archs: &[Arch]) -> Result<()> {
    let bytes = std::fs::read(binary).with_context(|| format!("reading {}", binary.display()))?;
    for arch in archs {
        for function in FUNCTIONS {
            let zip_path = arch.zips_dir().join(function).join("bootstrap.zip");
            let zip = std::fs::read(&zip_path)
                .with_context(|| format!("reading {}", zip_path.display()))?;
            if !contains(&bytes, &zip) {
                bail!(
                    "{} does not hold {} byte for byte (built with other zips?)",
                    binary.display(),
                    zip_path.display()
                );
            }
        }
    }
    eprintln!(
        "{}: holds the {} zips byte for byte",
        binary.display(),
        archs
            .iter()
            .map(|a| a.lambda_name())
            .collect::<Vec<_>>()
            .join(" and ")
    );
    Ok(())
}

/// Whether `haystack` holds `needle` as one run of bytes.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else {
        return true;
    };
    let Some(last_start) = haystack.len().checked_sub(needle.len()) else {
        return false;
    };
    haystack[..=last_start]
        .iter()
        .enumerate()
        .any(|(at, &byte)| byte == first && haystack[at..].starts_with(needle))
}

fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed ({status})");
    }
    Ok(())
}

/// Lambda's `CodeSha256` of a file: base64 of its SHA-256 (from `sha256sum`'s hex).
fn sha256_base64(path: &Path) -> Result<String> {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .context("running sha256sum")?;
    let hex = String::from_utf8_lossy(&out.stdout);
    let hex = hex.split_whitespace().next().unwrap_or_default();
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    if bytes.len() != 32 {
        bail!("sha256sum gave no hash for {}", path.display());
    }
    Ok(base64(&bytes))
}

/// Standard base64 with padding, as Lambda prints `CodeSha256`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// CI's proof of the artifact: the archive unpacked in an empty directory (its hash checked
/// first), then that binary alone, with no target/ beside it and no --artifacts-dir, runs
/// `--version` (which must list the zips just built), `deploy`, `plan` (which must find no
/// change; then, after other code is uploaded by hand, the change, which `deploy` repairs) and
/// `destroy` against a fresh emulator.
pub fn prove_in_a_clean_directory(archive: &Path) -> Result<()> {
    let clean = std::env::temp_dir().join(format!("bootstrap-release-{}", std::process::id()));
    if clean.exists() {
        std::fs::remove_dir_all(&clean)?;
    }
    std::fs::create_dir_all(&clean)?;
    let result = prove_in(&clean, archive);
    let _ = std::fs::remove_dir_all(&clean);
    result
}

fn prove_in(clean: &Path, archive: &Path) -> Result<()> {
    let name = archive
        .file_name()
        .and_then(|n| n.to_str())
        .context("archive name")?;
    std::fs::copy(archive, clean.join(name))?;
    let sha = PathBuf::from(format!("{}.sha256", archive.display()));
    std::fs::copy(&sha, clean.join(format!("{name}.sha256")))?;
    run(Command::new("sha256sum")
        .current_dir(clean)
        .args(["-c", &format!("{name}.sha256")]))?;
    run(Command::new("tar").current_dir(clean).args(["-xzf", name]))?;
    let dir = clean.join(name.trim_end_matches(".tar.gz"));
    let binary = dir.join("bootstrap");
    let version = output_of(Command::new(&binary).arg("--version").current_dir(&dir))?;
    eprintln!("{version}");
    let arch = Arch::host()?;
    for function in FUNCTIONS {
        let hash = sha256_base64(&arch.zips_dir().join(function).join("bootstrap.zip"))?;
        if !version.contains(&hash) {
            bail!("`bootstrap --version` does not list {function}'s zip {hash}:\n{version}");
        }
    }
    let mut emulator = Emulator::start()?;
    let outcome = deploy_plan_destroy(&binary, &dir, &emulator.env, arch);
    emulator.stop();
    outcome
}

fn deploy_plan_destroy(
    binary: &Path,
    dir: &Path,
    env: &[(String, String)],
    arch: Arch,
) -> Result<()> {
    let common = ["--env", "release", "--github-repo", "my-org/my-service"];
    let arch_flag = ["--lambda-arch", arch.lambda_name()];
    let command = |args: &[&str]| {
        let mut command = Command::new(binary);
        command
            .args(args)
            .current_dir(dir)
            .env_remove("BOOTSTRAP_ARTIFACTS_DIR")
            .env("GITHUB_TOKEN", "release-check-token")
            .envs(env.iter().map(|(k, v)| (k, v)));
        command
    };
    let bootstrap = |args: &[&str]| {
        command(args)
            .status()
            .with_context(|| format!("starting {}", binary.display()))
    };
    let aws = root().join(".venv/bin/aws");
    step("release check: the administrator creates the roles' permissions boundary (README)");
    let boundary = dir.join("boundary-release.json");
    let policy = output_of(&mut command(&[
        "deployer-policy",
        "--env",
        "release",
        "--boundary",
        "--output",
        "json",
    ]))?;
    std::fs::write(&boundary, policy)?;
    run(Command::new(&aws)
        .args([
            "iam",
            "create-policy",
            "--policy-name",
            "pipeline-boundary-release",
        ])
        .arg("--policy-document")
        .arg(format!("file://{}", boundary.display()))
        .args(["--output", "text", "--query", "Policy.Arn"])
        .envs(env.iter().map(|(k, v)| (k, v))))?;
    step("release check: deploy from the unpacked archive");
    let deploy = [&["deploy", "--yes"][..], &common, &arch_flag].concat();
    expect_code(bootstrap(&deploy)?, 0, "deploy")?;
    step("release check: plan must find no change");
    let plan = [&["plan"][..], &common, &arch_flag].concat();
    expect_code(bootstrap(&plan)?, 0, "plan after deploy")?;
    step("release check: other code uploaded by hand is drift that plan shows and deploy repairs");
    let other_code = format!(
        "fileb://{}",
        arch.zips_dir()
            .join("event-notifier/bootstrap.zip")
            .display()
    );
    run(Command::new(&aws)
        .args([
            "lambda",
            "update-function-code",
            "--function-name",
            "deploy-handler-release",
        ])
        .args([
            "--zip-file",
            &other_code,
            "--output",
            "text",
            "--query",
            "CodeSha256",
        ])
        .envs(env.iter().map(|(k, v)| (k, v))))?;
    expect_code(bootstrap(&plan)?, 2, "plan after the code changed by hand")?;
    expect_code(bootstrap(&deploy)?, 0, "deploy repairing the code")?;
    expect_code(bootstrap(&plan)?, 0, "plan after the repair")?;
    step("release check: destroy");
    expect_code(
        bootstrap(&["destroy", "--yes", "--env", "release"])?,
        0,
        "destroy",
    )
}

fn expect_code(status: std::process::ExitStatus, code: i32, what: &str) -> Result<()> {
    if status.code() != Some(code) {
        bail!("{what} from the unpacked release exited {status}, expected {code}");
    }
    Ok(())
}

fn output_of(command: &mut Command) -> Result<String> {
    let out = command
        .output()
        .with_context(|| format!("starting {command:?}"))?;
    if !out.status.success() {
        bail!(
            "{command:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The project's emulator (`emulator/shim.py`) on a free port; it exits when its stdin closes.
struct Emulator {
    child: std::process::Child,
    env: Vec<(String, String)>,
}

impl Emulator {
    fn start() -> Result<Self> {
        let python = root().join(".venv/bin/python");
        let mut child = Command::new(&python)
            .arg(root().join("emulator/shim.py"))
            .args(["--host", "127.0.0.1", "--port", "0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting the emulator with {}", python.display()))?;
        let stdout = child.stdout.take().context("the emulator's stdout")?;
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let Some(endpoint) = line.trim().strip_prefix("READY ").map(str::to_owned) else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the emulator did not start (it said {line:?})");
        };
        let env = [
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_REGION", "us-east-1"),
            // The AWS CLI (version 1, in .venv) reads only this one.
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        Ok(Self { child, env })
    }

    fn stop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_lambdas_code_sha256_encoding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn contains_finds_a_run_of_bytes_anywhere() {
        assert!(contains(b"xxPK\x03\x04zipyy", b"PK\x03\x04zip"));
        assert!(contains(b"PKzip", b"PKzip"));
        assert!(!contains(b"PKzi", b"PKzip"));
        assert!(!contains(b"PKzipPKzi", b"PKzap"));
        assert!(contains(b"abc", b""));
    }

    /// bootstrap/Cargo.toml's `[package.metadata.binstall]`, rendered as cargo-binstall renders
    /// it, names the archives `pack` writes. `{ archive-suffix }` is tried with each suffix of the
    /// format, `.tgz` then `.tar.gz` for tgz (binstalk-types' `PkgFmt::extensions`, each tried by
    /// binstalk-fetchers' `gh_crate_meta.rs`); `bin-dir` is the binary's path inside the archive.
    #[test]
    fn binstall_metadata_names_the_release_archives() {
        let manifest = std::fs::read_to_string(root().join("bootstrap/Cargo.toml"))
            .expect("bootstrap/Cargo.toml");
        let section = manifest
            .split("[package.metadata.binstall]")
            .nth(1)
            .expect("a [package.metadata.binstall] section");
        let key = |name: &str| {
            section
                .lines()
                .take_while(|line| !line.starts_with('['))
                .find_map(|line| line.strip_prefix(&format!("{name} = ")))
                .unwrap_or_else(|| panic!("no {name} in [package.metadata.binstall]"))
                .trim_matches('"')
                .to_owned()
        };
        assert_eq!(key("pkg-fmt"), "tgz");
        // crates.io's `bootstrap` is another project: never its build, never a compile.
        assert_eq!(
            key("disabled-strategies"),
            r#"["quick-install", "compile"]"#
        );
        let version = package_version().expect("version");
        for arch in [Arch::X86_64, Arch::Arm64] {
            let target = arch.rust_target();
            let render = |template: &str| {
                let out = [
                    ("{ repo }", "https://example.com/org/pipeline"),
                    ("{ name }", "bootstrap"),
                    ("{ version }", version.as_str()),
                    ("{ target }", target),
                    ("{ archive-suffix }", ".tar.gz"),
                    ("{ bin }", "bootstrap"),
                    ("{ binary-ext }", ""),
                ]
                .iter()
                .fold(template.to_owned(), |out, (var, value)| {
                    out.replace(var, value)
                });
                assert!(
                    !out.contains('{'),
                    "a variable this test does not set: {out}"
                );
                out
            };
            let stem = archive_stem(&version, target);
            let url = render(&key("pkg-url"));
            assert!(url.ends_with(&format!("/{stem}.tar.gz")), "{url}");
            assert_eq!(render(&key("bin-dir")), format!("{stem}/bootstrap"));
        }
    }

    #[test]
    fn the_version_is_read_from_bootstraps_manifest() {
        let version = package_version().expect("version");
        assert!(version.split('.').count() == 3, "{version}");
    }
}
