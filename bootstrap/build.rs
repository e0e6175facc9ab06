//! Builds the Lambda zips into `bootstrap` when the build names them: `BOOTSTRAP_EMBED_X86_64`
//! and `BOOTSTRAP_EMBED_ARM64` each point at a directory laid out as `--artifacts-dir` is
//! (`deploy-handler/bootstrap.zip`, `event-notifier/bootstrap.zip`), and `BOOTSTRAP_COMMIT`
//! names the commit; `cargo xtask release` and CI set them. Without them the binary holds no
//! zips and says at `plan` how to get some. Only these variables and the named zips re-run this
//! script, so an ordinary workspace build changes nothing here.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::PathBuf;

const FUNCTIONS: [&str; 2] = ["deploy-handler", "event-notifier"];
const ARCHITECTURES: [(&str, &str); 2] = [
    ("x86_64", "BOOTSTRAP_EMBED_X86_64"),
    ("arm64", "BOOTSTRAP_EMBED_ARM64"),
];

fn main() -> Result<(), String> {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=BOOTSTRAP_COMMIT");
    let commit = std::env::var("BOOTSTRAP_COMMIT")
        .unwrap_or_else(|_| "not recorded (built without `cargo xtask release`)".to_owned());
    let mut zips = String::new();
    for (architecture, variable) in ARCHITECTURES {
        println!("cargo::rerun-if-env-changed={variable}");
        let Some(dir) = std::env::var_os(variable).map(PathBuf::from) else {
            continue;
        };
        for function in FUNCTIONS {
            let path = dir.join(function).join("bootstrap.zip");
            let path = path
                .canonicalize()
                .map_err(|err| format!("{variable}: {}: {err}", path.display()))?;
            println!("cargo::rerun-if-changed={}", path.display());
            let bytes = std::fs::read(&path)
                .map_err(|err| format!("{variable}: reading {}: {err}", path.display()))?;
            let code_sha256 =
                base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes));
            let path = path
                .to_str()
                .ok_or_else(|| format!("{variable}: {} is not UTF-8", path.display()))?;
            let _ = writeln!(
                zips,
                "        bootstrap::artifacts::Embedded {{ architecture: {architecture:?}, \
                 function: {function:?}, code_sha256: {code_sha256:?}, \
                 bytes: include_bytes!({path:?}) }},"
            );
        }
    }
    let generated = format!(
        "/// What bootstrap/build.rs found to build in.\n\
         static BUILD: bootstrap::artifacts::Build = bootstrap::artifacts::Build {{\n    \
         commit: {commit:?},\n    zips: &[\n{zips}    ],\n}};\n"
    );
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("cargo sets OUT_DIR")?);
    std::fs::write(out.join("embedded.rs"), generated)
        .map_err(|err| format!("writing embedded.rs: {err}"))
}
