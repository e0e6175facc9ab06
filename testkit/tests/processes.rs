//! The test-support processes themselves: the emulator answers, records, and never outlives a test.

use std::process::Command;
use std::time::{Duration, Instant};

fn alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; count only processes that have not exited.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            !stat
                .split(") ")
                .nth(1)
                .is_some_and(|rest| rest.starts_with('Z'))
        })
        .unwrap_or(false)
}

#[test]
fn emulator_answers_records_calls_and_stops_on_drop() {
    let emulator = testkit::Emulator::start().expect("emulator starts");
    let pid = emulator.pid();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let config = runtime.block_on(emulator.sdk_config());
    let _ = config;
    emulator.reset().expect("reset");
    assert!(emulator.calls().expect("calls").is_empty());
    let job = emulator
        .create_job(serde_json::json!({"pipelineName": "p"}))
        .expect("job");
    assert_eq!(emulator.job(&job).expect("job status")["status"], "Created");
    drop(emulator);
    assert!(!alive(pid), "emulator process {pid} survived drop");
}

/// The shim's registry keeps its blobs in a directory of its own; dropping the emulator removes
/// it (a killed shim would leave it for the next shim to sweep, and the last one of a run stays).
#[test]
fn a_dropped_emulator_leaves_no_registry_directory() {
    let emulator = testkit::Emulator::start().expect("emulator starts");
    let pid = emulator.pid();
    let registry = emulator.registry().expect("registry status");
    let directories = || -> Vec<std::path::PathBuf> {
        let prefix = format!("emulator-registry-{pid}-");
        std::fs::read_dir(std::env::temp_dir())
            .expect("temp dir")
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().starts_with(&prefix))
            .map(|entry| entry.path())
            .collect()
    };
    if registry.running {
        assert_eq!(directories().len(), 1, "the running registry's directory");
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "no registry under CI: {:?}",
            registry.reason
        );
        eprintln!(
            "no registry here ({:?}): only the shim's exit is checked",
            registry.reason
        );
    }
    drop(emulator);
    assert!(!alive(pid), "emulator process {pid} survived drop");
    assert_eq!(directories(), Vec::<std::path::PathBuf>::new());
}

/// Run as a child process by `no_emulator_outlives_a_failing_test`: starts an emulator, writes
/// its pid where the parent can read it, then dies the hard way (abort skips every destructor).
#[test]
#[ignore = "run only as a child of no_emulator_outlives_a_failing_test"]
fn child_that_dies_holding_an_emulator() {
    let Ok(pid_file) = std::env::var("TESTKIT_PID_FILE") else {
        return;
    };
    let emulator = testkit::Emulator::start().expect("emulator starts");
    std::fs::write(pid_file, emulator.pid().to_string()).expect("pid file");
    std::process::abort();
}

#[test]
fn no_emulator_outlives_a_failing_test() {
    let dir = std::env::temp_dir().join(format!("testkit-orphan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let pid_file = dir.join("pid");
    let status = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child_that_dies_holding_an_emulator",
            "--ignored",
            "--nocapture",
        ])
        .env("TESTKIT_PID_FILE", &pid_file)
        .status()
        .expect("child test runs");
    assert!(!status.success(), "the child test was meant to fail");
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .expect("child wrote the pid")
        .trim()
        .parse()
        .expect("pid");
    let start = Instant::now();
    while alive(pid) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !alive(pid),
        "emulator {pid} outlived the test process that started it"
    );
    let _ = std::fs::remove_dir_all(dir);
}
