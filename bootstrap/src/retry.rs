//! Waiting out IAM eventual consistency: a new role is not usable by a service at once.

use crate::model::ResourceId;
use crate::progress::Progress;
use anyhow::Result;
use std::future::Future;
use std::time::{Duration, Instant};

/// How long a create may keep failing because its role has not propagated (Terraform's figure).
pub const IAM_PROPAGATION_BUDGET: Duration = Duration::from_secs(120);

/// `BOOTSTRAP_IAM_PROPAGATION_BUDGET_SECONDS` overrides every propagation budget (for accounts
/// where IAM is slow, and for tests of the give-up path).
pub const BUDGET_VARIABLE: &str = "BOOTSTRAP_IAM_PROPAGATION_BUDGET_SECONDS";

fn configured_budget(default: Duration) -> Duration {
    budget_override().ok().flatten().unwrap_or(default)
}

/// The budget [`BUDGET_VARIABLE`] sets, if set; an error naming the variable and the fix when
/// it is not a whole number of seconds (checked once at start, before any call).
pub fn budget_override() -> Result<Option<Duration>> {
    let Ok(raw) = std::env::var(BUDGET_VARIABLE) else {
        return Ok(None);
    };
    match raw.trim().parse::<u64>() {
        Ok(seconds) if seconds <= 3600 => Ok(Some(Duration::from_secs(seconds))),
        _ => anyhow::bail!(
            "{BUDGET_VARIABLE}=`{raw}` is not a number of seconds from 0 to 3600; set it to how \
             long a create may wait for a new IAM role (default 120), or unset it"
        ),
    }
}

/// Runs `op` until it succeeds, fails for another reason, or `budget` is spent, retrying while
/// `is_propagation` says the failure is a not-yet-usable role. Each wait is announced, naming
/// `role_arn` (one ARN, or several joined by ", " for a policy naming several roles).
pub async fn while_role_propagates<T, E, F, Fut>(
    progress: &Progress,
    id: &ResourceId,
    role_arn: &str,
    budget: Duration,
    is_propagation: impl Fn(&E) -> bool,
    mut op: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let budget = configured_budget(budget);
    let started = Instant::now();
    let mut delay = Duration::from_millis(500);
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(err) if is_propagation(&err) => {
                let waited = started.elapsed();
                if waited + delay > budget {
                    anyhow::bail!(
                        "{id}: the role {role_arn} was still not usable after {:.0?} (IAM propagation); \
                         AWS said: {}. Check the role's trust policy, then run the command again: \
                         it resumes where it stopped",
                        waited,
                        crate::error_text(&err)
                    );
                }
                progress.resource_detail(
                    id,
                    "waiting",
                    &format!("IAM role {role_arn} not usable yet (propagation), retrying in {delay:.1?}, {:.0?} waited", waited),
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(8));
            }
            Err(err) => return Err(anyhow::Error::new(err).context(format!("{id}"))),
        }
    }
}

/// Sets a resource policy (`op`), waiting while AWS refuses one of the roles `policy` names as
/// principals because IAM has not propagated it yet (`is_propagation` tells that refusal from a
/// real one); the wait names those roles.
pub async fn while_principals_propagate<T, E, F, Fut>(
    progress: &Progress,
    id: &ResourceId,
    policy: &serde_json::Value,
    is_propagation: impl Fn(&E) -> bool,
    op: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let roles = crate::policies::role_principals(policy).join(", ");
    while_role_propagates(
        progress,
        id,
        &roles,
        IAM_PROPAGATION_BUDGET,
        is_propagation,
        op,
    )
    .await
}
