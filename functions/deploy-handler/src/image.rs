//! Parsing and validation of the ECR image URI the build stage hands to the deploy stage.

use std::fmt;

/// An image in an ECR registry: `ACCOUNT.dkr.ecr.REGION.amazonaws.com[.cn]/REPO` with `:tag`,
/// `@sha256:<64 hex>` or both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    pub uri: String,
    pub registry: String,
    pub account_id: String,
    pub region: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
    /// The CPU architecture the build made the image for, when the artifact says
    /// (`imageDetail.json`'s `ImageArchitecture`); a URI alone never does.
    pub architecture: Option<pipeline_common::CpuArchitecture>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "image URI `{uri}` is not an ECR image URI ({reason}); the build must write \
     ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY:TAG or ...@sha256:<64 hex digits>"
)]
pub struct ImageUriError {
    pub uri: String,
    pub reason: &'static str,
}

const MAX_URI_LEN: usize = 1024;
const MAX_REPOSITORY_LEN: usize = 256;
const MAX_TAG_LEN: usize = 128;

impl ImageRef {
    pub fn parse(raw: &str) -> Result<Self, ImageUriError> {
        let uri = raw.trim();
        let fail = |reason| ImageUriError {
            uri: excerpt(uri),
            reason,
        };
        if uri.len() > MAX_URI_LEN {
            return Err(fail("longer than 1024 characters"));
        }
        if uri.contains("://") {
            return Err(fail("it must not carry a scheme such as https://"));
        }
        let (registry, path) = uri
            .split_once('/')
            .ok_or_else(|| fail("no repository after the registry host"))?;
        let (account_id, region) = parse_registry(registry).ok_or_else(|| {
            fail("the registry host is not ACCOUNT.dkr.ecr.REGION.amazonaws.com[.cn]")
        })?;

        let (name_and_tag, digest) = match path.split_once('@') {
            Some((before, digest)) => {
                let hex = digest
                    .strip_prefix("sha256:")
                    .ok_or_else(|| fail("the digest must start with sha256:"))?;
                if hex.len() != 64
                    || !hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
                    return Err(fail(
                        "the digest must be sha256: followed by 64 lowercase hex digits",
                    ));
                }
                (before, Some(digest.to_owned()))
            }
            None => (path, None),
        };
        // A colon can only introduce the tag: repository names contain none.
        let (repository, tag) = match name_and_tag.rsplit_once(':') {
            Some((repository, tag)) => (repository, Some(tag)),
            None => (name_and_tag, None),
        };
        if !is_repository_name(repository) {
            return Err(fail(
                "the repository name must be 2-256 lowercase letters, digits and . _ - / separators",
            ));
        }
        if let Some(tag) = tag
            && !is_tag(tag)
        {
            return Err(fail(
                "the tag must be 1-128 letters, digits, _ . - and not start with . or -",
            ));
        }
        if tag.is_none() && digest.is_none() {
            return Err(fail("it names neither a :tag nor an @sha256 digest"));
        }
        Ok(Self {
            uri: uri.to_owned(),
            registry: registry.to_owned(),
            account_id: account_id.to_owned(),
            region: region.to_owned(),
            repository: repository.to_owned(),
            tag: tag.map(str::to_owned),
            digest,
            architecture: None,
        })
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri)
    }
}

/// Returns `(account, region)` when `host` is an ECR registry host.
fn parse_registry(host: &str) -> Option<(&str, &str)> {
    let rest = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))?;
    let (account, rest) = rest.split_once(".dkr.ecr.")?;
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    let region_ok = is_region(rest);
    (account_ok && region_ok).then_some((account, rest))
}

/// `us-east-1`, `eu-central-2`, `cn-north-1`, `us-gov-west-1`: lowercase words and a final number.
fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let Some((last, words)) = parts.split_last() else {
        return false;
    };
    words.len() >= 2
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
}

/// ECR: `(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`, 2-256 characters.
fn is_repository_name(name: &str) -> bool {
    (2..=MAX_REPOSITORY_LEN).contains(&name.len())
        && name.split('/').all(|component| {
            !component.is_empty()
                && component.split(['.', '_', '-']).all(|word| {
                    !word.is_empty()
                        && word
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                })
        })
}

fn is_tag(tag: &str) -> bool {
    let mut bytes = tag.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphanumeric() || b == b'_')
        && tag.len() <= MAX_TAG_LEN
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Keeps error messages bounded when the artifact carries something huge.
fn excerpt(text: &str) -> String {
    crate::report::truncate_chars(text, 200)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_tag_digest_and_both() {
        let tagged =
            ImageRef::parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com/app-dev:abc123").unwrap();
        assert_eq!(
            tagged.registry,
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
        );
        assert_eq!(tagged.account_id, "123456789012");
        assert_eq!(tagged.region, "eu-west-1");
        assert_eq!(tagged.repository, "app-dev");
        assert_eq!(tagged.tag.as_deref(), Some("abc123"));
        assert_eq!(tagged.digest, None);

        let pinned = ImageRef::parse(&format!(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app@{DIGEST}"
        ))
        .unwrap();
        assert_eq!(pinned.repository, "team/app");
        assert_eq!(pinned.tag, None);
        assert_eq!(pinned.digest.as_deref(), Some(DIGEST));

        let both = ImageRef::parse(&format!(
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app:v1.2@{DIGEST}"
        ))
        .unwrap();
        assert_eq!(both.region, "cn-north-1");
        assert_eq!(both.tag.as_deref(), Some("v1.2"));
        assert_eq!(both.digest.as_deref(), Some(DIGEST));

        let gov =
            ImageRef::parse("123456789012.dkr.ecr.us-gov-west-1.amazonaws.com/app:latest").unwrap();
        assert_eq!(gov.region, "us-gov-west-1");
    }

    #[test]
    fn rejects_each_malformed_part_with_a_reason() {
        let cases = [
            ("docker.io/library/nginx:latest", "registry host"),
            (
                "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1",
                "scheme",
            ),
            (
                "12345678901.dkr.ecr.us-east-1.amazonaws.com/app:1",
                "registry host",
            ),
            (
                "123456789012.dkr.ecr.useast1.amazonaws.com/app:1",
                "registry host",
            ),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.com/app:1",
                "registry host",
            ),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                "no repository",
            ),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/App:1",
                "repository name",
            ),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/app//x:1",
                "repository name",
            ),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/app",
                "neither",
            ),
            ("123456789012.dkr.ecr.us-east-1.amazonaws.com/app:", "tag"),
            ("123456789012.dkr.ecr.us-east-1.amazonaws.com/app:-x", "tag"),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:abc",
                "64 lowercase hex",
            ),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@md5:0123",
                "sha256:",
            ),
        ];
        for (uri, reason) in cases {
            let err = ImageRef::parse(uri).unwrap_err();
            assert!(err.to_string().contains(reason), "{uri}: {err}");
            assert!(err.to_string().contains("the build must write"), "{err}");
        }
        let long_tag = format!(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:{}",
            "a".repeat(129)
        );
        assert!(ImageRef::parse(&long_tag).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_round_trips(raw in "\\PC{0,300}") {
            if let Ok(image) = ImageRef::parse(&raw) {
                proptest::prop_assert!(image.uri.starts_with(&image.registry));
                proptest::prop_assert!(image.tag.is_some() || image.digest.is_some());
            }
        }
    }
}
