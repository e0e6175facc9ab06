//! The critical-path lower bound of a deploy and a destroy, in sequential calls, derived from
//! the desired-state graph and the `--progress json` lines of the runs at 0 ms and 100 ms per
//! call.

use super::{Sample, Scenario, median};
use anyhow::{Result, bail};
use bootstrap::model::{Desired, Kind, ResourceId};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The critical-path lower bounds, in sequential calls.
#[derive(Debug)]
pub(super) struct Bound {
    /// STS plus the deepest read of a converged environment: (plan at 100 ms − plan at 0 ms)
    /// / latency.
    pub(super) observe_depth: u64,
    /// The same for an environment that does not exist yet (reads answer "not found").
    pub(super) empty_observe_depth: u64,
    /// The outputs a deploy prints at the end: (no-op deploy − plan) at 100 ms, less the same
    /// at 0 ms, / latency.
    pub(super) outputs_depth: u64,
    /// Sequential calls per resource's create step: its "done" time at 100 ms / latency.
    pub(super) create_depth: BTreeMap<ResourceId, u64>,
    /// The longest chain through the dependency graph, and its sequential calls.
    pub(super) chain: Vec<ResourceId>,
    pub(super) chain_depth: u64,
    /// Per destroy wave (one kind): sequential calls, from its progress lines at 100 ms.
    pub(super) destroy_waves: Vec<(String, u64)>,
}

impl Bound {
    pub(super) fn fresh_calls(&self) -> u64 {
        self.empty_observe_depth + self.chain_depth + self.outputs_depth
    }

    /// Observe, the waves, then the verifying re-read of nothing (no second STS call). Destroy
    /// deletes the kinds of one level of the dependency graph at once
    /// (`bootstrap::engine::destroy_waves`), so a level costs its slowest kind.
    pub(super) fn destroy_calls(&self) -> u64 {
        let levels = bootstrap::engine::kind_levels(bootstrap::resources::depends_on);
        let mut slowest: BTreeMap<usize, u64> = BTreeMap::new();
        for (label, depth) in &self.destroy_waves {
            let level = Kind::ALL
                .iter()
                .find(|k| k.label() == label)
                .and_then(|k| levels.get(k))
                .copied()
                .unwrap_or(usize::MAX);
            let entry = slowest.entry(level).or_default();
            *entry = (*entry).max(*depth);
        }
        self.observe_depth
            + slowest.values().sum::<u64>()
            + self.empty_observe_depth.saturating_sub(1)
    }
}

/// The bound from the single-environment runs at both latencies.
pub(super) fn bound(graph: &[Desired], fast: &Scenario, slow: &Scenario) -> Result<Bound> {
    let latency = Duration::from_millis(slow.latency_ms);
    let extra = |slow: &[Sample], fast: &[Sample]| median(slow).saturating_sub(median(fast));
    let observe_depth = round_trips(extra(&slow.plan, &fast.plan), latency).max(1);
    let empty_observe_depth =
        round_trips(extra(&slow.empty_plan, &fast.empty_plan), latency).max(1);
    let outputs_depth = round_trips(
        extra(&slow.noop, &fast.noop).saturating_sub(extra(&slow.plan, &fast.plan)),
        latency,
    );
    // Per resource: the median over the repeats of its create step at 100 ms.
    let mut per_resource: BTreeMap<ResourceId, Vec<Duration>> = BTreeMap::new();
    for sample in &slow.fresh {
        for (id, took) in create_durations(&sample.stderr, graph) {
            per_resource.entry(id).or_default().push(took);
        }
    }
    let create_depth: BTreeMap<ResourceId, u64> = per_resource
        .into_iter()
        .map(|(id, mut took)| {
            took.sort();
            (id, round_trips(took[took.len() / 2], latency))
        })
        .collect();
    if create_depth.len() != graph.len() {
        bail!(
            "the fresh deploy reported a create time for {} of {} resources: the JSON progress \
             lines changed (expected a `finish` of action `create` per resource)",
            create_depth.len(),
            graph.len()
        );
    }
    let (chain, chain_depth) = longest_path(graph, &create_depth);
    let mut waves: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for sample in &slow.destroy {
        for (kind, span) in destroy_waves(&sample.stderr) {
            waves.entry(kind).or_default().push(span);
        }
    }
    let destroy_waves = waves
        .into_iter()
        .map(|(kind, mut spans)| {
            spans.sort_by(f64::total_cmp);
            let span = Duration::from_secs_f64(spans[spans.len() / 2]);
            (kind, round_trips(span, latency).max(1))
        })
        .collect();
    Ok(Bound {
        observe_depth,
        empty_observe_depth,
        outputs_depth,
        create_depth,
        chain,
        chain_depth,
        destroy_waves,
    })
}

