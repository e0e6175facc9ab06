//! The input artifact's download: the shape of one S3 GetObject (its URL and S3's SigV4
//! flavour), sent over the function's shared HTTP client with the job's artifact credentials,
//! and S3's answers read. A hand-signed GET keeps the S3 SDK client (and the checksum tables it
//! always links) out of the function's package.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::time::Instant;

use crate::BoxFuture;
use crate::artifact::{ArtifactError, ArtifactStore, MAX_ARTIFACT_BYTES};
use crate::event::{ArtifactCredentials, EncryptionKey, S3Location};
use crate::transport::sigv4::{Flavour, Scope, sign_request};
use crate::transport::{BodyError, HttpRequest, HyperTransport, read_body};

/// Attempts per download (S3's standard retry mode also makes 3).
const MAX_ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest wait for S3 to connect and answer with headers, per attempt.
const HEADERS_TIMEOUT: Duration = Duration::from_secs(10);
/// Most bytes of an error response read: S3's XML errors are a few hundred bytes.
const MAX_ERROR_BODY: usize = 16 * 1024;

/// Where S3 lives: AWS's regional endpoint, or an endpoint override (`AWS_ENDPOINT_URL_S3` /
/// `AWS_ENDPOINT_URL`), which is addressed path-style because it is usually a local emulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Endpoint {
    region: String,
    override_url: Option<String>,
}

