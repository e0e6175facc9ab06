//! A local Lambda Runtime API (`/2018-06-01/runtime/...`) that hands events to a real function
//! process and collects what it answers, the way the Lambda service does.

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};

type Reply = oneshot::Sender<std::result::Result<Value, Value>>;

struct Pending {
    request_id: String,
    body: Bytes,
    deadline_ms: u128,
    reply: Reply,
}

#[derive(Default)]
struct State {
    queue: Mutex<VecDeque<Pending>>,
    in_flight: Mutex<HashMap<String, Reply>>,
    first_next: Mutex<Option<Instant>>,
    next_calls: AtomicU64,
    init_error: Mutex<Option<Value>>,
    queued: Notify,
}

/// One finished invocation.
#[derive(Debug)]
pub struct Invocation {
    pub request_id: String,
    /// `Ok(response body)` or `Err(error body)` as the function posted them.
    pub result: std::result::Result<Value, Value>,
    /// From handing the event out to receiving the answer.
    pub duration: Duration,
}

/// A Runtime API server on a free loopback port, stopped when dropped.
#[derive(Debug)]
pub struct RuntimeApi {
    address: String,
    state: Arc<State>,
    ids: AtomicU64,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").finish_non_exhaustive()
    }
}

impl RuntimeApi {
    pub async fn start() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let state = Arc::new(State::default());
        let server_state = state.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = server_state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| route(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            address,
            state,
            ids: AtomicU64::new(1),
            server,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// When the function first asked for an event: the end of its init phase.
    pub fn first_next_at(&self) -> Option<Instant> {
        *lock(&self.state.first_next)
    }

    /// Waits until the function has asked for its first event; returns when that happened.
    pub async fn wait_for_first_next(&self, timeout: Duration) -> Result<Instant> {
        let start = Instant::now();
        loop {
            if let Some(at) = self.first_next_at() {
                return Ok(at);
            }
            if let Some(err) = lock(&self.state.init_error).clone() {
                bail!("the function reported an init error: {err}");
            }
            if start.elapsed() > timeout {
                bail!("the function did not ask for an event within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }

    /// How many `/next` requests the function has made.
    pub fn next_calls(&self) -> u64 {
        self.state.next_calls.load(Ordering::SeqCst)
    }

    pub fn init_error(&self) -> Option<Value> {
        lock(&self.state.init_error).clone()
    }

    /// Invokes with a 5-minute Lambda deadline and waits up to `wait` for the answer.
    pub async fn invoke(&self, event: Value, wait: Duration) -> Result<Invocation> {
        self.invoke_with_deadline(event, Duration::from_secs(300), wait)
            .await
    }

    /// Invokes with `Lambda-Runtime-Deadline-Ms` set `deadline` from now.
    pub async fn invoke_with_deadline(
        &self,
        event: Value,
        deadline: Duration,
        wait: Duration,
    ) -> Result<Invocation> {
        self.invoke_raw(Bytes::from(serde_json::to_vec(&event)?), deadline, wait)
            .await
    }

    /// Invokes with an arbitrary body (malformed JSON included).
    pub async fn invoke_raw(
        &self,
        body: Bytes,
        deadline: Duration,
        wait: Duration,
    ) -> Result<Invocation> {
        let n = self.ids.fetch_add(1, Ordering::SeqCst);
        let request_id = format!("00000000-0000-4000-8000-{n:012}");
        let deadline_ms = (SystemTime::now() + deadline)
            .duration_since(UNIX_EPOCH)?
            .as_millis();
        let (reply, answer) = oneshot::channel();
        let started = Instant::now();
        lock(&self.state.queue).push_back(Pending {
            request_id: request_id.clone(),
            body,
            deadline_ms,
            reply,
        });
        self.state.queued.notify_waiters();
        self.state.queued.notify_one();
        let result = tokio::time::timeout(wait, answer)
            .await
            .with_context(|| format!("no answer to invocation {request_id} within {wait:?}"))?
            .context("the runtime API stopped")?;
        Ok(Invocation {
            request_id,
            result,
            duration: started.elapsed(),
        })
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response
}

async fn route(
    state: Arc<State>,
    req: Request<Incoming>,
) -> std::result::Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    const PREFIX: &str = "/2018-06-01/runtime/";
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return Ok(text(StatusCode::NOT_FOUND, "unknown path"));
    };
    if method == hyper::Method::GET && rest == "invocation/next" {
        return Ok(next(&state).await);
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let parsed: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    if rest == "init/error" {
        *lock(&state.init_error) = Some(parsed);
        return Ok(text(StatusCode::ACCEPTED, "{}"));
    }
    let parts: Vec<&str> = rest.split('/').collect();
    if let ["invocation", id, kind @ ("response" | "error")] = parts.as_slice() {
        let Some(reply) = lock(&state.in_flight).remove(*id) else {
            return Ok(text(
                StatusCode::BAD_REQUEST,
                "unknown or already answered request id",
            ));
        };
        let _ = reply.send(if *kind == "response" {
            Ok(parsed)
        } else {
            Err(parsed)
        });
        return Ok(text(StatusCode::ACCEPTED, "{}"));
    }
    Ok(text(StatusCode::NOT_FOUND, "unknown runtime API path"))
}

async fn next(state: &State) -> Response<Full<Bytes>> {
    state.next_calls.fetch_add(1, Ordering::SeqCst);
    lock(&state.first_next).get_or_insert_with(Instant::now);
    let pending = loop {
        let notified = state.queued.notified();
        if let Some(p) = lock(&state.queue).pop_front() {
            break p;
        }
        notified.await;
    };
    lock(&state.in_flight).insert(pending.request_id.clone(), pending.reply);
    let mut response = Response::new(Full::new(pending.body));
    let headers = response.headers_mut();
    let pairs = [
        ("lambda-runtime-aws-request-id", pending.request_id.clone()),
        (
            "lambda-runtime-deadline-ms",
            pending.deadline_ms.to_string(),
        ),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:under-test".to_owned(),
        ),
        (
            "lambda-runtime-trace-id",
            format!(
                "Root=1-00000000-{}",
                pending.request_id.replace('-', "")[..24].to_owned()
            ),
        ),
        ("content-type", "application/json".to_owned()),
    ];
    for (name, value) in pairs {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
    response
}
