//! `cargo xtask demo`: the product's front door, run end to end on the local emulator.

use anyhow::{Context, Result};

pub fn run() -> Result<()> {
    crate::setup::run()?;
    crate::dist(false)?;
    crate::sh(
        "cargo",
        &[
            "build",
            "-p",
            "bootstrap",
            "-p",
            "deploy-handler",
            "-p",
            "event-notifier",
        ],
    )?;
    crate::step("The whole pipeline, rehearsed on this machine");
    let options =
        integration_tests::e2e::DemoOptions::for_workspace(testkit::target_dir().join("lambda"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(integration_tests::e2e::run_pipeline_demo(&options))?;
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
