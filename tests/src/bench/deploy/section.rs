//! The "Deploy (bootstrap)" section of BENCHMARKS.md: one environment's figures, the ratios
//! against the critical-path bound and how it was derived, what the figures showed, and how
//! cost grows with environments and bucket size.

use super::super::report::{DEPLOY_HEADING, Machine};
use super::bound::Bound;
use super::{
    COMMAND, DESTROY_RATIO_TARGET, FRESH_RATIO_TARGET, FRESH_TARGET, LATENCY_MS, NOOP_TARGET,
    REPEATS, Sample, Scenario, median, ms,
};
use std::fmt::Write as _;
use std::time::Duration;

fn verdict(pass: bool) -> &'static str {
    if pass { "pass" } else { "**fail**" }
}

/// The section's body, in the order it reads.
pub(super) fn render(
    machine: &Machine,
    scenarios: &[Scenario],
    bound: &Bound,
    scale: &[(usize, Sample, Sample)],
    buckets: &[(usize, Sample)],
    took: Duration,
) -> String {
    let mut out = String::new();
    let measured = format!(
        "Measured on {} by `{COMMAND}` ({:.0} s in all).",
        machine.describe(),
        took.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "{measured} The release `bootstrap` binary runs as a user runs it (one process per \
         command) against the local emulator on loopback, with fake Lambda zips; \"100 ms\" \
         rows inject 100 ms before every AWS call. Wall times are medians of {REPEATS} runs; \
         calls are what the emulator recorded.\n"
    );
    one_environment(&mut out, scenarios);
    against_the_critical_path(&mut out, scenarios, bound);
    how_the_bound_is_derived(&mut out, bound);
    out.push_str(NOTES);
    environments_at_once(&mut out, scale);
    destroy_against_bucket_size(&mut out, buckets);
    out
}

/// Each command's median wall time and calls at both latencies.
fn one_environment(out: &mut String, scenarios: &[Scenario]) {
    let _ = writeln!(out, "### One environment\n");
    let _ = writeln!(
        out,
        "| command | latency | wall | API calls | mutating |\n| --- | --- | --- | --- | --- |"
    );
    for scenario in scenarios {
        for (name, samples) in [
            ("plan (nothing deployed)", &scenario.empty_plan),
            ("fresh deploy", &scenario.fresh),
            ("no-op deploy", &scenario.noop),
            ("plan", &scenario.plan),
            ("destroy", &scenario.destroy),
        ] {
            let last = samples.last();
            let _ = writeln!(
                out,
                "| {name} | {} ms | {:.0} ms | {} | {} |",
                scenario.latency_ms,
                ms(median(samples)),
                last.map_or(0, |s| s.calls),
                last.map_or(0, |s| s.mutating)
            );
        }
    }
}

/// The slow runs against the bound and the targets.
fn against_the_critical_path(out: &mut String, scenarios: &[Scenario], bound: &Bound) {
    let latency = Duration::from_millis(LATENCY_MS);
    let slow = &scenarios[scenarios.len() - 1];
    let fresh_bound = latency * bound.fresh_calls() as u32;
    let destroy_bound = latency * bound.destroy_calls() as u32;
    let fresh_ratio = median(&slow.fresh).as_secs_f64() / fresh_bound.as_secs_f64();
    let destroy_ratio = median(&slow.destroy).as_secs_f64() / destroy_bound.as_secs_f64();
    let noop_ok = |samples: &[Sample]| {
        median(samples) <= NOOP_TARGET && samples.iter().all(|s| s.mutating == 0)
    };
    let _ = writeln!(
        out,
        "\n### Against the critical path ({LATENCY_MS} ms per call)\n"
    );
    let _ = writeln!(
        out,
        "| command | lower bound | measured | ratio | target | result |\n| --- | --- | --- | --- | --- | --- |"
    );
    let _ = writeln!(
        out,
        "| fresh deploy | {} calls = {:.0} ms | {:.0} ms | {fresh_ratio:.2}× | ≤ {FRESH_RATIO_TARGET}× | {} |",
        bound.fresh_calls(),
        ms(fresh_bound),
        ms(median(&slow.fresh)),
        verdict(fresh_ratio <= FRESH_RATIO_TARGET)
    );
    let _ = writeln!(
        out,
        "| fresh deploy | — | {:.0} ms | — | ≤ {:.0} ms | {} |",
        ms(median(&slow.fresh)),
        ms(FRESH_TARGET),
        verdict(median(&slow.fresh) <= FRESH_TARGET)
    );
    let _ = writeln!(
        out,
        "| destroy | {} calls = {:.0} ms | {:.0} ms | {destroy_ratio:.2}× | ≤ {DESTROY_RATIO_TARGET}× | {} |",
        bound.destroy_calls(),
        ms(destroy_bound),
        ms(median(&slow.destroy)),
        verdict(destroy_ratio <= DESTROY_RATIO_TARGET)
    );
    for (name, samples) in [("no-op deploy", &slow.noop), ("plan", &slow.plan)] {
        let _ = writeln!(
            out,
            "| {name} | — | {:.0} ms, {} mutating | — | ≤ {:.0} ms, 0 mutating | {} |",
            ms(median(samples)),
            samples.iter().map(|s| s.mutating).max().unwrap_or(0),
            ms(NOOP_TARGET),
            verdict(noop_ok(samples))
        );
    }
}

