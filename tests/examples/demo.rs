//! `cargo xtask demo`: the product's front door, the whole pipeline run end to end on the local
//! emulator. `cargo xtask demo` builds the Lambda zips and the debug binaries, then runs this.

use anyhow::{Context, Result};
use integration_tests::e2e::{DemoOptions, run_pipeline_demo};

fn main() -> Result<()> {
    eprintln!("\n==> The whole pipeline, rehearsed on this machine");
    let options = DemoOptions::for_workspace(testkit::target_dir().join("lambda"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(run_pipeline_demo(&options))?;
    println!(
        "\nThe demo ran deploy, a filtered push, {} pipeline runs and destroy in {:.0}s.",
        report.runs.len(),
        report.total.as_secs_f64()
    );
    if !report.destroy.leftovers.is_empty() {
        anyhow::bail!(
            "destroy left resources behind: {}; report this as a bootstrap bug",
            report.destroy.leftovers.join(", ")
        );
    }
    Ok(())
}
