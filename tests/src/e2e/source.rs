//! The Source step: a push signed as GitHub signs it and checked against the deployed webhook
//! as CodePipeline checks it, the execution it starts, and the commit zipped into the artifact
//! bucket with the pipeline role's credentials.

use super::context::RunContext;
use super::delivery::{action_level, emit};
use super::events::{Execution, Level};
use super::github;
use super::report::{EventDelivery, PushCheck};
use super::support::{self, now_iso8601, random_hex, uuid};
use anyhow::{Context, Result, bail};
use serde_json::json;
use std::path::{Path, PathBuf};

/// The source artifact CodePipeline wrote for a commit.
pub(super) struct SourceArtifact {
    pub(super) key: String,
    pub(super) version_id: Option<String>,
}

/// A push to a branch the webhook filters out: signed correctly, it starts nothing.
pub(super) async fn push_to_another_branch(ctx: &RunContext<'_>) -> Result<PushCheck> {
    ctx.say.step("A push to another branch");
    let feature_commit = github::Commit {
        id: random_hex(40),
        message: "Fix a typo in the README".into(),
        author: "Ada Lovelace".into(),
    };
    let wrong_branch_push = deliver_push(ctx, "docs/readme-typo", &feature_commit).await?;
    if wrong_branch_push.starts_execution {
        bail!(
            "a push to refs/heads/docs/readme-typo would start {}: the webhook filter must only pass {}",
            ctx.deployed.pipeline,
            ctx.opts.branch
        );
    }
    ctx.say
        .say("nothing starts: no execution, no artifact, no build");
    Ok(wrong_branch_push)
}

/// A push of `commit` to the pipeline's branch, which must pass the webhook's checks.
pub(super) async fn push_to_branch(
    ctx: &RunContext<'_>,
    commit: &github::Commit,
) -> Result<PushCheck> {
    let push = deliver_push(ctx, &ctx.opts.branch, commit).await?;
    if !push.starts_execution {
        bail!(
            "a signed push to {} did not pass the deployed webhook's checks ({:?}); the pipeline would never start",
            ctx.opts.branch,
            push
        );
    }
    Ok(push)
}

/// CodePipeline starts an execution for the push (its calls are counted from here).
pub(super) async fn start_execution(
    ctx: &RunContext<'_>,
    log: &mut Vec<EventDelivery>,
) -> Result<Execution> {
    let d = ctx.deployed;
    ctx.emu.clear_calls()?;
    let execution = Execution {
        pipeline: d.pipeline.clone(),
        pipeline_arn: d.pipeline_arn.clone(),
        execution_id: uuid(),
        region: d.region.clone(),
        account: d.account.clone(),
        start_time: now_iso8601(),
        trigger: d.trigger(),
    };
    ctx.say.say(&format!(
        "CodePipeline starts execution {}",
        execution.execution_id
    ));
    emit(ctx, &execution, Level::Pipeline, "STARTED", log).await?;
    Ok(execution)
}

/// Source: the repository at the commit, zipped into the artifact bucket. `fail_tests` and
/// `bad_image` are what the commit changes in the sample app.
pub(super) async fn source_stage(
    ctx: &RunContext<'_>,
    execution: &Execution,
    commit: &github::Commit,
    (fail_tests, bad_image): (bool, bool),
    log: &mut Vec<EventDelivery>,
) -> Result<SourceArtifact> {
    let source = &ctx.deployed.source;
    emit(ctx, execution, Level::Stage(&source.stage), "STARTED", log).await?;
    let started = action_level(source, "Source", None);
    emit(ctx, execution, started, "STARTED", log).await?;
    let checkout = check_out(ctx, commit, fail_tests, bad_image)?;
    let artifact = upload_source(ctx, commit, &checkout).await?;
    let source_result = json!({
        "external-execution-id": commit.id,
        "external-execution-summary": commit.message,
        "external-execution-url": format!("https://github.com/{}/commit/{}", ctx.opts.github_repo, commit.id),
    });
    let succeeded = action_level(source, "Source", Some(source_result));
    emit(ctx, execution, succeeded, "SUCCEEDED", log).await?;
    emit(
        ctx,
        execution,
        Level::Stage(&source.stage),
        "SUCCEEDED",
        log,
    )
    .await?;
    Ok(artifact)
}

/// The repository at the commit: the sample app and the project's buildspec, with the
/// commit's change to the app.
fn check_out(
    ctx: &RunContext<'_>,
    commit: &github::Commit,
    fail_tests: bool,
    bad_image: bool,
) -> Result<PathBuf> {
    let say = ctx.say;
    let checkout = ctx.scratch.join(format!("checkout-{}", &commit.id[..12]));
    copy_dir(&ctx.opts.app_dir, &checkout)?;
    std::fs::copy(&ctx.opts.buildspec, checkout.join("buildspec.yml"))
        .context("copying buildspec.yml into the commit")?;
    if fail_tests {
        // The sample app's documented switch: an empty FAIL_TESTS file makes its tests fail.
        std::fs::write(checkout.join("FAIL_TESTS"), "")?;
        say.say("this commit adds examples/hello-app/FAIL_TESTS, which makes a unit test fail");
    }
    if bad_image {
        // The tests pass, the image builds, and the process dies at startup: a setting the
        // service does not have is read before the server starts.
        let hello = checkout.join("hello.py");
        let code = std::fs::read_to_string(&hello)?.replace(
            "def main():\n",
            "def main():\n    style = os.environ[\"GREETING_STYLE\"]  # not set in the service\n",
        );
        std::fs::write(&hello, code)?;
        say.say("this commit makes hello.py read GREETING_STYLE at startup, which the service does not set: its tasks exit at once");
    }
    Ok(checkout)
}

