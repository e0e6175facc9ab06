//! The function's one HTTP client and the request and response shapes every outbound call
//! uses: the webhook and the S3 artifact read (the rollouts' ECS and Lambda calls go through
//! the SDK's clients, `rollout/sdk.rs`). hyper over rustls, built on first use, so init does no
//! TLS work. [`sigv4`] signs the S3 read; [`aws`] holds the rollout calls' request and error
//! shapes.

pub mod aws;
pub mod sigv4;

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::{Method, Uri};
use tokio::time::Instant;

use crate::BoxFuture;

/// Most bytes of a response body [`HttpTransport::send`] reads at all.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

#[derive(Clone, Debug)]
pub struct HttpRequest {
    pub method: Method,
    pub uri: Uri,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub location: Option<String>,
    /// `x-amzn-ErrorType` without its `:uri` tail: where AWS's REST-JSON services put an
    /// error's code.
    pub error_type: Option<String>,
    /// At most [`MAX_RESPONSE_BYTES`] of the body.
    pub body: Bytes,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// Nothing reached the receiver: always safe to retry.
    Connect(String),
    Timeout,
    Other(String),
}

impl TransportError {
    /// What went wrong, without the kind's prefix.
    pub fn detail(&self) -> String {
        match self {
            Self::Connect(e) | Self::Other(e) => e.clone(),
            Self::Timeout => "no answer in time".to_owned(),
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(e) => write!(f, "connection failed: {e}"),
            Self::Timeout => f.write_str("no answer in time"),
            Self::Other(e) => f.write_str(e),
        }
    }
}

/// One request, one answer: the seam the webhook and the signed AWS calls are tested through.
pub trait HttpTransport: Send + Sync {
    fn send(
        &self,
        request: HttpRequest,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<HttpResponse, TransportError>>;
}

type HyperClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<Bytes>,
>;

/// hyper over rustls, built on first use: loading TLS roots is work an invocation that calls
/// nothing never needs, and init must do none.
#[derive(Default)]
pub struct HyperTransport {
    client: OnceLock<HyperClient>,
}

impl fmt::Debug for HyperTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperTransport")
            .field("built", &self.client.get().is_some())
            .finish()
    }
}

impl HyperTransport {
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

    /// Sends the request and hands back the response with its body unread, for a caller that
    /// streams it (the artifact download).
    pub async fn open(
        &self,
        request: HttpRequest,
    ) -> Result<hyper::Response<hyper::body::Incoming>, TransportError> {
        let mut builder = hyper::Request::builder()
            .method(request.method)
            .uri(request.uri);
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        let request = builder
            .body(http_body_util::Full::new(request.body))
            .map_err(|e| TransportError::Other(format!("invalid request: {e}")))?;
        self.client().request(request).await.map_err(|e| {
            let detail = aws_smithy_types::error::display::DisplayErrorContext(&e).to_string();
            if e.is_connect() {
                TransportError::Connect(detail)
            } else {
                TransportError::Other(detail)
            }
        })
    }
}

impl HttpTransport for HyperTransport {
    fn send(
        &self,
        request: HttpRequest,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(async move {
            let exchange = async {
                let response = self.open(request).await?;
                let header = |name| {
                    response
                        .headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let status = response.status().as_u16();
                let location = header(hyper::header::LOCATION.as_str());
                let error_type = header("x-amzn-errortype")
                    .map(|v| v.split(':').next().unwrap_or(&v).to_owned());
                let body = read_prefix(response.into_body()).await?;
                Ok(HttpResponse {
                    status,
                    location,
                    error_type,
                    body,
                })
            };
            tokio::time::timeout(timeout, exchange)
                .await
                .map_err(|_| TransportError::Timeout)?
        })
    }
}

/// The first [`MAX_RESPONSE_BYTES`] of a body; the rest is never read.
async fn read_prefix(mut body: hyper::body::Incoming) -> Result<Bytes, TransportError> {
    let mut collected = Vec::new();
    while collected.len() < MAX_RESPONSE_BYTES {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    collected.extend_from_slice(data);
                }
            }
            Some(Err(e)) => {
                return Err(TransportError::Other(format!(
                    "reading the response failed: {e}"
                )));
            }
            None => break,
        }
    }
    collected.truncate(MAX_RESPONSE_BYTES);
    Ok(Bytes::from(collected))
}

/// Why a streamed body was not read whole.
#[derive(Debug)]
pub enum BodyError {
    TooLarge(u64),
    Broken(String),
}

/// Reads a streamed body, at most `max_bytes` of it, before `deadline`.
pub async fn read_body(
    mut body: hyper::body::Incoming,
    max_bytes: u64,
    deadline: Instant,
) -> Result<Vec<u8>, BodyError> {
    let mut bytes = Vec::new();
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(BodyError::Broken("no data in time".to_owned())),
            Ok(None) => return Ok(bytes),
            Ok(Some(Err(e))) => return Err(BodyError::Broken(e.to_string())),
            Ok(Some(Ok(frame))) => frame,
        };
        if let Some(data) = frame.data_ref() {
            bytes.extend_from_slice(data);
            if bytes.len() as u64 > max_bytes {
                return Err(BodyError::TooLarge(bytes.len() as u64));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;

    /// Scripted transport recording every request.
    #[derive(Default)]
    pub(crate) struct FakeTransport {
        pub answers: Mutex<VecDeque<Result<HttpResponse, TransportError>>>,
        pub requests: Mutex<Vec<HttpRequest>>,
    }

    impl FakeTransport {
        pub(crate) fn new(answers: Vec<Result<HttpResponse, TransportError>>) -> Self {
            Self {
                answers: Mutex::new(answers.into()),
                requests: Mutex::default(),
            }
        }
        pub(crate) fn sent(&self) -> Vec<HttpRequest> {
            self.requests.lock().unwrap().clone()
        }
    }

    pub(crate) fn response(
        status: u16,
        location: Option<&str>,
        body: &str,
    ) -> Result<HttpResponse, TransportError> {
        Ok(HttpResponse {
            status,
            location: location.map(str::to_owned),
            error_type: None,
            body: Bytes::from(body.to_owned()),
        })
    }

    impl HttpTransport for FakeTransport {
        fn send(
            &self,
            request: HttpRequest,
            _timeout: Duration,
        ) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
            self.requests.lock().unwrap().push(request);
            let answer = self
                .answers
                .lock()
                .unwrap()
                .pop_front()
                .expect("the test scripted too few answers");
            Box::pin(async move { answer })
        }
    }

    #[test]
    fn the_real_transport_builds_its_tls_client() {
        // Proves a single rustls crypto provider is compiled in (two would panic here).
        let transport = HyperTransport::default();
        let _ = transport.client();
        assert!(format!("{transport:?}").contains("built: true"));
    }
}
