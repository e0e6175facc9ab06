//! The build's image artifact: fetching the zip from the artifact bucket with the job's
//! credentials, and reading the image URI out of it (pure, bounded against zip bombs).

use std::io::{Cursor, Read};

use tokio::time::Instant;

use crate::BoxFuture;
use crate::event::{ArtifactCredentials, EncryptionKey, S3Location};
use crate::image::{ImageRef, ImageUriError};

/// Largest artifact zip downloaded: the image files are tiny, a huge artifact is a mistake.
pub const MAX_ARTIFACT_BYTES: u64 = 64 * 1024 * 1024;
/// Largest inflated size read from one image file (zip-bomb bound).
pub const MAX_ENTRY_BYTES: u64 = 1024 * 1024;
/// Most entries listed in a message about a zip that lacks the image files.
const LISTED_ENTRIES: usize = 20;

pub const IMAGE_DETAIL_FILE: &str = "imageDetail.json";
pub const IMAGE_DEFINITIONS_FILE: &str = "imagedefinitions.json";

/// The image the build produced, and which file said so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageArtifact {
    pub image: ImageRef,
    pub source_file: &'static str,
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArtifactError {
    #[error(
        "the input artifact s3://{bucket}/{key} does not exist ({detail}); re-run the pipeline so the \
         build stage uploads it again, and check the artifact bucket's lifecycle rules"
    )]
    NotFound {
        bucket: String,
        key: String,
        detail: String,
    },
    #[error(
        "access denied reading the input artifact s3://{bucket}/{key} ({detail}); the pipeline role \
         needs s3:GetObject on the artifact bucket"
    )]
    AccessDenied {
        bucket: String,
        key: String,
        detail: String,
    },
    #[error(
        "access denied decrypting the input artifact s3://{bucket}/{key} with KMS key {key_id} ({detail}); \
         grant the pipeline role kms:Decrypt on that key"
    )]
    KmsAccessDenied {
        bucket: String,
        key: String,
        key_id: String,
        detail: String,
    },
    #[error("could not download the input artifact s3://{bucket}/{key}: {detail}; retry the stage")]
    Download {
        bucket: String,
        key: String,
        detail: String,
    },
    #[error(
        "the input artifact is {size} bytes; at most {MAX_ARTIFACT_BYTES} are read: the build should \
         output only imageDetail.json or imagedefinitions.json"
    )]
    TooLarge { size: u64 },
    #[error(
        "the input artifact is not a zip archive ({detail}); the Deploy action's input must be the \
         build stage's output artifact"
    )]
    NotZip { detail: String },
    #[error(
        "the input artifact holds neither imageDetail.json nor imagedefinitions.json at its root \
         (entries: {entries}); make the buildspec write one of them and list it under artifacts.files"
    )]
    NoImageFile { entries: String },
    #[error(
        "{file} in the input artifact {problem}; the build must write a single plain (unencrypted) file"
    )]
    BadEntry { file: &'static str, problem: String },
    #[error(
        "{file} inflates to more than {MAX_ENTRY_BYTES} bytes; it should be a few hundred bytes of JSON: \
         check what the build writes there"
    )]
    EntryTooLarge { file: &'static str },
    #[error("{file} is not the expected JSON ({problem}); expected {expected}")]
    BadJson {
        file: &'static str,
        problem: String,
        expected: &'static str,
    },
    #[error(
        "imagedefinitions.json has no container named `{service}` (names: {names}); set UserParameters \
         \"service\" to one of them"
    )]
    NoSuchContainer { service: String, names: String },
    #[error("{file}: {source}")]
    BadImage {
        file: &'static str,
        #[source]
        source: ImageUriError,
    },
}

impl ArtifactError {
    pub fn failure_kind(&self) -> crate::report::FailureKind {
        use crate::report::FailureKind;
        match self {
            Self::NotFound { .. } => FailureKind::RevisionUnavailable,
            Self::AccessDenied { .. } | Self::KmsAccessDenied { .. } => {
                FailureKind::PermissionError
            }
            _ => FailureKind::JobFailed,
        }
    }
}

