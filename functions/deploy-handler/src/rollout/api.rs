//! ECS (JSON 1.1) and Lambda (REST-JSON) calls signed by hand with SigV4 over the function's
//! shared HTTP client: two request shapes are all a rollout needs, and the SDK clients would add
//! two large crates to the package and their construction to every cold start. Credentials
//! come from the function's role through the standard chain, resolved at the first call.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials as _, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use bytes::Bytes;
use hyper::Method;
use serde_json::Value;

use super::RolloutApi;
use crate::BoxFuture;
use crate::targets::{HttpRequest, HttpTransport, TransportError};

/// Longest wait for one call's answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts per call for throttling, 5xx and connection failures (the SDK's standard mode makes 3).
const MAX_ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// ECS's JSON 1.1 target prefix (ECS API Reference, "Making API requests").
const ECS_TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113";

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

/// The real API: SigV4 over [`HttpTransport`].
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

    async fn call(
        &self,
        service: &'static str,
        method: Method,
        path_and_query: &str,
        headers: Vec<(&'static str, String)>,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let url = format!("{}{path_and_query}", self.endpoints.url(service));
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let request = self
                .signed(service, &method, &url, &headers, body.as_bytes())
                .await?;
            let outcome = match self.http.send(request, CALL_TIMEOUT).await {
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

    async fn signed(
        &self,
        service: &'static str,
        method: &Method,
        url: &str,
        headers: &[(&'static str, String)],
        body: &[u8],
    ) -> Result<HttpRequest, ApiError> {
        let provider = self.credentials.as_ref().ok_or_else(|| ApiError {
            code: "NoCredentials".to_owned(),
            message: "the function has no AWS credentials (no execution role?)".to_owned(),
            status: 0,
        })?;
        let credentials = provider.provide_credentials().await.map_err(|e| ApiError {
            code: "NoCredentials".to_owned(),
            message: format!("cannot load the function role's credentials: {e}"),
            status: 0,
        })?;
        let identity = credentials.into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.endpoints.region)
            .name(service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| signing_error(&e))?
            .into();
        let signable = SignableRequest::new(
            method.as_str(),
            url,
            headers.iter().map(|(name, value)| (*name, value.as_str())),
            SignableBody::Bytes(body),
        )
        .map_err(|e| signing_error(&e))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| signing_error(&e))?
            .into_parts();
        let mut request = hyper::Request::builder()
            .method(method.clone())
            .uri(url)
            .body(())
            .map_err(|e| signing_error(&e))?;
        for (name, value) in headers {
            request.headers_mut().insert(
                *name,
                value
                    .parse()
                    .map_err(|e: hyper::header::InvalidHeaderValue| signing_error(&e))?,
            );
        }
        instructions.apply_to_request_http1x(&mut request);
        let (parts, ()) = request.into_parts();
        let mut signed_headers = Vec::new();
        for (name, value) in &parts.headers {
            // HttpRequest keeps static header names: map the ones signing adds.
            let name: &'static str = match name.as_str() {
                "authorization" => "authorization",
                "x-amz-date" => "x-amz-date",
                "x-amz-security-token" => "x-amz-security-token",
                "x-amz-content-sha256" => "x-amz-content-sha256",
                "content-type" => "content-type",
                "x-amz-target" => "x-amz-target",
                _ => continue,
            };
            signed_headers.push((name, value.to_str().unwrap_or_default().to_owned()));
        }
        Ok(HttpRequest {
            method: method.clone(),
            uri: parts.uri,
            headers: signed_headers,
            body: Bytes::copy_from_slice(body),
        })
    }
}

fn signing_error(e: &dyn std::fmt::Display) -> ApiError {
    ApiError {
        code: "SigningFailed".to_owned(),
        message: format!("cannot sign the request: {e}"),
        status: 0,
    }
}

fn unreachable(service: &str, err: &TransportError) -> ApiError {
    ApiError {
        code: "Unreachable".to_owned(),
        message: format!("{service} did not answer: {err}"),
        status: 0,
    }
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

impl RolloutApi for AwsApi {
    fn ecs<'a>(
        &'a self,
        operation: &'a str,
        body: Value,
    ) -> BoxFuture<'a, Result<Value, ApiError>> {
        Box::pin(async move {
            let headers = vec![
                ("content-type", "application/x-amz-json-1.1".to_owned()),
                ("x-amz-target", format!("{ECS_TARGET_PREFIX}.{operation}")),
            ];
            self.call("ecs", Method::POST, "/", headers, Some(&body))
                .await
        })
    }

    fn lambda<'a>(
        &'a self,
        method: Method,
        path: &'a str,
        body: Option<Value>,
    ) -> BoxFuture<'a, Result<Value, ApiError>> {
        Box::pin(async move {
            let headers = if body.is_some() {
                vec![("content-type", "application/json".to_owned())]
            } else {
                Vec::new()
            };
            self.call("lambda", method, path, headers, body.as_ref())
                .await
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::targets::tests::FakeTransport;
    use aws_credential_types::Credentials;

    fn client_with(
        answers: Vec<Result<crate::targets::HttpResponse, TransportError>>,
    ) -> (AwsApi, Arc<FakeTransport>) {
        let transport = Arc::new(FakeTransport::new(answers));
        let credentials = SharedCredentialsProvider::new(Credentials::new(
            "AKID",
            "secret",
            Some("token".into()),
            None,
            "test",
        ));
        let api = AwsApi::new(
            transport.clone(),
            Some(credentials),
            Endpoints {
                region: "eu-west-1".into(),
                ecs: None,
                lambda: Some("http://127.0.0.1:4566/".into()),
            },
        );
        (api, transport)
    }

    #[tokio::test]
    async fn an_ecs_call_is_a_signed_json_1_1_post_with_its_target() {
        let (api, transport) = client_with(vec![crate::targets::tests::response(
            200,
            None,
            r#"{"services":[]}"#,
        )]);
        let answer = api
            .ecs("DescribeServices", serde_json::json!({"cluster": "c"}))
            .await
            .unwrap();
        assert_eq!(answer["services"], serde_json::json!([]));
        let sent = &transport.sent()[0];
        assert_eq!(sent.uri.to_string(), "https://ecs.eu-west-1.amazonaws.com/");
        let header = |name: &str| {
            sent.headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            header("x-amz-target").as_deref(),
            Some("AmazonEC2ContainerServiceV20141113.DescribeServices")
        );
        assert!(
            header("authorization")
                .unwrap()
                .contains("/eu-west-1/ecs/aws4_request")
        );
        assert_eq!(header("x-amz-security-token").as_deref(), Some("token"));
    }

    #[tokio::test]
    async fn a_lambda_call_goes_to_the_endpoint_override_and_errors_carry_the_code() {
        let mut refused = crate::targets::tests::response(
            409,
            None,
            r#"{"Type":"User","message":"An update is in progress"}"#,
        )
        .unwrap();
        refused.error_type = Some("ResourceConflictException:http://internal.amazon.com/".into());
        let (api, transport) = client_with(vec![Ok(refused)]);
        let err = api
            .lambda(
                Method::POST,
                "/2015-03-31/functions/f/versions",
                Some(serde_json::json!({})),
            )
            .await
            .unwrap_err();
        assert!(err.is("ResourceConflictException"), "{err:?}");
        assert_eq!(err.message, "An update is in progress");
        assert_eq!(
            transport.sent()[0].uri.to_string(),
            "http://127.0.0.1:4566/2015-03-31/functions/f/versions"
        );
    }

    #[tokio::test]
    async fn throttling_is_retried_and_a_refusal_is_not() {
        let throttled = crate::targets::tests::response(
            400,
            None,
            r#"{"__type":"com.amazon#ThrottlingException","message":"Rate exceeded"}"#,
        );
        let (api, transport) = client_with(vec![
            throttled.clone(),
            crate::targets::tests::response(200, None, "{}"),
        ]);
        api.ecs("DescribeServices", serde_json::json!({}))
            .await
            .unwrap();
        assert_eq!(transport.sent().len(), 2);
        let denied = crate::targets::tests::response(
            400,
            None,
            r#"{"__type":"AccessDeniedException","Message":"User: x is not authorized"}"#,
        );
        let (api, transport) = client_with(vec![denied]);
        let err = api
            .ecs("UpdateService", serde_json::json!({}))
            .await
            .unwrap_err();
        assert!(err.is_access_denied());
        assert_eq!(transport.sent().len(), 1);
    }
}
