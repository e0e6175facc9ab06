//! GitHub's REST API, the one call the notifier makes: "Create a commit status"
//! (`POST /repos/{owner}/{repo}/statuses/{sha}`), with GitHub's failures retried within a bound
//! and never turned into an invocation error. The token is never printed.
//!
//! GitHub's documents this follows:
//! - "REST API endpoints for commit statuses", <https://docs.github.com/en/rest/commits/statuses>:
//!   `state` is one of `error`, `failure`, `pending`, `success`; `target_url`, `description`,
//!   `context` are optional; 201 on success; at most 1000 statuses per sha and context.
//! - "Authenticating to the REST API",
//!   <https://docs.github.com/en/rest/authentication/authenticating-to-the-rest-api>:
//!   `Authorization: Bearer TOKEN`; 401 "Bad credentials" for a wrong or revoked token.
//! - "Rate limits for the REST API",
//!   <https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api>: 403 or 429;
//!   wait `retry-after` seconds when present, else until `x-ratelimit-reset` (UTC epoch seconds)
//!   when `x-ratelimit-remaining` is 0.
//! - "Getting started with the REST API", <https://docs.github.com/en/rest/using-the-rest-api/getting-started-with-the-rest-api>:
//!   a `User-Agent` header is required; `X-GitHub-Api-Version: 2022-11-28`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::{info, warn};

/// GitHub.com's API; GitHub Enterprise Server's is `https://HOST/api/v3`.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// Attempts per status, the first included.
pub const MAX_ATTEMPTS: u32 = 3;
/// Longest wait between attempts, whatever `retry-after` or `x-ratelimit-reset` ask: the
/// notifier has seconds, not the minutes a primary limit may need; a status given up on is logged.
pub const MAX_WAIT: Duration = Duration::from_secs(5);
/// Wait before a retry when GitHub names none (doubled for the next).
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// One request's limit, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// GitHub shows at most this many characters of a description (longer ones are cut here, not refused).
pub const MAX_DESCRIPTION_CHARS: usize = 140;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where commit statuses go: the API's base URL and the repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitHubTarget {
    /// Without a trailing slash.
    pub api_url: String,
    /// `owner/repo`.
    pub repository: String,
}

impl GitHubTarget {
    /// Checks `GITHUB_REPOSITORY` and `GITHUB_API_URL` (`api_url` None: GitHub.com). The token
    /// travels to `api_url`, so plain `http` is accepted only on loopback (the emulator).
    pub fn parse(repository: &str, api_url: Option<&str>) -> Result<Self, String> {
        let mut parts = repository.split('/');
        let valid_part = |p: &str| {
            !p.is_empty()
                && p != "."
                && p != ".."
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        let (Some(owner), Some(repo), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "`{repository}` is not owner/repo; set it to the repository's owner and name, e.g. octo-org/hello-app"
            ));
        };
        if !valid_part(owner) || !valid_part(repo) {
            return Err(format!(
                "`{repository}` is not owner/repo (letters, digits, `-`, `_`, `.`); e.g. octo-org/hello-app"
            ));
        }
        let api_url = api_url.unwrap_or(DEFAULT_API_URL).trim_end_matches('/');
        let rest = api_url
            .strip_prefix("https://")
            .or_else(|| api_url.strip_prefix("http://").filter(|r| is_loopback(r)));
        match rest {
            Some(host) if !host.is_empty() && !host.contains(['?', '#', ' ']) => Ok(Self {
                api_url: api_url.to_owned(),
                repository: repository.to_owned(),
            }),
            _ => Err(format!(
                "`{api_url}` is not an https URL (plain http only on loopback); use {DEFAULT_API_URL} or https://HOST/api/v3"
            )),
        }
    }

    fn status_url(&self, sha: &str) -> String {
        format!("{}/repos/{}/statuses/{sha}", self.api_url, self.repository)
    }
}

fn is_loopback(rest: &str) -> bool {
    ["127.0.0.1", "localhost", "[::1]"].iter().any(|host| {
        rest.strip_prefix(host)
            .is_some_and(|after| after.is_empty() || after.starts_with([':', '/']))
    })
}

/// A commit status's state, as GitHub spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusState {
    Pending,
    Success,
    Failure,
    Error,
}

/// One commit status to create.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CommitStatus {
    #[serde(skip)]
    pub sha: String,
    pub state: StatusState,
    pub context: String,
    pub description: String,
    pub target_url: String,
}

/// The GitHub token; never printed.
#[derive(Clone)]
pub struct GitHubToken(String);

