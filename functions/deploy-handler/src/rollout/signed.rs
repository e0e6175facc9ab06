//! The rollout's calls to services it has no SDK client for (CloudWatch's DescribeAlarms between
//! the steps of a Lambda traffic shift), sent over the function's one HTTP client and signed
//! with the one SigV4 signer: aws-sdk-cloudwatch would add a large crate to the package for one
//! read (BENCHMARKS.md, "SDK crates or hand-built requests (deploy-handler)").

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use bytes::Bytes;
use serde_json::Value;

use super::api::{ApiError, AwsRequest};
use crate::transport::sigv4::{Flavour, Scope, sign_request};
use crate::transport::{HttpRequest, HttpTransport};

/// Longest wait for one call.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts for a throttled, 5xx or unanswered call (the SDKs' standard retry mode makes 3).
const ATTEMPTS: u32 = 3;

/// Sends AWS JSON 1.0 requests to one service.
pub struct SignedJson {
    pub http: Arc<dyn HttpTransport>,
    pub credentials: Option<SharedCredentialsProvider>,
    pub region: String,
    /// `AWS_ENDPOINT_URL_<SERVICE>` or `AWS_ENDPOINT_URL`, else the regional endpoint.
    pub endpoint: Option<String>,
}

impl std::fmt::Debug for SignedJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedJson")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

fn local(message: String) -> ApiError {
    ApiError {
        code: "Unreachable".to_owned(),
        message,
        status: 0,
    }
}

impl SignedJson {
    /// The service's URL: the configured endpoint, or `https://PREFIX.REGION.amazonaws.com/`
    /// (CloudWatch's endpoint prefix is `monitoring`: AWS General Reference, "Amazon CloudWatch
    /// endpoints and quotas").
    fn url(&self, prefix: &str) -> String {
        match &self.endpoint {
            Some(base) => format!("{}/", base.trim_end_matches('/')),
            None if self.region.starts_with("cn-") => {
                format!("https://{prefix}.{}.amazonaws.com.cn/", self.region)
            }
            None => format!("https://{prefix}.{}.amazonaws.com/", self.region),
        }
    }

    /// One call, retried as the SDKs retry (throttling, 5xx, no answer), never past 3 attempts.
    pub async fn call(&self, request: &AwsRequest) -> Result<Value, ApiError> {
        let mut attempt = 1;
        loop {
            match self.call_once(request).await {
                Err(err) if attempt < ATTEMPTS && retryable(&err) => {
                    tokio::time::sleep(Duration::from_millis(200 * 2_u64.pow(attempt))).await;
                    attempt += 1;
                }
                answer => return answer,
            }
        }
    }

    async fn call_once(&self, request: &AwsRequest) -> Result<Value, ApiError> {
        let provider = self
            .credentials
            .as_ref()
            .ok_or_else(|| local("the function has no AWS credentials".to_owned()))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| local(format!("no AWS credentials: {e}")))?;
        let url = self.url(request.service);
        let mut http = HttpRequest {
            method: request.method.clone(),
            uri: url
                .parse()
                .map_err(|e| local(format!("bad URL {url}: {e}")))?,
            headers: request.headers.clone(),
            body: Bytes::from(
                request
                    .body
                    .as_ref()
                    .map(Value::to_string)
                    .unwrap_or_default(),
            ),
        };
        let scope = Scope {
            region: &self.region,
            service: request.service,
            flavour: Flavour::Standard,
        };
        sign_request(&mut http, &credentials, scope, SystemTime::now()).map_err(local)?;
        let answer = self
            .http
            .send(http, CALL_TIMEOUT)
            .await
            .map_err(|e| local(e.to_string()))?;
        let parsed: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        if answer.status == 200 {
            return Ok(parsed);
        }
        // AWS JSON 1.0 errors: `__type` (possibly `namespace#Code`) and `message`.
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
        Err(ApiError {
            code,
            message,
            status: answer.status,
        })
    }
}

fn retryable(err: &ApiError) -> bool {
    err.status == 0
        || err.status >= 500
        || matches!(
            err.code.as_str(),
            "Throttling" | "ThrottlingException" | "RequestLimitExceeded"
        )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::transport::tests::{FakeTransport, response};
    use aws_credential_types::Credentials;
    use serde_json::json;

    fn signed(transport: Arc<FakeTransport>) -> SignedJson {
        SignedJson {
            http: transport,
            credentials: Some(SharedCredentialsProvider::new(Credentials::for_tests())),
            region: "us-east-1".to_owned(),
            endpoint: None,
        }
    }

    #[tokio::test]
    async fn a_call_is_signed_for_the_service_and_its_error_keeps_aws_s_code() {
        let transport = Arc::new(FakeTransport::new(vec![
            response(200, None, r#"{"MetricAlarms":[]}"#),
            response(
                400,
                None,
                r#"{"__type":"com.amazon.coral.service#AccessDeniedException","message":"not authorized"}"#,
            ),
        ]));
        let api = signed(transport.clone());
        let request = super::super::api::cloudwatch("DescribeAlarms", json!({"AlarmNames": ["a"]}));
        assert_eq!(api.call(&request).await.unwrap()["MetricAlarms"], json!([]));
        let err = api.call(&request).await.unwrap_err();
        assert!(err.is_access_denied(), "{err:?}");
        let sent = transport.sent();
        assert_eq!(
            sent[0].uri.to_string(),
            "https://monitoring.us-east-1.amazonaws.com/"
        );
        let authorization = sent[0]
            .headers
            .iter()
            .find(|(name, _)| *name == "authorization")
            .map(|(_, value)| value.clone())
            .unwrap();
        assert!(
            authorization.contains("/us-east-1/monitoring/aws4_request"),
            "{authorization}"
        );
        assert!(sent[0].headers.contains(&(
            "x-amz-target",
            "GraniteServiceVersion20100801.DescribeAlarms".to_owned()
        )));
    }
}
