//! Environment variable names the bootstrap sets on the Lambda functions.
//!
//! The functions read nothing else from their environment, apart from what the Lambda
//! runtime itself provides (`AWS_REGION`, `AWS_LAMBDA_*`).

/// The environment suffix (`dev`, `prod`, ...), shown in messages.
pub const PIPELINE_ENV: &str = "PIPELINE_ENV";

/// deploy-handler: HTTPS endpoint that receives the signed deployment event (optional).
pub const DEPLOY_WEBHOOK_URL: &str = "DEPLOY_WEBHOOK_URL";
/// deploy-handler: Secrets Manager secret id holding the webhook's HMAC secret.
pub const DEPLOY_WEBHOOK_SECRET_ARN: &str = "DEPLOY_WEBHOOK_SECRET_ARN";
/// deploy-handler: the webhook's HMAC secret itself (when no secret id is set).
pub const DEPLOY_WEBHOOK_SECRET: &str = "DEPLOY_WEBHOOK_SECRET";
/// deploy-handler: EventBridge bus for `Deployment Requested` events (optional; `default` allowed).
pub const DEPLOY_EVENT_BUS: &str = "DEPLOY_EVENT_BUS";
/// deploy-handler: milliseconds kept in reserve before the Lambda deadline (default 5000).
pub const DEPLOY_DEADLINE_MARGIN_MS: &str = "DEPLOY_DEADLINE_MARGIN_MS";

/// event-notifier: SNS topic ARN to publish to.
pub const NOTIFY_TOPIC_ARN: &str = "NOTIFY_TOPIC_ARN";
/// event-notifier: comma-separated pipeline states that notify (default `STARTED,SUCCEEDED,FAILED`).
pub const NOTIFY_STATES: &str = "NOTIFY_STATES";
/// event-notifier: `true` to add the AWS Chatbot custom notification format for chat subscribers.
pub const NOTIFY_CHATBOT_FORMAT: &str = "NOTIFY_CHATBOT_FORMAT";
/// The deploy-handler's rollout target: `ecs:CLUSTER/SERVICE[/CONTAINER]` or
/// `lambda:FUNCTION[:ALIAS]` (bootstrap's `--deploy-target`).
pub const DEPLOY_TARGET: &str = "DEPLOY_TARGET";

/// event-notifier: ARN of the Secrets Manager secret holding a GitHub token allowed to set
/// commit statuses (`repo:status` scope, or a fine-grained token with "Commit statuses: write").
/// Absent: the notifier sets no commit statuses.
pub const GITHUB_STATUS_TOKEN_SECRET: &str = "GITHUB_STATUS_TOKEN_SECRET";
/// event-notifier: the repository whose commits get the statuses, as `owner/repo`.
pub const GITHUB_REPOSITORY: &str = "GITHUB_REPOSITORY";
/// event-notifier: base URL of GitHub's REST API (default `https://api.github.com`; the
/// rehearsal points it at the emulator's GitHub stand-in).
pub const GITHUB_API_URL: &str = "GITHUB_API_URL";
