//! The HTTP client behind [`crate::github::GitHubTransport`]: hyper over rustls (the
//! deploy-handler's stack, so no new crate), built on first use so init does no TLS work.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt as _;

use crate::github::{BoxFuture, GitHubAnswer, GitHubToken, GitHubTransport, authorization};

/// Most bytes of an answer read: the notifier needs its `message`, nothing else.
const MAX_ANSWER_BYTES: usize = 16 * 1024;
/// GitHub wants a User-Agent on every request ("Getting started with the REST API").
const USER_AGENT: &str = concat!("event-notifier/", env!("CARGO_PKG_VERSION"));
/// The REST API version the request shapes follow ("API Versions", docs.github.com).
const API_VERSION: &str = "2022-11-28";

type HyperClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<Bytes>,
>;

#[derive(Default)]
pub struct HyperGitHub {
    client: OnceLock<HyperClient>,
}

impl fmt::Debug for HyperGitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperGitHub")
            .field("built", &self.client.get().is_some())
            .finish()
    }
}

impl HyperGitHub {
    fn client(&self) -> &HyperClient {
        self.client.get_or_init(|| {
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_webpki_roots()
                .https_or_http()
                .enable_http1()
                .build();
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(https)
        })
    }

    async fn exchange(
        &self,
        url: String,
        token: GitHubToken,
        body: Vec<u8>,
    ) -> Result<GitHubAnswer, String> {
        let request = hyper::Request::builder()
            .method(hyper::Method::POST)
            .uri(&url)
            .header("accept", "application/vnd.github+json")
            .header("content-type", "application/json")
            .header("user-agent", USER_AGENT)
            .header("x-github-api-version", API_VERSION)
            .header("authorization", authorization(&token))
            .body(http_body_util::Full::new(Bytes::from(body)))
            // The error names the URL only: the token is in a header that is never shown.
            .map_err(|e| format!("invalid request to {url}: {e}"))?;
        let response = self.client().request(request).await.map_err(|e| {
            let kind = if e.is_connect() {
                "connection failed"
            } else {
                "request failed"
            };
            format!(
                "{kind}: {}",
                std::error::Error::source(&e).map_or_else(|| e.to_string(), ToString::to_string)
            )
        })?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let mut answer = GitHubAnswer {
            status: response.status().as_u16(),
            retry_after: header("retry-after"),
            ratelimit_remaining: header("x-ratelimit-remaining"),
            ratelimit_reset: header("x-ratelimit-reset"),
            message: None,
        };
        let mut body = response.into_body();
        let mut collected = Vec::new();
        while collected.len() < MAX_ANSWER_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        collected.extend_from_slice(data);
                    }
                }
                Some(Err(e)) => return Err(format!("reading GitHub's answer failed: {e}")),
                None => break,
            }
        }
        answer.message = serde_json::from_slice::<serde_json::Value>(&collected)
            .ok()
            .and_then(|v| v.get("message")?.as_str().map(str::to_owned));
        Ok(answer)
    }
}

impl GitHubTransport for HyperGitHub {
    fn post(
        &self,
        url: String,
        token: GitHubToken,
        body: Vec<u8>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<GitHubAnswer, String>> {
        Box::pin(async move {
            tokio::time::timeout(timeout, self.exchange(url, token, body))
                .await
                .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
        })
    }
}
