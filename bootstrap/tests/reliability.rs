//! Faults, crashes, concurrency and data: the deployer converges through all of them.
//! Figures these tests print are recorded in RELIABILITY.md.

mod common;

use common::{Cli, assert_code, changed, inventory, plan_json, setup, text};
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use testkit::Emulator;

const DEPLOY: [&str; 6] = [
    "deploy",
    "--env",
    "dev",
    "--github-repo",
    "octo/app",
    "--yes",
];

fn deploy(cli: &Cli<'_>) -> std::process::Output {
    cli.run(&DEPLOY)
}

fn destroy(cli: &Cli<'_>) -> std::process::Output {
    cli.run_env_only(&["destroy", "--env", "dev", "--yes"])
}

/// A run that meets the outage: no SDK retries, so it stops at the first failed call instead
/// of backing off against an outage that lasts until the test clears it.
fn run_into_outage(cli: &Cli<'_>, args: &[&str]) -> std::process::Output {
    let mut command = Command::new(common::BIN);
    command.args(args);
    if args[0] != "destroy" {
        command.arg("--artifacts-dir").arg(&cli.artifacts);
    }
    command
        .envs(cli.emulator.env())
        .env("GITHUB_TOKEN", "gh-token")
        .env("AWS_MAX_ATTEMPTS", "1")
        .current_dir(&cli.workdir)
        .output()
        .expect("bootstrap runs")
}

/// A fresh emulator with what the administrator set up before the first deploy: the
/// environment's permissions boundary (its creation left out of the calls counted next).
fn reset(cli: &Cli<'_>) {
    cli.emulator.reset().expect("reset");
    cli.administrator_creates_boundary("dev");
    cli.emulator.clear_calls().expect("clear");
}

