//! Reproducible Lambda zips: the same binary gives the same zip bytes, so the `CodeSha256`
//! Lambda reports for a function is known when the deployer is built. cargo-lambda's own zips
//! carry the time they were written, so two builds of one commit differ; here every entry has
//! the fixed time 1980-01-01 00:00 (the earliest a zip can say), mode 0755, no extra fields, and
//! the entries are sorted by name.

use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::Path;

/// One file of a zip: its name, content and Unix mode.
#[derive(Debug)]
pub struct Entry<'a> {
    pub name: &'a str,
    pub content: &'a [u8],
    pub mode: u32,
}

/// MS-DOS date of 1980-01-01 (year 0 from 1980, month 1, day 1); the time is 00:00:00.
const DOS_DATE_1980_01_01: u16 = (1 << 5) | 1;
/// Version 2.0 of the format: deflate, no zip64.
const VERSION_NEEDED: u16 = 20;
/// "Made by" Unix (3 in the high byte), so the external attributes hold the Unix mode.
const VERSION_MADE_BY_UNIX: u16 = (3 << 8) | VERSION_NEEDED;
const METHOD_DEFLATE: u16 = 8;
/// A regular file in `st_mode`'s file-type bits.
const REGULAR_FILE: u32 = 0o100_000;

/// The zip holding `entries` (sorted by name, deflated at the best level), byte for byte the
/// same for the same entries whenever and wherever it is made with this Cargo.lock.
pub fn reproducible_zip(entries: &[Entry<'_>]) -> Result<Vec<u8>> {
    let mut sorted: Vec<&Entry<'_>> = entries.iter().collect();
    sorted.sort_by_key(|entry| entry.name);
    let mut out = Vec::new();
    let mut central = Vec::new();
    for entry in &sorted {
        let compressed = deflate(entry.content)?;
        let mut crc = flate2::Crc::new();
        crc.update(entry.content);
        let sizes = Sizes {
            crc: crc.sum(),
            compressed: u32_of(compressed.len(), entry.name)?,
            uncompressed: u32_of(entry.content.len(), entry.name)?,
            name: u16::try_from(entry.name.len()).context("entry name too long")?,
        };
        let offset = u32_of(out.len(), entry.name)?;
        put32(&mut out, 0x0403_4b50);
        put16(&mut out, VERSION_NEEDED);
        sizes.write_common(&mut out);
        out.extend_from_slice(entry.name.as_bytes());
        out.extend_from_slice(&compressed);

        put32(&mut central, 0x0201_4b50);
        put16(&mut central, VERSION_MADE_BY_UNIX);
        put16(&mut central, VERSION_NEEDED);
        sizes.write_common(&mut central);
        put16(&mut central, 0); // comment length
        put16(&mut central, 0); // disk number
        put16(&mut central, 0); // internal attributes
        put32(&mut central, (REGULAR_FILE | entry.mode) << 16);
        put32(&mut central, offset);
        central.extend_from_slice(entry.name.as_bytes());
    }
    let count = u16::try_from(sorted.len()).context("too many entries for a zip")?;
    let central_offset = u32_of(out.len(), "central directory")?;
    let central_size = u32_of(central.len(), "central directory")?;
    out.extend_from_slice(&central);
    put32(&mut out, 0x0605_4b50);
    put16(&mut out, 0); // this disk
    put16(&mut out, 0); // disk of the central directory
    put16(&mut out, count);
    put16(&mut out, count);
    put32(&mut out, central_size);
    put32(&mut out, central_offset);
    put16(&mut out, 0); // comment length
    Ok(out)
}

/// The fields local and central headers share, from the flags to the extra field's length.
struct Sizes {
    crc: u32,
    compressed: u32,
    uncompressed: u32,
    name: u16,
}

impl Sizes {
    fn write_common(&self, out: &mut Vec<u8>) {
        put16(out, 0); // flags: no data descriptor, no encryption
        put16(out, METHOD_DEFLATE);
        put16(out, 0); // time 00:00:00
        put16(out, DOS_DATE_1980_01_01);
        put32(out, self.crc);
        put32(out, self.compressed);
        put32(out, self.uncompressed);
        put16(out, self.name);
        put16(out, 0); // extra field length: no timestamps, no uid/gid
    }
}

fn deflate(content: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(content).context("deflating")?;
    encoder.finish().context("deflating")
}

fn u32_of(size: usize, what: &str) -> Result<u32> {
    match u32::try_from(size) {
        Ok(size) => Ok(size),
        Err(_) => bail!("{what}: over 4 GiB, which needs zip64 (a Lambda zip is at most 50 MB)"),
    }
}

fn put16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// The Lambda zip of one function: its binary as the executable `bootstrap` that the
/// `provided.al2023` runtime starts.
pub fn lambda_zip(binary: &[u8]) -> Result<Vec<u8>> {
    reproducible_zip(&[Entry {
        name: "bootstrap",
        content: binary,
        mode: 0o755,
    }])
}

/// Packs `binary` into the zip at `zip_path` unless the zip was already made from these very
/// bytes: a copy of the binary it was made from is kept beside it (cargo lambda hands over a
/// fresh copy with a new time on every run, so only the content tells). Deflating a Lambda
/// binary takes seconds in xtask's unoptimised build, and CI asks for the zips several times.
/// Returns the zip's size.
pub fn repack_if_rebuilt(binary: &Path, zip_path: &Path) -> Result<u64> {
    let content =
        std::fs::read(binary).with_context(|| format!("{} was not built", binary.display()))?;
    let source = zip_path.with_extension("zip.source");
    let fresh = zip_path.exists() && std::fs::read(&source).is_ok_and(|old| old == content);
    if !fresh {
        write_if_changed(zip_path, &lambda_zip(&content)?)?;
        std::fs::write(&source, &content)
            .with_context(|| format!("writing {}", source.display()))?;
    }
    Ok(std::fs::metadata(zip_path)?.len())
}

/// Writes `bytes` to `path` unless it already holds them: an unchanged zip keeps its
/// modification time, so nothing that embeds it (bootstrap's build script) is rebuilt.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-zip-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    fn u16_at(bytes: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([bytes[at], bytes[at + 1]])
    }

    fn u32_at(bytes: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
    }

    /// The binary is rewritten between the two builds (a later mtime, as a rebuild leaves it),
    /// and the zips still match byte for byte.
    #[test]
    fn building_twice_at_different_times_gives_the_same_bytes() {
        let dir = scratch("twice");
        let binary = dir.join("deploy-handler");
        let content: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        std::fs::write(&binary, &content).expect("write");
        let first = lambda_zip(&std::fs::read(&binary).expect("read")).expect("first zip");
        std::thread::sleep(Duration::from_millis(1100));
        std::fs::write(&binary, &content).expect("rewrite");
        let later = SystemTime::now() + Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&binary)
            .and_then(|f| f.set_modified(later))
            .expect("set mtime");
        let second = lambda_zip(&std::fs::read(&binary).expect("read")).expect("second zip");
        std::fs::remove_dir_all(&dir).expect("cleanup");
        assert_eq!(first, second, "two builds of the same binary differ");
        assert!(first.len() < content.len() / 2, "deflate did not compress");
    }

    /// The headers say what the module promises: 1980-01-01 00:00, mode 0755 regular file,
    /// deflate, the CRC of the content, and the entries sorted; the data inflates back.
    #[test]
    fn entries_are_sorted_and_carry_fixed_times_and_modes() {
        let zip = reproducible_zip(&[
            Entry {
                name: "b",
                content: b"second",
                mode: 0o644,
            },
            Entry {
                name: "bootstrap",
                content: b"\x7fELF binary",
                mode: 0o755,
            },
            Entry {
                name: "a",
                content: b"first",
                mode: 0o644,
            },
        ])
        .expect("zip");
        let end = zip.len() - 22;
        assert_eq!(u32_at(&zip, end), 0x0605_4b50);
        assert_eq!(u16_at(&zip, end + 10), 3);
        let mut at = u32_at(&zip, end + 16) as usize;
        let mut names = Vec::new();
        for _ in 0..3 {
            assert_eq!(u32_at(&zip, at), 0x0201_4b50);
            assert_eq!(u16_at(&zip, at + 10), METHOD_DEFLATE);
            assert_eq!((u16_at(&zip, at + 12), u16_at(&zip, at + 14)), (0, 0x21));
            let name_len = u16_at(&zip, at + 28) as usize;
            let name = String::from_utf8(zip[at + 46..at + 46 + name_len].to_vec()).expect("name");
            let mode = u32_at(&zip, at + 38) >> 16;
            let local = u32_at(&zip, at + 42) as usize;
            let compressed = u32_at(&zip, at + 20) as usize;
            let data_at = local + 30 + name_len;
            let mut inflated = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::DeflateDecoder::new(&zip[data_at..data_at + compressed]),
                &mut inflated,
            )
            .expect("inflate");
            let mut crc = flate2::Crc::new();
            crc.update(&inflated);
            assert_eq!(crc.sum(), u32_at(&zip, at + 16), "{name}: CRC");
            let expected_mode = if name == "bootstrap" {
                0o100_755
            } else {
                0o100_644
            };
            assert_eq!(mode, expected_mode, "{name}");
            names.push(name);
            at += 46 + name_len;
        }
        assert_eq!(names, ["a", "b", "bootstrap"]);
    }

    #[test]
    fn a_zip_is_made_again_only_when_its_binary_changed() {
        let dir = scratch("rebuilt");
        let binary = dir.join("bin");
        let zip = dir.join("f/bootstrap.zip");
        std::fs::write(&binary, b"\x7fELF first").expect("write");
        repack_if_rebuilt(&binary, &zip).expect("first");
        let first = std::fs::read(&zip).expect("zip");
        std::fs::write(&zip, b"left alone while the binary is unchanged").expect("write");
        repack_if_rebuilt(&binary, &zip).expect("unchanged binary");
        assert_eq!(
            std::fs::read(&zip).expect("zip"),
            b"left alone while the binary is unchanged"
        );
        std::fs::write(&binary, b"\x7fELF second build").expect("relink");
        repack_if_rebuilt(&binary, &zip).expect("relinked binary");
        let second = std::fs::read(&zip).expect("zip");
        std::fs::remove_dir_all(&dir).expect("cleanup");
        assert_ne!(first, second);
        assert_eq!(second, lambda_zip(b"\x7fELF second build").expect("zip"));
    }

    #[test]
    fn an_unchanged_zip_is_not_rewritten() {
        let dir = scratch("unchanged");
        let path = dir.join("f/bootstrap.zip");
        assert!(write_if_changed(&path, b"one").expect("first write"));
        assert!(!write_if_changed(&path, b"one").expect("same bytes"));
        assert!(write_if_changed(&path, b"two").expect("new bytes"));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