/// Reads the image URI from the artifact zip: `imageDetail.json` (`{"ImageURI": ...}`) wins, else
/// the `service` container of `imagedefinitions.json` (`[{"name", "imageUri"}]`).
pub fn read_image_artifact(
    zip_bytes: &[u8],
    service: &str,
) -> Result<ImageArtifact, ArtifactError> {
    if zip_bytes.len() as u64 > MAX_ARTIFACT_BYTES {
        return Err(ArtifactError::TooLarge {
            size: zip_bytes.len() as u64,
        });
    }
    let mut archive =
        zip::ZipArchive::new(Cursor::new(zip_bytes)).map_err(|e| ArtifactError::NotZip {
            detail: e.to_string(),
        })?;

    if let Some(bytes) = read_entry(zip_bytes, &mut archive, IMAGE_DETAIL_FILE)? {
        return from_image_detail(&bytes);
    }
    if let Some(bytes) = read_entry(zip_bytes, &mut archive, IMAGE_DEFINITIONS_FILE)? {
        return from_image_definitions(&bytes, service);
    }
    let names: Vec<String> = archive
        .file_names()
        .take(LISTED_ENTRIES)
        .map(str::to_owned)
        .collect();
    let mut entries = if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    };
    if archive.len() > LISTED_ENTRIES {
        entries.push_str(&format!(" and {} more", archive.len() - LISTED_ENTRIES));
    }
    Err(ArtifactError::NoImageFile {
        entries: crate::report::truncate_chars(&entries, 1000),
    })
}

