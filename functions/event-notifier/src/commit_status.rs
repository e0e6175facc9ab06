//! Stage events become GitHub commit statuses: one per stage and commit, context
//! `pipeline-ENV/STAGE` (`pipeline-dev/staging`, ENV from `PIPELINE_ENV`; the pipeline's name when
//! unset), linked to the execution in the console. The `Source` stage sets none (it runs before the
//! commit is the pipeline's). The commit is the event's trigger commit, else the execution's source
//! revision (`GetPipelineExecution`'s `artifactRevisions[].revisionId`), a 40-hex id only,
//! remembered per execution while the instance is warm. Whatever GitHub or Secrets Manager do,
//! this only logs: a commit status never fails the invocation.
//!
//! Stage states are those of "CodePipeline stage-level states" (CodePipeline User Guide,
//! "Monitoring CodePipeline events",
//! <https://docs.aws.amazon.com/codepipeline/latest/userguide/detect-state-changes-cloudwatch-events.html>):
//! STARTED, SUCCEEDED, RESUMED, FAILED, STOPPING, STOPPED, CANCELED.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use tracing::{info, warn};

use crate::enrich::ExecutionLookup;
use crate::event::{Level, PipelineEvent};
use crate::github::{
    CommitStatus, GitHubTarget, GitHubTransport, Pause, StatusOutcome, StatusState, create_status,
};
use crate::github_token::TokenSource;

/// Most time one event's status may take, lookups and retries included (less near the deadline):
/// three attempts with two waits of at most [`crate::github::MAX_WAIT`].
pub const STATUS_BUDGET: Duration = Duration::from_secs(12);
/// The stage that fetches the commit: no status of its own.
pub const SOURCE_STAGE: &str = "Source";
/// Executions whose commit a warm instance remembers (each stage of a run needs the same one).
const REMEMBERED_EXECUTIONS: usize = 64;

/// The status a stage state sets, and the words its description uses (the Build stage builds,
/// the others deploy); None for states that change nothing on GitHub.
pub fn state_for(stage_state: &str, stage: &str) -> Option<(StatusState, &'static str)> {
    let build = stage == "Build";
    Some(match stage_state {
        "STARTED" if build => (StatusState::Pending, "building"),
        "STARTED" => (StatusState::Pending, "deploying"),
        // A stage retried after a failure runs again.
        "RESUMED" => (StatusState::Pending, "retrying"),
        "SUCCEEDED" if build => (StatusState::Success, "built"),
        "SUCCEEDED" => (StatusState::Success, "deployed"),
        "FAILED" => (StatusState::Failure, "failed"),
        "CANCELED" => (
            StatusState::Error,
            "canceled (a newer execution took its place)",
        ),
        "STOPPING" => (StatusState::Error, "stopping"),
        "STOPPED" => (StatusState::Error, "stopped"),
        _ => return None,
    })
}

/// The status of a stage event, without its commit (`sha` empty); None for other events and
/// for the `Source` stage. `environment` is `PIPELINE_ENV`.
pub fn status_for(
    event: &PipelineEvent,
    environment: Option<&str>,
    fallback_region: Option<&str>,
) -> Option<CommitStatus> {
    if event.level != Level::Stage {
        return None;
    }
    let stage = event.stage.as_deref().filter(|s| *s != SOURCE_STAGE)?;
    let (state, words) = state_for(&event.state, stage)?;
    let pipeline =
        environment.map_or_else(|| event.pipeline.clone(), |env| format!("pipeline-{env}"));
    Some(CommitStatus {
        sha: String::new(),
        state,
        context: format!("{pipeline}/{stage}"),
        description: format!("{stage}: {words}"),
        target_url: crate::message::console_url(event, fallback_region),
    })
}

/// A git commit id as GitHub's status endpoint takes it: 40 hex digits. S3 sources' version ids
/// and image digests are not commits and get no status.
pub fn is_commit_id(revision: &str) -> bool {
    revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit())
}

/// Sets commit statuses in one repository.
pub struct CommitStatuses {
    target: GitHubTarget,
    token: Box<dyn TokenSource>,
    transport: Box<dyn GitHubTransport>,
    pause: Box<dyn Pause>,
    /// `PIPELINE_ENV`, for the context's `pipeline-ENV`.
    environment: Option<String>,
    commits: Mutex<VecDeque<(String, String)>>,
}