impl S3Endpoint {
    pub fn new(region: impl Into<String>, override_url: Option<String>) -> Self {
        Self {
            region: region.into(),
            override_url: override_url.map(|url| url.trim_end_matches('/').to_owned()),
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The GetObject URL, with the key percent-encoded the way SigV4 signs S3 paths.
    pub fn object_url(&self, bucket: &str, key: &str) -> String {
        let key = encode_key(key);
        if let Some(base) = &self.override_url {
            return format!("{base}/{}/{key}", encode_key(bucket));
        }
        let domain = if self.region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        let region = &self.region;
        if virtual_hostable(bucket) {
            format!("https://{bucket}.s3.{region}.{domain}/{key}")
        } else {
            // A dotted bucket name would not match S3's wildcard TLS certificate.
            format!("https://s3.{region}.{domain}/{}/{key}", encode_key(bucket))
        }
    }
}

/// A bucket name usable as one DNS label of `*.s3.REGION.amazonaws.com`.
fn virtual_hostable(bucket: &str) -> bool {
    (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !bucket.starts_with('-')
        && !bucket.ends_with('-')
}

/// Percent-encodes every byte but the unreserved ones and `/`, as S3 expects in a path.
fn encode_key(key: &str) -> String {
    let mut encoded = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The signed GetObject request (signature in headers, session token as `x-amz-security-token`).
fn signed_get(
    url: &str,
    credentials: &ArtifactCredentials,
    region: &str,
    now: SystemTime,
) -> Result<HttpRequest, String> {
    let credentials = aws_credential_types::Credentials::new(
        credentials.access_key_id.clone(),
        credentials.secret_access_key.clone(),
        credentials.session_token.clone(),
        None,
        "codepipeline-artifact-credentials",
    );
    let mut request = HttpRequest {
        method: hyper::Method::GET,
        uri: url
            .parse()
            .map_err(|e| format!("invalid request URL {url}: {e}"))?,
        headers: Vec::new(),
        body: Bytes::new(),
    };
    let scope = Scope {
        region,
        service: "s3",
        flavour: Flavour::S3,
    };
    sign_request(&mut request, &credentials, scope, now)?;
    Ok(request)
}

/// Reads artifacts from S3 with the job's artifact credentials (never the function's own role).
#[derive(Debug, Clone)]
pub struct S3ArtifactStore {
    http: Arc<HyperTransport>,
    endpoint: S3Endpoint,
}

impl S3ArtifactStore {
    pub fn new(http: Arc<HyperTransport>, endpoint: S3Endpoint) -> Self {
        Self { http, endpoint }
    }
}

impl ArtifactStore for S3ArtifactStore {
    fn fetch<'a>(
        &'a self,
        location: &'a S3Location,
        credentials: &'a ArtifactCredentials,
        encryption_key: Option<&'a EncryptionKey>,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<Vec<u8>, ArtifactError>> {
        Box::pin(async move {
            if let Some(kms) = encryption_key {
                tracing::info!(kms_key_id = %kms.id, "input artifact is encrypted with a customer key; S3 decrypts it");
            }
            fetch_object(
                &self.http,
                &self.endpoint,
                location,
                credentials,
                encryption_key,
                deadline,
                MAX_ARTIFACT_BYTES,
            )
            .await
        })
    }
}

/// One attempt's failure, and whether another attempt may help.
struct AttemptError {
    error: ArtifactError,
    retryable: bool,
}

/// Downloads the object, at most `max_bytes`, retrying throttling, 5xx and connection failures
/// with backoff while the deadline allows. SSE-KMS objects decrypt server-side, so the key only
/// matters for explaining an access failure.
async fn fetch_object(
    http: &HyperTransport,
    endpoint: &S3Endpoint,
    location: &S3Location,
    credentials: &ArtifactCredentials,
    encryption_key: Option<&EncryptionKey>,
    deadline: Instant,
    max_bytes: u64,
) -> Result<Vec<u8>, ArtifactError> {
    let url = endpoint.object_url(&location.bucket_name, &location.object_key);
    let mut backoff = FIRST_BACKOFF;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let attempt = async {
            // Signed per attempt: the signature carries the time.
            let request = signed_get(&url, credentials, endpoint.region(), SystemTime::now())
                .map_err(|detail| AttemptError {
                    error: download_error(location, detail),
                    retryable: false,
                })?;
            get_once(http, request, location, encryption_key, deadline, max_bytes).await
        };
        match attempt.await {
            Ok(bytes) => return Ok(bytes),
            Err(AttemptError { error, retryable }) => {
                let out_of_time = Instant::now() + backoff >= deadline;
                if !retryable || attempts >= MAX_ATTEMPTS || out_of_time {
                    return Err(match error {
                        ArtifactError::Download {
                            bucket,
                            key,
                            detail,
                        } if attempts > 1 => ArtifactError::Download {
                            bucket,
                            key,
                            detail: format!("{detail} (after {attempts} attempts)"),
                        },
                        other => other,
                    });
                }
                tracing::warn!(error = %error, attempts, "reading the input artifact failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
    }
}

async fn get_once(
    http: &HyperTransport,
    request: HttpRequest,
    location: &S3Location,
    encryption_key: Option<&EncryptionKey>,
    deadline: Instant,
    max_bytes: u64,
) -> Result<Vec<u8>, AttemptError> {
    let headers_deadline = deadline.min(Instant::now() + HEADERS_TIMEOUT);
    let response = match tokio::time::timeout_at(headers_deadline, http.open(request)).await {
        Err(_) => {
            return Err(AttemptError {
                error: download_error(location, "S3 did not answer in time".to_owned()),
                retryable: true,
            });
        }
        Ok(Err(e)) => {
            return Err(AttemptError {
                error: download_error(location, e.detail()),
                // Connection failures and dropped connections are safe to retry: a GET changes nothing.
                retryable: true,
            });
        }
        Ok(Ok(response)) => response,
    };
    let status = response.status().as_u16();
    let declared = response
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if (200..300).contains(&status) {
        if let Some(size) = declared
            && size > max_bytes
        {
            return Err(AttemptError {
                error: ArtifactError::TooLarge { size },
                retryable: false,
            });
        }
        let body = read_body(response.into_body(), max_bytes, deadline).await;
        return match body {
            Ok(bytes) => Ok(bytes),
            Err(BodyError::TooLarge(size)) => Err(AttemptError {
                error: ArtifactError::TooLarge { size },
                retryable: false,
            }),
            Err(BodyError::Broken(detail)) => Err(AttemptError {
                error: download_error(location, format!("the download broke off: {detail}")),
                retryable: true,
            }),
        };
    }
    let body = read_body(response.into_body(), MAX_ERROR_BODY as u64, deadline)
        .await
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body);
    let code = xml_element(&body, "Code");
    let message = xml_element(&body, "Message");
    let retryable = status >= 500 || code.as_deref() == Some("SlowDown");
    Err(AttemptError {
        error: classify_s3_error(
            status,
            code.as_deref(),
            message.as_deref(),
            location,
            encryption_key,
        ),
        retryable,
    })
}

/// The text of the first `<name>` element, unescaped: enough for S3's flat `<Error>` documents.
fn xml_element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    let text = xml[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

fn download_error(location: &S3Location, detail: String) -> ArtifactError {
    ArtifactError::Download {
        bucket: location.bucket_name.clone(),
        key: location.object_key.clone(),
        detail,
    }
}

/// S3's REST protocol reports errors only as an HTTP status and an XML `<Code>`: there is no
/// typed error to match, so the code (and the status as a fallback) is all there is.
fn classify_s3_error(
    status: u16,
    code: Option<&str>,
    message: Option<&str>,
    location: &S3Location,
    encryption_key: Option<&EncryptionKey>,
) -> ArtifactError {
    let bucket = location.bucket_name.clone();
    let key = location.object_key.clone();
    let code = code.unwrap_or_default();
    let detail = match (code, message) {
        ("", _) => format!("HTTP {status}"),
        (code, Some(message)) => format!("{code}: {message}"),
        (code, None) => code.to_owned(),
    };
    if matches!(code, "NoSuchKey" | "NoSuchBucket") || status == 404 {
        return ArtifactError::NotFound {
            bucket,
            key,
            detail,
        };
    }
    let kms_refusal = code.starts_with("KMS.");
    if kms_refusal || code == "AccessDenied" || status == 403 {
        return match encryption_key {
            Some(kms) if kms_refusal || detail.contains("kms") || detail.contains("KMS") => {
                ArtifactError::KmsAccessDenied {
                    bucket,
                    key,
                    key_id: kms.id.clone(),
                    detail,
                }
            }
            _ => ArtifactError::AccessDenied {
                bucket,
                key,
                detail,
            },
        };
    }
    let detail = if code.is_empty() {
        detail
    } else {
        format!("HTTP {status}, {detail}")
    };
    ArtifactError::Download {
        bucket,
        key,
        detail,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Mutex;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;
    use crate::artifact::tests::{IMAGE, image_detail_zip};
    use crate::report::FailureKind;

    fn location() -> S3Location {
        S3Location {
            bucket_name: "artifacts".into(),
            object_key: "p/a b+c.zip".into(),
        }
    }

    fn credentials(session_token: Option<&str>) -> ArtifactCredentials {
        serde_json::from_value(serde_json::json!({
            "accessKeyId": "AKIAARTIFACTS",
            "secretAccessKey": "secret",
            "sessionToken": session_token,
        }))
        .unwrap()
    }

    #[test]
    fn object_urls_follow_s3_addressing() {
        let aws = S3Endpoint::new("eu-west-1", None);
        assert_eq!(
            aws.object_url("my-artifacts", "pipe/Build/x y+z=é~.zip"),
            "https://my-artifacts.s3.eu-west-1.amazonaws.com/pipe/Build/x%20y%2Bz%3D%C3%A9~.zip"
        );
        assert_eq!(
            aws.object_url("my.dotted.bucket", "k"),
            "https://s3.eu-west-1.amazonaws.com/my.dotted.bucket/k"
        );
        assert_eq!(
            S3Endpoint::new("cn-north-1", None).object_url("b-1", "k"),
            "https://b-1.s3.cn-north-1.amazonaws.com.cn/k"
        );
        let local = S3Endpoint::new("us-east-1", Some("http://127.0.0.1:5000/".into()));
        assert_eq!(
            local.object_url("artifacts", "a/b?.zip"),
            "http://127.0.0.1:5000/artifacts/a/b%3F.zip"
        );
    }

    fn header_of(request: &HttpRequest, name: &str) -> Option<String> {
        request
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }

    #[test]
    fn signs_with_the_job_credentials_and_session_token() {
        let url = S3Endpoint::new("us-east-1", None).object_url("artifacts", "p/a.zip");
        let request = signed_get(
            &url,
            &credentials(Some("TOKEN")),
            "us-east-1",
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        )
        .unwrap();
        let header = |name: &str| header_of(&request, name);
        let authorization = header("authorization").unwrap();
        assert!(
            authorization.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIAARTIFACTS/20231114/us-east-1/s3/aws4_request"
            ),
            "{authorization}"
        );
        assert!(
            authorization.contains("x-amz-security-token"),
            "{authorization}"
        );
        assert_eq!(header("x-amz-security-token").as_deref(), Some("TOKEN"));
        assert_eq!(
            header("x-amz-content-sha256").as_deref(),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert_eq!(header("x-amz-date").as_deref(), Some("20231114T221320Z"));

        let without_token =
            signed_get(&url, &credentials(None), "us-east-1", SystemTime::now()).unwrap();
        assert!(header_of(&without_token, "x-amz-security-token").is_none());
    }

    /// Recomputes the SigV4 signature by hand: S3 accepts only a path encoded once, unnormalized.
    #[test]
    fn signature_matches_an_independent_sigv4_computation() {
        use hmac::{Hmac, KeyInit, Mac};
        use sha2::{Digest, Sha256};
        let hmac = |key: &[u8], data: &str| {
            let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
            mac.update(data.as_bytes());
            mac.finalize().into_bytes().to_vec()
        };
        let url = S3Endpoint::new("eu-west-1", None).object_url("artifacts", "p/./a b.zip");
        let request = signed_get(
            &url,
            &credentials(Some("TOKEN")),
            "eu-west-1",
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        )
        .unwrap();
        let empty = hex::encode(Sha256::digest(b""));
        let canonical = format!(
            "GET\n/p/./a%20b.zip\n\nhost:artifacts.s3.eu-west-1.amazonaws.com\nx-amz-content-sha256:{empty}\n\
             x-amz-date:20231114T221320Z\nx-amz-security-token:TOKEN\n\n\
             host;x-amz-content-sha256;x-amz-date;x-amz-security-token\n{empty}"
        );
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n20231114T221320Z\n20231114/eu-west-1/s3/aws4_request\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let mut key = hmac(b"AWS4secret", "20231114");
        for part in ["eu-west-1", "s3", "aws4_request"] {
            key = hmac(&key, part);
        }
        let expected = hex::encode(hmac(&key, &string_to_sign));
        let authorization = header_of(&request, "authorization").unwrap();
        assert!(
            authorization.ends_with(&format!("Signature={expected}")),
            "{authorization}"
        );
        assert_eq!(request.uri.path(), "/p/./a%20b.zip");
    }

    #[test]
    fn reads_s3_error_documents() {
        let xml = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>no &amp; never</Message></Error>";
        assert_eq!(xml_element(xml, "Code").as_deref(), Some("AccessDenied"));
        assert_eq!(xml_element(xml, "Message").as_deref(), Some("no & never"));
        assert_eq!(xml_element("", "Code"), None);
        assert_eq!(xml_element("<Code>", "Code"), None);
    }

    /// A loopback server answering each connection with the next canned raw HTTP response,
    /// recording each request head.
    struct CannedS3 {
        endpoint: S3Endpoint,
        requests: Arc<Mutex<Vec<String>>>,
    }

    async fn canned_s3(responses: Vec<Vec<u8>>) -> CannedS3 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        tokio::spawn(async move {
            for response in responses {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = stream.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    head.extend_from_slice(&buf[..n]);
                }
                recorded
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).into_owned());
                let _ = stream.write_all(&response).await;
                let _ = stream.shutdown().await;
            }
        });
        CannedS3 {
            endpoint: S3Endpoint::new("us-east-1", Some(format!("http://127.0.0.1:{port}"))),
            requests,
        }
    }

    fn raw_response(status: u16, body: &[u8]) -> Vec<u8> {
        let mut raw = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        raw.extend_from_slice(body);
        raw
    }

    fn s3_error(status: u16, code: &str) -> Vec<u8> {
        raw_response(
            status,
            format!("<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>m {code}</Message></Error>")
                .as_bytes(),
        )
    }

    async fn fetch_from(
        server: &CannedS3,
        kms: Option<&EncryptionKey>,
        max_bytes: u64,
    ) -> Result<Vec<u8>, ArtifactError> {
        fetch_object(
            &HyperTransport::default(),
            &server.endpoint,
            &location(),
            &credentials(Some("TOKEN")),
            kms,
            Instant::now() + Duration::from_secs(20),
            max_bytes,
        )
        .await
    }

    async fn error_for(response: Vec<u8>, kms: Option<&EncryptionKey>) -> ArtifactError {
        let server = canned_s3(vec![response]).await;
        fetch_from(&server, kms, MAX_ARTIFACT_BYTES)
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn downloads_the_body_path_style_with_signed_headers() {
        let zip = image_detail_zip(IMAGE);
        let server = canned_s3(vec![raw_response(200, &zip)]).await;
        assert_eq!(
            fetch_from(&server, None, MAX_ARTIFACT_BYTES).await.unwrap(),
            zip
        );
        let requests = server.requests.lock().unwrap();
        let head = requests[0].to_ascii_lowercase();
        assert!(
            head.starts_with("get /artifacts/p/a%20b%2bc.zip http/1.1"),
            "{head}"
        );
        assert!(
            head.contains("authorization: aws4-hmac-sha256 credential=akiaartifacts/"),
            "{head}"
        );
        assert!(head.contains("x-amz-security-token: token"), "{head}");
    }

    #[tokio::test]
    async fn classifies_s3_failures() {
        let kms = EncryptionKey {
            id: "arn:aws:kms:us-east-1:1:key/k".into(),
            kind: Some("KMS".into()),
        };
        let missing_key = error_for(s3_error(404, "NoSuchKey"), None).await;
        assert!(
            matches!(missing_key, ArtifactError::NotFound { .. }),
            "{missing_key}"
        );
        assert_eq!(missing_key.failure_kind(), FailureKind::RevisionUnavailable);
        assert!(missing_key.to_string().contains("NoSuchKey: m NoSuchKey"));
        let missing_bucket = error_for(s3_error(404, "NoSuchBucket"), None).await;
        assert!(
            matches!(missing_bucket, ArtifactError::NotFound { .. }),
            "{missing_bucket}"
        );
        let bare_404 = error_for(raw_response(404, b""), None).await;
        assert!(
            matches!(bare_404, ArtifactError::NotFound { .. }),
            "{bare_404}"
        );
        let denied = error_for(s3_error(403, "AccessDenied"), None).await;
        assert!(
            matches!(denied, ArtifactError::AccessDenied { .. }),
            "{denied}"
        );
        assert_eq!(denied.failure_kind(), FailureKind::PermissionError);
        let kms_denied = error_for(s3_error(403, "KMS.AccessDeniedException"), Some(&kms)).await;
        assert!(
            matches!(&kms_denied, ArtifactError::KmsAccessDenied { key_id, .. } if key_id == &kms.id),
            "{kms_denied}"
        );
        assert_eq!(kms_denied.failure_kind(), FailureKind::PermissionError);
        assert!(kms_denied.to_string().contains("kms:Decrypt"));
        let plain_denied_with_key = error_for(s3_error(403, "AccessDenied"), Some(&kms)).await;
        assert!(matches!(
            plain_denied_with_key,
            ArtifactError::AccessDenied { .. }
        ));
        let invalid = error_for(s3_error(400, "InvalidRequest"), None).await;
        assert!(
            matches!(&invalid, ArtifactError::Download { detail, .. } if detail.contains("HTTP 400, InvalidRequest")),
            "{invalid}"
        );
        assert_eq!(invalid.failure_kind(), FailureKind::JobFailed);
    }

    #[tokio::test]
    async fn retries_throttling_and_server_errors() {
        let zip = image_detail_zip(IMAGE);
        let server = canned_s3(vec![
            s3_error(503, "SlowDown"),
            s3_error(500, "InternalError"),
            raw_response(200, &zip),
        ])
        .await;
        assert_eq!(
            fetch_from(&server, None, MAX_ARTIFACT_BYTES).await.unwrap(),
            zip
        );
        assert_eq!(server.requests.lock().unwrap().len(), 3);

        let server = canned_s3(vec![
            s3_error(503, "SlowDown"),
            s3_error(503, "SlowDown"),
            s3_error(503, "SlowDown"),
            raw_response(200, &zip),
        ])
        .await;
        let err = fetch_from(&server, None, MAX_ARTIFACT_BYTES)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("SlowDown"), "{err}");
        assert!(err.to_string().contains("after 3 attempts"), "{err}");
        assert_eq!(server.requests.lock().unwrap().len(), 3);

        // A refusal is final: no second request.
        let server = canned_s3(vec![s3_error(403, "AccessDenied"), raw_response(200, &zip)]).await;
        assert!(fetch_from(&server, None, MAX_ARTIFACT_BYTES).await.is_err());
        assert_eq!(server.requests.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn never_retries_past_the_deadline() {
        let server = canned_s3(vec![
            s3_error(500, "InternalError"),
            raw_response(200, b"x"),
        ])
        .await;
        let err = fetch_object(
            &HyperTransport::default(),
            &server.endpoint,
            &location(),
            &credentials(None),
            None,
            Instant::now() + FIRST_BACKOFF / 2,
            MAX_ARTIFACT_BYTES,
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("InternalError"), "{err}");
        assert_eq!(server.requests.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn caps_the_download_size() {
        let declared = canned_s3(vec![raw_response(200, &[b'x'; 100])]).await;
        assert_eq!(
            fetch_from(&declared, None, 99).await.unwrap_err(),
            ArtifactError::TooLarge { size: 100 }
        );
        // Without a Content-Length the streamed bytes are counted.
        let mut chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
        for _ in 0..4 {
            chunked.extend_from_slice(b"20\r\n");
            chunked.extend_from_slice(&[b'y'; 32]);
            chunked.extend_from_slice(b"\r\n");
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        let streamed = canned_s3(vec![chunked]).await;
        assert!(matches!(
            fetch_from(&streamed, None, 99).await.unwrap_err(),
            ArtifactError::TooLarge { size } if size > 99
        ));
    }
}
