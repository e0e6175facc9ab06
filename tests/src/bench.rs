//! The benchmarks behind `cargo xtask bench` (run as `examples/bench.rs`): Lambda cold start,
//! invocation, memory and size of the release zips, the same deploy job in Node.js for
//! comparison, and the build variants that explain the init time; `--deploy` times bootstrap's
//! deploy, plan and destroy. (Re)writes BENCHMARKS.md; `--smoke` is the quick CI check that
//! every benchmark still runs. `cargo xtask bench` builds the zips and the debug binaries first.

mod build;
mod deploy;
mod measure;
mod report;
mod stats;

use anyhow::{Context, Result, bail};
use build::{FUNCTIONS, Variant};
use measure::{Fixture, Samples, Workload};
use report::{FunctionFigures, Machine, Report, RootsFigures, VariantFigures};
use std::path::{Path, PathBuf};
use std::process::Command;

/// How much to run.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    smoke: bool,
    /// Reuse the variant zips kept in target/bench instead of rebuilding them.
    reuse_variants: bool,
    cold_starts: usize,
    warm: usize,
    /// `--zip FUNCTION=PATH`: measure these zips (another build of a function) instead of the
    /// shipped ones; the figures are printed and BENCHMARKS.md is left as it is.
    zips: Vec<(String, PathBuf)>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self> {
        let mut options = Self {
            smoke: false,
            reuse_variants: false,
            cold_starts: 20,
            warm: 20,
            zips: Vec::new(),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--smoke" => {
                    options.smoke = true;
                    options.cold_starts = 3;
                    options.warm = 3;
                }
                "--reuse-variants" => options.reuse_variants = true,
                "--zip" => {
                    let given = args
                        .next()
                        .context("--zip needs FUNCTION=PATH (a function's bootstrap.zip)")?;
                    options.zips.push(given_zip(given)?);
                }
                other => bail!(
                    "unknown bench option `{other}`; use --smoke (quick CI check, writes nothing), \
                     --reuse-variants (skip rebuilding the comparison variants) or --zip \
                     FUNCTION=PATH (measure that zip, print, write nothing)"
                ),
            }
        }
        Ok(options)
    }

    fn command(&self) -> String {
        if !self.zips.is_empty() {
            let zips: Vec<String> = self
                .zips
                .iter()
                .map(|(function, zip)| format!(" --zip {function}={}", zip.display()))
                .collect();
            return format!("cargo xtask bench{}", zips.concat());
        }
        let mut command = "cargo xtask bench".to_owned();
        if self.reuse_variants {
            command.push_str(" --reuse-variants");
        }
        command
    }
}

pub fn run(args: &[String]) -> Result<()> {
    if args.iter().any(|a| a == "--deploy") {
        return deploy::run(args);
    }
    let options = Options::parse(args)?;
    if !options.zips.is_empty() {
        return measure_given(&options);
    }
    let variants = if options.smoke {
        Vec::new()
    } else {
        [
            Variant::opt_level("3"),
            Variant::opt_level("s"),
            Variant::opt_level("z"),
            Variant::jitter_entropy(),
        ]
        .into_iter()
        .map(|variant| {
            let kept = FUNCTIONS.iter().all(|f| variant.zip(f).exists());
            if !(options.reuse_variants && kept) {
                build::build(&variant)?;
            }
            Ok(variant)
        })
        .collect::<Result<Vec<_>>>()?
    };
    let node = node_runtime(options.smoke)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = runtime.block_on(measure_all(&options, &variants, node.as_ref()))?;

    print!("{}", report.render(None));
    if options.smoke {
        eprintln!("\nbench smoke passed (BENCHMARKS.md left as it is)");
        return Ok(());
    }
    let path = root().join("BENCHMARKS.md");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(&path, report.render(report::deploy_section(&old)))
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("\nwrote {}", path.display());
    Ok(())
}

/// `FUNCTION=PATH` of `--zip`.
fn given_zip(given: &str) -> Result<(String, PathBuf)> {
    match given.split_once('=') {
        Some((function, path)) if FUNCTIONS.contains(&function) && !path.is_empty() => {
            Ok((function.to_owned(), PathBuf::from(path)))
        }
        _ => bail!(
            "--zip takes FUNCTION=PATH with FUNCTION one of {}, not `{given}`",
            FUNCTIONS.join(", ")
        ),
    }
}