impl fmt::Debug for CommitStatuses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommitStatuses")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl CommitStatuses {
    pub fn new(
        target: GitHubTarget,
        token: Box<dyn TokenSource>,
        transport: Box<dyn GitHubTransport>,
        pause: Box<dyn Pause>,
    ) -> Self {
        Self {
            target,
            token,
            transport,
            pause,
            environment: None,
            commits: Mutex::new(VecDeque::new()),
        }
    }

    /// Names the contexts `pipeline-ENV/STAGE` after `PIPELINE_ENV`.
    #[must_use]
    pub fn for_environment(mut self, environment: Option<String>) -> Self {
        self.environment = environment;
        self
    }

    /// Sets the stage event's status on its commit within `budget`; logs what happened.
    pub async fn report<L: ExecutionLookup>(
        &self,
        event: &PipelineEvent,
        lookup: &L,
        fallback_region: Option<&str>,
        budget: Duration,
    ) -> Option<StatusOutcome> {
        let mut status = status_for(event, self.environment.as_deref(), fallback_region)?;
        let started = tokio::time::Instant::now();
        let sha = self.commit(event, lookup, budget).await?;
        status.sha = sha;
        let token = match self.token.token().await {
            Ok(token) => token,
            Err(why) => {
                warn!(event_id = %event.id, context = %status.context, reason = %why, "commit status not set: no GitHub token");
                return None;
            }
        };
        let left = budget.saturating_sub(started.elapsed());
        let outcome = create_status(
            self.transport.as_ref(),
            self.pause.as_ref(),
            &self.target,
            &token,
            &status,
            left,
        )
        .await;
        log_outcome(event, &status, &self.target, &outcome);
        Some(outcome)
    }

    /// The execution's commit: the event's trigger names it, or the execution's source revision.
    async fn commit<L: ExecutionLookup>(
        &self,
        event: &PipelineEvent,
        lookup: &L,
        budget: Duration,
    ) -> Option<String> {
        let from_trigger = event.trigger.as_ref().and_then(|t| t.commit_id.clone());
        if let Some(sha) = from_trigger.filter(|s| is_commit_id(s)) {
            return Some(sha.to_ascii_lowercase());
        }
        let Some(execution_id) = event.execution_id.as_deref() else {
            warn!(event_id = %event.id, "commit status not set: the event names no execution");
            return None;
        };
        if let Some(sha) = self.remembered(execution_id) {
            return Some(sha);
        }
        let looked_up =
            tokio::time::timeout(budget, lookup.execution(&event.pipeline, execution_id)).await;
        let revisions = match looked_up {
            Ok(Ok(info)) => info.revisions,
            Ok(Err(why)) => {
                warn!(event_id = %event.id, execution_id, reason = %why, "commit status not set: the execution's commit is unknown");
                return None;
            }
            Err(_) => {
                warn!(event_id = %event.id, execution_id, "commit status not set: GetPipelineExecution did not answer in time");
                return None;
            }
        };
        let sha = revisions
            .iter()
            .filter_map(|r| r.revision_id.as_deref())
            .find(|r| is_commit_id(r))
            .map(str::to_ascii_lowercase);
        match &sha {
            Some(sha) => self.remember(execution_id, sha),
            None => {
                info!(event_id = %event.id, execution_id, "no commit status: the execution's source revision is not a git commit")
            }
        }
        sha
    }

    fn remembered(&self, execution_id: &str) -> Option<String> {
        let commits = self
            .commits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        commits
            .iter()
            .find(|(id, _)| id == execution_id)
            .map(|(_, sha)| sha.clone())
    }

    fn remember(&self, execution_id: &str, sha: &str) {
        let mut commits = self
            .commits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if commits.len() >= REMEMBERED_EXECUTIONS {
            commits.pop_front();
        }
        commits.push_back((execution_id.to_owned(), sha.to_owned()));
    }
}

/// What to do about a refusal, by GitHub's status code.
fn fix_for(status: u16) -> &'static str {
    match status {
        401 => {
            "the token in GITHUB_STATUS_TOKEN_SECRET is wrong, expired or revoked; put a valid token in the secret"
        }
        403 => {
            "the token may not set commit statuses; give it the repo:status scope (classic) or \"Commit statuses: write\" (fine-grained)"
        }
        404 => {
            "the repository does not exist or the token cannot see it; check GITHUB_REPOSITORY and the token's repository access"
        }
        422 => {
            "GitHub does not know this commit in the repository, or the context reached its 1000 statuses"
        }
        _ => "see GitHub's message",
    }
}

