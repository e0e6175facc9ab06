//! The critical-path lower bound of a deploy and a destroy, in sequential calls, derived from
//! the desired-state graph and the progress lines of the runs at 0 ms and 100 ms per call.

use super::{Sample, Scenario, median};
use anyhow::{Result, bail};
use bootstrap::model::{Desired, Kind, ResourceId};
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
            "the fresh deploy reported a create time for {} of {} resources: the progress lines \
             changed format (expected `done <kind> <name>: <duration>`)",
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

/// `(resource, duration)` of every `done <id>: <duration>` progress line naming a resource.
fn create_durations(stderr: &str, graph: &[Desired]) -> Vec<(ResourceId, Duration)> {
    let by_label: BTreeMap<String, &ResourceId> =
        graph.iter().map(|d| (d.id.to_string(), &d.id)).collect();
    stderr
        .lines()
        .filter_map(|line| {
            let text = line.split_once("] ")?.1.strip_prefix("done")?.trim();
            let (label, took) = text.rsplit_once(": ")?;
            Some(((*by_label.get(label)?).clone(), parse_duration(took)?))
        })
        .collect()
}

/// Parses `Duration`'s `{:.1?}` output: `312.4ms`, `1.2s`, `950.0µs`.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix("µs") {
        (n, 1e-6)
    } else if let Some(n) = text.strip_suffix("ns") {
        (n, 1e-9)
    } else {
        (text.strip_suffix('s')?, 1.0)
    };
    Some(Duration::from_secs_f64(number.parse::<f64>().ok()? * scale))
}

/// Per kind label: seconds from its first `deleting` line to its last `deleted` line
/// (the progress clock has 0.1 s resolution).
fn destroy_waves(stderr: &str) -> Vec<(String, f64)> {
    let mut spans: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for line in stderr.lines() {
        let Some((clock, text)) = line.split_once("] ") else {
            continue;
        };
        let Ok(at) = clock
            .trim_start_matches('[')
            .trim()
            .trim_end_matches('s')
            .parse::<f64>()
        else {
            continue;
        };
        let (state, rest) = text.split_once(' ').unwrap_or((text, ""));
        if state != "deleting" && state != "deleted" {
            continue;
        }
        let Some(kind) = Kind::ALL
            .iter()
            .map(|k| k.label())
            .filter(|label| rest.trim().starts_with(&format!("{label} ")))
            .max_by_key(|label| label.len())
        else {
            continue;
        };
        let span = spans.entry(kind.to_owned()).or_insert((at, at));
        span.0 = span.0.min(at);
        span.1 = span.1.max(at);
    }
    spans
        .into_iter()
        .map(|(kind, (first, last))| (kind, last - first))
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

    #[test]
    fn parses_the_duration_formats_progress_prints() {
        assert_eq!(
            parse_duration("312.4ms"),
            Some(Duration::from_micros(312_400))
        );
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("950.0µs"), Some(Duration::from_micros(950)));
        assert_eq!(parse_duration("soon"), None);
    }

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
    fn reads_create_times_and_destroy_waves_from_progress_lines() {
        let graph = desired_graph_fixture("progress");
        let role = graph
            .iter()
            .find(|d| d.id.kind == Kind::Role)
            .expect("a role")
            .id
            .clone();
        let stderr = format!(
            "[   0.4s] creating    {role}\n[   0.7s] done        {role}: 301.7ms\n\
             [   1.0s] deleting    eventbridge rule a\n[   1.1s] deleting    eventbridge rule b\n\
             [   1.3s] deleted     eventbridge rule b\n[   1.4s] deleted     eventbridge rule a\n\
             [   1.4s] deleting    iam role c\n[   1.6s] deleted     iam role c\n"
        );
        let created = create_durations(&stderr, &graph);
        assert_eq!(created, vec![(role, Duration::from_micros(301_700))]);
        let waves = destroy_waves(&stderr);
        assert_eq!(waves.len(), 2);
        let rule = waves
            .iter()
            .find(|(k, _)| k == "eventbridge rule")
            .expect("rules");
        assert!((rule.1 - 0.4).abs() < 1e-9, "{waves:?}");
    }
}