/// CodePipeline writes the source artifact with the pipeline role's credentials.
async fn upload_source(
    ctx: &RunContext<'_>,
    commit: &github::Commit,
    checkout: &Path,
) -> Result<SourceArtifact> {
    let d = ctx.deployed;
    let source_zip = support::zip_dir(checkout)?;
    let source_key = artifact_key(
        &d.pipeline,
        d.source
            .output_artifact
            .as_deref()
            .unwrap_or("SourceArtifact"),
    );
    let pipeline_role = ctx.emu.sdk_config_with(&ctx.pipeline_role).await;
    let pipeline_s3 = testkit::s3_client(&pipeline_role);
    pipeline_s3
        .get_bucket_versioning()
        .bucket(&d.bucket)
        .send()
        .await
        .context("CodePipeline (pipeline role) checking the artifact bucket")?;
    let put = pipeline_s3
        .put_object()
        .bucket(&d.bucket)
        .key(&source_key)
        .body(source_zip.clone().into())
        .metadata("codepipeline-artifact-revision-summary", &commit.message)
        .send()
        .await
        .with_context(|| {
            format!(
                "uploading the source artifact to s3://{}/{source_key}",
                d.bucket
            )
        })?;
    let source_version_id = put.version_id().map(str::to_owned);
    ctx.say.say(&format!(
        "source artifact s3://{}/{source_key} ({} bytes, object version {}), revision {}",
        d.bucket,
        source_zip.len(),
        source_version_id.as_deref().unwrap_or("none"),
        commit.id
    ));
    ctx.say.simulated("on AWS, the GitHub source action downloads the commit's archive; here the sample app directory is the commit");
    Ok(SourceArtifact {
        key: source_key,
        version_id: source_version_id,
    })
}

/// Signs a push as GitHub does and checks it as CodePipeline does.
async fn deliver_push(
    ctx: &RunContext<'_>,
    branch: &str,
    commit: &github::Commit,
) -> Result<PushCheck> {
    let hook = ctx.deployed.webhook()?;
    let d = ctx.deployed;
    ctx.emu.clear_calls()?;
    let payload = github::push_payload(&ctx.opts.github_repo, branch, &random_hex(40), commit);
    let body = serde_json::to_vec(&payload)?;
    // GitHub signs with the secret the user pasted into the repository's webhook settings.
    let header = github::signature_header(hook.github_secret.as_bytes(), &body);
    ctx.say.say(&format!(
        "GitHub sends push {} ({}) to {} with X-Hub-Signature-256: {}…",
        payload["ref"].as_str().unwrap_or_default(),
        &commit.id[..12],
        hook.url,
        &header[..19]
    ));
    ctx.say.simulated("on AWS, GitHub calls the webhook URL and CodePipeline checks and starts the execution; here the same checks run locally against the deployed webhook");
    // CodePipeline verifies with the SecretToken stored in the webhook definition.
    let signature_valid = github::signature_is_valid(hook.secret_token.as_bytes(), &body, &header);
    let filters = github::evaluate_filters(
        &hook.filters,
        &payload,
        &d.source
            .configuration
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>(),
    )?;
    for verdict in &filters {
        ctx.say.say(&format!(
            "filter {} == {:?}: found {:?} → {}",
            verdict.json_path,
            verdict.expected.as_deref().unwrap_or("(exists)"),
            verdict.found.as_deref().unwrap_or("nothing"),
            if verdict.matched { "match" } else { "no match" }
        ));
    }
    ctx.say.say(&format!(
        "signature {}",
        if signature_valid {
            "verified with the webhook's secret"
        } else {
            "REJECTED"
        }
    ));
    let starts_execution =
        signature_valid && !filters.is_empty() && filters.iter().all(|f| f.matched);
    let mutating_calls = ctx
        .emu
        .mutating_calls()?
        .into_iter()
        .map(|c| format!("{} {}", c.service, c.operation))
        .collect();
    Ok(PushCheck {
        git_ref: payload["ref"].as_str().unwrap_or_default().to_owned(),
        signature_valid,
        filters,
        starts_execution,
        mutating_calls,
    })
}

/// `pipeline/ArtifactNa/abc1234`: CodePipeline keeps the first 10 characters of the name.
pub(super) fn artifact_key(pipeline: &str, artifact: &str) -> String {
    let short: String = artifact.chars().take(10).collect();
    format!("{pipeline}/{short}/{}", random_hex(7))
}

/// Copies a directory tree (the sample app as the commit holds it).
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let path = entry?.path();
        let target = to.join(path.file_name().context("a file without a name")?);
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            std::fs::copy(&path, &target)?;
        }
    }
    Ok(())
}
