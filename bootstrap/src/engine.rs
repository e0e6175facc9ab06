//! The IO half of the reconciler: observe everything, apply a plan along the dependency
//! graph with bounded concurrency, and destroy as apply's mirror.

use crate::model::{Desired, Kind, Observed, ResourceId};
use crate::plan::{Action, Plan};
use crate::resources::{self, Ctx};
use anyhow::{Result, bail};
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::{BTreeMap, BTreeSet};

/// How many AWS operations run at once (Lambda's control plane allows ~15 requests/s).
pub const CONCURRENCY: usize = 12;
/// Reads are cheap and a whole environment is ~20 resources: observe them all at once.
pub const OBSERVE_CONCURRENCY: usize = 32;

pub type ObservedMap = BTreeMap<ResourceId, Option<Observed>>;

/// Reads every resource at once.
pub async fn observe_all(ctx: Ctx<'_>, ids: &[ResourceId]) -> Result<ObservedMap> {
    let results: Vec<_> = futures::stream::iter(ids.iter().cloned())
        .map(|id| async move {
            let observed = resources::observe(ctx, &id).await;
            (id, observed)
        })
        .buffer_unordered(OBSERVE_CONCURRENCY)
        .collect()
        .await;
    let mut map = BTreeMap::new();
    let mut errors = Vec::new();
    for (id, observed) in results {
        match observed {
            Ok(o) => {
                map.insert(id, o);
            }
            Err(err) => errors.push(format!("{err:#}")),
        }
    }
    if !errors.is_empty() {
        bail!(
            "could not read the current state:\n  {}",
            errors.join("\n  ")
        );
    }
    Ok(map)
}

/// Runs the plan: each resource starts as soon as everything it depends on is in place, at
/// most [`CONCURRENCY`] at once; deletes of resources no longer desired run last, in reverse
/// creation order. On failure, in-flight steps finish and the errors are reported together.
pub async fn apply(
    ctx: Ctx<'_>,
    plan: &Plan,
    desired: &[Desired],
    observed: &ObservedMap,
) -> Result<()> {
    if let Some(Action::Conflict { reason }) = plan.conflicts().first().map(|c| &c.action) {
        bail!("{reason}");
    }
    let by_id: BTreeMap<&ResourceId, &Desired> = desired.iter().map(|d| (&d.id, d)).collect();
    let mut done: BTreeSet<ResourceId> = BTreeSet::new();
    let mut pending: Vec<&Desired> = Vec::new();
    for want in desired {
        match plan.action(&want.id) {
            Some(Action::Create | Action::Update { .. }) => pending.push(want),
            _ => {
                ctx.progress.resource(&want.id, "unchanged");
                done.insert(want.id.clone());
            }
        }
    }
    let mut running = FuturesUnordered::new();
    let mut errors: Vec<String> = Vec::new();
    loop {
        if errors.is_empty() {
            let mut i = 0;
            while i < pending.len() && running.len() < CONCURRENCY {
                let ready = pending[i]
                    .depends_on
                    .iter()
                    .all(|dep| done.contains(dep) || !by_id.contains_key(dep));
                if ready {
                    let want = pending.remove(i);
                    running.push(step(ctx, want, plan, observed));
                } else {
                    i += 1;
                }
            }
        }
        let Some((id, result)) = running.next().await else {
            break;
        };
        match result {
            Ok(()) => {
                done.insert(id);
            }
            Err(err) => errors.push(format!("{err:#}")),
        }
    }
    if !errors.is_empty() {
        bail!(
            "{} step(s) failed; everything else that could be done is done, and re-running converges:\n  {}",
            errors.len(),
            errors.join("\n  ")
        );
    }
    let mut stale: Vec<&ResourceId> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Delete))
        .map(|c| &c.id)
        .collect();
    stale.sort_by(|a, b| b.cmp(a));
    for id in stale {
        ctx.progress.resource(id, "deleting");
        resources::delete(ctx, id).await?;
        ctx.progress.resource(id, "deleted");
    }
    Ok(())
}

async fn step<'a>(
    ctx: Ctx<'a>,
    want: &'a Desired,
    plan: &'a Plan,
    observed: &'a ObservedMap,
) -> (ResourceId, Result<()>) {
    let started = std::time::Instant::now();
    let result = match (
        plan.action(&want.id),
        observed.get(&want.id).and_then(Option::as_ref),
    ) {
        (Some(Action::Update { fields }), Some(have)) => {
            ctx.progress
                .resource_detail(&want.id, "updating", &fields.join(", "));
            resources::update(ctx, want, have).await
        }
        _ => {
            ctx.progress.resource(&want.id, "creating");
            resources::create(ctx, want).await
        }
    };
    if result.is_ok() {
        ctx.progress
            .resource_detail(&want.id, "done", &format!("{:.1?}", started.elapsed()));
    }
    (want.id.clone(), result)
}

/// Deletes every existing, owned resource of `ids` in reverse creation order (all of one kind
/// at once), then re-reads them all: anything still there is an error naming it. Resources
/// with our name but not our tags are listed and left alone.
pub async fn destroy(
    ctx: Ctx<'_>,
    ids: &[ResourceId],
    observed: &ObservedMap,
    env: &str,
) -> Result<Vec<ResourceId>> {
    let mut by_kind: BTreeMap<Kind, Vec<&ResourceId>> = BTreeMap::new();
    let mut deleted = Vec::new();
    for id in ids {
        let Some(Some(have)) = observed.get(id) else {
            continue;
        };
        if !crate::plan::is_ours(have, env) {
            ctx.progress.resource_detail(
                id,
                "skipped",
                "not ours (no ManagedBy/Environment tags): left untouched",
            );
            continue;
        }
        by_kind.entry(id.kind).or_default().push(id);
    }
    for (_, wave) in by_kind.into_iter().rev() {
        let results: Vec<_> = futures::stream::iter(wave)
            .map(|id| async move {
                ctx.progress.resource(id, "deleting");
                let result = resources::delete(ctx, id).await;
                if result.is_ok() {
                    ctx.progress.resource(id, "deleted");
                }
                (id, result)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut errors = Vec::new();
        for (id, result) in results {
            match result {
                Ok(()) => deleted.push(id.clone()),
                Err(err) => errors.push(format!("{err:#}")),
            }
        }
        if !errors.is_empty() {
            bail!(
                "destroy stopped; run it again to continue:\n  {}",
                errors.join("\n  ")
            );
        }
    }
    Ok(deleted)
}