/// How many sequential calls at `latency` took `took`.
fn round_trips(took: Duration, latency: Duration) -> u64 {
    (took.as_secs_f64() / latency.as_secs_f64()).round() as u64
}

/// The `--progress json` objects of a run's stderr (other lines are skipped).
fn progress_events(stderr: &str) -> impl Iterator<Item = Value> + '_ {
    stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
}

/// `(resource, duration)` of every finished create step naming a resource of the graph.
fn create_durations(stderr: &str, graph: &[Desired]) -> Vec<(ResourceId, Duration)> {
    let by_label: BTreeMap<String, &ResourceId> =
        graph.iter().map(|d| (d.id.to_string(), &d.id)).collect();
    progress_events(stderr)
        .filter(|e| e["event"] == "finish" && e["action"] == "create" && e["outcome"] == "ok")
        .filter_map(|e| {
            let label = format!("{} {}", e["kind"].as_str()?, e["resource"].as_str()?);
            let took = Duration::from_millis(e["duration_ms"].as_u64()?);
            Some(((*by_label.get(&label)?).clone(), took))
        })
        .collect()
}

/// Per kind label: seconds from its first delete step's start to its last one's finish.
fn destroy_waves(stderr: &str) -> Vec<(String, f64)> {
    let mut spans: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for event in progress_events(stderr) {
        let is_step = event["event"] == "start" || event["event"] == "finish";
        let (Some(kind), Some(at)) = (event["kind"].as_str(), event["at_ms"].as_u64()) else {
            continue;
        };
        if !is_step || event["action"] != "delete" {
            continue;
        }
        let span = spans.entry(kind.to_owned()).or_insert((at, at));
        span.0 = span.0.min(at);
        span.1 = span.1.max(at);
    }
    spans
        .into_iter()
        .map(|(kind, (first, last))| (kind, (last - first) as f64 / 1000.0))
        .collect()
}

/// The chain of dependencies with the most sequential calls (dependencies missing from the
/// graph are ignored, as the engine ignores them).
fn longest_path(graph: &[Desired], depth: &BTreeMap<ResourceId, u64>) -> (Vec<ResourceId>, u64) {
    fn finish(
        id: &ResourceId,
        graph: &BTreeMap<&ResourceId, &Desired>,
        depth: &BTreeMap<ResourceId, u64>,
        memo: &mut BTreeMap<ResourceId, (u64, Option<ResourceId>)>,
    ) -> u64 {
        if let Some((total, _)) = memo.get(id) {
            return *total;
        }
        let mut best: (u64, Option<ResourceId>) = (0, None);
        if let Some(want) = graph.get(id) {
            for dep in want.depends_on.iter().filter(|d| graph.contains_key(d)) {
                let total = finish(dep, graph, depth, memo);
                if total > best.0 || best.1.is_none() {
                    best = (total, Some(dep.clone()));
                }
            }
        }
        let total = best.0 + depth.get(id).copied().unwrap_or(0);
        memo.insert(id.clone(), (total, best.1));
        total
    }
    let by_id: BTreeMap<&ResourceId, &Desired> = graph.iter().map(|d| (&d.id, d)).collect();
    let mut memo = BTreeMap::new();
    let mut end: Option<(u64, ResourceId)> = None;
    for want in graph {
        let total = finish(&want.id, &by_id, depth, &mut memo);
        if end.as_ref().is_none_or(|(best, _)| total > *best) {
            end = Some((total, want.id.clone()));
        }
    }
    let Some((total, last)) = end else {
        return (Vec::new(), 0);
    };
    let mut chain = vec![last];
    while let Some((_, Some(previous))) = chain.last().and_then(|id| memo.get(id)) {
        chain.push(previous.clone());
    }
    chain.reverse();
    (chain, total)
}