impl GitHubToken {
    /// A secret's value: the token itself, or a JSON object holding it under `token`.
    pub fn from_secret(value: &str) -> Option<Self> {
        let trimmed = value.trim();
        let token = match serde_json::from_str::<serde_json::Value>(trimmed) {
            Ok(serde_json::Value::Object(map)) => map.get("token")?.as_str()?.trim().to_owned(),
            _ => trimmed.to_owned(),
        };
        let printable = token.chars().all(|c| c.is_ascii_graphic());
        (!token.is_empty() && printable).then_some(Self(token))
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for GitHubToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GitHubToken(** redacted **)")
    }
}

/// What GitHub answered, the parts a retry decision needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GitHubAnswer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub ratelimit_remaining: Option<String>,
    pub ratelimit_reset: Option<String>,
    /// The body's `message`, when JSON.
    pub message: Option<String>,
}

/// One POST of a JSON body, the seam tests stand in for (the real one is [`crate::github_http`]).
pub trait GitHubTransport: Send + Sync {
    fn post(
        &self,
        url: String,
        token: GitHubToken,
        body: Vec<u8>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<GitHubAnswer, String>>;
}

/// Waits between attempts; tests count the waits instead of sleeping.
pub trait Pause: Send + Sync {
    fn pause(&self, wait: Duration) -> BoxFuture<'_, ()>;
}

/// Sleeps on tokio's clock.
#[derive(Debug, Default)]
pub struct TokioPause;

impl Pause for TokioPause {
    fn pause(&self, wait: Duration) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(wait))
    }
}

/// How a status ended; logged by the caller, never an invocation error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusOutcome {
    Created {
        attempts: u32,
    },
    /// GitHub refused it for good (bad credentials, no such repository or commit, validation).
    Refused {
        status: u16,
        message: String,
    },
    /// Still failing after the attempts (or the time) allowed.
    GaveUp {
        attempts: u32,
        last: String,
    },
}

/// Whether an answer is worth another attempt, and after how long.
///
/// Retried: 5xx (GitHub's outages), 429, and 403 when it is a rate limit — `x-ratelimit-remaining:
/// 0` (primary), or `retry-after` / a "rate limit" message (secondary) — as "Rate limits for the
/// REST API" (docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api) says to wait
/// and retry. Final: 401 Bad credentials, a plain 403, 404 (a repository the token cannot see) and
/// 422 Validation Failed, which "Troubleshooting the REST API"
/// (docs.github.com/rest/using-the-rest-api/troubleshooting-the-rest-api) fixes by changing the
/// token or the request, not by retrying it. Network errors are retried by [`create_status`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Done,
    Refused(String),
    Retry { why: String, wait: Option<Duration> },
}

/// The retry decision for one answer received at `now` (pure: no clock, no I/O).
pub fn judge(answer: &GitHubAnswer, now: SystemTime) -> Verdict {
    let message = answer.message.clone().unwrap_or_default();
    let seconds = |v: &Option<String>| v.as_deref().and_then(|s| s.trim().parse::<u64>().ok());
    match answer.status {
        200..=299 => Verdict::Done,
        403 | 429 => {
            if let Some(after) = seconds(&answer.retry_after) {
                return Verdict::Retry {
                    why: format!("secondary rate limit ({} {message})", answer.status),
                    wait: Some(Duration::from_secs(after)),
                };
            }
            if answer.ratelimit_remaining.as_deref().map(str::trim) == Some("0") {
                let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
                let wait = seconds(&answer.ratelimit_reset).map(|reset| reset.saturating_sub(now));
                return Verdict::Retry {
                    why: format!("primary rate limit exhausted ({})", answer.status),
                    wait: Some(Duration::from_secs(wait.unwrap_or(1))),
                };
            }
            if answer.status == 429 || message.to_ascii_lowercase().contains("rate limit") {
                return Verdict::Retry {
                    why: format!("rate limited ({} {message})", answer.status),
                    wait: None,
                };
            }
            Verdict::Refused(format!("{} {message}", answer.status))
        }
        500..=599 => Verdict::Retry {
            why: format!("GitHub answered {} {message}", answer.status),
            wait: None,
        },
        status => Verdict::Refused(format!("{status} {message}")),
    }
}

