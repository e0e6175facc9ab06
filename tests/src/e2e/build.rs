//! The Build step: CodePipeline starts the project with the pipeline role; CodeBuild reads the
//! source artifact, runs `buildspec.yml`'s phases with the build role's credentials (`docker`
//! is podman or the stand-in, see [`super::engine`]; `aws` is the AWS CLI), uploads the test
//! reports and the output artifact; then the pushed image is checked in ECR
//! ([`super::ecr_checks`]) and the stage's events are delivered.

use super::buildspec::{self, artifact_files, parse_buildspec, report_groups};
use super::context::{RunContext, opts_names, role_credentials};
use super::delivery::{action_level, emit, seed_failed_execution};
use super::ecr_checks::{check_pushed_image, ecr_image};
use super::events::{Execution, Level};
use super::report::{BuildReport, EcrImage, EventDelivery, RunReport};
use super::source::artifact_key;
use super::support::{self, uuid};
use super::{engine, github};
use crate::buildspec_runner::{RunConfig, run_buildspec};
use anyhow::{Context, Result, bail};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The build's `aws`: the real AWS CLI (from the venv), each call recorded for the demo.
const AWS_CLI: &str = include_str!("aws_cli.py");

/// One build of a commit, with the image ECR holds under the commit's tag afterwards.
pub(super) struct Built {
    pub(super) report: BuildReport,
    pub(super) image: Option<EcrImage>,
    image_tag: String,
    build_id: String,
    url: String,
}

/// Build: CodePipeline starts it and follows it with the pipeline role's credentials; the
/// build runs; ECR is asked for the commit's image.
pub(super) async fn build_stage(
    ctx: &RunContext<'_>,
    execution: &Execution,
    commit: &github::Commit,
    source_key: &str,
    log: &mut Vec<EventDelivery>,
) -> Result<Built> {
    let d = ctx.deployed;
    let pipeline_role = ctx.emu.sdk_config_with(&ctx.pipeline_role).await;
    let pipeline_codebuild = aws_sdk_codebuild::Client::new(&pipeline_role);
    let build_started = pipeline_codebuild
        .start_build()
        .project_name(
            d.build
                .configuration
                .get("ProjectName")
                .map_or("build", String::as_str),
        )
        .send()
        .await
        .context("CodePipeline (pipeline role) starting the build")?;
    let build_id = build_started
        .build_value()
        .and_then(|b| b.id())
        .context("StartBuild returned no build id")?
        .to_owned();
    pipeline_codebuild
        .batch_get_builds()
        .ids(&build_id)
        .send()
        .await
        .context("CodePipeline (pipeline role) reading the build")?;
    emit(ctx, execution, Level::Stage(&d.build.stage), "STARTED", log).await?;
    let started = action_level(&d.build, "Build", None);
    emit(ctx, execution, started, "STARTED", log).await?;
    let report = run_build(ctx, commit, source_key, &build_id).await?;
    // The buildspec tags the image with the commit and the architecture it builds for
    // (`<commit:12>-amd64`); pre_build exports the tag before anything can fail.
    let image_tag = report
        .exported
        .get("IMAGE_TAG")
        .cloned()
        .with_context(|| format!("the build of {} exported no IMAGE_TAG", &commit.id[..12]))?;
    let image = ecr_image(ctx.clients, &d.repository, &image_tag).await?;
    let url = format!(
        "https://{0}.console.aws.amazon.com/codesuite/codebuild/projects/{1}/build/{2}/log?region={0}",
        d.region,
        d.build
            .configuration
            .get("ProjectName")
            .map_or("", String::as_str),
        build_id.replace(':', "%3A")
    );
    Ok(Built {
        report,
        image,
        image_tag,
        build_id,
        url,
    })
}