/// `--zip`: each given zip measured as the shipped ones are, printed as one table.
fn measure_given(options: &Options) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (machine, figures) = runtime.block_on(async {
        let machine = machine()?;
        let fixture = Fixture::start().await?;
        let unpacked = build::bench_dir().join(format!("run-{}", std::process::id()));
        let mut figures = Vec::new();
        for (index, (function, zip)) in options.zips.iter().enumerate() {
            step(&format!("measuring {function} ({})", zip.display()));
            let mut measured = measure_zip(
                &fixture,
                &workload(&fixture, function),
                zip,
                &unpacked.join(format!("given-{index}")),
                function,
                options,
            )
            .await?;
            measured.function = format!("{function} (`{}`)", zip.display());
            figures.push(measured);
        }
        std::fs::remove_dir_all(&unpacked).ok();
        anyhow::Ok((machine, figures))
    })?;
    print!(
        "{}",
        report::given_zips(&machine, &options.command(), &figures)
    );
    eprintln!("\nBENCHMARKS.md left as it is (--zip)");
    Ok(())
}

/// `node` and the comparison handler's entry point, installing its packages if needed; `None`
/// in smoke mode when they are not installed (CI need not fetch packages to check the Rust side).
/// The workspace root.
pub(crate) fn root() -> PathBuf {
    testkit::workspace_root()
}

/// A heading on stderr, so a long run shows where it is.
pub(crate) fn step(what: &str) {
    eprintln!("\n==> {what}");
}

/// PATH with the project's venv first, so `cargo lambda` and zig resolve to the pinned ones.
pub(crate) fn pinned_tools_path() -> String {
    let venv = root().join(".venv/bin").display().to_string();
    match std::env::var("PATH") {
        Ok(path) => format!("{venv}:{path}"),
        Err(_) => venv,
    }
}