/// Creates `status` in `target`'s repository: at most [`MAX_ATTEMPTS`] attempts, each within
/// [`REQUEST_TIMEOUT`], waits capped at [`MAX_WAIT`] and the whole within `budget`.
pub async fn create_status(
    transport: &dyn GitHubTransport,
    pause: &dyn Pause,
    target: &GitHubTarget,
    token: &GitHubToken,
    status: &CommitStatus,
    budget: Duration,
) -> StatusOutcome {
    let started = tokio::time::Instant::now();
    let mut body_status = status.clone();
    body_status.description = crate::text::bounded(&status.description, MAX_DESCRIPTION_CHARS);
    let body = serde_json::to_vec(&body_status).unwrap_or_default();
    let url = target.status_url(&status.sha);
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let left = budget.saturating_sub(started.elapsed());
        let answer = transport
            .post(
                url.clone(),
                token.clone(),
                body.clone(),
                REQUEST_TIMEOUT.min(left),
            )
            .await;
        let (why, asked) = match answer {
            Ok(answer) => match judge(&answer, SystemTime::now()) {
                Verdict::Done => return StatusOutcome::Created { attempts: attempt },
                Verdict::Refused(message) => {
                    return StatusOutcome::Refused {
                        status: answer.status,
                        message,
                    };
                }
                Verdict::Retry { why, wait } => (why, wait),
            },
            Err(network) => (format!("request failed: {network}"), None),
        };
        let wait = asked.unwrap_or(backoff).min(MAX_WAIT);
        backoff *= 2;
        let out_of_time = started.elapsed() + wait >= budget;
        if attempt >= MAX_ATTEMPTS || out_of_time {
            return StatusOutcome::GaveUp {
                attempts: attempt,
                last: why,
            };
        }
        if asked.is_some_and(|asked| asked > MAX_WAIT) {
            info!(context = %status.context, reason = %why, waited_ms = wait.as_millis() as u64, "GitHub asks for a longer wait than the notifier has; retrying after the cap");
        }
        warn!(context = %status.context, attempt, reason = %why, retry_in_ms = wait.as_millis() as u64, "commit status not set; retrying");
        pause.pause(wait).await;
    }
}

