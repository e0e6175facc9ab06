//! What the registry says an image was built for, read when the artifact does not say
//! (`imagedefinitions.json`, or an `imageDetail.json` without `ImageArchitecture` from an older
//! build): ECR's BatchGetImage gives the manifest; a single-platform manifest names its config
//! blob, whose `architecture` and `os` GetDownloadUrlForLayer's URL serves; an image index lists
//! its platforms itself (OCI Image Format Specification, "Image Index" `platform`, and "Image
//! Configuration" `architecture`/`os`: https://github.com/opencontainers/image-spec).

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use bytes::Bytes;
use pipeline_common::CpuArchitecture;
use serde_json::{Value, json};

use crate::BoxFuture;
use crate::image::ImageRef;
use crate::transport::sigv4::{Flavour, Scope, sign_request};
use crate::transport::{HttpRequest, HttpTransport};

/// Longest wait per registry call.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The manifest types asked for (ECR API Reference, BatchGetImage `acceptedMediaTypes`): without
/// them ECR may answer a Docker v2 manifest converted from an OCI one.
const ACCEPTED_MEDIA_TYPES: [&str; 4] = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
];

/// Why the registry could not say what the image is built for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "the deploy-handler's role may not call {action} on ECR repository {repository} ({message}), so the \
         image's architecture cannot be checked and it is not deployed blind: grant the role \
         ecr:BatchGetImage and ecr:GetDownloadUrlForLayer on the repository (bootstrap deploy does)"
    )]
    Denied {
        action: &'static str,
        repository: String,
        message: String,
    },
    #[error("ECR could not read {what} of the image to check its architecture: {detail}")]
    Failed { what: String, detail: String },
}

/// The image's own platforms, as its registry describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryPlatform {
    /// One image: its config's `os/architecture` (`linux/amd64`).
    Single { os: String, architecture: String },
    /// An image index: the `os/architecture` of each entry.
    Index(Vec<String>),
}

impl RegistryPlatform {
    /// The architecture to hold against the target's: the single image's, or the index's one
    /// Linux architecture we deploy; `Ok(None)` for an index offering both (any target finds
    /// its own). An image nothing we deploy to can run is refused with what it is built for.
    pub fn architecture(&self, image: &ImageRef) -> Result<Option<CpuArchitecture>, String> {
        match self {
            Self::Single { os, architecture } => {
                let parsed = (os == "linux")
                    .then(|| CpuArchitecture::parse(architecture))
                    .flatten();
                parsed.map(Some).ok_or_else(|| {
                    format!(
                        "the image {image} is built for {os}/{architecture} (its config in ECR says so), which \
                         neither Lambda nor ECS runs; build it for linux/amd64 or linux/arm64"
                    )
                })
            }
            Self::Index(platforms) => {
                let ours: Vec<CpuArchitecture> = platforms
                    .iter()
                    .filter_map(|p| p.strip_prefix("linux/"))
                    .filter_map(CpuArchitecture::parse)
                    .collect();
                match ours.as_slice() {
                    [] => Err(format!(
                        "the image index {image} offers no linux/amd64 or linux/arm64 image (it lists: {}); \
                         build it for the target's platform",
                        if platforms.is_empty() {
                            "nothing".to_owned()
                        } else {
                            platforms.join(", ")
                        }
                    )),
                    [first, rest @ ..] if rest.iter().all(|a| a == first) => Ok(Some(*first)),
                    _ => Ok(None),
                }
            }
        }
    }
}

/// The registry calls the check needs; [`EcrRegistry`] in the function, scripted in tests.
pub trait ImageRegistry: Send + Sync {
    /// BatchGetImage's manifest of the image (by digest when the URI has one, else by tag).
    fn manifest<'a>(&'a self, image: &'a ImageRef) -> BoxFuture<'a, Result<String, RegistryError>>;
    /// A blob of the image's repository: GetDownloadUrlForLayer, then its URL.
    fn blob<'a>(
        &'a self,
        image: &'a ImageRef,
        digest: &'a str,
    ) -> BoxFuture<'a, Result<Bytes, RegistryError>>;
}

