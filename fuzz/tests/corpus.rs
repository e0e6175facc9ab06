//! Replays the kept fuzz corpus (`fuzz/corpus/<target>/`) through the oracles, so every input a
//! fuzzing campaign found interesting, and every crash it found once, stays checked on any
//! toolchain, without libFuzzer.

use std::path::PathBuf;

fn replay(target: &str, oracle: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("reading {}: {err}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    inputs.sort();
    assert!(
        inputs.len() >= 5,
        "{} holds {} inputs; the corpus is kept in the repository",
        dir.display(),
        inputs.len()
    );
    for input in &inputs {
        let data = std::fs::read(input).expect("corpus input");
        let outcome = std::panic::catch_unwind(|| oracle(&data));
        assert!(
            outcome.is_ok(),
            "{} broke the {target} oracle",
            input.display()
        );
    }
}

#[test]
fn codepipeline_job_corpus() {
    replay("codepipeline_job", pipeline_fuzz::codepipeline_job);
}

#[test]
fn image_artifact_corpus() {
    replay("image_artifact", pipeline_fuzz::image_artifact);
}

#[test]
fn image_uri_corpus() {
    replay("image_uri", pipeline_fuzz::image_uri);
}

#[test]
fn pipeline_event_corpus() {
    replay("pipeline_event", pipeline_fuzz::pipeline_event);
}
