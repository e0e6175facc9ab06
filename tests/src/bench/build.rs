//! Release builds of the Lambda zips in comparison variants (opt-level, aws-lc jitter entropy),
//! each copied aside, and the `bootstrap` executables unpacked from them.

use super::{lambda_zip, pinned_tools_path, root};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const FUNCTIONS: [&str; 2] = ["deploy-handler", "event-notifier"];

/// One way to build the release zips, named after what differs from `[profile.release]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub name: String,
    /// `CARGO_PROFILE_RELEASE_OPT_LEVEL`, or `None` for the profile's own.
    pub opt_level: Option<String>,
    /// Builds aws-lc with its CPU jitter entropy source (what `.cargo/config.toml` turns off).
    pub jitter_entropy: bool,
}

impl Variant {
    pub fn opt_level(level: &str) -> Self {
        Self {
            name: format!("opt-level={level}"),
            opt_level: Some(level.to_owned()),
            jitter_entropy: false,
        }
    }

    /// At opt-level 3, so it pairs with that row: the entropy source is C code whose cost does
    /// not depend on how the Rust side is optimised.
    pub fn jitter_entropy() -> Self {
        Self {
            name: "opt-level=3 + aws-lc jitter entropy".to_owned(),
            opt_level: Some("3".to_owned()),
            jitter_entropy: true,
        }
    }

    /// The `cargo` invocation that builds it, as BENCHMARKS.md quotes it.
    pub fn command_line(&self) -> String {
        let mut env = Vec::new();
        if let Some(level) = &self.opt_level {
            env.push(format!("CARGO_PROFILE_RELEASE_OPT_LEVEL={level}"));
        }
        if self.jitter_entropy {
            env.push("AWS_LC_SYS_NO_JITTER_ENTROPY=0".to_owned());
            env.push(format!("CARGO_TARGET_DIR={}", JITTER_TARGET_DIR));
        }
        env.push(LAMBDA_BUILD.join(" "));
        env.join(" ")
    }

    /// Where its zips are kept between runs.
    pub fn dir(&self) -> PathBuf {
        let slug: String = self
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        bench_dir().join("variants").join(slug)
    }

    pub fn zip(&self, function: &str) -> PathBuf {
        self.dir().join(function).join("bootstrap.zip")
    }
}

const LAMBDA_BUILD: [&str; 10] = [
    "cargo",
    "lambda",
    "build",
    "--release",
    "--output-format",
    "zip",
    "-p",
    "deploy-handler",
    "-p",
    "event-notifier",
];

/// aws-lc-sys is fingerprinted by its environment: a build with jitter entropy in the shared
/// target directory would evict everyone's normal aws-lc build, so it gets a directory of its own.
const JITTER_TARGET_DIR: &str = "target/bench-jitter";

pub fn bench_dir() -> PathBuf {
    root().join("target/bench")
}

/// Builds `variant` (cargo does nothing when its artifacts are current) and copies its zips aside.
pub fn build(variant: &Variant) -> Result<()> {
    super::step(&format!(
        "building {}: {}",
        variant.name,
        variant.command_line()
    ));
    let mut command = Command::new("cargo");
    command
        .args(&LAMBDA_BUILD[1..])
        .current_dir(root())
        .env("PATH", pinned_tools_path());
    let target_dir = if variant.jitter_entropy {
        command
            .env("AWS_LC_SYS_NO_JITTER_ENTROPY", "0")
            .env("CARGO_TARGET_DIR", root().join(JITTER_TARGET_DIR));
        root().join(JITTER_TARGET_DIR)
    } else {
        root().join("target")
    };
    if let Some(level) = &variant.opt_level {
        command.env("CARGO_PROFILE_RELEASE_OPT_LEVEL", level);
    }
    let status = command.status().context("starting cargo lambda")?;
    if !status.success() {
        bail!(
            "building {} failed ({status}); run `{}` to see why",
            variant.name,
            variant.command_line()
        );
    }
    for function in FUNCTIONS {
        let built = target_dir
            .join("lambda")
            .join(function)
            .join("bootstrap.zip");
        let kept = variant.zip(function);
        std::fs::create_dir_all(kept.parent().context("zip path has a parent")?)?;
        std::fs::copy(&built, &kept)
            .with_context(|| format!("copying {} to {}", built.display(), kept.display()))?;
    }
    Ok(())
}

/// The shipped zip as `cargo xtask dist` leaves it.
pub fn shipped_zip(function: &str) -> Result<PathBuf> {
    let zip = lambda_zip(function);
    if !zip.exists() {
        bail!("{} is missing: run `cargo xtask dist` first", zip.display());
    }
    Ok(zip)
}

/// Unpacks the `bootstrap` executable of `zip` into `into`/`name`; returns its path and size.
pub fn unpack_bootstrap(zip: &Path, into: &Path, name: &str) -> Result<(PathBuf, u64)> {
    use std::os::unix::fs::PermissionsExt;
    let file = std::fs::File::open(zip).with_context(|| format!("opening {}", zip.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a zip: rebuild it", zip.display()))?;
    let mut entry = archive.by_name("bootstrap").with_context(|| {
        format!(
            "{} holds no `bootstrap`: rebuild it with cargo lambda",
            zip.display()
        )
    })?;
    std::fs::create_dir_all(into)?;
    let path = into.join(name);
    let mut out = std::fs::File::create(&path)?;
    let size = std::io::copy(&mut entry, &mut out)?;
    drop(out);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok((path, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_name_every_override() {
        assert_eq!(
            Variant::opt_level("z").command_line(),
            "CARGO_PROFILE_RELEASE_OPT_LEVEL=z cargo lambda build --release --output-format zip -p deploy-handler -p event-notifier"
        );
        let jitter = Variant::jitter_entropy().command_line();
        assert!(jitter.starts_with("CARGO_PROFILE_RELEASE_OPT_LEVEL=3 AWS_LC_SYS_NO_JITTER_ENTROPY=0 CARGO_TARGET_DIR=target/bench-jitter cargo lambda build"), "{jitter}");
    }

    #[test]
    fn variant_directories_are_distinct_and_path_safe() {
        let dirs = [
            Variant::opt_level("3").dir(),
            Variant::opt_level("s").dir(),
            Variant::opt_level("z").dir(),
            Variant::jitter_entropy().dir(),
        ];
        for (i, a) in dirs.iter().enumerate() {
            assert!(a.starts_with(bench_dir()));
            let leaf = a.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            assert!(!leaf.contains(['=', ' ', '+']), "{leaf}");
            for b in &dirs[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn unpacks_bootstrap_executable_and_rejects_other_zips() {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let dir = bench_dir().join(format!("unit-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let zip_with = |name: &str| {
            let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            writer
                .start_file(name, zip::write::SimpleFileOptions::default())
                .expect("entry");
            writer.write_all(b"#!/bin/sh\n").expect("write");
            writer.finish().expect("finish").into_inner()
        };
        let good = dir.join("good.zip");
        std::fs::write(&good, zip_with("bootstrap")).expect("write zip");
        let (path, size) = unpack_bootstrap(&good, &dir.join("out"), "fn").expect("unpacks");
        assert_eq!(size, 10);
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "executable: {mode:o}");

        let bad = dir.join("bad.zip");
        std::fs::write(&bad, zip_with("handler")).expect("write zip");
        let err = unpack_bootstrap(&bad, &dir.join("out"), "fn2").expect_err("no bootstrap");
        assert!(err.to_string().contains("holds no `bootstrap`"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
