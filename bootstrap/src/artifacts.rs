//! The Lambda zips to deploy: the ones built into this binary (bootstrap/build.rs embeds them
//! when `cargo xtask release` or CI builds it), or those under `--artifacts-dir`; their hash (as
//! Lambda reports `CodeSha256`) and the CPU architecture read from the `bootstrap` binary's ELF
//! header, never assumed.

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub const FUNCTIONS: [&str; 2] = ["deploy-handler", "event-notifier"];

/// The architecture of the functions when `--lambda-arch` is not given and the zips come from
/// this binary: arm64 (Graviton) costs 20% less per GB-second for the same memory and the
/// functions are the same Rust code on both; BENCHMARKS.md ("Lambda architecture") has the
/// prices and the zip sizes this was decided on. Prices: <https://aws.amazon.com/lambda/pricing/>.
pub const DEFAULT_ARCH: LambdaArch = LambdaArch::Arm64;

/// The two instruction set architectures Lambda runs, as `Architectures` names them.
/// <https://docs.aws.amazon.com/lambda/latest/dg/foundation-arch.html>
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
pub enum LambdaArch {
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "arm64")]
    Arm64,
}

impl LambdaArch {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Arm64 => "arm64",
        }
    }
}

impl std::str::FromStr for LambdaArch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "x86_64" => Ok(Self::X86_64),
            "arm64" => Ok(Self::Arm64),
            other => Err(format!(
                "unknown Lambda architecture `{other}`: use `x86_64` or `arm64`"
            )),
        }
    }
}

/// One zip built into this binary.
#[derive(Debug)]
pub struct Embedded {
    /// `x86_64` or `arm64`, as the build named the directory it came from.
    pub architecture: &'static str,
    pub function: &'static str,
    /// Base64 SHA-256 of `bytes`, computed by the build script: Lambda's `CodeSha256`.
    pub code_sha256: &'static str,
    pub bytes: &'static [u8],
}

/// What the build put into this binary: the commit and the zips.
#[derive(Debug)]
pub struct Build {
    pub commit: &'static str,
    pub zips: &'static [Embedded],
}

const NOT_BUILT_BY_XTASK: Build = Build {
    commit: "not recorded",
    zips: &[],
};

static BUILD: OnceLock<&'static Build> = OnceLock::new();

/// Called once by `main` with what build.rs generated (the library itself embeds nothing, so
/// the test binaries linking it stay small).
pub fn install(build: &'static Build) {
    let _ = BUILD.set(build);
}

pub fn build() -> &'static Build {
    BUILD.get().copied().unwrap_or(&NOT_BUILT_BY_XTASK)
}

/// The code of a function: a zip on disk or one built into this binary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Package {
    /// What `observe` reads back: Lambda keeps the code, only its hash is compared.
    #[default]
    Unread,
    File(PathBuf),
    Embedded {
        name: String,
        bytes: &'static [u8],
    },
}

impl Package {
    pub fn bytes(&self) -> Result<Cow<'static, [u8]>> {
        match self {
            Self::Unread => bail!("no package to upload (the function's code was never read)"),
            Self::File(path) => std::fs::read(path)
                .map(Cow::Owned)
                .with_context(|| format!("reading the package {}", path.display())),
            Self::Embedded { bytes, .. } => Ok(Cow::Borrowed(bytes)),
        }
    }

    /// Where it comes from, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Unread => "the deployed code".to_owned(),
            Self::File(path) => path.display().to_string(),
            Self::Embedded { name, .. } => format!("the {name} zip built into bootstrap"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LambdaZip {
    pub package: Package,
    /// Base64 SHA-256 of the zip file.
    pub code_sha256: String,
    /// `x86_64` or `arm64`.
    pub architecture: String,
}

pub const BUILD_COMMAND: &str = "cargo xtask dist   (or: cargo lambda build --release --output-format zip -p deploy-handler -p event-notifier)";

/// The zips of both functions, in [`FUNCTIONS`]' order: from `artifacts_dir` when given (their
/// architecture is read from the binaries and must match `arch` when that is given too), else
/// the ones built into this binary for `arch` (default [`DEFAULT_ARCH`]). Reads no AWS: `plan`
/// and `deploy` call it before their first call.
pub fn resolve(artifacts_dir: Option<&Path>, arch: Option<LambdaArch>) -> Result<[LambdaZip; 2]> {
    let [first, second] = FUNCTIONS;
    let Some(dir) = artifacts_dir else {
        let arch = arch.unwrap_or(DEFAULT_ARCH);
        return Ok([embedded(first, arch)?, embedded(second, arch)?]);
    };
    let zips = [read(dir, first)?, read(dir, second)?];
    if let Some(wanted) = arch {
        for (zip, function) in zips.iter().zip(FUNCTIONS) {
            if zip.architecture != wanted.as_str() {
                bail!(
                    "--lambda-arch {} but {} holds a {} {function}: build the zips for {} \
                     ({}) or drop --lambda-arch",
                    wanted.as_str(),
                    zip.package.describe(),
                    zip.architecture,
                    wanted.as_str(),
                    dist_command(wanted)
                );
            }
        }
    }
    Ok(zips)
}

fn dist_command(arch: LambdaArch) -> &'static str {
    match arch {
        LambdaArch::X86_64 => "`cargo xtask dist`: target/lambda",
        LambdaArch::Arm64 => "`cargo xtask dist --arm64`: target/lambda-arm64",
    }
}

