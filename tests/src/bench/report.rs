//! BENCHMARKS.md: the measured figures, the targets table with pass/fail, and the deploy
//! section another benchmark fills (kept as it is across rewrites).

use super::measure::Samples;
use super::stats::{median, megabytes, ms, p90, ratio, rss};
use std::fmt::Write as _;
use std::time::Duration;

pub const INIT_TARGET: Duration = Duration::from_millis(10);
pub const FIRST_INVOCATION_TARGET: Duration = Duration::from_millis(25);
pub const RSS_TARGET_BYTES: u64 = 25_000_000;
pub const ZIP_TARGET_BYTES: u64 = 3_500_000;
pub const NODE_COLD_START_RATIO_TARGET: f64 = 15.0;

pub const DEPLOY_HEADING: &str = "## Deploy (bootstrap)";
pub const DEPLOY_PLACEHOLDER: &str = "measured by `cargo xtask bench --deploy`";

/// Where the figures were measured.
#[derive(Debug, Clone)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory: String,
    pub date: String,
    /// 1-minute load average when the measurements started.
    pub load_average: String,
}

impl Machine {
    pub fn describe(&self) -> String {
        format!(
            "{} CPUs ({}), {} memory, load average {} at start, {}",
            self.cpus, self.cpu_model, self.memory, self.load_average, self.date
        )
    }
}

/// One function build: its sizes and timings.
#[derive(Debug, Clone)]
pub struct FunctionFigures {
    pub function: String,
    pub zip_bytes: u64,
    pub unzipped_bytes: u64,
    pub samples: Samples,
}

/// One build variant of both functions.
#[derive(Debug, Clone)]
pub struct VariantFigures {
    pub name: String,
    pub command: String,
    pub functions: Vec<FunctionFigures>,
    /// Deploy job handed out → first TLS ClientHello at the webhook listener.
    pub client_hello: Vec<Duration>,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub machine: Machine,
    pub command: String,
    pub shipped_opt_level: String,
    pub shipped: Vec<FunctionFigures>,
    /// The deploy job as a Node.js 20 handler, when it was measured.
    pub node: Option<Samples>,
    pub node_version: Option<String>,
    pub variants: Vec<VariantFigures>,
    /// The shipped binaries with different native root certificate sets.
    pub roots: Vec<RootsFigures>,
}

/// One function started with one way of providing TLS root certificates.
#[derive(Debug, Clone)]
pub struct RootsFigures {
    pub function: String,
    pub setup: String,
    pub samples: Samples,
}

/// Takes one figure out of a set of samples.
type Pick = fn(&Samples) -> Option<Duration>;

/// One row of the targets table.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetCheck {
    pub what: String,
    pub target: String,
    pub measured: String,
    pub pass: Option<bool>,
}

impl Report {
    pub fn targets(&self) -> Vec<TargetCheck> {
        let mut checks = Vec::new();
        for f in &self.shipped {
            let init = median(&f.samples.init);
            checks.push(TargetCheck {
                what: format!("{}: init (spawn → first /next), median", f.function),
                target: format!("≤ {}", ms(Some(INIT_TARGET))),
                measured: ms(init),
                pass: init.map(|d| d <= INIT_TARGET),
            });
            let first = median(&f.samples.first_invocation);
            checks.push(TargetCheck {
                what: format!("{}: first invocation, median", f.function),
                target: format!("≤ {}", ms(Some(FIRST_INVOCATION_TARGET))),
                measured: ms(first),
                pass: first.map(|d| d <= FIRST_INVOCATION_TARGET),
            });
            checks.push(TargetCheck {
                what: format!("{}: peak RSS", f.function),
                target: format!("≤ {}", megabytes(RSS_TARGET_BYTES)),
                measured: rss(f.samples.peak_rss_kib),
                pass: f.samples.peak_rss_kib.map(|k| k * 1024 <= RSS_TARGET_BYTES),
            });
            checks.push(TargetCheck {
                what: format!("{}: zip size", f.function),
                target: format!("≤ {}", megabytes(ZIP_TARGET_BYTES)),
                measured: megabytes(f.zip_bytes),
                pass: Some(f.zip_bytes <= ZIP_TARGET_BYTES),
            });
        }
        let cold_ratio = self.node_ratio(|s| median(&s.init).map(|d| d.as_secs_f64()));
        checks.push(TargetCheck {
            what: "deploy-handler: Rust vs Node.js cold start".to_owned(),
            target: format!("≥ {NODE_COLD_START_RATIO_TARGET:.0}× faster"),
            measured: cold_ratio.map_or_else(|| "not measured".to_owned(), |r| format!("{r:.1}×")),
            pass: cold_ratio.map(|r| r >= NODE_COLD_START_RATIO_TARGET),
        });
        checks
    }

