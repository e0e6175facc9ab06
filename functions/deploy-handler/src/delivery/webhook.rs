//! The webhook delivery: the deployment event POSTed with an HMAC signature, retried within
//! the deadline, and the long-deployment protocol (202 Accepted + Location, then signed status
//! GETs on the webhook's own origin).

use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use hyper::{Method, Uri};
use serde::Deserialize;
use sha2::Sha256;
use tokio::time::Instant;

use super::secret::WebhookSecret;
use super::{DeploymentEvent, TargetError};
use crate::report::truncate_chars;
use crate::transport::{HttpRequest, HttpResponse, HttpTransport, TransportError};

/// Header carrying `sha256=<hex HMAC-SHA256 of the exact body>`.
pub const SIGNATURE_HEADER: &str = "x-signature-256";
/// Header carrying the deployment id (the CodePipeline job id) for receivers that dedupe.
pub const DEPLOYMENT_ID_HEADER: &str = "x-deployment-id";
/// Most characters of a response body quoted in a failure message.
pub const MAX_BODY_EXCERPT_CHARS: usize = 500;
const MAX_ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(4);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// `sha256=<hex>` over the exact bytes sent.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .expect("HMAC-SHA256 accepts any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The webhook URL must be https, except plain http to a loopback host (local testing).
pub fn validate_webhook_url(raw: &str) -> Result<Uri, TargetError> {
    let bad = |why: &str| {
        TargetError::Configuration(format!(
            "the deployment webhook URL `{}` {why}; set DEPLOY_WEBHOOK_URL (or UserParameters \"webhookUrl\") \
             to an https:// URL",
            truncate_chars(raw, 200)
        ))
    };
    let uri: Uri = raw.trim().parse().map_err(|_| bad("is not a valid URL"))?;
    let authority = uri.authority().ok_or_else(|| bad("has no host"))?;
    if authority.as_str().contains('@') {
        return Err(bad(
            "must not embed credentials (the request is signed instead)",
        ));
    }
    let host = authority.host();
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]");
    match uri.scheme_str() {
        Some("https") => Ok(uri),
        Some("http") if loopback => Ok(uri),
        Some("http") => Err(bad(
            "uses plain http, which is allowed only for 127.0.0.1 or localhost",
        )),
        _ => Err(bad("must start with https://")),
    }
}

/// Resolves a `Location` header against the webhook URL; it must stay on the webhook's origin,
/// since the signed status requests go there.
pub fn resolve_location(webhook: &Uri, location: &str) -> Result<Uri, TargetError> {
    let origin = format!(
        "{}://{}",
        webhook.scheme_str().unwrap_or("https"),
        webhook.authority().map(|a| a.as_str()).unwrap_or_default()
    );
    let absolute = if location.starts_with('/') && !location.starts_with("//") {
        format!("{origin}{location}")
    } else {
        location.to_owned()
    };
    let uri = validate_webhook_url(&absolute).map_err(|_| {
        TargetError::Failed(format!(
            "the deployment webhook answered 202 with Location `{}`, which is not a valid status URL; \
             the receiver must send an absolute https URL or a path",
            truncate_chars(location, 200)
        ))
    })?;
    let same_origin = uri.scheme() == webhook.scheme() && uri.authority() == webhook.authority();
    if !same_origin {
        return Err(TargetError::Failed(format!(
            "the deployment webhook answered 202 with Location `{}` on another origin than {origin}; \
             status URLs must be on the webhook's own host",
            truncate_chars(location, 200)
        )));
    }
    Ok(uri)
}

/// The webhook's answer to the deployment request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// The receiver took the deployment (any 2xx but 202 with Location).
    Done,
    /// `202 Accepted` + `Location`: poll the status URL.
    Accepted { status_url: Uri },
}

/// A long deployment's status, as the status URL reports it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct DeploymentStatus {
    pub status: StatusKind,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StatusKind {
    InProgress,
    Succeeded,
    Failed,
}

