//! Every input is checked before the first write: the real `bootstrap` binary against the
//! emulator, one row per input (bad ones refused with the problem and the fix, unusual good ones
//! accepted), and not one mutating call made by any of them.

mod common;

use common::{Cli, assert_code, setup, text};
use std::process::Command;
use testkit::Emulator;

/// One input: the command, its extra arguments, the exit code, and what the output must say
/// (the problem and, for a refusal, the fix).
struct Case {
    args: Vec<String>,
    code: i32,
    says: &'static [&'static str],
}

/// `command --env dev --github-repo octo/app EXTRA...`, leaving out what `extra` gives itself.
fn case(command: &str, extra: &[&str], code: i32, says: &'static [&'static str]) -> Case {
    let mut args = vec![command.to_owned()];
    let gives = |flag: &str| extra.iter().any(|a| a.starts_with(flag));
    if !gives("--env") {
        args.extend(["--env".to_owned(), "dev".to_owned()]);
    }
    if ["plan", "deploy"].contains(&command) && !gives("--github-repo") {
        args.extend(["--github-repo".to_owned(), "octo/app".to_owned()]);
    }
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    if command == "deploy" {
        args.push("--yes".to_owned());
    }
    Case { args, code, says }
}

/// `outputs` of an environment that was never deployed says so and fails.
const OUTPUTS_OF_NOTHING: i32 = 1;

fn refused(extra: &[&str], says: &'static [&'static str]) -> Case {
    case("deploy", extra, 1, says)
}

fn tags(count: usize) -> Vec<String> {
    (0..count)
        .flat_map(|i| ["--tag".to_owned(), format!("k{i}=v")])
        .collect()
}