#[cfg(test)]
mod tests {
    use super::super::{desired_graph, fake_lambda_zips};
    use super::*;

    fn desired(kind: Kind, name: &str, deps: &[(Kind, &str)]) -> Desired {
        let graph = desired_graph_fixture(name);
        let mut want = graph[0].clone();
        want.id = ResourceId::new(kind, name);
        want.depends_on = deps.iter().map(|(k, n)| ResourceId::new(*k, *n)).collect();
        want
    }

    /// The zips live in a directory of their own, removed once the graph is built.
    fn desired_graph_fixture(tag: &str) -> Vec<Desired> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("deploy-bench-test-{tag}-"))
            .tempdir()
            .expect("a temporary directory");
        fake_lambda_zips(dir.path()).expect("zips");
        desired_graph(dir.path()).expect("desired state")
    }

    #[test]
    fn longest_path_follows_the_heaviest_chain_and_ignores_missing_dependencies() {
        let graph = vec![
            desired(Kind::Role, "r", &[]),
            desired(Kind::LogGroup, "l", &[]),
            desired(
                Kind::Function,
                "f",
                &[(Kind::Role, "r"), (Kind::LogGroup, "l")],
            ),
            desired(
                Kind::Rule,
                "x",
                &[(Kind::Function, "f"), (Kind::Secret, "absent")],
            ),
        ];
        let depth = BTreeMap::from([
            (graph[0].id.clone(), 3),
            (graph[1].id.clone(), 1),
            (graph[2].id.clone(), 4),
            (graph[3].id.clone(), 2),
        ]);
        let (chain, total) = longest_path(&graph, &depth);
        assert_eq!(total, 9);
        let names: Vec<&str> = chain.iter().map(|id| id.name.as_str()).collect();
        assert_eq!(names, ["r", "f", "x"]);
    }

    #[test]
    fn reads_create_times_and_destroy_waves_from_json_progress_lines() {
        let graph = desired_graph_fixture("progress");
        let role = graph
            .iter()
            .find(|d| d.id.kind == Kind::Role)
            .expect("a role")
            .id
            .clone();
        let step = |event: &str, kind: &str, name: &str, action: &str, at_ms: u64| {
            serde_json::json!({"event": event, "kind": kind, "resource": name,
                               "action": action, "at_ms": at_ms, "duration_ms": 301,
                               "calls": 2, "outcome": "ok"})
            .to_string()
        };
        let (kind, name) = (role.kind.label(), role.name.as_str());
        let lines = [
            step("start", kind, name, "create", 400),
            step("finish", kind, name, "create", 700),
            r#"{"event":"message","text":"deploy finished","at_ms":800}"#.to_owned(),
            "not json".to_owned(),
            step("start", "eventbridge rule", "a", "delete", 1000),
            step("start", "eventbridge rule", "b", "delete", 1100),
            step("finish", "eventbridge rule", "b", "delete", 1300),
            step("finish", "eventbridge rule", "a", "delete", 1400),
            step("start", "iam role", "c", "delete", 1400),
            step("finish", "iam role", "c", "delete", 1600),
        ];
        let stderr = lines.join("\n");
        let created = create_durations(&stderr, &graph);
        assert_eq!(created, vec![(role, Duration::from_millis(301))]);
        let waves = destroy_waves(&stderr);
        assert_eq!(waves.len(), 2);
        let rule = waves
            .iter()
            .find(|(k, _)| k == "eventbridge rule")
            .expect("rules");
        assert!((rule.1 - 0.4).abs() < 1e-9, "{waves:?}");
    }
}
