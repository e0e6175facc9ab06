//! `bootstrap`: wires the CLI to the operations and maps results to exit codes.

use bootstrap::cli::{Cli, Command, ProgressArg};
use bootstrap::config::{self, Layer};
use bootstrap::ops::{self, Output};
use bootstrap::progress;
use std::process::ExitCode;

// The Lambda zips and the commit bootstrap/build.rs found: `static BUILD`.
include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

fn main() -> ExitCode {
    bootstrap::artifacts::install(&BUILD);
    let cli = match bootstrap::cli::parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() { 1 } else { 0 };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    progress::use_json_lines(cli.progress == ProgressArg::Json);
    let filter = match log_filter() {
        Ok(filter) => filter,
        Err(problem) => {
            progress::notice(&format!("error: {problem}"));
            return ExitCode::from(1);
        }
    };
    if let Err(err) = bootstrap::retry::budget_override() {
        progress::notice(&format!("error: {err}"));
        return ExitCode::from(1);
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            progress::notice(&format!("error: could not start the async runtime: {err}"));
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let report = bootstrap::error_report(&err);
            progress::notice(&format!("error: {report}"));
            if bootstrap::reports_access_denied(&report) {
                progress::notice(
                    "hint: these credentials lack a permission bootstrap needs; \
                     `bootstrap deployer-policy --env ENV` prints the policy that covers every command \
                     (README, \"Permissions\")",
                );
            }
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    let output = Output::from(cli.output);
    let file = config::read_file(cli.config.as_deref())?;
    let region = cli.region.or_else(|| file.region.clone());
    let region = region.as_deref();
    match cli.command {
        Command::Plan(inputs) => {
            let config = config::resolve(inputs, file)?;
            ops::plan(&config, region, output).await
        }
        Command::Deploy { inputs, yes } => {
            let config = config::resolve(inputs, file)?;
            ops::deploy(&config, region, output, yes).await.map(|()| 0)
        }
        Command::Destroy { inputs, yes } => {
            note_ignored("destroy", &inputs);
            let env = config::resolve_env(&inputs, &file)?;
            ops::destroy(&env, region, output, yes).await.map(|()| 0)
        }
        Command::DeployerPolicy { inputs, boundary } => {
            let scope = config::resolve_policy_scope(inputs, file)?;
            ops::deployer_policy(&scope, region, output, boundary)
                .await
                .map(|()| 0)
        }
        Command::ApproverPolicy { inputs, for_stage } => {
            let scope = config::resolve_policy_scope(inputs, file)?;
            ops::approver::approver_policy(&scope, for_stage.as_deref(), region, output)
                .await
                .map(|()| 0)
        }
        Command::Outputs(inputs) => {
            note_ignored("outputs", &inputs);
            let env = config::resolve_env(&inputs, &file)?;
            ops::outputs(&env, region, output).await.map(|()| 0)
        }
    }
}

/// Says which given options a command that needs only `--env` leaves unread, so a command line
/// copied from `deploy` works and nobody thinks the extra options did something.
fn note_ignored(command: &str, inputs: &Layer) {
    let ignored = inputs.given_besides_env();
    if !ignored.is_empty() {
        progress::notice(&format!(
            "note: {command} reads only --env; ignoring {}",
            ignored.join(", ")
        ));
    }
}

/// The SDK's own diagnostics stay off unless `BOOTSTRAP_LOG` asks for them: bootstrap says what
/// went wrong itself, and the SDK's lines (a `WARN` with a `Debug` dump of a provider error)
/// only repeat it less clearly.
fn log_filter() -> Result<tracing_subscriber::EnvFilter, String> {
    match std::env::var("BOOTSTRAP_LOG") {
        Err(_) => Ok(tracing_subscriber::EnvFilter::new("off")),
        Ok(raw) => tracing_subscriber::EnvFilter::try_new(&raw).map_err(|err| {
            format!(
                "BOOTSTRAP_LOG=`{raw}` is not a log filter ({err}); use a level such as debug, or \
                 directives such as aws_config=debug, or unset it"
            )
        }),
    }
}