fn cases() -> Vec<Case> {
    let owner_40 = format!("{}/app", "o".repeat(40));
    let too_long_env = "a".repeat(41);
    let mut cases = vec![
        // Already refused well; kept so they stay so.
        refused(&["--env", "Prod_1"], &["lowercase"]),
        refused(&["--env", &too_long_env], &["longest allowed is 40"]),
        refused(
            &["--github-repo", "not-a-repo"],
            &["OWNER/REPO", "--github-repo octo-org/service"],
        ),
        refused(&["--log-retention-days", "8"], &["retention", "use one of"]),
        refused(
            &["--topic-kms-key", "alias/aws/sns"],
            &["EventBridge cannot publish"],
        ),
        refused(
            &[
                "--topic-kms-key",
                "arn:aws:kms:ap-south-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            ],
            &["SNS uses keys of its own region only"],
        ),
        refused(
            &[
                "--deploy-webhook-url",
                "https://deploy.example.com/hook",
                "--deploy-webhook-secret-arn",
                "no-such-secret",
            ],
            &["no such secret"],
        ),
        refused(
            &["--deploy-webhook-secret-arn", "deploy-key"],
            &["give both, or neither"],
        ),
        // Tags: count with ours, characters, reserved keys in any case, duplicates.
        refused(&["--tag", "k!=v"], &["`!`", "letters, digits, spaces"]),
        refused(&["--tag", "aws:team=x"], &["aws:", "fix or drop"]),
        refused(&["--tag", "team=AWS:x"], &["aws:"]),
        refused(&["--tag", "Project=x"], &["reserved", "choose another key"]),
        refused(&["--tag", "environment=x"], &["reserved"]),
        refused(
            &["--tag", "team=a", "--tag", "team=b"],
            &["given twice", "once"],
        ),
        refused(
            &["--tag", "Team=a", "--tag", "team=b"],
            &["differ only in case", "keep one"],
        ),
        // Options that would break every job, or that the other source mode reads.
        refused(
            &["--deploy-webhook-url", "https://deploy.example.com/hook"],
            &[
                "without --deploy-webhook-secret-arn",
                "Secrets Manager secret",
            ],
        ),
        refused(
            &["--notify-states", "FOO"],
            &["not a pipeline state", "STARTED"],
        ),
        refused(
            &[
                "--connection-arn",
                "arn:aws:codestar-connections:us-east-1:123456789012:connection/x",
            ],
            &["--source codeconnections"],
        ),
        refused(
            &["--file-path-include", "src/**"],
            &["--file-path-include", "--source codeconnections"],
        ),
        refused(
            &["--file-path-exclude", "docs/**"],
            &["--file-path-exclude", "--source codeconnections"],
        ),
        refused(
            &["--source", "codeconnections", "--github-token-secret", "gh"],
            &["--github-token-secret", "drop it"],
        ),
        // GitHub's names and git's branch rules.
        refused(
            &["--github-repo", "octo/app.git"],
            &["without .git", "octo/app"],
        ),
        refused(
            &["--github-repo", "octo/.."],
            &["not a GitHub repository name"],
        ),
        refused(&["--github-repo", "octo_/app"], &["not a GitHub owner"]),
        refused(
            &["--github-repo", &owner_40],
            &["not a GitHub owner", "1-39"],
        ),
        // SNS's endpoints.
        refused(
            &["--notify-email", "a@@b.com"],
            &["not an email address", "team@example.com"],
        ),
        refused(&["--notify-url", "https://"], &["not a URL with a host"]),
        refused(
            &["--notify-url", "https://exa mple.com"],
            &["not a URL with a host"],
        ),
        refused(
            &["--notify-url", "http://x.example.com"],
            &["must be an https:// URL"],
        ),
        // A connection to use must exist, in the stack's account and region.
        refused(
            &[
                "--source",
                "codeconnections",
                "--connection-arn",
                "arn:aws:codestar-connections:us-east-1:123456789012:connection/nosuch",
            ],
            &["no such connection", "drop --connection-arn"],
        ),
        refused(
            &[
                "--source",
                "codeconnections",
                "--connection-arn",
                "arn:aws:codeconnections:eu-west-1:123456789012:connection/x",
            ],
            &["region eu-west-1", "its own account and region"],
        ),
        // A secret to read that is not there: what to create, and how.
        refused(
            &["--github-token-secret", "nosuch"],
            &["no such secret", "create-secret --name nosuch"],
        ),
        // Numbers out of their service's range are named with the range.
        refused(
            &["--lambda-memory-mb", "99999999999"],
            &["--lambda-memory-mb", "128..=10240"],
        ),
        refused(
            &["--deploy-timeout-seconds", "0"],
            &["--deploy-timeout-seconds", "10..=900"],
        ),
        // Accepted, unusual but good: a lower-case state, a pasted trailing space.
        case(
            "plan",
            &["--notify-states", "failed,Succeeded"],
            2,
            &["notifications-dev"],
        ),
        case(
            "plan",
            &["--notify-email", "team@example.com "],
            2,
            &["notifications-dev"],
        ),
        // A command line copied from deploy works for destroy and outputs.
        case(
            "destroy",
            &["--github-repo", "octo/app", "--yes"],
            0,
            &["ignoring --github-repo"],
        ),
        case(
            "outputs",
            &["--branch", "main"],
            OUTPUTS_OF_NOTHING,
            &["ignoring --branch"],
        ),
    ];
    for branch in ["main~1", "ma..in", "main.lock", "main*", "a/", "-x", "a b"] {
        let flag = format!("--branch={branch}");
        let says = &["is not a branch name git accepts", "e.g. --branch main"];
        cases.push(refused(&[flag.as_str()], says));
    }
    let over = tags(48);
    let over: Vec<&str> = over.iter().map(String::as_str).collect();
    cases.push(refused(
        &over,
        &["passes AWS's limit of 50", "give at most 47"],
    ));
    let fits = tags(47);
    let fits: Vec<&str> = fits.iter().map(String::as_str).collect();
    cases.push(case("plan", &fits, 2, &["notifications-dev"]));
    cases
}

fn run(cli: &Cli<'_>, args: &[String]) -> std::process::Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cli.run(&args)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_input_is_checked_before_the_first_write() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("inputs", &emulator);
    let mut failures = Vec::new();
    for Case { args, code, says } in cases() {
        let output = run(&cli, &args);
        let said = text(&output);
        let missing: Vec<&&str> = says.iter().filter(|s| !said.contains(**s)).collect();
        if output.status.code() != Some(code) || !missing.is_empty() {
            failures.push(format!(
                "{args:?}: exit {:?} (want {code}), missing {missing:?}\n{said}",
                output.status.code()
            ));
        }
        if said.contains("panicked") {
            failures.push(format!("{args:?} panicked:\n{said}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
    let mutating = emulator.mutating_calls().expect("calls");
    assert!(
        mutating.is_empty(),
        "an input changed something: {mutating:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn files_zips_and_tokens_are_named_with_their_fix() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("inputs-files", &emulator);
    let missing_zip = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .args([
            "deploy",
            "--env",
            "dev",
            "--github-repo",
            "octo/app",
            "--yes",
        ])
        .args(["--artifacts-dir", "/nonexistent"])
        .envs(emulator.env())
        .output()
        .expect("runs");
    assert_code(&missing_zip, 1);
    assert!(
        text(&missing_zip).contains("cargo xtask dist"),
        "{}",
        text(&missing_zip)
    );

    let unconfirmed = cli.run(&["deploy", "--env", "dev", "--github-repo", "octo/app"]);
    assert_code(&unconfirmed, 1);
    assert!(
        text(&unconfirmed).contains("--yes"),
        "{}",
        text(&unconfirmed)
    );

    // One name for a key in bootstrap.toml and its flag.
    let toml = cli.workdir.join("bootstrap.toml");
    std::fs::write(&toml, "env = \"dev\"\ngithub_repo = \"octo/app\"\n").expect("toml");
    let malformed = cli.run(&["plan"]);
    assert_code(&malformed, 1);
    assert!(
        text(&malformed).contains("bootstrap.toml"),
        "{}",
        text(&malformed)
    );
    std::fs::write(
        &toml,
        "env = \"dev\"\ngithub-repo = \"octo/app\"\nsource = \"codeconnections\"\nfile-path-include = [\"src/**\"]\n",
    )
    .expect("toml");
    assert_code(&cli.run(&["plan"]), 2);
    std::fs::remove_file(&toml).expect("remove toml");

    // plan warns of what deploy will need: the webhook source's token.
    let artifacts = cli.artifacts.display().to_string();
    let args = [
        "plan",
        "--env",
        "dev",
        "--github-repo",
        "octo/app",
        "--artifacts-dir",
        &artifacts,
    ];
    let no_token = cli.run_env_only(&args);
    assert_code(&no_token, 2);
    assert!(
        text(&no_token).contains("GITHUB_TOKEN")
            && text(&no_token).contains("--github-token-secret"),
        "{}",
        text(&no_token)
    );
    // Bad environment variables are named with the fix, not ignored.
    for (variable, value) in [
        ("BOOTSTRAP_LOG", "[[["),
        ("BOOTSTRAP_IAM_PROPAGATION_BUDGET_SECONDS", "abc"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
            .args(args)
            .envs(emulator.env())
            .env(variable, value)
            .output()
            .expect("runs");
        assert_code(&output, 1);
        assert!(
            text(&output).contains(variable) && text(&output).contains("unset it"),
            "{}",
            text(&output)
        );
    }
    let mutating = emulator.mutating_calls().expect("calls");
    assert!(
        mutating.is_empty(),
        "an input changed something: {mutating:?}"
    );
}

#[test]
fn no_sdk_log_line_or_debug_dump_without_bootstrap_log() {
    let output = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .args(["outputs", "--env", "dev", "--region", "us-east-1"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("BOOTSTRAP_LOG")
        .env("AWS_CONFIG_FILE", "/nonexistent/config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .expect("runs");
    assert_code(&output, 1);
    let said = text(&output);
    assert!(
        !said.contains("WARN") && !said.contains("ProviderError {") && !said.contains('\u{1b}'),
        "{said}"
    );
    assert!(
        said.contains("region us-east-1") && said.contains("hint: no usable credentials"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_that_deploy_would_refuse_exits_1() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("inputs-conflict", &emulator);
    let config = emulator.sdk_config().await;
    // A topic with our name that we did not make (no tags): deploy must refuse it.
    aws_sdk_sns::Client::new(&config)
        .create_topic()
        .name("notifications-dev")
        .send()
        .await
        .expect("foreign topic");
    let planned = cli.run(&["plan", "--env", "dev", "--github-repo", "octo/app"]);
    assert_code(&planned, 1);
    assert!(
        text(&planned).contains("notifications-dev"),
        "{}",
        text(&planned)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn outputs_of_a_half_made_environment_say_what_exists_and_costs() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("inputs-half-made", &emulator);
    let deploy = [
        "deploy",
        "--env",
        "dev",
        "--github-repo",
        "octo/app",
        "--yes",
    ];
    assert_code(&cli.run(&deploy), 0);
    // What an interrupted destroy leaves: the pipeline gone, the rest still there.
    let config = emulator.sdk_config().await;
    aws_sdk_codepipeline::Client::new(&config)
        .delete_pipeline()
        .name("pipeline-dev")
        .send()
        .await
        .expect("delete the pipeline");
    let outputs = cli.run(&["outputs", "--env", "dev"]);
    assert_code(&outputs, 1);
    let said = text(&outputs);
    assert!(
        said.contains("only partly there")
            && said.contains("artifacts-")
            && said.contains("cost money")
            && said.contains("bootstrap destroy --env dev"),
        "{said}"
    );
    assert_code(&cli.run(&["destroy", "--env", "dev", "--yes"]), 0);
    let gone = cli.run(&["outputs", "--env", "dev"]);
    assert_code(&gone, 1);
    assert!(text(&gone).contains("is not deployed"), "{}", text(&gone));
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_shows_old_and_new_values_and_what_the_pipeline_is_for() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("inputs-plan-values", &emulator);
    let base = ["--env", "dev", "--github-repo", "octo/app"];
    let deploy: Vec<&str> = ["deploy"]
        .iter()
        .chain(&base)
        .copied()
        .chain(["--yes"])
        .collect();
    assert_code(&cli.run(&deploy), 0);
    let plan: Vec<&str> = ["plan"]
        .iter()
        .chain(&base)
        .copied()
        .chain([
            "--log-retention-days",
            "7",
            "--notify-email",
            "team@example.com",
        ])
        .collect();
    let planned = cli.run(&plan);
    assert_code(&planned, 2);
    let said = text(&planned);
    assert!(
        said.contains("retention_days: 30 -> 7")
            && said.contains("builds octo/app branch main (github-webhook)")
            && said.contains("notifies team@example.com of STARTED,SUCCEEDED,FAILED"),
        "{said}"
    );
    let json: Vec<&str> = plan.iter().copied().chain(["--output", "json"]).collect();
    let planned = cli.run(&json);
    let report: serde_json::Value = serde_json::from_slice(&planned.stdout).expect("plan json");
    let values: Vec<&serde_json::Value> = report["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["values"].as_array())
        .flatten()
        .filter(|v| v["field"] == "retention_days")
        .collect();
    assert!(
        !values.is_empty() && values.iter().all(|v| v["old"] == 30 && v["new"] == 7),
        "{report}"
    );
    assert_eq!(report["inputs"]["repository"], "octo/app", "{report}");
    assert_code(&cli.run(&["destroy", "--env", "dev", "--yes"]), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_connection_is_used_with_a_warning() {
    let emulator = Emulator::start().expect("emulator");
    let cli = setup("inputs-connection", &emulator);
    let config = emulator.sdk_config().await;
    let created = aws_sdk_codestarconnections::Client::new(&config)
        .create_connection()
        .connection_name("team-github")
        .provider_type(aws_sdk_codestarconnections::types::ProviderType::Github)
        .send()
        .await
        .expect("a connection");
    let arn = created.connection_arn();
    let plan = [
        "plan",
        "--env",
        "dev",
        "--github-repo",
        "octo/app",
        "--source",
        "codeconnections",
        "--connection-arn",
        arn,
    ];
    let planned = cli.run(&plan);
    assert_code(&planned, 2);
    assert!(text(&planned).contains("is PENDING"), "{}", text(&planned));
    // Deployed with it, the outputs show the connection and the step it still needs.
    let deploy: Vec<&str> = ["deploy"]
        .into_iter()
        .chain(plan.iter().skip(1).copied())
        .chain(["--yes"])
        .collect();
    assert_code(&cli.run(&deploy), 0);
    let outputs = cli.run(&["outputs", "--env", "dev", "--output", "json"]);
    assert_code(&outputs, 0);
    let outputs: serde_json::Value = serde_json::from_slice(&outputs.stdout).expect("json");
    assert_eq!(outputs["connectionArn"], arn, "{outputs}");
    assert_eq!(outputs["connectionStatus"], "PENDING", "{outputs}");
    let text_outputs = cli.run(&["outputs", "--env", "dev"]);
    assert!(
        text(&text_outputs).contains("Update pending connection"),
        "{}",
        text(&text_outputs)
    );
}