/// Each term of the bound and where it comes from.
fn how_the_bound_is_derived(out: &mut String, bound: &Bound) {
    let chain: Vec<String> = bound
        .chain
        .iter()
        .map(|id| {
            format!(
                "{id} ({})",
                bound.create_depth.get(id).copied().unwrap_or(0)
            )
        })
        .collect();
    let waves: Vec<String> = bound
        .destroy_waves
        .iter()
        .map(|(kind, depth)| format!("{kind} {depth}"))
        .collect();
    let per_resource: Vec<String> = bound
        .create_depth
        .iter()
        .map(|(id, depth)| format!("{id} {depth}"))
        .collect();
    let _ = writeln!(
        out,
        "\nHow the bound is derived (sequential calls × {LATENCY_MS} ms):\n\
         - observe phase depth (STS plus reading every resource, up to {} at a time \
         (`engine::OBSERVE_CONCURRENCY`); (plan at {LATENCY_MS} ms − plan at 0 ms) / {LATENCY_MS} ms): \
         {} with nothing deployed, {} once deployed; the outputs a \
         deploy prints at the end: {} (no-op deploy minus plan, same method);\n\
         - sequential calls per resource's create step (its `done` time at {LATENCY_MS} ms / \
         {LATENCY_MS} ms, so waiter polls and retries count as calls): {};\n\
         - longest chain through `bootstrap::desired::build`'s dependency edges: {} = {} calls;\n\
         - fresh deploy: {} + {} + {} = {} calls;\n\
         - destroy: observe {} + one wave per level of the kinds' dependency graph, each as long \
         as its slowest kind (per kind: first `deleting` to last `deleted`, 0.1 s progress clock): \
         {} + the verifying re-read {}.",
        bootstrap::engine::OBSERVE_CONCURRENCY,
        bound.empty_observe_depth,
        bound.observe_depth,
        bound.outputs_depth,
        per_resource.join(", "),
        chain.join(" → "),
        bound.chain_depth,
        bound.empty_observe_depth,
        bound.chain_depth,
        bound.outputs_depth,
        bound.fresh_calls(),
        bound.observe_depth,
        waves.join(", "),
        bound.empty_observe_depth.saturating_sub(1)
    );
}

/// Deploy and destroy of several environments at once.
fn environments_at_once(out: &mut String, scale: &[(usize, Sample, Sample)]) {
    let _ = writeln!(
        out,
        "\n### Environments deployed at once ({LATENCY_MS} ms per call)\n"
    );
    let _ = writeln!(
        out,
        "| environments | deploy wall | deploy calls | calls per env | destroy wall | destroy calls |\n| --- | --- | --- | --- | --- | --- |"
    );
    for (count, deploy, destroy) in scale {
        let _ = writeln!(
            out,
            "| {count} | {:.0} ms | {} | {:.1} | {:.0} ms | {} |",
            ms(deploy.wall),
            deploy.calls,
            deploy.calls as f64 / *count as f64,
            ms(destroy.wall),
            destroy.calls
        );
    }
}

/// Destroy with more and more object versions in the artifact bucket.
fn destroy_against_bucket_size(out: &mut String, buckets: &[(usize, Sample)]) {
    let _ = writeln!(out, "\n### Destroy against bucket size (0 ms per call)\n");
    let _ = writeln!(
        out,
        "| object versions | destroy wall | API calls | mutating |\n| --- | --- | --- | --- |"
    );
    for (versions, destroy) in buckets {
        let _ = writeln!(
            out,
            "| {versions} | {:.0} ms | {} | {} |",
            ms(destroy.wall),
            destroy.calls,
            destroy.mutating
        );
    }
}

