//! `cargo xtask fuzz`: libFuzzer campaigns over the Lambdas' untrusted input, seeded from the
//! kept corpus (`fuzz/corpus/<target>/`); `--keep` merges what a campaign found into it.
//!
//! Built without a sanitizer (`-s none`), so it runs on the stable toolchain: the workspace
//! denies `unsafe_code`, and what these targets hunt is panics, overflows (debug assertions
//! are on) and broken oracles, not memory errors.

use crate::{root, setup, sh, step};
use anyhow::{Context, Result, bail};

pub const TARGETS: [&str; 4] = [
    "codepipeline_job",
    "image_artifact",
    "image_uri",
    "pipeline_event",
];

const USAGE: &str = "usage: cargo xtask fuzz [--seconds N] [--keep] [TARGET...]";

pub fn run(args: &[String]) -> Result<()> {
    let mut seconds = 60u64;
    let mut keep = false;
    let mut targets = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args.next().context(USAGE)?;
                // libFuzzer reads 0 as "no limit".
                seconds = value
                    .parse()
                    .ok()
                    .filter(|&n: &u64| n > 0)
                    .with_context(|| {
                        format!("--seconds takes a whole number of seconds above 0, got {value:?}")
                    })?;
            }
            "--keep" => keep = true,
            target if TARGETS.contains(&target) => targets.push(target),
            other => bail!(
                "unknown fuzz argument {other:?}; targets are {}\n{USAGE}",
                TARGETS.join(", ")
            ),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    setup::run()?;
    let build = [
        "--features",
        "libfuzzer",
        "--sanitizer",
        "none",
        // Its own target dir: the coverage flags would otherwise rebuild the Lambdas' release
        // artifacts that `cargo lambda` keeps under target/<triple>/.
        "--target-dir",
        "target/fuzz",
    ];
    let mut args: Vec<&str> = vec!["fuzz", "build"];
    args.extend(build);
    sh("cargo", &args)?;
    for target in &targets {
        // New inputs go to a scratch dir listed first; the kept corpus is read as seeds.
        let scratch = format!("target/fuzz/corpus/{target}");
        let kept = format!("fuzz/corpus/{target}");
        std::fs::create_dir_all(root().join(&scratch))?;
        let max_time = format!("-max_total_time={seconds}");
        let mut args: Vec<&str> = vec!["fuzz", "run"];
        args.extend(build);
        args.extend([
            *target,
            &scratch,
            &kept,
            "--",
            &max_time,
            "-print_final_stats=1",
        ]);
        if let Err(err) = sh("cargo", &args) {
            bail!(
                "{err}\nfuzz target {target} found an input that breaks it: libFuzzer saved it \
                 under fuzz/artifacts/{target}/ (`cargo fuzz fmt {target} <file>` shows it). Fix \
                 the code, then copy the input into {kept}/ so the corpus test keeps it fixed."
            );
        }
        if keep {
            step(&format!("merging what {target} found into {kept}"));
            let mut args: Vec<&str> = vec!["fuzz", "run"];
            args.extend(build);
            args.extend([*target, &kept, &scratch, "--", "-merge=1"]);
            sh("cargo", &args)?;
        }
    }
    Ok(())
}