    /// Node's figure divided by the Rust deploy-handler's, for a figure `pick` takes from samples.
    fn node_ratio(&self, pick: impl Fn(&Samples) -> Option<f64>) -> Option<f64> {
        let node = self.node.as_ref()?;
        let rust = self
            .shipped
            .iter()
            .find(|f| f.function == "deploy-handler")?;
        ratio(pick(node), pick(&rust.samples))
    }

    /// The whole file; `deploy_section` is what follows the deploy heading in the old file.
    pub fn render(&self, deploy_section: Option<&str>) -> String {
        let mut out = String::new();
        let machine = self.machine.describe();
        let _ = writeln!(
            out,
            "# Benchmarks\n\n\
             Written by `{}`; do not edit by hand except the deploy section and the sections \
             after it. Every figure below was \
             measured on {machine}, in the same run. Functions run as Lambda runs them: the release \
             `bootstrap` unpacked from the shipped zip, driven by the Runtime API emulator \
             (`testkit::RuntimeApi`), talking to the local AWS emulator on loopback (real S3 \
             GetObject and CodePipeline PutJobSuccessResult for the deploy-handler, SNS Publish \
             for the event-notifier). Loopback has no network latency or TLS, so real Lambda adds \
             both to the invocation figures.\n",
            self.command
        );
        self.targets_section(&mut out, &machine);
        self.cold_start_section(&mut out, &machine);
        self.node_section(&mut out, &machine);
        self.variants_section(&mut out, &machine);
        self.first_tls_section(&mut out, &machine);
        self.roots_section(&mut out, &machine);
        out.push_str(FINDINGS);

        let _ = writeln!(out, "\n{DEPLOY_HEADING}\n");
        let kept = deploy_section.map(str::trim).filter(|s| !s.is_empty());
        let _ = writeln!(out, "{}", kept.unwrap_or(DEPLOY_PLACEHOLDER));
        out
    }

    /// The targets and whether each was met.
    fn targets_section(&self, out: &mut String, machine: &str) {
        let _ = writeln!(
            out,
            "## Targets\n\nMeasured on {machine} by `{}`.\n",
            self.command
        );
        let _ = writeln!(
            out,
            "| what | target | measured | result |\n| --- | --- | --- | --- |"
        );
        for check in self.targets() {
            let result = match check.pass {
                Some(true) => "pass",
                Some(false) => "**fail**",
                None => "not measured",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {result} |",
                check.what, check.target, check.measured
            );
        }
    }

    /// The shipped zips' cold start, invocations and size.
    fn cold_start_section(&self, out: &mut String, machine: &str) {
        let _ = writeln!(
            out,
            "\n## Lambda cold start and invocation\n\n\
             Release build as shipped (`[profile.release]` opt-level {}), measured on {machine} by \
             `{}`. Init is process spawn to the first `GET /next`; first invocation is the first \
             event after each cold start; warm is the same process afterwards.\n",
            self.shipped_opt_level, self.command
        );
        function_table(out, &self.shipped);
    }