fn log_outcome(
    event: &PipelineEvent,
    status: &CommitStatus,
    target: &GitHubTarget,
    outcome: &StatusOutcome,
) {
    let (context, sha, repository) = (&status.context, &status.sha, &target.repository);
    let state = serde_json::to_value(status.state).ok();
    let state = state.as_ref().and_then(|s| s.as_str()).unwrap_or("?");
    match outcome {
        StatusOutcome::Created { attempts } => {
            info!(event_id = %event.id, repository, sha, context, state, attempts, "commit status set");
        }
        StatusOutcome::Refused { status, message } => {
            warn!(event_id = %event.id, repository, sha, context, state, http_status = status, github_message = %message, fix = fix_for(*status), "GitHub refused the commit status");
        }
        StatusOutcome::GaveUp { attempts, last } => {
            warn!(event_id = %event.id, repository, sha, context, state, attempts, reason = %last, "commit status not set: GitHub kept failing; giving up (the pipeline is not affected)");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn stage(state: &str) -> PipelineEvent {
        crate::event::parse(&serde_json::json!({
            "id": "e1", "source": "aws.codepipeline", "region": "eu-west-1",
            "detail-type": "CodePipeline Stage Execution State Change",
            "detail": {"pipeline": "pipeline-dev", "execution-id": "x-1", "stage": "staging", "state": state}
        }))
        .unwrap()
    }

    #[test]
    fn every_stage_state_maps_to_the_contract() {
        let cases = [
            ("STARTED", Some(StatusState::Pending)),
            ("RESUMED", Some(StatusState::Pending)),
            ("SUCCEEDED", Some(StatusState::Success)),
            ("FAILED", Some(StatusState::Failure)),
            ("CANCELED", Some(StatusState::Error)),
            ("STOPPED", Some(StatusState::Error)),
            ("STOPPING", Some(StatusState::Error)),
            ("SOMETHING_NEW", None),
            ("", None),
        ];
        for (state, expected) in cases {
            assert_eq!(
                state_for(state, "prod").map(|(s, _)| s),
                expected,
                "{state}"
            );
        }
        let status = status_for(&stage("STARTED"), Some("qa"), None).unwrap();
        assert_eq!(status.context, "pipeline-qa/staging");
        assert_eq!(status.description, "staging: deploying");
        let words = |state: &str, stage: &str| state_for(state, stage).unwrap().1;
        assert_eq!(words("SUCCEEDED", "prod"), "deployed");
        assert_eq!(words("SUCCEEDED", "Build"), "built");
        assert_eq!(words("FAILED", "prod"), "failed");
        // Without PIPELINE_ENV the context names the pipeline.
        let status = status_for(&stage("STARTED"), None, None).unwrap();
        assert_eq!(status.context, "pipeline-dev/staging");
        assert!(
            status.target_url.starts_with("https://eu-west-1.console.aws.amazon.com/codesuite/codepipeline/pipelines/pipeline-dev/executions/x-1"),
            "{}",
            status.target_url
        );
    }

    use crate::enrich::{ActionRecord, ExecutionInfo, LookupError, SourceRevision};
    use crate::github::{BoxFuture, GitHubAnswer, GitHubToken};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex as StdMutex};

    /// GetPipelineExecution answering one revision, counting its calls.
    struct Revision(&'static str, AtomicUsize);
    impl ExecutionLookup for Revision {
        async fn execution(&self, _: &str, _: &str) -> Result<ExecutionInfo, LookupError> {
            self.1.fetch_add(1, Ordering::SeqCst);
            Ok(ExecutionInfo {
                revisions: vec![SourceRevision {
                    revision_id: Some(self.0.to_owned()),
                    ..SourceRevision::default()
                }],
                ..ExecutionInfo::default()
            })
        }
        async fn actions(&self, _: &str, _: &str) -> Result<Vec<ActionRecord>, LookupError> {
            Ok(Vec::new())
        }
    }
    struct Token(Option<&'static str>);
    impl TokenSource for Token {
        fn token(&self) -> BoxFuture<'_, Result<GitHubToken, String>> {
            let token = self.0.and_then(GitHubToken::from_secret);
            Box::pin(async move { token.ok_or_else(|| "no such secret".to_owned()) })
        }
    }
    struct Created(Arc<StdMutex<Vec<String>>>);
    impl GitHubTransport for Created {
        fn post(
            &self,
            url: String,
            _: GitHubToken,
            _: Vec<u8>,
            _: Duration,
        ) -> BoxFuture<'_, Result<GitHubAnswer, String>> {
            self.0.lock().unwrap().push(url);
            Box::pin(async {
                Ok(GitHubAnswer {
                    status: 201,
                    ..GitHubAnswer::default()
                })
            })
        }
    }

    fn statuses(token: Option<&'static str>) -> (CommitStatuses, Arc<StdMutex<Vec<String>>>) {
        let urls = Arc::new(StdMutex::new(Vec::new()));
        let target = GitHubTarget::parse("octo-org/app", None).unwrap();
        let github = CommitStatuses::new(
            target,
            Box::new(Token(token)),
            Box::new(Created(urls.clone())),
            Box::new(crate::github::TokioPause),
        );
        (github, urls)
    }

    #[tokio::test]
    async fn the_commit_is_looked_up_once_per_execution_and_problems_only_log() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let lookup = Revision(sha, AtomicUsize::new(0));
        let (github, urls) = statuses(Some("t0k3n"));
        let budget = Duration::from_secs(5);
        for state in ["STARTED", "SUCCEEDED"] {
            let outcome = github.report(&stage(state), &lookup, None, budget).await;
            assert_eq!(outcome, Some(StatusOutcome::Created { attempts: 1 }));
        }
        assert_eq!(
            lookup.1.load(Ordering::SeqCst),
            1,
            "the commit is remembered"
        );
        assert_eq!(urls.lock().unwrap().len(), 2);
        assert!(urls.lock().unwrap()[0].ends_with(&format!("/repos/octo-org/app/statuses/{sha}")));
        // An undocumented state changes nothing; a missing token or a non-git revision sets nothing.
        assert_eq!(
            github.report(&stage("PAUSED"), &lookup, None, budget).await,
            None
        );
        let (no_token, urls) = statuses(None);
        assert_eq!(
            no_token
                .report(&stage("FAILED"), &lookup, None, budget)
                .await,
            None
        );
        let s3_version = Revision("3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", AtomicUsize::new(0));
        let (github, _) = statuses(Some("t0k3n"));
        assert_eq!(
            github
                .report(&stage("FAILED"), &s3_version, None, budget)
                .await,
            None
        );
        assert!(urls.lock().unwrap().is_empty());
    }

    #[test]
    fn aws_documented_stage_samples_map_as_the_contract_says() {
        let samples = [
            (
                include_str!("../tests/fixtures/stage-started.json"),
                Some(StatusState::Pending),
            ),
            (
                include_str!("../tests/fixtures/stage-resumed-after-retry.json"),
                Some(StatusState::Pending),
            ),
            (
                include_str!("../tests/fixtures/stage-stopped.json"),
                Some(StatusState::Error),
            ),
            (
                include_str!("../tests/fixtures/stage-stopping.json"),
                Some(StatusState::Error),
            ),
            (include_str!("../tests/fixtures/action-failed.json"), None),
            (include_str!("../tests/fixtures/pipeline-failed.json"), None),
        ];
        for (sample, expected) in samples {
            let event = crate::event::parse(&serde_json::from_str(sample).unwrap()).unwrap();
            let status = status_for(&event, None, None);
            assert_eq!(status.as_ref().map(|s| s.state), expected, "{}", event.id);
            if let Some(status) = status {
                let stage = event.stage.as_deref().unwrap();
                assert_eq!(status.context, format!("{}/{stage}", event.pipeline));
            }
        }
    }

    #[test]
    fn only_stage_events_and_git_commits_get_statuses() {
        let mut action = stage("FAILED");
        action.level = Level::Action;
        assert!(status_for(&action, None, None).is_none());
        let mut source = stage("STARTED");
        source.stage = Some(SOURCE_STAGE.to_owned());
        assert!(status_for(&source, Some("dev"), None).is_none());
        assert!(is_commit_id(&"a1".repeat(20)));
        assert!(!is_commit_id(&"B".repeat(64)));
        assert!(!is_commit_id(&"a".repeat(39)));
        assert!(!is_commit_id(
            "3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo"
        ));
        assert!(!is_commit_id(&"g".repeat(40)));
    }
}
