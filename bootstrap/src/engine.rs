//! The IO half of the reconciler: observe everything, apply a plan along the dependency
//! graph with bounded concurrency, and destroy as apply's mirror.

use crate::model::{Desired, Kind, Observed, ResourceId};
use crate::plan::{Action, Plan};
use crate::progress::StepAction;
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
            let observed = observe_settled(ctx, &id).await;
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
            Err(err) => errors.push(crate::error_report(&err)),
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

/// One resource's reads, sent together, can straddle another process creating or deleting it
/// (a second `deploy` of the same environment): the main read finds it and a side read (its
/// tags, its policy) answers "no such resource", or the reverse. Such a read is made once more
/// after [`RE_READ_AFTER`], when the other process's step has landed; a second failure is
/// reported as it is. A read that failed for any other reason costs that one extra round.
async fn observe_settled(ctx: Ctx<'_>, id: &ResourceId) -> Result<Option<Observed>> {
    match resources::observe(ctx, id).await {
        Ok(observed) => Ok(observed),
        Err(_) => {
            tokio::time::sleep(RE_READ_AFTER).await;
            resources::observe(ctx, id).await
        }
    }
}

/// How long a read that disagreed with itself waits before it is made again.
const RE_READ_AFTER: std::time::Duration = std::time::Duration::from_millis(500);

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
        if errors.is_empty() && !crate::interrupt::requested() {
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
            Err(err) => errors.push(crate::error_report(&err)),
        }
    }
    let not_started: Vec<String> = pending.iter().map(|want| want.id.to_string()).collect();
    if !errors.is_empty() {
        bail!(
            "{} step(s) failed; the steps in flight finished, {} done in all, and re-running \
             converges:\n  {}{}",
            errors.len(),
            done.len(),
            errors.join("\n  "),
            never_tried(&not_started)
        );
    }
    if crate::interrupt::requested() {
        bail!(
            "interrupted: {} step(s) done, the ones in flight finished; run the same command \
             again and it converges{}",
            done.len(),
            never_tried(&not_started)
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
        let delete = resources::delete(ctx, id);
        ctx.progress
            .step(id, StepAction::Delete, None, delete)
            .await?;
    }
    Ok(())
}

/// The steps a failure or an interruption left unstarted (they wait on what did not finish).
fn never_tried(ids: &[String]) -> String {
    if ids.is_empty() {
        return String::new();
    }
    format!(
        "\nnot started ({}), as they come after what did not finish:\n  {}",
        ids.len(),
        ids.join("\n  ")
    )
}

async fn step<'a>(
    ctx: Ctx<'a>,
    want: &'a Desired,
    plan: &'a Plan,
    observed: &'a ObservedMap,
) -> (ResourceId, Result<()>) {
    let result = match (
        plan.action(&want.id),
        observed.get(&want.id).and_then(Option::as_ref),
    ) {
        (Some(Action::Update { fields, .. }), Some(have)) => {
            let changed = fields.join(", ");
            let update = resources::update(ctx, want, have);
            ctx.progress
                .step(&want.id, StepAction::Update, Some(&changed), update)
                .await
        }
        _ => {
            let create = resources::create(ctx, want);
            ctx.progress
                .step(&want.id, StepAction::Create, None, create)
                .await
        }
    };
    (want.id.clone(), result)
}