/// A failed build pushed nothing; the Build stage and the pipeline fail, Deploy never runs.
pub(super) async fn build_failed(
    ctx: &RunContext<'_>,
    execution: &Execution,
    commit: &github::Commit,
    built: &Built,
    (phase, command): &(String, String),
    log: &mut Vec<EventDelivery>,
) -> Result<()> {
    let d = ctx.deployed;
    let say = ctx.say;
    let summary = format!(
        "Build terminated with state: FAILED. Phase: {}, Code: COMMAND_EXECUTION_ERROR, Message: Error while executing command: {command}. Reason: exit status 1",
        phase.to_uppercase()
    );
    say.say(&format!("build FAILED in {phase}: {command}"));
    nothing_pushed(ctx, built)?;
    let result = json!({"external-execution-id": built.build_id, "external-execution-summary": summary, "external-execution-url": built.url, "error-code": "JobFailed"});
    let failed = action_level(&d.build, "Build", Some(result));
    emit(ctx, execution, failed, "FAILED", log).await?;
    emit(ctx, execution, Level::Stage(&d.build.stage), "FAILED", log).await?;
    seed_failed_execution(ctx, execution, commit, &d.build, &summary, &built.url).await?;
    say.say("Deploy does not run: the Build stage failed");
    emit(ctx, execution, Level::Pipeline, "FAILED", log).await
}

/// Neither ECR nor (with the real engine) the registry behind it holds the failed build's tag.
fn nothing_pushed(ctx: &RunContext<'_>, built: &Built) -> Result<()> {
    let d = ctx.deployed;
    let image_tag = &built.image_tag;
    match &built.image {
        Some(found) => ctx.say.say(&format!(
            "UNEXPECTED: ECR holds {}:{}",
            d.repository, found.tag
        )),
        None => ctx.say.say(&format!(
            "nothing was pushed: ECR has no {}:{image_tag}",
            d.repository
        )),
    }
    if ctx.engine.is_real() {
        let in_registry = ctx.emu.registry_manifest_digest(&d.repository, image_tag)?;
        if !built.report.pushed.is_empty() || in_registry.is_some() {
            bail!(
                "the failed build pushed {:?} and the registry holds {in_registry:?} for {}:{image_tag}: a failing build must push nothing",
                built.report.pushed,
                d.repository
            );
        }
        ctx.say
            .say("and the registry holds no manifest under that tag");
    }
    Ok(())
}

/// A successful build's image is checked in ECR; the Build stage succeeds. Returns the image
/// and whether ECR refused another image under its tag.
pub(super) async fn build_succeeded(
    ctx: &RunContext<'_>,
    execution: &Execution,
    built: &Built,
    log: &mut Vec<EventDelivery>,
) -> Result<(EcrImage, bool)> {
    let d = ctx.deployed;
    let (found, retag_refused) =
        check_pushed_image(ctx, &built.report, built.image.as_ref(), &built.image_tag).await?;
    let result = json!({"external-execution-id": built.build_id, "external-execution-summary": "Build succeeded", "external-execution-url": built.url});
    let succeeded = action_level(&d.build, "Build", Some(result));
    emit(ctx, execution, succeeded, "SUCCEEDED", log).await?;
    emit(
        ctx,
        execution,
        Level::Stage(&d.build.stage),
        "SUCCEEDED",
        log,
    )
    .await?;
    Ok((found, retag_refused))
}

