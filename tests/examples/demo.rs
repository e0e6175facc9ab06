//! `cargo xtask demo`: the product's front door, the whole pipeline run end to end on the local
//! emulator, once deploying to an ECS service and once to a Lambda function, then the road to
//! production (staging, an approval, production with a bake that rolls back). `cargo xtask demo`
//! builds the Lambda zips and the debug binaries, then runs this. `--security-md PATH` (`cargo
//! xtask security`) also writes the grant-usage tables of both runs.

use anyhow::{Context, Result};
use integration_tests::e2e::promotion::run_promotion_demo;
use integration_tests::e2e::team::Rollout;
use integration_tests::e2e::{DemoOptions, run_pipeline_demo};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let security_md = match args.as_slice() {
        [] => None,
        [flag, path] if flag == "--security-md" => Some(std::path::PathBuf::from(path)),
        other => anyhow::bail!("usage: demo [--security-md PATH]; got {other:?}"),
    };
    eprintln!("\n==> The whole pipeline, rehearsed on this machine, deploying to an ECS service");
    let ecs = DemoOptions::for_workspace(testkit::target_dir().join("lambda"))?;
    let lambda = DemoOptions {
        env: "fn".into(),
        rollout: Some(Rollout::Lambda),
        ..ecs.clone()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let first = runtime.block_on(run_pipeline_demo(&ecs))?;
    eprintln!("\n==> The same pipeline once more, deploying to a Lambda container-image function");
    let second = runtime.block_on(run_pipeline_demo(&lambda))?;
    eprintln!(
        "\n==> The road to production: staging, an approval, production baked and rolled back"
    );
    let promotion = DemoOptions {
        env: "rel".into(),
        ..ecs.clone()
    };
    let promoted = runtime.block_on(run_promotion_demo(&promotion))?;
    for (options, report) in [(&ecs, &first), (&lambda, &second)] {
        println!(
            "\nEnvironment `{}`: deploy, a filtered push, {} pipeline runs and destroy in {:.0}s.",
            options.env,
            report.runs.len(),
            report.total.as_secs_f64()
        );
        if !report.destroy.leftovers.is_empty() {
            anyhow::bail!(
                "destroy left resources behind: {}; report this as a bootstrap bug",
                report.destroy.leftovers.join(", ")
            );
        }
    }
    for release in &promoted.releases {
        println!(
            "Environment `{}`, {}: built once ({}), {}{}.",
            promotion.env,
            release.label,
            release.digest,
            release.pipeline_state,
            release
                .rollback
                .as_ref()
                .map(|r| format!(
                    ", production rolled back to execution {}",
                    r.target_execution_id
                ))
                .unwrap_or_default()
        );
    }
    if let Some(path) = security_md {
        let tables = [
            (
                "An ECS service as the deploy target",
                integration_tests::e2e::grants::render(&first.grants, &ecs.env),
            ),
            (
                "A Lambda function as the deploy target",
                integration_tests::e2e::grants::render(&second.grants, &lambda.env),
            ),
        ];
        std::fs::write(&path, integration_tests::e2e::grants::security_md(&tables))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