#[track_caller]
fn assert_converged(cli: &Cli<'_>) {
    let (code, plan) = plan_json(cli, "dev");
    assert_eq!(code, 0, "not converged: {:?}", changed(&plan));
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_in_every_protocol_is_retried_until_deploy_and_destroy_converge() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("throttle", &emulator);
    emulator
        .set_faults(json!({ "throttle_probability": 0.2, "seed": 7 }))
        .expect("faults");
    let started = Instant::now();
    assert_code(&deploy(&cli), 0);
    let deploy_time = started.elapsed();
    assert_converged(&cli);
    assert_code(&destroy(&cli), 0);
    let calls = emulator.calls().expect("calls");
    let throttled: Vec<_> = calls
        .iter()
        .filter(|c| c.fault.as_deref() == Some("throttle"))
        .collect();
    let services: std::collections::BTreeSet<&str> =
        throttled.iter().map(|c| c.service.as_str()).collect();
    eprintln!(
        "throttling 20%: {} calls, {} throttled and retried, services {services:?}, deploy {deploy_time:.1?}",
        calls.len(),
        throttled.len()
    );
    assert!(throttled.len() >= 10, "the fault was not exercised");
    for service in ["s3", "iam", "lambda", "codepipeline"] {
        assert!(
            services.contains(service),
            "{service} was never throttled; the test proves nothing for it"
        );
    }
    emulator.clear_faults().expect("clear");
    assert!(
        inventory(&emulator).await.is_empty(),
        "destroy under throttling leaked: {:?}",
        inventory(&emulator).await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_propagation_is_waited_out_and_a_too_slow_one_is_named() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("propagation", &emulator);
    emulator
        .set_faults(json!({ "iam_propagation_seconds": 10 }))
        .expect("faults");
    let started = Instant::now();
    let output = deploy(&cli);
    assert_code(&output, 0);
    let log = text(&output);
    assert!(
        log.contains("not usable yet (propagation)"),
        "progress does not say what it waits for:\n{log}"
    );
    let rejections = emulator.faults().expect("faults")["propagation_rejections"]
        .as_u64()
        .unwrap_or(0);
    eprintln!(
        "IAM propagation 10 s: deploy took {:.1?}, {rejections} rejected attempts",
        started.elapsed()
    );
    assert!(rejections > 0, "the fault was not exercised");
    // The calls that hand a new role to a service are refused until it propagates, and were
    // retried, not fatal. The bucket and repository policies name no role (the roles' own
    // policies grant their calls), so they have nothing to wait for.
    let refused: Vec<String> = emulator
        .calls()
        .expect("calls")
        .into_iter()
        .filter(|c| c.fault.as_deref() == Some("iam_propagation"))
        .map(|c| c.operation)
        .collect();
    for operation in ["CreateFunction", "CreateProject"] {
        assert!(
            refused.iter().any(|o| o == operation),
            "{operation} was never refused for a new role: {refused:?}"
        );
    }
    for operation in ["PutBucketPolicy", "SetRepositoryPolicy"] {
        assert!(
            !refused.iter().any(|o| o == operation),
            "{operation} waited for a role although the policy names none: {refused:?}"
        );
    }
    emulator.clear_faults().expect("clear");
    assert_converged(&cli);
    assert_code(&destroy(&cli), 0);

    // A delay longer than the retry budget: a clear error naming resource and cause, then a re-run converges.
    emulator
        .set_faults(json!({ "iam_propagation_seconds": 60 }))
        .expect("faults");
    let output = Command::new(common::BIN)
        .args(DEPLOY)
        .arg("--artifacts-dir")
        .arg(&cli.artifacts)
        .envs(emulator.env())
        .env("GITHUB_TOKEN", "gh-token")
        .env("BOOTSTRAP_IAM_PROPAGATION_BUDGET_SECONDS", "2")
        .current_dir(&cli.workdir)
        .output()
        .expect("runs");
    assert_code(&output, 1);
    let log = text(&output);
    assert!(
        log.contains("IAM propagation") && log.contains("arn:aws:iam::123456789012:role/"),
        "{log}"
    );
    assert!(log.contains("run the command again"), "{log}");
    emulator.clear_faults().expect("clear");
    assert_code(&deploy(&cli), 0);
    assert_converged(&cli);
}

/// Deploy with an outage after every possible number of mutating calls, then a normal deploy:
/// always the same end state, nothing duplicated, nothing leaked. The same for destroy.
#[tokio::test(flavor = "multi_thread")]
async fn a_crash_after_any_mutating_call_converges_on_the_next_run() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("crash", &emulator);
    assert_code(&deploy(&cli), 0);
    let clean = inventory(&emulator).await;
    let deploy_mutations = emulator.mutating_calls().expect("calls").len();
    emulator.clear_calls().expect("clear");
    assert_code(&destroy(&cli), 0);
    let destroy_mutations = emulator.mutating_calls().expect("calls").len();
    eprintln!(
        "a fresh deploy makes {deploy_mutations} mutating calls, a destroy {destroy_mutations}"
    );
    assert!(deploy_mutations > 20);

    for n in 1..=deploy_mutations {
        reset(&cli);
        emulator
            .set_faults(json!({ "outage_after_mutating_calls": n }))
            .expect("faults");
        let crashed = run_into_outage(&cli, &DEPLOY);
        emulator.clear_faults().expect("clear");
        assert_code(&deploy(&cli), 0);
        let state = inventory(&emulator).await;
        assert_eq!(
            state,
            clean,
            "outage after {n} calls (first run exit {:?}) left a different state",
            crashed.status.code()
        );
    }
    for n in 1..=destroy_mutations {
        reset(&cli);
        assert_code(&deploy(&cli), 0);
        emulator
            .set_faults(json!({ "outage_after_mutating_calls": n }))
            .expect("faults");
        let crashed = run_into_outage(&cli, &["destroy", "--env", "dev", "--yes"]);
        assert!(
            !text(&crashed).contains("unexpected argument"),
            "{}",
            text(&crashed)
        );
        emulator.clear_faults().expect("clear");
        assert_code(&destroy(&cli), 0);
        assert_eq!(
            inventory(&emulator).await,
            Vec::<String>::new(),
            "destroy outage after {n} calls leaked"
        );
    }
}

/// Operations that change something, by name: what a kill must land between the first and the
/// last of.
const MUTATING_PREFIXES: [&str; 15] = [
    "Create",
    "Put",
    "Update",
    "Delete",
    "Tag",
    "Untag",
    "Attach",
    "Detach",
    "Set",
    "Add",
    "Remove",
    "Register",
    "Publish",
    "Subscribe",
    "Unsubscribe",
];

/// Per-call latency of the killed runs and of the clean runs they are measured against. A deploy
/// sends its writes in a few concurrent rounds, so its mutating calls land in bursts: at 15 ms a
/// call all 39 came within about 50 ms, narrower than a loaded machine's spawn-and-sleep jitter,
/// and kills fell before or after the burst. At 100 ms a round the writes span most of a second.
const KILL_LATENCY_MS: u64 = 100;