    /// The same deploy job in Node.js, against the Rust figures.
    fn node_section(&self, out: &mut String, machine: &str) {
        let _ = writeln!(
            out,
            "\n## Rust vs Node.js 20 (deploy-handler)\n\n\
             The same job (`bench/node-deploy-handler/`: AWS SDK v3 S3 and CodePipeline clients, \
             adm-zip) under a minimal custom-runtime loop (`runtime.mjs`), the same Runtime API \
             emulator and the same AWS emulator; measured on {machine} by `{}`.\n",
            self.command
        );
        match (
            &self.node,
            self.shipped.iter().find(|f| f.function == "deploy-handler"),
        ) {
            (Some(node), Some(rust)) => {
                let version = self.node_version.as_deref().unwrap_or("node");
                let _ = writeln!(
                    out,
                    "| | Rust | Node.js ({version}) | Node / Rust |\n| --- | --- | --- | --- |"
                );
                let secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64());
                let rows: [(&str, Pick); 4] = [
                    ("init (spawn → first /next), median", |s| median(&s.init)),
                    ("init, p90", |s| p90(&s.init)),
                    ("first invocation, median", |s| median(&s.first_invocation)),
                    ("warm invocation, median", |s| median(&s.warm_invocation)),
                ];
                for (label, pick) in rows {
                    let r = ratio(secs(pick(node)), secs(pick(&rust.samples)));
                    let _ = writeln!(
                        out,
                        "| {label} | {} | {} | {} |",
                        ms(pick(&rust.samples)),
                        ms(pick(node)),
                        r.map_or_else(|| "n/a".to_owned(), |r| format!("{r:.1}×"))
                    );
                }
                let rss_ratio = ratio(
                    node.peak_rss_kib.map(|k| k as f64),
                    rust.samples.peak_rss_kib.map(|k| k as f64),
                );
                let _ = writeln!(
                    out,
                    "| peak RSS | {} | {} | {} |",
                    rss(rust.samples.peak_rss_kib),
                    rss(node.peak_rss_kib),
                    rss_ratio.map_or_else(|| "n/a".to_owned(), |r| format!("{r:.1}×"))
                );
                let _ = writeln!(
                    out,
                    "\nSamples: {} cold starts each, {} warm invocations.",
                    node.init.len(),
                    node.warm_invocation.len()
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "Not measured in this run (`bench/node-deploy-handler/node_modules` missing and \
                     npm unavailable, or Node.js not installed)."
                );
            }
        }
    }

    /// The build variants that explain the init time.
    fn variants_section(&self, out: &mut String, machine: &str) {
        let _ = writeln!(out, "\n## Where the init time goes\n");
        let _ = writeln!(
            out,
            "### Build variants\n\nEach variant is a full release build of both zips with one \
             setting changed by environment (the command column), measured on {machine} by `{}`.\n",
            self.command
        );
        if self.command.contains("--reuse-variants") {
            let _ = writeln!(
                out,
                "With `--reuse-variants` the variant zips are those of the last full run, built \
                 before the dependency changes under \"Findings by hand\": their times are \
                 measured now, their sizes are older than the shipped figures above. A run \
                 without it rebuilds them (25-30 minutes).\n"
            );
        }
        let _ = writeln!(
            out,
            "| variant | function | zip | unzipped | init median | init p90 | first invocation | warm | peak RSS |\n\
             | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        );
        for variant in &self.variants {
            for f in &variant.functions {
                let s = &f.samples;
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    variant.name,
                    f.function,
                    megabytes(f.zip_bytes),
                    megabytes(f.unzipped_bytes),
                    ms(median(&s.init)),
                    ms(p90(&s.init)),
                    ms(median(&s.first_invocation)),
                    ms(median(&s.warm_invocation)),
                    rss(s.peak_rss_kib),
                );
            }
        }
        if !self.variants.is_empty() {
            let _ = writeln!(out, "\nCommands:\n");
            for variant in &self.variants {
                let _ = writeln!(out, "- {}: `{}`", variant.name, variant.command);
            }
        }
    }

    /// When each variant's deploy-handler first uses TLS.
    fn first_tls_section(&self, out: &mut String, machine: &str) {
        let _ = writeln!(
            out,
            "\n### First TLS use (aws-lc entropy)\n\n\
             The deploy-handler gets a webhook at `https://127.0.0.1:PORT` (a listener that only \
             reads the ClientHello): the time from handing out the job to the ClientHello \
             arriving covers the S3 read, the TLS client set-up and aws-lc's first randomness, \
             where the CPU jitter entropy source runs when it is built in. Measured on {machine} \
             by `{}`.\n",
            self.command
        );
        let _ = writeln!(
            out,
            "| variant | job → ClientHello, median | p90 | runs |\n| --- | --- | --- | --- |"
        );
        for variant in self.variants.iter().filter(|v| !v.client_hello.is_empty()) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                variant.name,
                ms(median(&variant.client_hello)),
                ms(p90(&variant.client_hello)),
                variant.client_hello.len()
            );
        }
    }

    /// The shipped binaries started with different root certificate sets.
    fn roots_section(&self, out: &mut String, machine: &str) {
        let _ = writeln!(
            out,
            "\n### TLS roots\n\n\
             The SDK loads the system's root certificates (rustls-native-certs) before the first \
             `/next`. The shipped binaries started with different root sets through \
             `SSL_CERT_FILE`; {ROOTS_NOTE} Measured on {machine} by `{}`.\n",
            self.command
        );
        let _ = writeln!(
            out,
            "| function | roots | init median | init p90 | first invocation median | cold starts |\n| --- | --- | --- | --- | --- | --- |"
        );
        for r in &self.roots {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                r.function,
                r.setup,
                ms(median(&r.samples.init)),
                ms(p90(&r.samples.init)),
                ms(median(&r.samples.first_invocation)),
                r.samples.init.len()
            );
        }
    }
}