/// Reads the image's platform: the manifest, then (for a single image) its config blob.
pub async fn registry_platform(
    registry: &dyn ImageRegistry,
    image: &ImageRef,
) -> Result<RegistryPlatform, RegistryError> {
    let manifest = registry.manifest(image).await?;
    let unreadable = |detail: String| RegistryError::Failed {
        what: "the manifest".to_owned(),
        detail,
    };
    let parsed: Value =
        serde_json::from_str(&manifest).map_err(|e| unreadable(format!("it is not JSON ({e})")))?;
    if let Some(entries) = parsed["manifests"].as_array() {
        let platforms = entries
            .iter()
            .filter_map(|entry| {
                let platform = &entry["platform"];
                Some(format!(
                    "{}/{}",
                    platform["os"].as_str()?,
                    platform["architecture"].as_str()?
                ))
            })
            .collect();
        return Ok(RegistryPlatform::Index(platforms));
    }
    let config_digest = parsed["config"]["digest"]
        .as_str()
        .ok_or_else(|| unreadable("it names no config blob".to_owned()))?;
    let config = registry.blob(image, config_digest).await?;
    let config: Value = serde_json::from_slice(&config).map_err(|e| RegistryError::Failed {
        what: format!("the config blob {config_digest}"),
        detail: format!("it is not JSON ({e})"),
    })?;
    let field = |name: &str| config[name].as_str().unwrap_or("unknown").to_owned();
    Ok(RegistryPlatform::Single {
        os: field("os"),
        architecture: field("architecture"),
    })
}

/// ECR's JSON API, signed with the function's own credentials, over the shared HTTP client.
pub struct EcrRegistry {
    http: std::sync::Arc<dyn HttpTransport>,
    credentials: Option<SharedCredentialsProvider>,
    region: String,
    /// `AWS_ENDPOINT_URL_ECR` / `AWS_ENDPOINT_URL` (AWS SDKs and Tools Reference Guide,
    /// "Service-specific endpoints"); else ECR's regional API endpoint.
    endpoint: Option<String>,
}

impl std::fmt::Debug for EcrRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcrRegistry")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl EcrRegistry {
    pub fn new(
        http: std::sync::Arc<dyn HttpTransport>,
        credentials: Option<SharedCredentialsProvider>,
        region: impl Into<String>,
        endpoint: Option<String>,
    ) -> Self {
        Self {
            http,
            credentials,
            region: region.into(),
            endpoint,
        }
    }

    fn url(&self) -> String {
        match &self.endpoint {
            Some(base) => format!("{}/", base.trim_end_matches('/')),
            // Amazon ECR endpoints (AWS General Reference): api.ecr.REGION.amazonaws.com.
            None if self.region.starts_with("cn-") => {
                format!("https://api.ecr.{}.amazonaws.com.cn/", self.region)
            }
            None => format!("https://api.ecr.{}.amazonaws.com/", self.region),
        }
    }

    /// One JSON 1.1 call (ECR API Reference, "Common Parameters"; target prefix
    /// `AmazonEC2ContainerRegistry_V20150921`).
    async fn call(
        &self,
        operation: &'static str,
        image: &ImageRef,
        body: Value,
    ) -> Result<Value, RegistryError> {
        let failed = |detail: String| RegistryError::Failed {
            what: format!("ecr:{operation}"),
            detail,
        };
        let provider = self
            .credentials
            .as_ref()
            .ok_or_else(|| failed("the function has no AWS credentials".to_owned()))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| failed(format!("no AWS credentials: {e}")))?;
        let url = self.url();
        let mut request = HttpRequest {
            method: hyper::Method::POST,
            uri: url
                .parse()
                .map_err(|e| failed(format!("bad URL {url}: {e}")))?,
            headers: vec![
                ("content-type", "application/x-amz-json-1.1".to_owned()),
                (
                    "x-amz-target",
                    format!("AmazonEC2ContainerRegistry_V20150921.{operation}"),
                ),
            ],
            body: Bytes::from(body.to_string()),
        };
        let scope = Scope {
            region: &self.region,
            service: "ecr",
            flavour: Flavour::Standard,
        };
        sign_request(&mut request, &credentials, scope, SystemTime::now()).map_err(failed)?;
        let answer = self
            .http
            .send(request, CALL_TIMEOUT)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let parsed: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        if answer.status == 200 {
            return Ok(parsed);
        }
        // JSON 1.1 errors: `__type` (possibly `namespace#Code`) and `message`.
        let code = answer
            .error_type
            .clone()
            .or_else(|| parsed["__type"].as_str().map(str::to_owned))
            .map(|t| t.rsplit('#').next().unwrap_or_default().to_owned())
            .unwrap_or_else(|| format!("HTTP {}", answer.status));
        let message = parsed["message"]
            .as_str()
            .or_else(|| parsed["Message"].as_str())
            .unwrap_or_default()
            .to_owned();
        if matches!(code.as_str(), "AccessDeniedException" | "AccessDenied") {
            return Err(RegistryError::Denied {
                action: if operation == "BatchGetImage" {
                    "ecr:BatchGetImage"
                } else {
                    "ecr:GetDownloadUrlForLayer"
                },
                repository: image.repository.clone(),
                message,
            });
        }
        Err(failed(format!("{code}: {message}")))
    }

    fn registry_and_repository(image: &ImageRef) -> Value {
        json!({"registryId": image.account_id, "repositoryName": image.repository})
    }
}