fn mutations(emulator: &Emulator) -> usize {
    emulator
        .calls()
        .expect("calls")
        .iter()
        .filter(|c| MUTATING_PREFIXES.iter().any(|p| c.operation.starts_with(p)))
        .count()
}

/// `bootstrap ARGS` at [`KILL_LATENCY_MS`], started but not waited for.
fn spawn_slow(cli: &Cli<'_>, args: &[&str], progress: Stdio) -> std::process::Child {
    cli.emulator
        .set_faults(json!({ "latency_ms": KILL_LATENCY_MS }))
        .expect("faults");
    let mut command = Command::new(common::BIN);
    command.args(args);
    if args[0] != "destroy" {
        command.arg("--artifacts-dir").arg(&cli.artifacts);
    }
    command
        .args(["--progress", "json"])
        .envs(cli.emulator.env())
        .env("GITHUB_TOKEN", "gh-token")
        .current_dir(&cli.workdir)
        .stdout(Stdio::null())
        .stderr(progress)
        .spawn()
        .expect("bootstrap starts")
}

/// A clean run's mutating calls, and the span from its first step's start to its last step's
/// finish (from its `--progress json` lines): where a kill must land to land mid-run.
#[derive(Debug)]
struct Timeline {
    mutations: usize,
    first_step: Duration,
    last_step: Duration,
}

fn clean_timeline(cli: &Cli<'_>, args: &[&str]) -> Timeline {
    cli.emulator.clear_calls().expect("clear");
    let output = spawn_slow(cli, args, Stdio::piped())
        .wait_with_output()
        .expect("runs");
    cli.emulator.clear_faults().expect("clear");
    assert_code(&output, 0);
    let steps: Vec<u64> = String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|e| e["event"] == "start" || e["event"] == "finish")
        .filter_map(|e| e["at_ms"].as_u64())
        .collect();
    let (Some(first), Some(last)) = (steps.iter().min(), steps.iter().max()) else {
        panic!("the clean run reported no steps: {}", text(&output));
    };
    Timeline {
        mutations: mutations(cli.emulator),
        first_step: Duration::from_millis(*first),
        last_step: Duration::from_millis(*last),
    }
}