/// `--zip`: the given zips' figures, headed by where and how they were measured.
pub fn given_zips(machine: &Machine, command: &str, functions: &[FunctionFigures]) -> String {
    let mut out = format!("\nMeasured on {} by `{command}`.\n\n", machine.describe());
    function_table(&mut out, functions);
    out
}

fn function_table(out: &mut String, functions: &[FunctionFigures]) {
    let _ = writeln!(
        out,
        "| function | zip | unzipped | init median | init p90 | first invocation median | warm median | peak RSS | samples |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for f in functions {
        let s = &f.samples;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} cold, {} warm |",
            f.function,
            megabytes(f.zip_bytes),
            megabytes(f.unzipped_bytes),
            ms(median(&s.init)),
            ms(p90(&s.init)),
            ms(median(&s.first_invocation)),
            ms(median(&s.warm_invocation)),
            rss(s.peak_rss_kib),
            s.init.len(),
            s.warm_invocation.len(),
        );
    }
}

/// What the old file says under the deploy heading, if anything: the deploy section and the
/// hand-written `## ` sections after it, all kept as they are.
pub fn deploy_section(old: &str) -> Option<&str> {
    let start = old.find(DEPLOY_HEADING)? + DEPLOY_HEADING.len();
    Some(&old[start..])
}

const ROOTS_NOTE: &str = "Debian's OpenSSL probe finds both a bundle file and a certificate \
directory of one file per certificate and loads both; Amazon Linux 2023 (`provided.al2023`) \
keeps its roots in bundle files, so the one-bundle row is the closer estimate of Lambda.";

/// Findings from inspecting the binaries by hand; each names how it was measured.
const FINDINGS: &str = r#"
### Findings by hand

Measured once by hand on 2026-11-27 on the same machine (2 CPUs, AMD EPYC, 23.5 GiB), with
the commands named; rerun them after changing dependencies.

**What happens before the first `/next`** (`strace -f -ttt -e trace=openat,connect,getrandom
target/bench/.../deploy-handler` with the Lambda environment): the dynamic loader (libc, libm;
about 1 ms), the tokio worker threads, the SDK config load (it looks for `~/.aws/config` and
`~/.aws/credentials`: profile files, absent on Lambda), then the native root certificates
(`/etc/ssl/certs/ca-certificates.crt`, 220 KB, and the 146 files of `/etc/ssl/certs`), then
the connection to the Runtime API. The credential chain is not run at init: the SDK resolves
credentials (from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, which
Lambda sets) at the first request, inside the first invocation. The "TLS roots" table above
prices the certificates: with no roots, init is what the runtime, tracing, SDK config and
clients cost together. The roots stay in init on purpose: Lambda runs the init phase at full
CPU whatever the memory size, and the first HTTPS call needs them anyway, so moving them into
the first invocation would make it slower. `functions/*/src/main.rs` are unchanged for that
reason: they do no init work the invocation does not need.

