//! Small helpers of the rehearsal: ids, timestamps, zips and the narration printed to the user.

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// `len` pseudo-random lowercase hex digits (unique per call within a process).
pub fn random_hex(len: usize) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = String::new();
    while out.len() < len {
        let seed = format!(
            "{:?}-{}-{}",
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        out.push_str(&hex::encode(Sha256::digest(seed.as_bytes())));
    }
    out.truncate(len);
    out
}

/// A random UUID-shaped id, as CodePipeline uses for executions and events.
pub fn uuid() -> String {
    let h = random_hex(32);
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// The current time as ISO-8601 UTC with seconds (`2025-01-01T00:00:00Z`).
pub fn now_iso8601() -> String {
    iso8601(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}

/// Seconds since the epoch as ISO-8601 UTC.
pub fn iso8601(epoch_seconds: u64) -> String {
    let days = (epoch_seconds / 86_400) as i64;
    let secs = epoch_seconds % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Zips every file under `dir` (paths relative to it), as CodePipeline stores a source artifact.
pub fn zip_dir(dir: &Path) -> Result<Vec<u8>> {
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files)?;
    files.sort();
    let entries: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .map(|rel| {
            let bytes = std::fs::read(dir.join(&rel)).with_context(|| format!("reading {rel}"))?;
            Ok((rel, bytes))
        })
        .collect::<Result<_>>()?;
    zip_entries(&entries)
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        // Local leftovers are not part of a commit.
        if matches!(name, "__pycache__" | "reports" | ".git") {
            continue;
        }
        if path.is_dir() {
            collect_files(root, &path, out)?;
        } else {
            let rel = path
                .strip_prefix(root)
                .context("file outside the zipped directory")?;
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

pub fn zip_entries(entries: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        writer.start_file(name.as_str(), zip::write::SimpleFileOptions::default())?;
        writer.write_all(bytes)?;
    }
    Ok(writer.finish()?.into_inner())
}

/// Extracts a zip into `dir`, as CodeBuild does with its source artifact.
pub fn unzip_into(bytes: &[u8], dir: &Path) -> Result<usize> {
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).context("the artifact is not a zip")?;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index)?;
        let Some(rel) = entry.enclosed_name() else {
            anyhow::bail!(
                "the artifact holds an unsafe path {:?}; refusing to extract it",
                entry.name()
            );
        };
        let target = dir.join(rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&target)?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut content = Vec::new();
        entry.read_to_end(&mut content)?;
        std::fs::write(&target, content)?;
    }
    Ok(archive.len())
}

/// Prints the rehearsal in the user's words, each line stamped with the time since the start.
#[derive(Debug)]
pub struct Narrator {
    enabled: bool,
    started: Instant,
}

impl Narrator {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            started: Instant::now(),
        }
    }

    pub fn elapsed(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    pub fn step(&self, title: &str) {
        if self.enabled {
            println!(
                "\n[{:>6.1}s] == {title}",
                self.started.elapsed().as_secs_f64()
            );
        }
    }

    pub fn say(&self, line: &str) {
        if self.enabled {
            println!("[{:>6.1}s]    {line}", self.started.elapsed().as_secs_f64());
        }
    }

    /// A plain statement of what this rehearsal simulates and how AWS differs.
    pub fn simulated(&self, line: &str) {
        if self.enabled {
            println!("            (simulated) {line}");
        }
    }

    /// Indented block (a build log excerpt, a notification).
    pub fn block(&self, text: &str) {
        if self.enabled {
            for line in text.lines() {
                println!("            | {line}");
            }
        }
    }
}

/// Every file below `dir`, recursively (none when it does not exist): what a buildspec
/// `files: '**/*'` pattern sees.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// The Lambda zips `cargo xtask dist` builds, or stand-ins holding the debug binaries in
/// `scratch` (CI runs `cargo test --workspace` without `dist`): bootstrap only needs a zip with a
/// `bootstrap` ELF.
pub fn lambda_zips(scratch: &Path) -> Result<PathBuf> {
    let built = testkit::target_dir().join("lambda");
    if ["deploy-handler", "event-notifier"]
        .iter()
        .all(|f| built.join(f).join("bootstrap.zip").exists())
    {
        return Ok(built);
    }
    for function in ["deploy-handler", "event-notifier"] {
        let binary = std::fs::read(testkit::lambda_binary(function)?)
            .with_context(|| format!("reading the {function} binary"))?;
        let dir = scratch.join(function);
        std::fs::create_dir_all(&dir)?;
        let mut zip = zip::ZipWriter::new(std::fs::File::create(dir.join("bootstrap.zip"))?);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .unix_permissions(0o755);
        zip.start_file("bootstrap", options)?;
        zip.write_all(&binary)?;
        zip.finish()?;
    }
    Ok(scratch.to_path_buf())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_matches_known_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_735_689_599), "2024-12-31T23:59:59Z");
    }

    #[test]
    fn ids_are_unique_and_well_formed() {
        let (a, b) = (random_hex(40), random_hex(40));
        assert_ne!(a, b);
        assert!(a.len() == 40 && a.chars().all(|c| c.is_ascii_hexdigit()));
        let id = uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
    }

    #[test]
    fn zips_round_trip_and_skip_local_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub/__pycache__")).unwrap();
        std::fs::write(dir.path().join("a.txt"), "a").unwrap();
        std::fs::write(dir.path().join("sub/b.txt"), "b").unwrap();
        std::fs::write(dir.path().join("sub/__pycache__/x.pyc"), "x").unwrap();
        let bytes = zip_dir(dir.path()).unwrap();
        let out = tempfile::tempdir().unwrap();
        assert_eq!(unzip_into(&bytes, out.path()).unwrap(), 2);
        assert_eq!(
            std::fs::read_to_string(out.path().join("sub/b.txt")).unwrap(),
            "b"
        );
        assert!(!out.path().join("sub/__pycache__").exists());
    }
}
