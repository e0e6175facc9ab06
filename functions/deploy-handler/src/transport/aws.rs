//! The rollout calls' shapes: one generic request (service, method, path, headers, JSON body),
//! AWS's error with its code, and where each service lives. `rollout/sdk.rs` sends them through
//! aws-sdk-ecs and aws-sdk-lambda; the services' request shapes live with their callers.

use hyper::Method;
use serde_json::Value;

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
}

/// Where each service lives: the regional endpoint, or `AWS_ENDPOINT_URL_<SERVICE>` /
/// `AWS_ENDPOINT_URL` (AWS SDKs and Tools Reference Guide, "Service-specific endpoints").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub region: String,
    pub ecs: Option<String>,
    pub lambda: Option<String>,
}