/// POSTs the signed deployment event.
pub async fn post_deployment(
    transport: &dyn HttpTransport,
    url: &Uri,
    secret: &WebhookSecret,
    event: &DeploymentEvent,
    deadline: Instant,
) -> Result<WebhookOutcome, TargetError> {
    let body = Bytes::from(
        serde_json::to_vec(event)
            .map_err(|e| TargetError::Failed(format!("cannot encode the event: {e}")))?,
    );
    let request = HttpRequest {
        method: Method::POST,
        uri: url.clone(),
        headers: vec![
            ("content-type", "application/json".to_owned()),
            (
                "user-agent",
                concat!("deploy-handler/", env!("CARGO_PKG_VERSION")).to_owned(),
            ),
            (SIGNATURE_HEADER, signature(secret.bytes(), &body)),
            (DEPLOYMENT_ID_HEADER, event.deployment_id.clone()),
        ],
        body,
    };
    let response = send_with_retries(transport, request, deadline).await?;
    if response.status == 202
        && let Some(location) = response.location.as_deref()
    {
        return Ok(WebhookOutcome::Accepted {
            status_url: resolve_location(url, location)?,
        });
    }
    if (200..300).contains(&response.status) {
        return Ok(WebhookOutcome::Done);
    }
    Err(rejected("POST", url, &response))
}

/// GETs a long deployment's status, signed over the empty body.
pub async fn poll_status(
    transport: &dyn HttpTransport,
    status_url: &Uri,
    secret: &WebhookSecret,
    deployment_id: &str,
    deadline: Instant,
) -> Result<DeploymentStatus, TargetError> {
    let request = HttpRequest {
        method: Method::GET,
        uri: status_url.clone(),
        headers: vec![
            ("accept", "application/json".to_owned()),
            (
                "user-agent",
                concat!("deploy-handler/", env!("CARGO_PKG_VERSION")).to_owned(),
            ),
            (SIGNATURE_HEADER, signature(secret.bytes(), b"")),
            (DEPLOYMENT_ID_HEADER, deployment_id.to_owned()),
        ],
        body: Bytes::new(),
    };
    let response = send_with_retries(transport, request, deadline).await?;
    if !(200..300).contains(&response.status) {
        return Err(rejected("GET", status_url, &response));
    }
    serde_json::from_slice(&response.body).map_err(|e| {
        TargetError::Failed(format!(
            "the deployment status at {status_url} is not {{\"status\": \"IN_PROGRESS\"|\"SUCCEEDED\"|\"FAILED\", \
             \"message\"?}} ({e}): {}; fix the receiver's status endpoint",
            body_excerpt(&response.body)
        ))
    })
}

fn rejected(method: &'static str, url: &Uri, response: &HttpResponse) -> TargetError {
    TargetError::Rejected {
        method,
        url: url.to_string(),
        status: response.status,
        excerpt: body_excerpt(&response.body),
    }
}

/// At most [`MAX_BODY_EXCERPT_CHARS`] of the body, lossily decoded.
pub fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".to_owned()
    } else {
        truncate_chars(text, MAX_BODY_EXCERPT_CHARS)
    }
}

fn retryable(result: &Result<HttpResponse, TransportError>) -> bool {
    match result {
        Ok(response) => response.status == 429 || response.status >= 500,
        Err(TransportError::Connect(_) | TransportError::Timeout) => true,
        Err(TransportError::Other(_)) => false,
    }
}