impl ImageRegistry for EcrRegistry {
    fn manifest<'a>(&'a self, image: &'a ImageRef) -> BoxFuture<'a, Result<String, RegistryError>> {
        Box::pin(async move {
            let mut body = Self::registry_and_repository(image);
            body["imageIds"] = match (&image.digest, &image.tag) {
                (Some(digest), _) => json!([{"imageDigest": digest}]),
                (None, tag) => json!([{"imageTag": tag.as_deref().unwrap_or("latest")}]),
            };
            body["acceptedMediaTypes"] = json!(ACCEPTED_MEDIA_TYPES);
            let answer = self.call("BatchGetImage", image, body).await?;
            if let Some(manifest) = answer["images"][0]["imageManifest"].as_str() {
                return Ok(manifest.to_owned());
            }
            let failure = &answer["failures"][0];
            Err(RegistryError::Failed {
                what: "the manifest".to_owned(),
                detail: format!(
                    "ECR has no image {image}: {} {}",
                    failure["failureCode"].as_str().unwrap_or("ImageNotFound"),
                    failure["failureReason"].as_str().unwrap_or_default()
                ),
            })
        })
    }

    fn blob<'a>(
        &'a self,
        image: &'a ImageRef,
        digest: &'a str,
    ) -> BoxFuture<'a, Result<Bytes, RegistryError>> {
        Box::pin(async move {
            let mut body = Self::registry_and_repository(image);
            body["layerDigest"] = json!(digest);
            let answer = self.call("GetDownloadUrlForLayer", image, body).await?;
            let failed = |detail: String| RegistryError::Failed {
                what: format!("the config blob {digest}"),
                detail,
            };
            let url = answer["downloadUrl"].as_str().ok_or_else(|| {
                failed("GetDownloadUrlForLayer answered no downloadUrl".to_owned())
            })?;
            // The URL is pre-signed (S3's): it carries its own permission, so no signature.
            let request = HttpRequest {
                method: hyper::Method::GET,
                uri: url
                    .parse()
                    .map_err(|e| failed(format!("bad download URL: {e}")))?,
                headers: Vec::new(),
                body: Bytes::new(),
            };
            let answer = self
                .http
                .send(request, CALL_TIMEOUT)
                .await
                .map_err(|e| failed(e.to_string()))?;
            if answer.status != 200 {
                return Err(failed(format!(
                    "its download answered HTTP {}",
                    answer.status
                )));
            }
            Ok(answer.body)
        })
    }
}

#[cfg(test)]
pub(crate) mod fake {
    use super::*;

    /// A registry holding one manifest and its blobs, or refusing as scripted.
    #[derive(Clone, Debug, Default)]
    pub(crate) struct FakeRegistry {
        pub(crate) manifest: Option<Result<String, RegistryError>>,
        pub(crate) blobs: Vec<(String, Bytes)>,
    }

    impl FakeRegistry {
        /// A single-platform image whose config says `os/architecture`.
        pub(crate) fn single(os: &str, architecture: &str) -> Self {
            let config = json!({"os": os, "architecture": architecture}).to_string();
            let digest = format!("sha256:{}", "c".repeat(64));
            Self {
                manifest: Some(Ok(
                    json!({"schemaVersion": 2, "config": {"digest": digest}}).to_string(),
                )),
                blobs: vec![(digest, Bytes::from(config))],
            }
        }
    }