/// The built-in zip of `function` for `arch`, or what to do when this binary has none.
fn embedded(function: &str, arch: LambdaArch) -> Result<LambdaZip> {
    let zips = build().zips;
    if let Some(zip) = zips
        .iter()
        .find(|z| z.function == function && z.architecture == arch.as_str())
    {
        return Ok(LambdaZip {
            package: Package::Embedded {
                name: format!("{} {function}", zip.architecture),
                bytes: zip.bytes,
            },
            code_sha256: zip.code_sha256.to_owned(),
            architecture: zip.architecture.to_owned(),
        });
    }
    if let Some(other) = zips.iter().find(|z| z.function == function) {
        bail!(
            "this bootstrap holds the {function} zip for {} only, not for {}: pass --lambda-arch \
             {}, or use a release that holds both (`cargo xtask release`), or point \
             --artifacts-dir at {} zips ({})",
            other.architecture,
            arch.as_str(),
            other.architecture,
            arch.as_str(),
            dist_command(arch)
        );
    }
    bail!(
        "this bootstrap was built without the Lambda zips it deploys (a plain `cargo build` or \
         `cargo install` does not make them). Either\n  \
         - download the release archive bootstrap-VERSION-TARGET.tar.gz, whose bootstrap holds \
         them (README, \"Using it on AWS\"), or\n  \
         - build them and point at them: {BUILD_COMMAND}\n    then add --artifacts-dir \
         target/lambda (x86_64; `cargo xtask dist --arm64` writes target/lambda-arm64), or\n  \
         - build bootstrap with them inside: `cargo xtask release` (target/dist/)"
    )
}

/// Reads `DIR/<function>/bootstrap.zip`.
pub fn read(dir: &Path, function: &str) -> Result<LambdaZip> {
    let path = dir.join(function).join("bootstrap.zip");
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => bail!(
            "{} is missing: build the Lambda zips first with\n  {BUILD_COMMAND}\nor point --artifacts-dir at the directory holding {function}/bootstrap.zip",
            path.display()
        ),
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    let architecture = architecture_of_zip(&bytes)
        .with_context(|| format!("{} is not a Lambda zip", path.display()))?;
    Ok(LambdaZip {
        package: Package::File(path),
        code_sha256: code_sha256(&bytes),
        architecture: architecture.to_owned(),
    })
}

/// Lambda's `CodeSha256`: the base64 SHA-256 of the zip.
pub fn code_sha256(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// `bootstrap --version`'s text: the version, the commit and each built-in zip's hash.
pub fn version_text(version: &str) -> String {
    let build = build();
    let mut text = format!("{version}\ncommit {}\n", build.commit);
    if build.zips.is_empty() {
        text.push_str(
            "Lambda zips: none built in (deploy and plan need --artifacts-dir; README, \"Using it on AWS\")\n",
        );
    } else {
        text.push_str("Lambda zips built in (CodeSha256, as Lambda reports it):\n");
        for zip in build.zips {
            text.push_str(&format!(
                "  {:<7} {:<15} {} ({} bytes)\n",
                zip.architecture,
                zip.function,
                zip.code_sha256,
                zip.bytes.len()
            ));
        }
    }
    text
}

/// The Lambda architecture of the `bootstrap` executable inside the zip.
pub fn architecture_of_zip(bytes: &[u8]) -> Result<&'static str> {
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).context("not a zip archive")?;
    let mut entry = archive.by_name("bootstrap").context(
        "the zip has no `bootstrap` executable at its root (provided.al2023 runs ./bootstrap)",
    )?;
    let mut header = [0_u8; 20];
    entry
        .read_exact(&mut header)
        .context("`bootstrap` is too short to be an executable")?;
    architecture_of_elf(&header)
}