/// Sends with bounded exponential backoff on connect errors, timeouts, 429 and 5xx, never
/// starting a wait or attempt that would end past `deadline`.
pub async fn send_with_retries(
    transport: &dyn HttpTransport,
    request: HttpRequest,
    deadline: Instant,
) -> Result<HttpResponse, TargetError> {
    let method = if request.method == Method::GET {
        "GET"
    } else {
        "POST"
    };
    let url = request.uri.to_string();
    let mut backoff = FIRST_BACKOFF;
    let mut attempts = 0;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(TargetError::Unreachable {
                method,
                url,
                attempts,
                detail: "no time left before the Lambda deadline".into(),
            });
        }
        attempts += 1;
        let result = transport
            .send(request.clone(), remaining.min(REQUEST_TIMEOUT))
            .await;
        let out_of_time = Instant::now() + backoff >= deadline;
        if !retryable(&result) || attempts >= MAX_ATTEMPTS || out_of_time {
            return result.map_err(|e| TargetError::Unreachable {
                method,
                url,
                attempts,
                detail: e.to_string(),
            });
        }
        match &result {
            Ok(response) => tracing::warn!(
                status = response.status,
                attempts,
                "webhook answered a retryable status; retrying"
            ),
            Err(e) => tracing::warn!(error = %e, attempts, "webhook request failed; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::delivery::ImageFields;
    use crate::report::FailureKind;
    use crate::transport::tests::{FakeTransport, response};

    fn event() -> DeploymentEvent {
        DeploymentEvent {
            deployment_id: "job-1".into(),
            pipeline: Some("pipeline-dev".into()),
            execution_id: None,
            image: ImageFields {
                uri: "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1".into(),
                repository: "app".into(),
                tag: Some("1".into()),
                digest: None,
            },
            commit: Some("abc".into()),
            environment: Some("dev".into()),
            service: "app".into(),
            requested_at: "2025-01-01T00:00:00Z".into(),
        }
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    #[test]
    fn signature_matches_a_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_ne!(signature(b"k", b"a"), signature(b"k", b"b"));
    }

    #[test]
    fn webhook_url_rules() {
        assert!(validate_webhook_url("https://deploy.example.com/hook").is_ok());
        assert!(validate_webhook_url("http://127.0.0.1:8080/hook").is_ok());
        assert!(validate_webhook_url("http://localhost/hook").is_ok());
        for bad in [
            "http://deploy.example.com/hook",
            "ftp://x/y",
            "not a url",
            "/relative",
            "https://user:pw@example.com/",
        ] {
            let err = validate_webhook_url(bad).unwrap_err();
            assert_eq!(err.failure_kind(), FailureKind::ConfigurationError, "{bad}");
            assert!(err.to_string().contains("https://"), "{err}");
        }
    }

    #[test]
    fn location_must_stay_on_the_webhook_origin() {
        let hook: Uri = "https://deploy.example.com/hook".parse().unwrap();
        assert_eq!(
            resolve_location(&hook, "/status/1").unwrap().to_string(),
            "https://deploy.example.com/status/1"
        );
        assert!(resolve_location(&hook, "https://deploy.example.com/s/1").is_ok());
        assert!(resolve_location(&hook, "https://evil.example.com/s/1").is_err());
        assert!(resolve_location(&hook, "//evil.example.com/s").is_err());
        assert!(resolve_location(&hook, "http://deploy.example.com/s").is_err());
    }

    #[test]
    fn excerpt_is_bounded() {
        assert_eq!(body_excerpt(b"  "), "(empty body)");
        assert_eq!(
            body_excerpt("x".repeat(2000).as_bytes()).chars().count(),
            MAX_BODY_EXCERPT_CHARS
        );
    }

    #[tokio::test]
    async fn posts_signed_event_and_reads_202_location() {
        let transport = FakeTransport::new(vec![response(202, Some("/status/job-1"), "")]);
        let url: Uri = "http://127.0.0.1:9/hook".parse().unwrap();
        let secret = WebhookSecret::new("s3cret");
        let outcome = post_deployment(&transport, &url, &secret, &event(), far())
            .await
            .unwrap();
        assert_eq!(
            outcome,
            WebhookOutcome::Accepted {
                status_url: "http://127.0.0.1:9/status/job-1".parse().unwrap()
            }
        );
        let sent = transport.sent();
        let header = sent[0]
            .headers
            .iter()
            .find(|(n, _)| *n == SIGNATURE_HEADER)
            .unwrap();
        assert_eq!(header.1, signature(b"s3cret", &sent[0].body));
        let body: DeploymentEvent = serde_json::from_slice(&sent[0].body).unwrap();
        assert_eq!(body, event());
    }

    #[tokio::test(start_paused = true)]
    async fn retries_5xx_429_and_connect_errors_then_succeeds() {
        let transport = FakeTransport::new(vec![
            Err(TransportError::Connect("refused".into())),
            response(503, None, "busy"),
            response(429, None, "slow down"),
            response(200, None, "ok"),
        ]);
        let url: Uri = "https://deploy.example.com/hook".parse().unwrap();
        let outcome = post_deployment(&transport, &url, &WebhookSecret::new("k"), &event(), far())
            .await
            .unwrap();
        assert_eq!(outcome, WebhookOutcome::Done);
        assert_eq!(transport.sent().len(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_bounded_attempts_with_status_and_excerpt() {
        let transport = FakeTransport::new(
            (0..MAX_ATTEMPTS)
                .map(|_| response(500, None, &"e".repeat(900)))
                .collect(),
        );
        let url: Uri = "https://deploy.example.com/hook".parse().unwrap();
        let err = post_deployment(&transport, &url, &WebhookSecret::new("k"), &event(), far())
            .await
            .unwrap_err();
        assert_eq!(transport.sent().len() as u32, MAX_ATTEMPTS);
        match &err {
            TargetError::Rejected {
                status, excerpt, ..
            } => {
                assert_eq!(*status, 500);
                assert_eq!(excerpt.chars().count(), MAX_BODY_EXCERPT_CHARS);
            }
            other => panic!("expected Rejected, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn client_errors_are_not_retried_and_backoff_respects_the_deadline() {
        let transport = FakeTransport::new(vec![response(400, None, "bad signature")]);
        let url: Uri = "https://deploy.example.com/hook".parse().unwrap();
        let err = post_deployment(&transport, &url, &WebhookSecret::new("k"), &event(), far())
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("HTTP 400") && err.to_string().contains("bad signature"),
            "{err}"
        );
        assert_eq!(transport.sent().len(), 1);

        // 100 ms left: the first backoff (250 ms) would cross the deadline, so one attempt only.
        let transport = FakeTransport::new(vec![response(503, None, "")]);
        let near = Instant::now() + Duration::from_millis(100);
        let err = post_deployment(&transport, &url, &WebhookSecret::new("k"), &event(), near)
            .await
            .unwrap_err();
        assert!(
            matches!(err, TargetError::Rejected { status: 503, .. }),
            "{err}"
        );
        assert_eq!(transport.sent().len(), 1);

        let transport = FakeTransport::new(vec![]);
        let err = post_deployment(
            &transport,
            &url,
            &WebhookSecret::new("k"),
            &event(),
            Instant::now(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("no time left"), "{err}");
    }

    #[tokio::test]
    async fn polls_status_signed_over_empty_body() {
        let transport = FakeTransport::new(vec![
            response(
                200,
                None,
                r#"{"status":"FAILED","message":"rollout stuck"}"#,
            ),
            response(200, None, "garbage"),
        ]);
        let url: Uri = "https://deploy.example.com/status/1".parse().unwrap();
        let secret = WebhookSecret::new("k");
        let status = poll_status(&transport, &url, &secret, "job-1", far())
            .await
            .unwrap();
        assert_eq!(
            status,
            DeploymentStatus {
                status: StatusKind::Failed,
                message: Some("rollout stuck".into())
            }
        );
        let sent = transport.sent();
        assert_eq!(sent[0].method, Method::GET);
        assert!(
            sent[0]
                .headers
                .contains(&(SIGNATURE_HEADER, signature(b"k", b"")))
        );
        let err = poll_status(&transport, &url, &secret, "job-1", far())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("garbage"), "{err}");
    }
}
