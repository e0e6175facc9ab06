//! The two request shapes a rollout makes, sent signed over the function's shared HTTP client
//! by [`AwsApi`]: ECS's JSON 1.1 (a POST to `/` naming the operation in `X-Amz-Target`) and
//! Lambda's REST-JSON (the resource in the path). Two shapes are all a rollout needs, and the
//! SDK clients would add two large crates to the package and their construction to every cold
//! start.

use hyper::Method;
use serde_json::Value;

use super::RolloutApi;
use crate::BoxFuture;
pub use crate::transport::aws::{ApiError, AwsApi, AwsRequest, Endpoints};

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

impl RolloutApi for AwsApi {
    fn call(&self, request: AwsRequest) -> BoxFuture<'_, Result<Value, ApiError>> {
        Box::pin(async move { self.send(&request).await })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::transport::TransportError;
    use crate::transport::tests::FakeTransport;
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;

    fn client_with(
        answers: Vec<Result<crate::transport::HttpResponse, TransportError>>,
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
        let (api, transport) = client_with(vec![crate::transport::tests::response(
            200,
            None,
            r#"{"services":[]}"#,
        )]);
        let answer = api
            .call(ecs("DescribeServices", serde_json::json!({"cluster": "c"})))
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
        let mut refused = crate::transport::tests::response(
            409,
            None,
            r#"{"Type":"User","message":"An update is in progress"}"#,
        )
        .unwrap();
        refused.error_type = Some("ResourceConflictException:http://internal.amazon.com/".into());
        let (api, transport) = client_with(vec![Ok(refused)]);
        let err = api
            .call(lambda(
                Method::POST,
                "/2015-03-31/functions/f/versions",
                Some(serde_json::json!({})),
            ))
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
        let throttled = crate::transport::tests::response(
            400,
            None,
            r#"{"__type":"com.amazon#ThrottlingException","message":"Rate exceeded"}"#,
        );
        let (api, transport) = client_with(vec![
            throttled.clone(),
            crate::transport::tests::response(200, None, "{}"),
        ]);
        RolloutApi::call(&api, ecs("DescribeServices", serde_json::json!({})))
            .await
            .unwrap();
        assert_eq!(transport.sent().len(), 2);
        let denied = crate::transport::tests::response(
            400,
            None,
            r#"{"__type":"AccessDeniedException","Message":"User: x is not authorized"}"#,
        );
        let (api, transport) = client_with(vec![denied]);
        let err = api
            .call(ecs("UpdateService", serde_json::json!({})))
            .await
            .unwrap_err();
        assert!(err.is_access_denied());
        assert_eq!(transport.sent().len(), 1);
    }
}