/// Kills `args` at `fraction` of the clean run's step span and returns how many mutating calls
/// had happened, which must be some but not all of the clean run's. A busy machine shifts the
/// timeline: a kill that lands before the first mutation or after the last is undone (`undo`)
/// and tried again a little later or earlier, at most six times.
fn kill_midway(
    cli: &Cli<'_>,
    args: &[&str],
    clean: &Timeline,
    fraction: f64,
    undo: &dyn Fn(),
) -> usize {
    let span = clean.last_step.saturating_sub(clean.first_step);
    let mut delay = clean.first_step + span.mul_f64(fraction);
    for _ in 0..6 {
        cli.emulator.clear_calls().expect("clear");
        let mut child = spawn_slow(cli, args, Stdio::null());
        std::thread::sleep(delay);
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        // Requests the emulator received before the kill are answered and logged.
        std::thread::sleep(Duration::from_millis(300));
        cli.emulator.clear_faults().expect("clear");
        let done = mutations(cli.emulator);
        eprintln!(
            "{} killed after {delay:.0?}: {done} of {} mutating calls done",
            args[0], clean.mutations
        );
        if done > 0 && done < clean.mutations {
            return done;
        }
        undo();
        delay = if done == 0 {
            delay + span / 8
        } else {
            delay.saturating_sub(span / 8)
        };
    }
    panic!(
        "{} was never killed mid-run: see the attempts above",
        args[0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_or_destroy_killed_midway_converges_on_the_next_run() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("sigkill", &emulator);
    // A first run warms the emulator up (its first answers are slow), so that the timelines
    // measured next are the killed runs' own.
    assert_code(&deploy(&cli), 0);
    let clean = inventory(&emulator).await;
    assert_code(&destroy(&cli), 0);
    reset(&cli);
    let deploy_clean = clean_timeline(&cli, &DEPLOY);
    assert_eq!(inventory(&emulator).await, clean);
    let destroy_args = ["destroy", "--env", "dev", "--yes"];
    let destroy_clean = clean_timeline(&cli, &destroy_args);
    eprintln!("clean runs at {KILL_LATENCY_MS} ms a call: {deploy_clean:?}, {destroy_clean:?}");
    assert!(deploy_clean.mutations > 20 && destroy_clean.mutations > 10);
    let fresh = || reset(&cli);
    let deployed = || {
        reset(&cli);
        assert_code(&deploy(&cli), 0);
    };
    // Each kill lands at a different point of the run, from early to late.
    for fraction in [0.1, 0.3, 0.5, 0.7, 0.9] {
        fresh();
        let done = kill_midway(&cli, &DEPLOY, &deploy_clean, fraction, &fresh);
        assert_code(&deploy(&cli), 0);
        assert_eq!(
            inventory(&emulator).await,
            clean,
            "deploy killed after {done} mutating calls did not converge"
        );

        let done = kill_midway(&cli, &destroy_args, &destroy_clean, fraction, &deployed);
        assert_code(&destroy(&cli), 0);
        assert!(
            inventory(&emulator).await.is_empty(),
            "destroy killed after {done} mutating calls leaked"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_deploys_converge() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("concurrent", &emulator);
    let spawn = |env: &str| {
        Command::new(common::BIN)
            .args(["deploy", "--env", env, "--github-repo", "octo/app", "--yes"])
            .arg("--artifacts-dir")
            .arg(&cli.artifacts)
            .envs(emulator.env())
            .env("GITHUB_TOKEN", "gh-token")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("deploy starts")
    };
    for env in ["dev", "qa"] {
        cli.administrator_creates_boundary(env);
    }
    // Two environments at once don't interfere.
    let (a, b) = (spawn("dev"), spawn("qa"));
    assert_code(&a.wait_with_output().expect("dev"), 0);
    assert_code(&b.wait_with_output().expect("qa"), 0);
    assert_converged(&cli);
    assert_eq!(plan_json(&cli, "qa").0, 0);
    // The same environment twice at once: both converge to the same state (every step adopts
    // what the other created), nothing duplicated.
    assert_code(&cli.run_env_only(&["destroy", "--env", "dev", "--yes"]), 0);
    let (first, second) = (spawn("dev"), spawn("dev"));
    let first = first.wait_with_output().expect("first");
    let second = second.wait_with_output().expect("second");
    if !(first.status.success() && second.status.success()) {
        // A race lost to AWS's own conflict checks must leave a state the next run repairs.
        assert_code(&deploy(&cli), 0);
    }
    assert_converged(&cli);
    let state = inventory(&emulator).await;
    let webhooks = state
        .iter()
        .filter(|l| l.starts_with("webhook webhook-dev"))
        .count();
    assert_eq!(webhooks, 1, "{state:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn destroy_removes_buckets_full_of_versions_and_repositories_full_of_images() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("data", &emulator);
    assert_code(&deploy(&cli), 0);
    let config = emulator.sdk_config().await;
    let s3 = testkit::s3_client(&config);
    let bucket = format!("artifacts-{}-dev", testkit::ACCOUNT_ID);
    for i in 0..150 {
        let key = format!("pipeline-dev/SourceOutp/object-{i}");
        for version in 0..2 {
            s3.put_object()
                .bucket(&bucket)
                .key(&key)
                .body(format!("v{version}").into_bytes().into())
                .send()
                .await
                .expect("put");
        }
        if i % 3 == 0 {
            s3.delete_object()
                .bucket(&bucket)
                .key(&key)
                .send()
                .await
                .expect("delete marker");
        }
    }
    let ecr = aws_sdk_ecr::Client::new(&config);
    for i in 0..5 {
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": { "mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023, "digest": format!("sha256:{:064x}", i + 1) },
            "layers": []
        });
        ecr.put_image()
            .repository_name("app-dev")
            .image_manifest(manifest.to_string())
            .image_tag(format!("commit{i}"))
            .send()
            .await
            .expect("image");
    }
    let started = Instant::now();
    assert_code(&destroy(&cli), 0);
    eprintln!(
        "destroy with 300 versions, 50 delete markers and 5 images took {:.1?}",
        started.elapsed()
    );
    assert!(
        inventory(&emulator).await.is_empty(),
        "left: {:?}",
        inventory(&emulator).await
    );
}