**aws-lc jitter entropy**: see the ClientHello table; the jitter source adds its cost to the
first TLS use (the first AWS call on Lambda), which is why `.cargo/config.toml` sets
`AWS_LC_SYS_NO_JITTER_ENTROPY=1` (the kernel's `getrandom` seeds aws-lc instead).

**opt-level**: "z" gives the smallest zips (about a third smaller than 3). In the build
variants table it costs up to about a millisecond on init, first invocation and the first TLS
use against 3 and "s": the functions mostly wait on I/O. Every variant meets the time targets
and size is the target at risk, so `[profile.release]` keeps "z".

**What made the deploy-handler big** (at 3.69 MB; `CARGO_PROFILE_RELEASE_OPT_LEVEL=z
CARGO_PROFILE_RELEASE_STRIP=false cargo build --release -p deploy-handler`, then
`nm --print-size --size-sort -C target/release/deploy-handler` summed by crate, 5.47 MB of
symbols): `crc_fast` 709 KB (lookup tables for every CRC-32/CRC-64 variant, reached through
aws-sdk-s3's flexible checksums), `h2` 257 KB, `rustls` 213 KB, `aws_config` 203 KB plus
`aws_sdk_ssooidc` 77 KB, `aws_sdk_sts` 72 KB and `aws_sdk_sso` 44 KB (the default credential
chain), `aws_sdk_s3` 137 KB, `regex_automata` + `regex_syntax` 136 KB (tracing-subscriber's
env-filter).

**What was done about it**, zip sizes at opt-level "z":

| change | deploy-handler zip | event-notifier zip |
| --- | --- | --- |
| with aws-sdk-s3 | 3.69 MB | 2.73 MB |
| the artifact read by a SigV4-signed GET (aws-sigv4 and the existing hyper client) | 2.93 MB | 2.69 MB |
| `rust-version = "1.95"`: every SDK crate on one smithy generation (it was two: aws-smithy-http 0.63 and 0.64, json, observability, schema, query, xml, eventstream), and the functions' aws-config without `sso` and `credentials-process` (Lambda gives credentials through the environment; the bootstrap CLI keeps both) | 2.80 MB | 2.56 MB |

`cargo xtask deny` (deny.toml) fails on duplicate crate versions, so a second generation of
the SDK's runtime crates cannot come back unnoticed, and it bans aws-sdk-s3 from the
functions.
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(init_ms: u64, first_ms: u64, rss_kib: u64) -> Samples {
        Samples {
            init: vec![Duration::from_millis(init_ms); 3],
            first_invocation: vec![Duration::from_millis(first_ms); 3],
            warm_invocation: vec![Duration::from_millis(1); 3],
            peak_rss_kib: Some(rss_kib),
        }
    }

    fn report(rust_init_ms: u64, zip_bytes: u64, node: Option<Samples>) -> Report {
        Report {
            machine: Machine {
                cpus: 2,
                cpu_model: "Test CPU".into(),
                memory: "24.0 GiB".into(),
                date: "2026-01-01".into(),
                load_average: "0.10".into(),
            },
            command: "cargo xtask bench".into(),
            shipped_opt_level: "\"s\"".into(),
            shipped: vec![FunctionFigures {
                function: "deploy-handler".into(),
                zip_bytes,
                unzipped_bytes: zip_bytes * 2,
                samples: samples(rust_init_ms, 20, 10_000),
            }],
            node,
            node_version: Some("v20.0.0".into()),
            variants: Vec::new(),
            roots: Vec::new(),
        }
    }

    #[test]
    fn targets_pass_and_fail_on_the_limits() {
        let ok = report(5, 3_000_000, Some(samples(100, 200, 60_000)));
        let checks = ok.targets();
        assert!(checks.iter().all(|c| c.pass == Some(true)), "{checks:#?}");

        let slow_big = report(11, 3_500_001, Some(samples(100, 200, 60_000)));
        let failed: Vec<_> = slow_big
            .targets()
            .into_iter()
            .filter(|c| c.pass == Some(false))
            .map(|c| c.what)
            .collect();
        assert_eq!(
            failed,
            [
                "deploy-handler: init (spawn → first /next), median",
                "deploy-handler: zip size",
                "deploy-handler: Rust vs Node.js cold start",
            ],
            "100 ms / 11 ms is under 15×"
        );
    }

    #[test]
    fn a_missing_node_side_is_reported_not_passed() {
        let checks = report(5, 3_000_000, None).targets();
        let node = checks.last().expect("node row");
        assert_eq!(node.pass, None);
        assert_eq!(node.measured, "not measured");
        let text = report(5, 3_000_000, None).render(None);
        assert!(text.contains("| not measured |"), "{text}");
    }

    #[test]
    fn render_names_machine_command_and_keeps_the_deploy_section() {
        let r = report(5, 3_000_000, Some(samples(100, 200, 60_000)));
        let fresh = r.render(None);
        assert!(fresh.contains(
            "2 CPUs (Test CPU), 24.0 GiB memory, load average 0.10 at start, 2026-01-01"
        ));
        assert!(fresh.contains("`cargo xtask bench`"));
        assert!(fresh.contains("| 20.0×"), "node/rust init ratio: {fresh}");
        assert!(fresh.ends_with(&format!("{DEPLOY_HEADING}\n\n{DEPLOY_PLACEHOLDER}\n")));

        let filled = format!(
            "{}\n| deploy | 42 s |\n\n## Later\nother",
            fresh.replace(DEPLOY_PLACEHOLDER, "")
        );
        let kept = deploy_section(&filled).expect("section found");
        assert_eq!(kept.trim(), "| deploy | 42 s |\n\n## Later\nother");
        let again = r.render(Some(kept));
        assert!(again.contains("| deploy | 42 s |"));
        assert!(
            again.ends_with("\n## Later\nother\n"),
            "hand sections kept: {again}"
        );
        assert!(!again.contains(DEPLOY_PLACEHOLDER));
    }
}
