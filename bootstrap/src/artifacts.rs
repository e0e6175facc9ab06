//! The Lambda zips to deploy: their hash (as Lambda reports `CodeSha256`) and the CPU
//! architecture read from the `bootstrap` binary's ELF header, never assumed.

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LambdaZip {
    pub path: PathBuf,
    /// Base64 SHA-256 of the zip file.
    pub code_sha256: String,
    /// `x86_64` or `arm64`.
    pub architecture: String,
}

pub const BUILD_COMMAND: &str = "cargo xtask dist   (or: cargo lambda build --release --output-format zip -p deploy-handler -p event-notifier)";

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
    let code_sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes));
    Ok(LambdaZip {
        path,
        code_sha256,
        architecture: architecture.to_owned(),
    })
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

    #[test]
    fn a_missing_zip_says_how_to_build_it() {
        let err = read(Path::new("/nonexistent"), "deploy-handler")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cargo xtask dist"), "{err}");
    }
}