/// Reads `e_machine` from an ELF header: 0x3E is x86-64, 0xB7 is AArch64.
pub fn architecture_of_elf(header: &[u8]) -> Result<&'static str> {
    if header.len() < 20 || &header[..4] != b"\x7fELF" {
        bail!(
            "`bootstrap` is not an ELF executable (Lambda's provided.al2023 runtime needs a Linux binary)"
        );
    }
    let little_endian = header[5] == 1;
    let machine = if little_endian {
        u16::from_le_bytes([header[18], header[19]])
    } else {
        u16::from_be_bytes([header[18], header[19]])
    };
    match machine {
        0x3E => Ok("x86_64"),
        0xB7 => Ok("arm64"),
        other => bail!(
            "`bootstrap` is built for ELF machine {other:#x}; Lambda runs x86_64 (0x3e) or arm64 (0xb7)"
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;

    fn elf(machine: u16) -> Vec<u8> {
        let mut header = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        header.resize(18, 0);
        header.extend_from_slice(&machine.to_le_bytes());
        header.extend_from_slice(&[0; 44]);
        header
    }

    fn zip_with(name: &str, content: &[u8]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut writer = zip::ZipWriter::new(&mut out);
        writer
            .start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(content).unwrap();
        writer.finish().unwrap();
        out.into_inner()
    }

    #[test]
    fn reads_the_architecture_from_the_binary() {
        assert_eq!(
            architecture_of_zip(&zip_with("bootstrap", &elf(0x3E))).unwrap(),
            "x86_64"
        );
        assert_eq!(
            architecture_of_zip(&zip_with("bootstrap", &elf(0xB7))).unwrap(),
            "arm64"
        );
        assert!(architecture_of_zip(&zip_with("bootstrap", &elf(0x28))).is_err());
        assert!(architecture_of_zip(&zip_with("bootstrap", b"#!/bin/sh\n echo hi")).is_err());
        assert!(
            architecture_of_zip(&zip_with("main", &elf(0x3E)))
                .unwrap_err()
                .to_string()
                .contains("bootstrap")
        );
        assert!(architecture_of_zip(b"not a zip").is_err());
    }

    static TWO_X86_ZIPS: [Embedded; 2] = [
        Embedded {
            architecture: "x86_64",
            function: "deploy-handler",
            code_sha256: "ZGg=",
            bytes: b"dh",
        },
        Embedded {
            architecture: "x86_64",
            function: "event-notifier",
            code_sha256: "ZW4=",
            bytes: b"en",
        },
    ];
    static X86_ONLY: Build = Build {
        commit: "abc123",
        zips: &TWO_X86_ZIPS,
    };

    /// One test installs the built-in zips (a `OnceLock`, as in the binary), so the cases without
    /// them run first, in the same test.
    #[test]
    fn built_in_zips_are_chosen_by_architecture_and_their_absence_says_what_to_do() {
        let none = resolve(None, None).unwrap_err().to_string();
        assert!(none.contains("built without the Lambda zips"), "{none}");
        assert!(none.contains("--artifacts-dir target/lambda"), "{none}");
        assert!(none.contains("cargo xtask release"), "{none}");
        assert!(version_text("bootstrap 1.0.0").contains("none built in"));

        install(&X86_ONLY);
        let [dh, en] = resolve(None, Some(LambdaArch::X86_64)).unwrap();
        assert_eq!(
            (dh.code_sha256.as_str(), dh.architecture.as_str()),
            ("ZGg=", "x86_64")
        );
        assert_eq!(en.package.bytes().unwrap().as_ref(), b"en");
        let arm = resolve(None, Some(LambdaArch::Arm64))
            .unwrap_err()
            .to_string();
        assert!(
            arm.contains("for x86_64 only") && arm.contains("--lambda-arch x86_64"),
            "{arm}"
        );
        let version = version_text("bootstrap 1.0.0");
        assert!(version.contains("commit abc123"), "{version}");
        assert!(version.contains("deploy-handler  ZGg="), "{version}");
        assert!(version.contains("event-notifier  ZW4="), "{version}");
    }

    #[test]
    fn a_given_architecture_must_match_the_zips_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        for function in FUNCTIONS {
            std::fs::create_dir_all(dir.path().join(function)).unwrap();
            std::fs::write(
                dir.path().join(function).join("bootstrap.zip"),
                zip_with("bootstrap", &elf(0x3E)),
            )
            .unwrap();
        }
        let [dh, _] = resolve(Some(dir.path()), None).unwrap();
        assert_eq!(dh.architecture, "x86_64");
        assert!(matches!(dh.package, Package::File(_)));
        resolve(Some(dir.path()), Some(LambdaArch::X86_64)).unwrap();
        let err = resolve(Some(dir.path()), Some(LambdaArch::Arm64))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cargo xtask dist --arm64"), "{err}");
    }

    #[test]
    fn a_missing_zip_says_how_to_build_it() {
        let err = read(Path::new("/nonexistent"), "deploy-handler")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cargo xtask dist"), "{err}");
    }
}