/// `imageDetail.json`: the URI, and the digest when the build wrote one (it must agree).
fn from_image_detail(bytes: &[u8]) -> Result<ImageArtifact, ArtifactError> {
    #[derive(serde::Deserialize)]
    struct ImageDetail {
        #[serde(rename = "ImageURI")]
        image_uri: String,
        /// The pushed manifest's digest, when the URI names the image by tag (the
        /// buildspec writes both).
        #[serde(rename = "ImageDigest", default)]
        image_digest: Option<String>,
        /// What the build made the image for (GOARCH's name: amd64, arm64); the rollout
        /// refuses it for a target of another architecture.
        #[serde(rename = "ImageArchitecture", default)]
        image_architecture: Option<String>,
    }
    let expected = r#"{"ImageURI": "ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG", "ImageDigest": "sha256:<64 hex>", "ImageArchitecture": "amd64"}"#;
    let detail: ImageDetail =
        serde_json::from_slice(bytes).map_err(|e| ArtifactError::BadJson {
            file: IMAGE_DETAIL_FILE,
            problem: e.to_string(),
            expected,
        })?;
    let mut artifact = image(IMAGE_DETAIL_FILE, &detail.image_uri)?;
    if let Some(digest) = detail.image_digest {
        let valid = digest
            .strip_prefix("sha256:")
            .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        let problem = if !valid {
            Some(format!(
                "ImageDigest `{digest}` is not sha256:<64 hex digits>"
            ))
        } else if artifact
            .image
            .digest
            .as_deref()
            .is_some_and(|d| d != digest)
        {
            Some(format!(
                "ImageDigest `{digest}` differs from the digest in ImageURI"
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(ArtifactError::BadJson {
                file: IMAGE_DETAIL_FILE,
                problem,
                expected,
            });
        }
        artifact.image.digest = Some(digest);
    }
    if let Some(named) = detail.image_architecture {
        let Some(architecture) = pipeline_common::CpuArchitecture::parse(&named) else {
            return Err(ArtifactError::BadJson {
                file: IMAGE_DETAIL_FILE,
                problem: format!("ImageArchitecture `{named}` is neither amd64 nor arm64"),
                expected,
            });
        };
        artifact.image.architecture = Some(architecture);
    }
    Ok(artifact)
}

/// `imagedefinitions.json`: the `service` container, or the only one.
fn from_image_definitions(bytes: &[u8], service: &str) -> Result<ImageArtifact, ArtifactError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Container {
        name: String,
        image_uri: String,
    }
    let containers: Vec<Container> = serde_json::from_slice(bytes).map_err(|e| ArtifactError::BadJson {
        file: IMAGE_DEFINITIONS_FILE,
        problem: e.to_string(),
        expected: r#"[{"name": "app", "imageUri": "ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG"}]"#,
    })?;
    let chosen = match containers.iter().find(|c| c.name == service) {
        Some(c) => c,
        // A single container is unambiguous whatever it is called.
        None if containers.len() == 1 => &containers[0],
        None => {
            return Err(ArtifactError::NoSuchContainer {
                service: service.to_owned(),
                names: containers
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    };
    image(IMAGE_DEFINITIONS_FILE, &chosen.image_uri)
}

fn image(file: &'static str, uri: &str) -> Result<ImageArtifact, ArtifactError> {
    let image = ImageRef::parse(uri).map_err(|source| ArtifactError::BadImage { file, source })?;
    Ok(ImageArtifact {
        image,
        source_file: file,
    })
}

/// The inflated bytes of the root entry called exactly `file`, at most [`MAX_ENTRY_BYTES`].
///
/// Only an exact root name matches, so `../imageDetail.json` or `/imageDetail.json` never do.
fn read_entry(
    zip_bytes: &[u8],
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    file: &'static str,
) -> Result<Option<Vec<u8>>, ArtifactError> {
    // The archive keeps only the last of several same-named entries, so count the raw
    // central directory records: two `imageDetail.json` would make the choice ambiguous.
    let directory_start = archive.central_directory_start();
    let records = [
        directory_start,
        directory_start.saturating_add(archive.offset()),
    ]
    .into_iter()
    .map(|start| count_directory_records(zip_bytes, start, file))
    .max()
    .unwrap_or(0);
    if records > 1 {
        return Err(ArtifactError::BadEntry {
            file,
            problem: "appears more than once".to_owned(),
        });
    }
    let mut found = None;
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|e| ArtifactError::NotZip {
                detail: e.to_string(),
            })?;
        if entry.name() == file && !entry.is_dir() {
            if found.is_some() {
                return Err(ArtifactError::BadEntry {
                    file,
                    problem: "appears more than once".to_owned(),
                });
            }
            if entry.encrypted() {
                return Err(ArtifactError::BadEntry {
                    file,
                    problem: "is password-protected".to_owned(),
                });
            }
            found = Some(index);
        }
    }
    let Some(index) = found else {
        return Ok(None);
    };
    let entry = archive
        .by_index(index)
        .map_err(|e| ArtifactError::BadEntry {
            file,
            problem: format!("cannot be opened: {e}"),
        })?;
    // Never trust the declared size: read at most one byte past the cap.
    let mut bytes = Vec::new();
    entry
        .take(MAX_ENTRY_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ArtifactError::BadEntry {
            file,
            problem: format!("cannot be inflated: {e}"),
        })?;
    if bytes.len() as u64 > MAX_ENTRY_BYTES {
        return Err(ArtifactError::EntryTooLarge { file });
    }
    Ok(Some(bytes))
}

/// Counts central directory records named `name`, walking from `start` while records follow.
fn count_directory_records(zip: &[u8], start: u64, name: &str) -> usize {
    const SIGNATURE: &[u8] = b"PK\x01\x02";
    const FIXED_LEN: usize = 46;
    let u16_at = |at: usize| {
        zip.get(at..at + 2)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let Ok(mut at) = usize::try_from(start) else {
        return 0;
    };
    let mut count = 0;
    while zip.get(at..at + 4) == Some(SIGNATURE) {
        let (Some(name_len), Some(extra_len), Some(comment_len)) =
            (u16_at(at + 28), u16_at(at + 30), u16_at(at + 32))
        else {
            break;
        };
        let name_start = at + FIXED_LEN;
        if zip.get(name_start..name_start + name_len) == Some(name.as_bytes()) {
            count += 1;
        }
        at = name_start + name_len + extra_len + comment_len;
    }
    count
}

/// Where the artifact zip comes from.
pub trait ArtifactStore: Send + Sync {
    fn fetch<'a>(
        &'a self,
        location: &'a S3Location,
        credentials: &'a ArtifactCredentials,
        encryption_key: Option<&'a EncryptionKey>,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<Vec<u8>, ArtifactError>>;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use std::io::Write;

    use zip::write::SimpleFileOptions;

    use super::*;

    pub(crate) const IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app-dev@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    pub(crate) fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, content) in entries {
            writer.start_file(*name, options).unwrap();
            writer.write_all(content).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    pub(crate) fn image_detail_zip(uri: &str) -> Vec<u8> {
        zip_of(&[(
            IMAGE_DETAIL_FILE,
            format!(r#"{{"ImageURI":"{uri}"}}"#).as_bytes(),
        )])
    }

    #[test]
    fn image_detail_digest_pins_a_tagged_uri_and_must_agree_with_it() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let tagged = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app-dev:v7";
        let zip = zip_of(&[(
            IMAGE_DETAIL_FILE,
            format!(r#"{{"ImageURI":"{tagged}","ImageDigest":"{digest}"}}"#).as_bytes(),
        )]);
        let image = read_image_artifact(&zip, "app").unwrap().image;
        assert_eq!(image.tag.as_deref(), Some("v7"));
        assert_eq!(image.digest.as_deref(), Some(digest.as_str()));
        for bad in ["sha256:zz", "md5:00"] {
            let zip = zip_of(&[(
                IMAGE_DETAIL_FILE,
                format!(r#"{{"ImageURI":"{tagged}","ImageDigest":"{bad}"}}"#).as_bytes(),
            )]);
            let err = read_image_artifact(&zip, "app").unwrap_err();
            assert!(
                err.to_string().contains("is not sha256:<64 hex digits>"),
                "{err}"
            );
        }
        let zip = zip_of(&[(
            IMAGE_DETAIL_FILE,
            format!(r#"{{"ImageURI":"{IMAGE}","ImageDigest":"{digest}"}}"#).as_bytes(),
        )]);
        let err = read_image_artifact(&zip, "app").unwrap_err();
        assert!(
            err.to_string()
                .contains("differs from the digest in ImageURI"),
            "{err}"
        );
    }

    #[test]
    fn image_detail_says_what_architecture_the_image_was_built_for() {
        let tagged = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app-dev:v7";
        let detail = |architecture: &str| {
            zip_of(&[(
                IMAGE_DETAIL_FILE,
                format!(r#"{{"ImageURI":"{tagged}","ImageArchitecture":"{architecture}"}}"#)
                    .as_bytes(),
            )])
        };
        let image = read_image_artifact(&detail("arm64"), "app").unwrap().image;
        assert_eq!(
            image.architecture,
            Some(pipeline_common::CpuArchitecture::Arm64)
        );
        let image = read_image_artifact(&detail("amd64"), "app").unwrap().image;
        assert_eq!(
            image.architecture,
            Some(pipeline_common::CpuArchitecture::X86_64)
        );
        let err = read_image_artifact(&detail("s390x"), "app").unwrap_err();
        assert!(
            err.to_string()
                .contains("ImageArchitecture `s390x` is neither amd64 nor arm64"),
            "{err}"
        );
        // an artifact without it (a reused image) says nothing about the architecture
        let image = read_image_artifact(&image_detail_zip(tagged), "app")
            .unwrap()
            .image;
        assert_eq!(image.architecture, None);
    }

    #[test]
    fn reads_image_detail() {
        let artifact = read_image_artifact(&image_detail_zip(IMAGE), "app").unwrap();
        assert_eq!(artifact.source_file, IMAGE_DETAIL_FILE);
        assert_eq!(artifact.image.uri, IMAGE);
        assert!(artifact.image.digest.is_some());
    }

    #[test]
    fn reads_image_definitions_by_service_or_single_entry() {
        let defs = br#"[{"name":"worker","imageUri":"123456789012.dkr.ecr.us-east-1.amazonaws.com/w:1"},
                        {"name":"app","imageUri":"123456789012.dkr.ecr.us-east-1.amazonaws.com/app-dev:abc"}]"#;
        let zip = zip_of(&[("README.md", b"x"), (IMAGE_DEFINITIONS_FILE, defs)]);
        let artifact = read_image_artifact(&zip, "app").unwrap();
        assert_eq!(artifact.source_file, IMAGE_DEFINITIONS_FILE);
        assert_eq!(artifact.image.repository, "app-dev");
        assert_eq!(artifact.image.tag.as_deref(), Some("abc"));

        let err = read_image_artifact(&zip, "api").unwrap_err();
        assert!(err.to_string().contains("worker, app"), "{err}");

        let single = zip_of(&[(
            IMAGE_DEFINITIONS_FILE,
            br#"[{"name":"web","imageUri":"123456789012.dkr.ecr.us-east-1.amazonaws.com/web:2"}]"#,
        )]);
        assert_eq!(
            read_image_artifact(&single, "app")
                .unwrap()
                .image
                .repository,
            "web"
        );
    }

    #[test]
    fn image_detail_wins_over_image_definitions() {
        let zip = zip_of(&[
            (IMAGE_DEFINITIONS_FILE, br#"[{"name":"app","imageUri":"123456789012.dkr.ecr.us-east-1.amazonaws.com/other:1"}]"#),
            (IMAGE_DETAIL_FILE, format!(r#"{{"ImageURI":"{IMAGE}"}}"#).as_bytes()),
        ]);
        assert_eq!(
            read_image_artifact(&zip, "app").unwrap().source_file,
            IMAGE_DETAIL_FILE
        );
    }

    #[test]
    fn rejects_non_zip_and_zip_without_image_files() {
        let err = read_image_artifact(b"{\"ImageURI\": \"x\"}", "app").unwrap_err();
        assert!(matches!(err, ArtifactError::NotZip { .. }), "{err}");
        assert!(err.to_string().contains("not a zip archive"));

        let err = read_image_artifact(
            &zip_of(&[("build.log", b"ok"), ("out/imageDetail.json", b"{}")]),
            "app",
        )
        .unwrap_err();
        assert!(matches!(err, ArtifactError::NoImageFile { .. }), "{err}");
        assert!(
            err.to_string().contains("build.log, out/imageDetail.json"),
            "{err}"
        );
        assert!(err.to_string().contains("artifacts.files"), "{err}");
    }

    #[test]
    fn path_tricks_do_not_match() {
        for name in [
            "../imageDetail.json",
            "/imageDetail.json",
            "a/../imageDetail.json",
            "imageDetail.json/",
        ] {
            let zip = zip_of(&[(name, format!(r#"{{"ImageURI":"{IMAGE}"}}"#).as_bytes())]);
            let err = read_image_artifact(&zip, "app").unwrap_err();
            assert!(
                matches!(err, ArtifactError::NoImageFile { .. }),
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn refuses_zip_bombs_and_duplicates() {
        let bomb = vec![b' '; (MAX_ENTRY_BYTES + 10) as usize];
        let zip = zip_of(&[(IMAGE_DETAIL_FILE, &bomb)]);
        assert!(
            zip.len() < 64 * 1024,
            "the test zip should compress well: {}",
            zip.len()
        );
        assert_eq!(
            read_image_artifact(&zip, "app").unwrap_err(),
            ArtifactError::EntryTooLarge {
                file: IMAGE_DETAIL_FILE
            }
        );

        // Exactly at the cap is still fine (whitespace around JSON is valid).
        let mut at_cap = format!(r#"{{"ImageURI":"{IMAGE}"}}"#).into_bytes();
        at_cap.resize(MAX_ENTRY_BYTES as usize, b' ');
        assert!(read_image_artifact(&zip_of(&[(IMAGE_DETAIL_FILE, &at_cap)]), "app").is_ok());

        // The writer refuses duplicate names, so rename a same-length second entry in the bytes.
        let stored =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        writer.start_file(IMAGE_DETAIL_FILE, stored).unwrap();
        writer
            .write_all(format!(r#"{{"ImageURI":"{IMAGE}"}}"#).as_bytes())
            .unwrap();
        writer.start_file("imageDetaiX.json", stored).unwrap();
        writer
            .write_all(br#"{"ImageURI":"123456789012.dkr.ecr.us-east-1.amazonaws.com/evil:1"}"#)
            .unwrap();
        let mut bytes = writer.finish().unwrap().into_inner();
        let (from, to) = (b"imageDetaiX.json", IMAGE_DETAIL_FILE.as_bytes());
        let mut at = 0;
        while let Some(pos) = bytes[at..].windows(from.len()).position(|w| w == from) {
            bytes[at + pos..at + pos + from.len()].copy_from_slice(to);
            at += pos + from.len();
        }
        let err = read_image_artifact(&bytes, "app").unwrap_err();
        assert!(
            matches!(
                err,
                ArtifactError::BadEntry { .. } | ArtifactError::NotZip { .. }
            ),
            "a zip naming imageDetail.json twice must be refused, got {err:?}"
        );
    }

    #[test]
    fn bad_json_and_bad_uri_name_the_file() {
        let err = read_image_artifact(&zip_of(&[(IMAGE_DETAIL_FILE, b"{\"imageUri\":1}")]), "app")
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("imageDetail.json is not the expected JSON"),
            "{err}"
        );
        let err = read_image_artifact(&image_detail_zip("nginx:latest"), "app").unwrap_err();
        assert!(
            matches!(
                err,
                ArtifactError::BadImage {
                    file: IMAGE_DETAIL_FILE,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("not an ECR image URI"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            let _ = read_image_artifact(&bytes, "app");
        }

        #[test]
        fn corrupted_zips_never_panic(flips in proptest::collection::vec((0usize..400, proptest::num::u8::ANY), 1..8)) {
            let mut zip = image_detail_zip(IMAGE);
            for (at, value) in flips {
                let len = zip.len();
                zip[at % len] = value;
            }
            let _ = read_image_artifact(&zip, "app");
        }
    }
}