/// What the figures showed when they last moved (2026-11-27, 2026-12-04), and why.
const NOTES: &str = "
Why (found with this benchmark; recheck when the figures move):
- Reading a converged environment (2026-11-27) was bounded by throughput, not by chains: about
  56 reads, 12 resources at a time, was 5 rounds whatever each resource's depth; observing every
  resource at once (`engine::OBSERVE_CONCURRENCY`, 32; applies stay at 12) and printing a no-op
  deploy's outputs from what its plan read brought the no-op deploy from 1025 ms to 650 ms.
- Reading in one round (2026-12-04): the reads were still chains inside each kind (HeadBucket,
  then the bucket's settings; GetRole, then its policy names, then its policy; a resource, then
  its tags), after STS and the permissions boundary's check: 6 rounds for a no-op deploy. Every
  read that names only the resource now goes out at once (tags under the ARN the name gives,
  the role's inline policy under the name the desired state gives it, GetBucketVersioning's
  NoSuchBucket standing for HeadBucket), beside the boundary's check, and the outputs take the
  webhook's URL from the plan's read: STS, then one round. The price is calls: what does not
  exist answers \"not found\" to each of its reads (plan with nothing deployed: 59 calls, was 22;
  fresh deploy 106, was 69).
- The fresh deploy's critical path was the S3 bucket: CreateBucket and seven configuration
  writes one after another (9 calls). They now go out at once after CreateBucket (2 calls);
  S3 may answer overlapping configuration writes on one bucket with `OperationAborted` (409),
  which each write retries (100 ms, doubling to 2 s, for up to 2 minutes). The emulator never
  answers it, so these figures are the no-conflict case. The path is now the pipeline role (2),
  the bucket (2), the pipeline (1) and the webhook (3: its secret's value, PutWebhook,
  registration).
- Environments at once: calls are the same per environment; the extra wall time at 16 is the
  2 CPUs running 16 processes and the emulator.
- Bucket size: destroy adds one ListObjectVersions and one DeleteObjects per 1,000 versions.
  The wall time grows faster than that on the emulator because each round lists from the start
  again (see `empty_bucket`) and a listing on moto costs more the more versions remain; on S3
  the first page costs the same whatever the size.
- A loaded machine (load average well above the 2 CPUs) inflates every wall time by CPU time,
  not by calls: compare the 0 ms rows before reading the 100 ms ones.
";

/// The file with the deploy section's body replaced (or the section appended).
pub(super) fn replace_section(old: &str, body: &str) -> String {
    let Some(at) = old.find(DEPLOY_HEADING) else {
        let separator = if old.is_empty() || old.ends_with("\n\n") {
            ""
        } else if old.ends_with('\n') {
            "\n"
        } else {
            "\n\n"
        };
        return format!("{old}{separator}{DEPLOY_HEADING}\n\n{body}");
    };
    let start = at + DEPLOY_HEADING.len();
    let rest = &old[start..];
    let end = rest.find("\n## ").map_or(old.len(), |i| start + i + 1);
    let tail = &old[end..];
    let gap = if tail.is_empty() { "" } else { "\n" };
    format!(
        "{}\n\n{}{gap}{tail}",
        &old[..start],
        body.trim_end_matches('\n').to_owned() + "\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_the_deploy_section_or_appends_it() {
        let old = format!("# B\n\n{DEPLOY_HEADING}\n\nold figures\n\n## Later\nkept\n");
        let new = replace_section(&old, "| new |\n");
        assert_eq!(
            new,
            format!("# B\n\n{DEPLOY_HEADING}\n\n| new |\n\n## Later\nkept\n")
        );
        let last = replace_section(&format!("# B\n\n{DEPLOY_HEADING}\n\nold\n"), "| new |\n");
        assert_eq!(last, format!("# B\n\n{DEPLOY_HEADING}\n\n| new |\n"));
        let appended = replace_section("# B\ntext\n", "| new |\n");
        assert_eq!(
            appended,
            format!("# B\ntext\n\n{DEPLOY_HEADING}\n\n| new |\n")
        );
    }
}