/// Deletes every existing, owned resource of `ids` along the kinds' dependency graph in reverse
/// (see [`destroy_waves`]), then re-reads them all: anything still there is an error naming it.
/// Resources with our name but not our tags are listed and left alone.
pub async fn destroy(
    ctx: Ctx<'_>,
    ids: &[ResourceId],
    observed: &ObservedMap,
    env: &str,
) -> Result<Vec<ResourceId>> {
    let mut owned = Vec::new();
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
        owned.push(id);
    }
    let total = owned.len();
    for wave in destroy_waves(owned, resources::depends_on) {
        if crate::interrupt::requested() {
            bail!(
                "interrupted: {} resource(s) deleted, {} more not started; run destroy again \
                 and it continues",
                deleted.len(),
                total - deleted.len()
            );
        }
        let results: Vec<_> = futures::stream::iter(wave)
            .map(|id| async move {
                let delete = resources::delete(ctx, id);
                let result = ctx
                    .progress
                    .step(id, StepAction::Delete, None, delete)
                    .await;
                (id, result)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut errors = Vec::new();
        for (id, result) in results {
            match result {
                Ok(()) => deleted.push(id.clone()),
                Err(err) => errors.push(crate::error_report(&err)),
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

/// The kinds' dependency graph as levels: a kind with no dependencies is level 0, any other one
/// level above its highest dependency. Panics on a cycle (a programming error the tests catch).
pub fn kind_levels(depends_on: impl Fn(Kind) -> &'static [Kind]) -> BTreeMap<Kind, usize> {
    fn level(
        kind: Kind,
        depends_on: &dyn Fn(Kind) -> &'static [Kind],
        levels: &mut BTreeMap<Kind, usize>,
        visiting: &mut BTreeSet<Kind>,
    ) -> usize {
        if let Some(&known) = levels.get(&kind) {
            return known;
        }
        assert!(
            visiting.insert(kind),
            "the resource kinds' dependencies form a cycle through {kind:?}"
        );
        let own = depends_on(kind)
            .iter()
            .map(|&dep| level(dep, depends_on, levels, visiting) + 1)
            .max()
            .unwrap_or(0);
        visiting.remove(&kind);
        levels.insert(kind, own);
        own
    }
    let mut levels = BTreeMap::new();
    for &kind in Kind::ALL {
        level(kind, &depends_on, &mut levels, &mut BTreeSet::new());
    }
    levels
}

/// Destroy's order: apply's graph in reverse. Each wave holds the resources of the kinds at one
/// level, highest level first, so a resource is deleted only after everything that may depend on
/// it; the resources within a wave do not depend on each other and go at once.
pub fn destroy_waves(
    ids: Vec<&ResourceId>,
    depends_on: impl Fn(Kind) -> &'static [Kind],
) -> Vec<Vec<&ResourceId>> {
    let levels = kind_levels(depends_on);
    let mut by_level: BTreeMap<usize, Vec<&ResourceId>> = BTreeMap::new();
    for id in ids {
        by_level.entry(levels[&id.kind]).or_default().push(id);
    }
    by_level.into_values().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::depends_on;

    fn all_kinds() -> Vec<ResourceId> {
        Kind::ALL
            .iter()
            .map(|&kind| ResourceId::new(kind, format!("{kind:?}")))
            .collect()
    }

    fn position(waves: &[Vec<&ResourceId>], kind: Kind) -> usize {
        waves
            .iter()
            .position(|wave| wave.iter().any(|id| id.kind == kind))
            .expect("every kind is in a wave")
    }

    #[test]
    fn destroy_deletes_every_kind_after_the_kinds_that_depend_on_it() {
        let ids = all_kinds();
        let waves = destroy_waves(ids.iter().collect(), depends_on);
        assert_eq!(waves.iter().map(Vec::len).sum::<usize>(), ids.len());
        for &kind in Kind::ALL {
            for &dep in depends_on(kind) {
                assert!(
                    position(&waves, kind) < position(&waves, dep),
                    "{kind:?} depends on {dep:?}, so it must be deleted first"
                );
            }
        }
        // The webhook needs the pipeline, the pipeline the function, the function its role.
        let order = [Kind::Webhook, Kind::Pipeline, Kind::Function, Kind::Role];
        for pair in order.windows(2) {
            assert!(position(&waves, pair[0]) < position(&waves, pair[1]));
        }
    }

    #[test]
    fn a_dependency_declared_the_other_way_changes_the_order() {
        // Declared backwards, the role would depend on the function: destroy would then delete
        // the function's role first, which the test above would refuse.
        fn backwards(kind: Kind) -> &'static [Kind] {
            match kind {
                Kind::Role => &[Kind::Function],
                Kind::Function => &[],
                other => depends_on(other),
            }
        }
        let ids = all_kinds();
        let waves = destroy_waves(ids.iter().collect(), backwards);
        assert!(position(&waves, Kind::Role) < position(&waves, Kind::Function));
    }

    #[test]
    #[should_panic(expected = "cycle")]
    fn a_cycle_in_the_kinds_is_refused() {
        fn cyclic(kind: Kind) -> &'static [Kind] {
            match kind {
                Kind::Role => &[Kind::Function],
                Kind::Function => &[Kind::Role],
                _ => &[],
            }
        }
        kind_levels(cyclic);
    }
}