/// The `Authorization` header's value; only the transport calls this.
pub(crate) fn authorization(token: &GitHubToken) -> String {
    format!("Bearer {}", token.expose())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Scripted {
        answers: Mutex<Vec<Result<GitHubAnswer, String>>>,
        bodies: Mutex<Vec<(String, String)>>,
    }
    impl Scripted {
        fn new(answers: Vec<Result<GitHubAnswer, String>>) -> Self {
            Self {
                answers: Mutex::new(answers),
                bodies: Mutex::new(Vec::new()),
            }
        }
    }
    impl GitHubTransport for Scripted {
        fn post(
            &self,
            url: String,
            _: GitHubToken,
            body: Vec<u8>,
            _: Duration,
        ) -> BoxFuture<'_, Result<GitHubAnswer, String>> {
            self.bodies
                .lock()
                .unwrap()
                .push((url, String::from_utf8(body).unwrap()));
            let next = self.answers.lock().unwrap().remove(0);
            Box::pin(async move { next })
        }
    }
    #[derive(Default)]
    struct Waits(Mutex<Vec<Duration>>);
    impl Pause for Waits {
        fn pause(&self, wait: Duration) -> BoxFuture<'_, ()> {
            self.0.lock().unwrap().push(wait);
            Box::pin(async {})
        }
    }

    fn answer(status: u16) -> GitHubAnswer {
        GitHubAnswer {
            status,
            message: Some(format!("m{status}")),
            ..GitHubAnswer::default()
        }
    }
    fn status() -> CommitStatus {
        CommitStatus {
            sha: "a".repeat(40),
            state: StatusState::Pending,
            context: "pipeline-dev/staging".into(),
            description: "x".repeat(300),
            target_url: "https://console".into(),
        }
    }
    fn target() -> GitHubTarget {
        GitHubTarget::parse("octo-org/app", None).unwrap()
    }
    async fn run(answers: Vec<Result<GitHubAnswer, String>>) -> (StatusOutcome, Vec<Duration>) {
        let transport = Scripted::new(answers);
        let waits = Waits::default();
        let token = GitHubToken::from_secret("t0k3n").unwrap();
        let budget = Duration::from_secs(20);
        let outcome = create_status(&transport, &waits, &target(), &token, &status(), budget).await;
        let (url, body) = transport.bodies.lock().unwrap()[0].clone();
        assert_eq!(
            url,
            format!(
                "https://api.github.com/repos/octo-org/app/statuses/{}",
                "a".repeat(40)
            )
        );
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["state"], "pending");
        assert!(body["description"].as_str().unwrap().chars().count() <= MAX_DESCRIPTION_CHARS);
        (outcome, waits.0.into_inner().unwrap())
    }

    #[tokio::test]
    async fn rate_limits_are_waited_out_within_the_cap_and_refusals_are_final() {
        let secondary = GitHubAnswer {
            retry_after: Some("60".into()),
            ..answer(403)
        };
        let (outcome, waits) = run(vec![Ok(secondary), Ok(answer(201))]).await;
        assert_eq!(outcome, StatusOutcome::Created { attempts: 2 });
        assert_eq!(waits, vec![MAX_WAIT]);

        let reset = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 1;
        let primary = GitHubAnswer {
            ratelimit_remaining: Some("0".into()),
            ratelimit_reset: Some(reset.to_string()),
            ..answer(429)
        };
        let (outcome, waits) = run(vec![Ok(primary), Ok(answer(201))]).await;
        assert_eq!(outcome, StatusOutcome::Created { attempts: 2 });
        assert!(waits[0] <= Duration::from_secs(1), "{waits:?}");

        let (outcome, waits) = run(vec![Ok(answer(401))]).await;
        assert!(
            matches!(&outcome, StatusOutcome::Refused { status: 401, message } if message.contains("m401")),
            "{outcome:?}"
        );
        assert!(waits.is_empty());
        // A 403 without rate-limit signs is a refusal (a token without access to statuses).
        let (outcome, _) = run(vec![Ok(answer(403))]).await;
        assert!(matches!(
            outcome,
            StatusOutcome::Refused { status: 403, .. }
        ));
    }

    #[tokio::test]
    async fn outages_are_retried_three_times_then_given_up() {
        let (outcome, waits) = run(vec![
            Ok(answer(502)),
            Err("connection refused".into()),
            Ok(answer(503)),
        ])
        .await;
        assert!(
            matches!(&outcome, StatusOutcome::GaveUp { attempts: 3, last } if last.contains("503")),
            "{outcome:?}"
        );
        assert_eq!(waits, vec![FIRST_BACKOFF, FIRST_BACKOFF * 2]);
    }

    #[test]
    fn retry_decisions_follow_githubs_documents() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let with = |status, remaining: Option<&str>, reset: Option<&str>, after: Option<&str>| {
            let answer = GitHubAnswer {
                status,
                ratelimit_remaining: remaining.map(str::to_owned),
                ratelimit_reset: reset.map(str::to_owned),
                retry_after: after.map(str::to_owned),
                message: None,
            };
            judge(&answer, now)
        };
        let wait = |v: Verdict| match v {
            Verdict::Retry { wait, .. } => wait,
            other => panic!("not retried: {other:?}"),
        };
        assert_eq!(with(201, None, None, None), Verdict::Done);
        for status in [500, 502, 503, 504] {
            assert_eq!(wait(with(status, None, None, None)), None, "{status}");
        }
        assert_eq!(wait(with(429, None, None, None)), None);
        assert_eq!(
            wait(with(429, None, None, Some("2"))),
            Some(Duration::from_secs(2))
        );
        let primary = with(403, Some("0"), Some("1000004"), None);
        assert_eq!(wait(primary), Some(Duration::from_secs(4)));
        // A reset already past: retry at once.
        let past = with(403, Some("0"), Some("999990"), None);
        assert_eq!(wait(past), Some(Duration::ZERO));
        for status in [401, 404, 422] {
            assert!(
                matches!(with(status, Some("0"), None, None), Verdict::Refused(_)),
                "{status}"
            );
        }
        // A 403 with requests left is a permission problem, not a rate limit.
        assert!(matches!(
            with(403, Some("4999"), Some("1000004"), None),
            Verdict::Refused(_)
        ));
    }

    #[test]
    fn targets_and_tokens_are_checked_and_the_token_never_printed() {
        assert!(
            GitHubTarget::parse("octo-org", None)
                .unwrap_err()
                .contains("owner/repo")
        );
        assert!(GitHubTarget::parse("a/b/c", None).is_err());
        assert!(GitHubTarget::parse("a/..", None).is_err());
        let plain = GitHubTarget::parse("a/b", Some("http://github.example.com")).unwrap_err();
        assert!(plain.contains("plain http only on loopback"), "{plain}");
        assert!(GitHubTarget::parse("a/b", Some("http://localhost.evil.com")).is_err());
        let local = GitHubTarget::parse("a/b", Some("http://127.0.0.1:4566/_github/")).unwrap();
        assert_eq!(local.api_url, "http://127.0.0.1:4566/_github");
        assert_eq!(
            GitHubTarget::parse("a/b", Some("https://ghe.example.com/api/v3"))
                .unwrap()
                .api_url,
            "https://ghe.example.com/api/v3"
        );
        let token = GitHubToken::from_secret(" {\"token\": \"ghp_secret\"} ").unwrap();
        assert_eq!(token.expose(), "ghp_secret");
        assert!(!format!("{token:?}").contains("ghp_secret"));
        assert!(GitHubToken::from_secret("  ").is_none());
        assert!(GitHubToken::from_secret("two words").is_none());
    }
}
