//! Signed JSON calls to AWS over the shared [`HttpTransport`]: one generic request (service,
//! method, path, headers, JSON body), SigV4 with the function role's credentials (resolved
//! through the standard chain at the first call, never at init), bounded retries, and AWS's
//! error code read from the answer. The services' request shapes live with their callers.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials as _, SharedCredentialsProvider};
use bytes::Bytes;
use hyper::Method;
use serde_json::Value;

use super::sigv4::{Flavour, Scope, sign_request};
use super::{HttpRequest, HttpTransport, TransportError};

/// Longest wait for one call's answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts per call for throttling, 5xx and connection failures (the SDK's standard mode makes 3).
const MAX_ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// One call: the service's signing name, the HTTP request, and the JSON body if any.
#[derive(Clone, Debug, PartialEq)]
pub struct AwsRequest {
    /// The signing name, also the endpoint's service (`ecs`, `lambda`).
    pub service: &'static str,
    pub method: Method,
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Value>,
}

impl AwsRequest {
    /// How the call reads in logs and scripted tests: the JSON 1.1 operation
    /// (`DescribeServices`), or `METHOD path` for a REST call.
    pub fn name(&self) -> String {
        self.headers
            .iter()
            .find(|(name, _)| *name == "x-amz-target")
            .and_then(|(_, target)| target.rsplit_once('.'))
            .map_or_else(
                || format!("{} {}", self.method, self.path),
                |(_, operation)| operation.to_owned(),
            )
    }
}

/// An error AWS answered (or the call could not be made), with the service's error code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// AWS's error code (`ServiceNotFoundException`, `ResourceConflictException`, ...), or
    /// `Unreachable` when no answer came.
    pub code: String,
    pub message: String,
    pub status: u16,
}

impl ApiError {
    pub fn is(&self, code: &str) -> bool {
        self.code == code
    }

    /// The caller's policy does not allow the call.
    pub fn is_access_denied(&self) -> bool {
        matches!(
            self.code.as_str(),
            "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation"
        )
    }

    fn retryable(&self) -> bool {
        self.status >= 500
            || self.status == 0
            || matches!(
                self.code.as_str(),
                "ThrottlingException" | "TooManyRequestsException" | "Throttling"
            )
    }

    fn local(code: &str, message: String) -> Self {
        Self {
            code: code.to_owned(),
            message,
            status: 0,
        }
    }
}

/// Where each service lives: the regional endpoint, or `AWS_ENDPOINT_URL_<SERVICE>` /
/// `AWS_ENDPOINT_URL` (AWS SDKs and Tools Reference Guide, "Service-specific endpoints").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub region: String,
    pub ecs: Option<String>,
    pub lambda: Option<String>,
}

impl Endpoints {
    fn url(&self, service: &str) -> String {
        let configured = match service {
            "ecs" => self.ecs.as_deref(),
            _ => self.lambda.as_deref(),
        };
        match configured {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let domain = if self.region.starts_with("cn-") {
                    "amazonaws.com.cn"
                } else {
                    "amazonaws.com"
                };
                format!("https://{service}.{}.{domain}", self.region)
            }
        }
    }
}

/// The real client: SigV4 over [`HttpTransport`].
pub struct AwsApi {
    http: Arc<dyn HttpTransport>,
    credentials: Option<SharedCredentialsProvider>,
    endpoints: Endpoints,
}

impl std::fmt::Debug for AwsApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsApi")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl AwsApi {
    pub fn new(
        http: Arc<dyn HttpTransport>,
        credentials: Option<SharedCredentialsProvider>,
        endpoints: Endpoints,
    ) -> Self {
        Self {
            http,
            credentials,
            endpoints,
        }
    }

    /// Sends the call, retrying throttling, 5xx and connection failures with backoff.
    pub async fn send(&self, request: &AwsRequest) -> Result<Value, ApiError> {
        let service = request.service;
        let body = request
            .body
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default();
        let url = format!("{}{}", self.endpoints.url(service), request.path);
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let signed = self.signed(request, &url, body.as_bytes()).await?;
            let outcome = match self.http.send(signed, CALL_TIMEOUT).await {
                Ok(response) => {
                    parse_response(response.status, response.error_type, &response.body)
                }
                Err(err) => Err(unreachable(service, &err)),
            };
            match outcome {
                Err(err) if err.retryable() && attempt < MAX_ATTEMPTS => {
                    tracing::warn!(service, code = %err.code, attempt, "retrying after {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// The request signed now (per attempt: the signature carries the time).
    async fn signed(
        &self,
        request: &AwsRequest,
        url: &str,
        body: &[u8],
    ) -> Result<HttpRequest, ApiError> {
        let provider = self.credentials.as_ref().ok_or_else(|| {
            ApiError::local(
                "NoCredentials",
                "the function has no AWS credentials (no execution role?)".to_owned(),
            )
        })?;
        let credentials = provider.provide_credentials().await.map_err(|e| {
            ApiError::local(
                "NoCredentials",
                format!("cannot load the function role's credentials: {e}"),
            )
        })?;
        let mut signed = HttpRequest {
            method: request.method.clone(),
            uri: url
                .parse()
                .map_err(|e| ApiError::local("SigningFailed", format!("invalid URL {url}: {e}")))?,
            headers: request.headers.clone(),
            body: Bytes::copy_from_slice(body),
        };
        let scope = Scope {
            region: &self.endpoints.region,
            service: request.service,
            flavour: Flavour::Standard,
        };
        sign_request(&mut signed, &credentials, scope, SystemTime::now())
            .map_err(|message| ApiError::local("SigningFailed", message))?;
        Ok(signed)
    }
}

fn unreachable(service: &str, err: &TransportError) -> ApiError {
    ApiError::local("Unreachable", format!("{service} did not answer: {err}"))
}

/// A 2xx body as JSON (`{}` when empty); otherwise AWS's error: the code from
/// `x-amzn-ErrorType` or the body's `__type` (JSON 1.1, `namespace#Code`) / `Type`.
pub fn parse_response(
    status: u16,
    error_type: Option<String>,
    body: &[u8],
) -> Result<Value, ApiError> {
    let json: Value = if body.is_empty() {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(body).unwrap_or_else(|_| {
            Value::String(String::from_utf8_lossy(body).chars().take(300).collect())
        })
    };
    if (200..300).contains(&status) {
        return Ok(json);
    }
    let code = error_type
        .map(|t| t.split(':').next().unwrap_or_default().to_owned())
        .filter(|t| !t.is_empty())
        .or_else(|| {
            json["__type"]
                .as_str()
                .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
        })
        .or_else(|| json["code"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("HTTP{status}"));
    let message = ["message", "Message", "errorMessage"]
        .iter()
        .find_map(|key| json[*key].as_str())
        .map(str::to_owned)
        .or_else(|| json.as_str().map(str::to_owned))
        .unwrap_or_default();
    Err(ApiError {
        code,
        message,
        status,
    })
}
