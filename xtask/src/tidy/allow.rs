//! Today's exceptions to the tidy rules, each with its reason. A test fails when an entry is no
//! longer needed or when what it allows has grown, so this list only shrinks.

use super::layering::{PureException, Transport};
use super::size::Allowance;

/// Files over 800 lines: `(path, lines at most, reason)`.
pub const LONG_FILES: &[Allowance] = &[];

/// Functions over 100 lines: `(path::function, lines at most, reason)`.
pub const LONG_FUNCTIONS: &[Allowance] = &[];

/// The Lambda modules that are the handler's transport to AWS: the handler works over narrow
/// traits, and these implement them with the SDK clients `main.rs` builds once.
pub const TRANSPORT_MODULES: &[Transport] = &[
    (
        "functions/deploy-handler/src/report.rs",
        "the job's result to CodePipeline, behind `JobReporter`",
    ),
    (
        "functions/deploy-handler/src/delivery/eventbridge.rs",
        "the deployment event to EventBridge, behind `EventPublisher`",
    ),
    (
        "functions/deploy-handler/src/delivery/secret.rs",
        "the webhook's secret from Secrets Manager, behind `SecretSource`",
    ),
    (
        "functions/deploy-handler/src/rollout/sdk.rs",
        "the rollouts' ECS and Lambda calls, behind `RolloutApi`",
    ),
    (
        "functions/event-notifier/src/publish.rs",
        "the notification to SNS, behind its publisher trait",
    ),
    (
        "functions/event-notifier/src/enrich.rs",
        "the CodePipeline lookups that explain a failure",
    ),
    (
        "functions/event-notifier/src/github_token.rs",
        "the GitHub token from Secrets Manager, behind `TokenSource`",
    ),
];

/// Imports the pure modules still make: `(path, resolved import, reason)`.
pub const PURE_MODULE_IMPORTS: &[PureException] = &[(
    "bootstrap/src/policies/deployer.rs",
    "crate::resources::deployer_grants",
    "the deployer's policy is what the resource modules call: it is assembled from each kind's \
     own declaration (pure functions beside the calls they grant), the one name it takes from there",
)];
