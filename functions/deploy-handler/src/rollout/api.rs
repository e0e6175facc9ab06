//! The two request shapes a rollout makes, sent signed over the function's shared HTTP client
//! by [`super::sdk::SdkApi`]: ECS's JSON 1.1 (a POST to `/` naming the operation in `X-Amz-Target`) and
//! Lambda's REST-JSON (the resource in the path). Two shapes are all a rollout needs, and the
//! SDK clients would add two large crates to the package and their construction to every cold
//! start.

use hyper::Method;
use serde_json::Value;

pub use crate::transport::aws::{ApiError, AwsRequest, Endpoints};

/// ECS's JSON 1.1 target prefix (ECS API Reference, "Making API requests").
const ECS_TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113";

/// An ECS JSON 1.1 operation (`DescribeServices`, ...).
pub fn ecs(operation: &str, body: Value) -> AwsRequest {
    AwsRequest {
        service: "ecs",
        method: Method::POST,
        path: "/".to_owned(),
        headers: vec![
            ("content-type", "application/x-amz-json-1.1".to_owned()),
            ("x-amz-target", format!("{ECS_TARGET_PREFIX}.{operation}")),
        ],
        body: Some(body),
    }
}

/// CloudWatch's AWS JSON 1.0 target prefix (the service model's `targetPrefix`; CloudWatch takes
/// the JSON protocol besides its query protocol: CloudWatch API Reference, "Making API
/// requests").
const CLOUDWATCH_TARGET_PREFIX: &str = "GraniteServiceVersion20100801";

/// A CloudWatch AWS JSON 1.0 operation (`DescribeAlarms`), signed as `monitoring`.
pub fn cloudwatch(operation: &str, body: Value) -> AwsRequest {
    AwsRequest {
        service: "monitoring",
        method: Method::POST,
        path: "/".to_owned(),
        headers: vec![
            ("content-type", "application/x-amz-json-1.0".to_owned()),
            (
                "x-amz-target",
                format!("{CLOUDWATCH_TARGET_PREFIX}.{operation}"),
            ),
        ],
        body: Some(body),
    }
}

/// A Lambda REST-JSON call (`GET /2015-03-31/functions/NAME`, ...).
pub fn lambda(method: Method, path: &str, body: Option<Value>) -> AwsRequest {
    let headers = if body.is_some() {
        vec![("content-type", "application/json".to_owned())]
    } else {
        Vec::new()
    };
    AwsRequest {
        service: "lambda",
        method,
        path: path.to_owned(),
        headers,
        body,
    }
}