/// A retried Build stage (or the same commit released again) builds a commit whose image ECR
/// already holds: the buildspec must reuse that image, building and pushing nothing.
pub(super) async fn retried_build_reuses_the_image(
    ctx: &RunContext<'_>,
    run: &RunReport,
) -> Result<()> {
    let image = run
        .image
        .as_ref()
        .context("the green run left no image in ECR")?;
    ctx.say.step(&format!(
        "The Build stage retried for commit {}",
        &run.commit[..12]
    ));
    let commit = github::Commit {
        id: run.commit.clone(),
        message: "Greet people by name".into(),
        author: "Ada Lovelace".into(),
    };
    let project = ctx
        .deployed
        .build
        .configuration
        .get("ProjectName")
        .map_or("build", String::as_str);
    let build_id = format!("{project}:{}", uuid());
    let again = run_build(ctx, &commit, &run.source_key, &build_id).await?;
    let engine_work: Vec<String> = again
        .tool_calls
        .iter()
        .filter(|call| {
            call.len() > 1 && call[0] == "docker" && matches!(call[1].as_str(), "build" | "push")
        })
        .map(|call| call.join(" "))
        .collect();
    let digest = again.exported.get("IMAGE_DIGEST");
    if !again.succeeded || !engine_work.is_empty() || digest != Some(&image.digest) {
        bail!(
            "a retried build of {} must reuse {}: it succeeded={}, ran {engine_work:?}, exported IMAGE_DIGEST={digest:?}",
            &run.commit[..12],
            image.digest,
            again.succeeded
        );
    }
    ctx.say.say(&format!(
        "nothing built or pushed: the build reused {}",
        image.digest
    ));
    Ok(())
}

/// Where one build works: a directory per build, so a retried build of the same commit starts
/// afresh, as on CodeBuild.
struct BuildDirs {
    dir: PathBuf,
    src: PathBuf,
    tools: PathBuf,
    state: PathBuf,
}