    impl ImageRegistry for FakeRegistry {
        fn manifest<'a>(&'a self, _: &'a ImageRef) -> BoxFuture<'a, Result<String, RegistryError>> {
            let answer = self.manifest.clone().unwrap_or_else(|| {
                Err(RegistryError::Failed {
                    what: "the manifest".to_owned(),
                    detail: "no manifest scripted".to_owned(),
                })
            });
            Box::pin(async move { answer })
        }

        fn blob<'a>(
            &'a self,
            _: &'a ImageRef,
            digest: &'a str,
        ) -> BoxFuture<'a, Result<Bytes, RegistryError>> {
            let found = self
                .blobs
                .iter()
                .find(|(d, _)| d == digest)
                .map(|(_, b)| b.clone());
            Box::pin(async move {
                found.ok_or_else(|| RegistryError::Failed {
                    what: format!("the config blob {digest}"),
                    detail: "LayersNotFoundException".to_owned(),
                })
            })
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::fake::FakeRegistry;
    use super::*;

    fn image() -> ImageRef {
        ImageRef::parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com/app-dev:0123456789ab")
            .unwrap()
    }

    #[tokio::test]
    async fn a_single_image_is_what_its_config_says() {
        let platform = registry_platform(&FakeRegistry::single("linux", "amd64"), &image())
            .await
            .unwrap();
        assert_eq!(
            platform.architecture(&image()),
            Ok(Some(CpuArchitecture::X86_64))
        );
        let arm = registry_platform(&FakeRegistry::single("linux", "arm64"), &image())
            .await
            .unwrap();
        assert_eq!(arm.architecture(&image()), Ok(Some(CpuArchitecture::Arm64)));
        let s390x = registry_platform(&FakeRegistry::single("linux", "s390x"), &image())
            .await
            .unwrap();
        let refused = s390x.architecture(&image()).unwrap_err();
        assert!(refused.contains("built for linux/s390x"), "{refused}");
        let windows = registry_platform(&FakeRegistry::single("windows", "amd64"), &image())
            .await
            .unwrap();
        assert!(
            windows
                .architecture(&image())
                .unwrap_err()
                .contains("windows/amd64")
        );
    }

    #[tokio::test]
    async fn an_index_is_judged_by_the_platforms_it_lists() {
        let index = |platforms: &[(&str, &str)]| FakeRegistry {
            manifest: Some(Ok(json!({
                "schemaVersion": 2,
                "manifests": platforms.iter().map(|(os, arch)| json!({
                    "digest": format!("sha256:{}", "d".repeat(64)),
                    "platform": {"os": os, "architecture": arch}
                })).collect::<Vec<_>>()
            })
            .to_string())),
            blobs: Vec::new(),
        };
        let arm_only = registry_platform(&index(&[("linux", "arm64")]), &image())
            .await
            .unwrap();
        assert_eq!(
            arm_only.architecture(&image()),
            Ok(Some(CpuArchitecture::Arm64))
        );
        let both = registry_platform(&index(&[("linux", "amd64"), ("linux", "arm64")]), &image())
            .await
            .unwrap();
        assert_eq!(both.architecture(&image()), Ok(None));
        let neither = registry_platform(&index(&[("linux", "ppc64le")]), &image())
            .await
            .unwrap();
        assert!(
            neither
                .architecture(&image())
                .unwrap_err()
                .contains("linux/ppc64le")
        );
    }

    #[tokio::test]
    async fn a_refusal_or_a_missing_config_is_an_error_not_a_guess() {
        let denied = FakeRegistry {
            manifest: Some(Err(RegistryError::Denied {
                action: "ecr:BatchGetImage",
                repository: "app-dev".to_owned(),
                message: "not authorized".to_owned(),
            })),
            blobs: Vec::new(),
        };
        let error = registry_platform(&denied, &image()).await.unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("may not call ecr:BatchGetImage on ECR repository app-dev")
                && text.contains("grant the role ecr:BatchGetImage and ecr:GetDownloadUrlForLayer"),
            "{text}"
        );
        let mut no_blob = FakeRegistry::single("linux", "amd64");
        no_blob.blobs.clear();
        let error = registry_platform(&no_blob, &image()).await.unwrap_err();
        assert!(
            error.to_string().contains("LayersNotFoundException"),
            "{error}"
        );
    }
}