/// Runs a command from the workspace root with the pinned tools on PATH; fails if it fails.
pub(crate) fn sh(program: &str, args: &[&str]) -> Result<()> {
    step(&format!("{program} {}", args.join(" ")));
    let status = Command::new(program)
        .args(args)
        .current_dir(root())
        .env("PATH", pinned_tools_path())
        .status()
        .with_context(|| format!("starting {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Where `cargo xtask dist` leaves a function's zip.
pub(crate) fn lambda_zip(function: &str) -> PathBuf {
    testkit::target_dir()
        .join("lambda")
        .join(function)
        .join("bootstrap.zip")
}

fn node_runtime(smoke: bool) -> Result<Option<NodeHandler>> {
    let dir = root().join("bench/node-deploy-handler");
    let version = Command::new("node").arg("--version").output();
    let Ok(version) = version.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()) else {
        if smoke {
            eprintln!("node is not installed: skipping the Node.js comparison");
            return Ok(None);
        }
        bail!("node is not installed: install Node.js 20 to run the comparison");
    };
    if !dir.join("node_modules").exists() {
        if smoke {
            eprintln!(
                "{} is missing: skipping the Node.js comparison",
                dir.join("node_modules").display()
            );
            return Ok(None);
        }
        step("npm ci (bench/node-deploy-handler)");
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .context("starting npm: install Node.js 20 with npm")?;
        if !status.success() {
            bail!("`npm ci` in {} failed ({status})", dir.display());
        }
    }
    let entry = dir.join("runtime.mjs");
    ensure_executable(&entry)?;
    Ok(Some(NodeHandler { entry, version }))
}

/// The Node.js custom runtime: `runtime.mjs` runs as the function's executable (its shebang
/// starts node), as Lambda runs a custom runtime's `bootstrap`.
#[derive(Debug)]
struct NodeHandler {
    entry: PathBuf,
    version: String,
}

fn ensure_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut permissions = std::fs::metadata(path)
        .with_context(|| format!("{} is missing", path.display()))?
        .permissions();
    if permissions.mode() & 0o111 != 0o111 {
        permissions.set_mode(permissions.mode() | 0o111);
        std::fs::set_permissions(path, permissions)?;
    }
    Ok(())
}

async fn measure_all(
    options: &Options,
    variants: &[Variant],
    node: Option<&NodeHandler>,
) -> Result<Report> {
    // The load before the emulator starts: other work on the machine makes every figure slower.
    let machine = machine()?;
    let fixture = Fixture::start().await?;
    let unpacked = build::bench_dir().join(format!("run-{}", std::process::id()));

    let mut shipped = Vec::new();
    for function in FUNCTIONS {
        step(&format!("measuring {function} (shipped zip)"));
        let zip = build::shipped_zip(function)?;
        shipped.push(
            measure_zip(
                &fixture,
                &workload(&fixture, function),
                &zip,
                &unpacked.join("shipped"),
                function,
                options,
            )
            .await?,
        );
    }

    let roots = if options.smoke {
        Vec::new()
    } else {
        measure_roots(&fixture, &unpacked).await?
    };

    let node_samples = match node {
        Some(node) => {
            step("measuring the Node.js deploy handler");
            Some(
                measure::measure(
                    &fixture,
                    &Workload::DeployJob,
                    &node.entry,
                    &[],
                    options.cold_starts,
                    options.warm,
                )
                .await?,
            )
        }
        None => None,
    };

    let variant_figures = measure_variants(&fixture, &unpacked, variants, options).await?;
    if options.smoke {
        // The TLS probe is the one path the shipped measurements do not exercise.
        step("checking the TLS probe on the shipped deploy-handler");
        measure::first_client_hello(&fixture, &unpacked.join("shipped/deploy-handler"), 1).await?;
    }
    std::fs::remove_dir_all(&unpacked).ok();

    Ok(Report {
        machine,
        command: options.command(),
        shipped_opt_level: shipped_opt_level()?,
        shipped,
        node: node_samples,
        node_version: node.map(|n| n.version.clone()),
        variants: variant_figures,
        roots,
    })
}

/// What `function` does per invocation in the benchmark.
fn workload(fixture: &Fixture, function: &str) -> Workload {
    if function == "deploy-handler" {
        Workload::DeployJob
    } else {
        Workload::Notify {
            topic_arn: fixture.topic_arn.clone(),
        }
    }
}

/// The shipped binaries' cold starts with each way of giving the SDK its root certificates.
async fn measure_roots(fixture: &Fixture, unpacked: &Path) -> Result<Vec<RootsFigures>> {
    let mut roots = Vec::new();
    for (setup, extra_env) in roots_setups(unpacked)? {
        for function in FUNCTIONS {
            step(&format!("measuring {function} with {setup}"));
            let binary = unpacked.join("shipped").join(function);
            let samples = measure::measure(
                fixture,
                &workload(fixture, function),
                &binary,
                &extra_env,
                ROOTS_COLD_STARTS,
                0,
            )
            .await?;
            roots.push(RootsFigures {
                function: function.to_owned(),
                setup: setup.clone(),
                samples,
            });
        }
    }
    Ok(roots)
}

/// Each build variant's functions, and when its deploy-handler sends its first TLS hello.
async fn measure_variants(
    fixture: &Fixture,
    unpacked: &Path,
    variants: &[Variant],
    options: &Options,
) -> Result<Vec<VariantFigures>> {
    let mut variant_figures = Vec::new();
    for (index, variant) in variants.iter().enumerate() {
        let dir = unpacked.join(format!("variant-{index}"));
        let mut functions = Vec::new();
        for function in FUNCTIONS {
            step(&format!("measuring {function} ({})", variant.name));
            functions.push(
                measure_zip(
                    fixture,
                    &workload(fixture, function),
                    &variant.zip(function),
                    &dir,
                    function,
                    options,
                )
                .await?,
            );
        }
        let deploy_binary = dir.join("deploy-handler");
        let client_hello = measure::first_client_hello(fixture, &deploy_binary, 10).await?;
        variant_figures.push(VariantFigures {
            name: variant.name.clone(),
            command: variant.command_line(),
            functions,
            client_hello,
        });
    }
    Ok(variant_figures)
}

const ROOTS_COLD_STARTS: usize = 10;

type EnvPairs = Vec<(String, String)>;

/// Ways to give the SDK its native root certificates (rustls-native-certs honours
/// `SSL_CERT_FILE`): the system default, one bundle file as on Amazon Linux 2023, and none
/// (what init costs without loading roots at all).
fn roots_setups(scratch: &Path) -> Result<Vec<(String, EnvPairs)>> {
    let mut setups = vec![(
        "system default roots (OpenSSL probe: bundle file and certificate directory)".to_owned(),
        Vec::new(),
    )];
    let bundle = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists());
    if let Some(bundle) = bundle {
        setups.push((
            format!("one bundle file (SSL_CERT_FILE={bundle})"),
            vec![("SSL_CERT_FILE".to_owned(), bundle.to_owned())],
        ));
    }
    std::fs::create_dir_all(scratch)?;
    let empty = scratch.join("no-roots.pem");
    std::fs::write(&empty, "")?;
    setups.push((
        "no native roots (SSL_CERT_FILE=empty file)".to_owned(),
        vec![("SSL_CERT_FILE".to_owned(), empty.display().to_string())],
    ));
    Ok(setups)
}