/// CodeBuild's part: the source read, the buildspec's phases run and their results read, the
/// test reports and the output artifact uploaded, all with the build role's credentials.
async fn run_build(
    ctx: &RunContext<'_>,
    commit: &github::Commit,
    source_key: &str,
    build_id: &str,
) -> Result<BuildReport> {
    let d = ctx.deployed;
    let say = ctx.say;
    // CodeBuild reads the source, runs the commands and uploads the output with the build role.
    let build_role = role_credentials(
        &ctx.clients.sts,
        &d.role_arn(&opts_names(ctx.opts)?.names().codebuild_role()),
        "codebuild",
    )
    .await?;
    let build_s3 = testkit::s3_client(&ctx.emu.sdk_config_with(&build_role).await);
    let (dirs, files, buildspec_text) =
        fetch_source(ctx, &build_s3, commit, source_key, build_id).await?;
    let buildspec = parse_buildspec(&buildspec_text)?;
    install_tools(ctx, &dirs)?;
    let config = run_config(ctx, commit, source_key, build_id, &dirs, &build_role);
    say.say(&format!(
        "CodeBuild runs {} ({} files) with the project's variables: {}",
        d.buildspec_name,
        files,
        d.build_env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    match &ctx.engine {
        engine::BuildEngine::Podman { registry } => say.simulated(&format!("on AWS the build runs in CodeBuild's container with Docker and the AWS CLI; here the buildspec's phases run with bash, `docker` is podman (chroot isolation, the base image made from Debian's packages) pushing to the emulator's ECR registry at {registry}, and `aws` is the AWS CLI (version 1; CodeBuild has version 2) against the emulator")),
        engine::BuildEngine::StandIn { why } => say.simulated(&format!("on AWS the build runs in CodeBuild's container with Docker and the AWS CLI; here ({why}) the buildspec's phases run with bash, a stand-in `docker` and the AWS CLI (version 1) against the emulator: the tests really run (with the host's Python), the image manifest is really pushed to the emulator's ECR")),
    }
    let outcome = tokio::task::spawn_blocking(move || run_buildspec(&buildspec, &config)).await??;
    let tool_calls = buildspec::recorded_tool_calls(&dirs.state);
    for call in &tool_calls {
        let line = call.join(" ");
        say.say(&format!(
            "  $ {}",
            if line.len() > 110 {
                format!("{}…", &line[..110])
            } else {
                line
            }
        ));
    }
    let failure = buildspec::failure(&outcome, &buildspec_text, &tool_calls)?;
    say.block(&buildspec::log_tail(&outcome.log));
    upload_reports(ctx, &buildspec_text, &dirs, build_id)?;
    let exported = buildspec::exported(&outcome);
    let mut output_key = None;
    if outcome.succeeded() {
        output_key = Some(upload_output(ctx, &build_s3, &buildspec_text, &dirs).await?);
    }
    let pushed = buildspec::recorded_pushes(&dirs.state);
    Ok(BuildReport {
        succeeded: outcome.succeeded(),
        failure,
        tool_calls,
        exported,
        output_key,
        log: outcome.log,
        pushed,
    })
}

/// Reads the source artifact into a fresh build directory; returns the directories, how many
/// files the source holds and the buildspec's text.
async fn fetch_source(
    ctx: &RunContext<'_>,
    build_s3: &aws_sdk_s3::Client,
    commit: &github::Commit,
    source_key: &str,
    build_id: &str,
) -> Result<(BuildDirs, usize, String)> {
    let d = ctx.deployed;
    let object = build_s3
        .get_object()
        .bucket(&d.bucket)
        .key(source_key)
        .send()
        .await
        .with_context(|| {
            format!(
                "CodeBuild reading its source s3://{}/{source_key}",
                d.bucket
            )
        })?;
    let bytes = object.body.collect().await?.into_bytes();
    // One directory per build: a retried build of the same commit starts afresh, as on CodeBuild.
    let build_number = build_id.rsplit(':').next().unwrap_or(build_id);
    let dir = ctx
        .scratch
        .join(format!("codebuild-{}-{build_number}", &commit.id[..12]));
    let dirs = BuildDirs {
        src: dir.join("src"),
        tools: dir.join("tools"),
        state: dir.join("standin-state"),
        dir,
    };
    std::fs::create_dir_all(&dirs.src)?;
    let files = support::unzip_into(&bytes, &dirs.src)?;
    let buildspec_text =
        std::fs::read_to_string(dirs.src.join(&d.buildspec_name)).with_context(|| {
            format!(
                "the source has no {} at its root, which the CodeBuild project {} runs",
                d.buildspec_name, build_id
            )
        })?;
    Ok((dirs, files, buildspec_text))
}

/// The build's `docker` (podman's translation or the stand-in) and `aws`, run by the venv's
/// Python.
fn install_tools(ctx: &RunContext<'_>, dirs: &BuildDirs) -> Result<()> {
    std::fs::create_dir_all(&dirs.tools)?;
    std::fs::create_dir_all(&dirs.state)?;
    let python = testkit::workspace_root().join(".venv/bin/python");
    let docker = match &ctx.engine {
        engine::BuildEngine::Podman { .. } => engine::PODMAN_DOCKER,
        engine::BuildEngine::StandIn { .. } => engine::STANDIN_DOCKER,
    };
    for (name, script) in [("docker", docker), ("aws", AWS_CLI)] {
        let path = dirs.tools.join(name);
        std::fs::write(&path, format!("#!{}\n{script}", python.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    Ok(())
}

/// The environment CodeBuild gives the commands: the project's variables, CodeBuild's own,
/// the engine's settings, the emulator's endpoint and the build role's credentials.
fn run_config(
    ctx: &RunContext<'_>,
    commit: &github::Commit,
    source_key: &str,
    build_id: &str,
    dirs: &BuildDirs,
    build_role: &[(String, String)],
) -> RunConfig {
    let d = ctx.deployed;
    let python = testkit::workspace_root().join(".venv/bin/python");
    let mut config = RunConfig::new(&dirs.src, &dirs.tools);
    config.command_timeout = Duration::from_secs(120);
    config.env.extend(d.build_env.iter().cloned());
    for (name, value) in [
        ("CODEBUILD_RESOLVED_SOURCE_VERSION", commit.id.clone()),
        (
            "CODEBUILD_SOURCE_VERSION",
            format!("arn:aws:s3:::{}/{source_key}", d.bucket),
        ),
        ("CODEBUILD_BUILD_ID", build_id.to_owned()),
        (
            "CODEBUILD_INITIATOR",
            format!("codepipeline/{}", d.pipeline),
        ),
        ("AWS_REGION", d.region.clone()),
        ("AWS_DEFAULT_REGION", d.region.clone()),
        ("STANDIN_STATE_DIR", dirs.state.display().to_string()),
        (
            "STANDIN_IMAGE_PATH",
            format!(
                "{}:/usr/local/bin:/usr/bin:/bin",
                python.parent().unwrap_or(Path::new("/")).display()
            ),
        ),
    ] {
        config.env.push((name.to_owned(), value));
    }
    if let engine::BuildEngine::Podman { registry } = &ctx.engine {
        config.env.extend(podman_env(ctx, registry, dirs));
    }
    config.env.extend(ctx.emu.env());
    config.env.extend(build_role.iter().cloned());
    // CodeBuild's container has no AWS config or credentials files: the host's must not steer
    // the build's `aws` (a profile's region or credentials would win over nothing here).
    for name in ["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"] {
        config.env.push((
            name.to_owned(),
            dirs.dir.join("no-aws-files").display().to_string(),
        ));
    }
    config
}

/// podman's settings: the registry, where to list the images to remove, the layer cache's
/// marker and a fresh login per build, as in CodeBuild's fresh container.
fn podman_env(ctx: &RunContext<'_>, registry: &str, dirs: &BuildDirs) -> Vec<(String, String)> {
    vec![
        ("ECR_REGISTRY_ENDPOINT".to_owned(), registry.to_owned()),
        (
            "PODMAN_TAGS_FILE".to_owned(),
            ctx.podman_images.path().display().to_string(),
        ),
        (
            "LAYER_CACHE_MARKER".to_owned(),
            ctx.scratch
                .join("layer-cache-started")
                .display()
                .to_string(),
        ),
        (
            "REGISTRY_AUTH_FILE".to_owned(),
            dirs.dir.join("auth.json").display().to_string(),
        ),
    ]
}

/// CodeBuild uploads the files a `reports:` group matches after the build phases, to the
/// report group `<project>-<group>` (creating it, untagged, when it does not exist).
fn upload_reports(
    ctx: &RunContext<'_>,
    buildspec_text: &str,
    dirs: &BuildDirs,
    build_id: &str,
) -> Result<()> {
    let report_groups = report_groups(buildspec_text)?;
    let report_dir = dirs.src.join("reports");
    let has_reports = support::files_under(&report_dir)
        .iter()
        .any(|path| path.extension().is_some_and(|x| x == "xml"));
    if has_reports && !report_groups.is_empty() {
        let project = build_id.split(':').next().unwrap_or(build_id);
        let arns = ctx.emu.record_build_reports(project, &report_groups)?;
        ctx.say
            .say(&format!("test reports uploaded to {}", arns.join(", ")));
    }
    Ok(())
}

/// The buildspec's artifact files, zipped into the artifact bucket; returns the object's key.
async fn upload_output(
    ctx: &RunContext<'_>,
    build_s3: &aws_sdk_s3::Client,
    buildspec_text: &str,
    dirs: &BuildDirs,
) -> Result<String> {
    let d = ctx.deployed;
    let mut entries = Vec::new();
    for file in artifact_files(buildspec_text)? {
        let bytes = std::fs::read(dirs.src.join(&file)).with_context(|| {
            format!(
                "the build succeeded but wrote no {file}, which buildspec.yml lists as an artifact"
            )
        })?;
        entries.push((file, bytes));
    }
    let key = artifact_key(
        &d.pipeline,
        d.build
            .output_artifact
            .as_deref()
            .unwrap_or("BuildArtifact"),
    );
    build_s3
        .put_object()
        .bucket(&d.bucket)
        .key(&key)
        .body(support::zip_entries(&entries)?.into())
        .send()
        .await
        .context("CodeBuild (build role) uploading the output artifact")?;
    ctx.say.say(&format!(
        "build output artifact s3://{}/{key} ({})",
        d.bucket,
        entries
            .iter()
            .map(|e| e.0.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(key)
}
