//! `cargo xtask demo`: the product's front door, the whole pipeline run end to end on the local
//! emulator. `cargo xtask demo` builds the Lambda zips and the debug binaries, then runs this.
//! `--security-md PATH` (`cargo xtask security`) also writes the roles' grant-usage table.

use anyhow::{Context, Result};
use integration_tests::e2e::{DemoOptions, run_pipeline_demo};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let security_md = match args.as_slice() {
        [] => None,
        [flag, path] if flag == "--security-md" => Some(std::path::PathBuf::from(path)),
        other => anyhow::bail!("usage: demo [--security-md PATH]; got {other:?}"),
    };
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
    if let Some(path) = security_md {
        let table = integration_tests::e2e::grants::render(&report.grants, &options.env);
        std::fs::write(&path, integration_tests::e2e::grants::security_md(&table))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if !report.destroy.leftovers.is_empty() {
        anyhow::bail!(
            "destroy left resources behind: {}; report this as a bootstrap bug",
            report.destroy.leftovers.join(", ")
        );
    }
    Ok(())
}