async fn measure_zip(
    fixture: &Fixture,
    workload: &Workload,
    zip: &Path,
    into: &Path,
    function: &str,
    options: &Options,
) -> Result<FunctionFigures> {
    let zip_bytes = std::fs::metadata(zip)
        .with_context(|| format!("{} is missing", zip.display()))?
        .len();
    let (binary, unzipped_bytes) = build::unpack_bootstrap(zip, into, function)?;
    let samples: Samples = measure::measure(
        fixture,
        workload,
        &binary,
        &[],
        options.cold_starts,
        options.warm,
    )
    .await?;
    Ok(FunctionFigures {
        function: function.to_owned(),
        zip_bytes,
        unzipped_bytes,
        samples,
    })
}

fn machine() -> Result<Machine> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .map_or_else(
            || "unknown".to_owned(),
            |kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0),
        );
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .context("running `date`")?;
    let load_average = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    Ok(Machine {
        load_average,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model,
        memory,
        date,
    })
}

/// `opt-level` as `[profile.release]` in the workspace Cargo.toml sets it.
fn shipped_opt_level() -> Result<String> {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml"))?;
    Ok(release_opt_level(&manifest).unwrap_or_else(|| "3 (default)".to_owned()))
}

fn release_opt_level(manifest: &str) -> Option<String> {
    let section = manifest.split("[profile.release]").nth(1)?;
    let section = section.split("\n[").next()?;
    section.lines().find_map(|line| {
        let value = line
            .trim()
            .strip_prefix("opt-level")?
            .trim()
            .strip_prefix('=')?;
        Some(value.split('#').next()?.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn smoke_is_small_and_full_meets_the_sample_counts() {
        let full = Options::parse(&[]).expect("no options");
        assert!(!full.smoke);
        assert!(full.cold_starts >= 20 && full.warm >= 20);
        let smoke = Options::parse(&args(&["--smoke"])).expect("smoke");
        assert!(smoke.smoke);
        assert_eq!((smoke.cold_starts, smoke.warm), (3, 3));
        assert_eq!(
            Options::parse(&args(&["--reuse-variants"]))
                .expect("reuse")
                .command(),
            "cargo xtask bench --reuse-variants"
        );
    }

    #[test]
    fn unknown_and_deploy_options_say_what_to_run_instead() {
        let err = Options::parse(&args(&["--fast"])).expect_err("unknown");
        assert!(err.to_string().contains("--smoke"), "{err}");
    }

    #[test]
    fn zips_name_a_function_and_a_path() {
        let options = Options::parse(&args(&[
            "--zip",
            "deploy-handler=/tmp/a.zip",
            "--zip",
            "deploy-handler=/tmp/b.zip",
        ]))
        .expect("two zips");
        assert_eq!(
            options.zips,
            vec![
                ("deploy-handler".to_owned(), PathBuf::from("/tmp/a.zip")),
                ("deploy-handler".to_owned(), PathBuf::from("/tmp/b.zip")),
            ]
        );
        assert_eq!(
            options.command(),
            "cargo xtask bench --zip deploy-handler=/tmp/a.zip --zip deploy-handler=/tmp/b.zip"
        );
        for bad in [
            &["--zip"][..],
            &["--zip", "other=/x.zip"],
            &["--zip", "deploy-handler="],
        ] {
            let err = Options::parse(&args(bad)).expect_err("refused");
            assert!(err.to_string().contains("FUNCTION=PATH"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn reads_the_release_opt_level_only_from_its_section() {
        let manifest = "[profile.dev]\nopt-level = 1\n\n[profile.release]\n# size first\nopt-level = \"s\" # see BENCHMARKS.md\nlto = true\n\n[profile.bench]\nopt-level = 3\n";
        assert_eq!(release_opt_level(manifest).as_deref(), Some("\"s\""));
        assert_eq!(release_opt_level("[profile.release]\nlto = true\n"), None);
    }
}
