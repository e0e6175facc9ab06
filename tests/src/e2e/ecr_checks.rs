//! The ECR push checks of a successful build: the image is in ECR under the commit's tag, its
//! digest is the same everywhere (podman, the registry, ECR, the build's export), it was
//! scanned on push, and the repository's tag immutability refuses another image under its tag.

use super::context::{Clients, RunContext};
use super::engine;
use super::report::{BuildReport, EcrImage};
use super::support::random_hex;
use anyhow::{Context, Result, bail};
use serde_json::json;
use std::time::Duration;

/// Checks the image a successful build pushed; returns it and whether ECR refused another
/// image under its tag.
pub(super) async fn check_pushed_image(
    ctx: &RunContext<'_>,
    build: &BuildReport,
    image: Option<&EcrImage>,
    image_tag: &str,
) -> Result<(EcrImage, bool)> {
    let d = ctx.deployed;
    let say = ctx.say;
    let found = image.cloned().with_context(|| {
        format!(
            "the build succeeded but ECR has no image {}:{image_tag}",
            d.repository
        )
    })?;
    say.say(&format!(
        "image {}:{} pushed ({})",
        d.repository, found.tag, found.digest
    ));
    if ctx.engine.is_real() {
        same_digest_everywhere(ctx, build, &found)?;
        scanned_on_push(ctx, &found).await?;
    }
    let retag_refused = retag_is_refused(ctx.clients, &d.repository, image_tag).await?;
    say.say(&format!(
        "ECR tag immutability: pushing different content under {image_tag} again is {}",
        if retag_refused {
            "refused (ImageTagAlreadyExistsException)"
        } else {
            "ACCEPTED (the repository is not immutable!)"
        }
    ));
    if let engine::BuildEngine::Podman { registry } = &ctx.engine {
        registry_keeps_the_tag(ctx, registry, &found).await?;
    }
    Ok((found, retag_refused))
}

/// The digest podman's push printed, the one the registry holds under the tag, ECR's answer and
/// what the buildspec exported are one and the same: the manifest's sha256.
fn same_digest_everywhere(ctx: &RunContext<'_>, build: &BuildReport, ecr: &EcrImage) -> Result<()> {
    let repository = &ctx.deployed.repository;
    let registry = ctx
        .emu
        .registry_manifest_digest(repository, &ecr.tag)?
        .with_context(|| {
            format!(
                "ECR lists {repository}:{} but the registry behind it has no such manifest",
                ecr.tag
            )
        })?;
    let pushed = match build.pushed.as_slice() {
        [(_, digest)] => digest.clone(),
        pushes => bail!(
            "the build pushed {} images, not one: {pushes:?}",
            pushes.len()
        ),
    };
    let exported = build
        .exported
        .get("IMAGE_DIGEST")
        .cloned()
        .unwrap_or_default();
    if [&pushed, &registry, &exported]
        .iter()
        .any(|digest| **digest != ecr.digest)
    {
        bail!(
            "digests disagree for {repository}:{}: podman pushed {pushed}, the registry holds {registry}, ECR answers {}, the build exported {exported}",
            ecr.tag,
            ecr.digest
        );
    }
    ctx.say.say(&format!(
        "podman's push, the registry's manifest, ECR's DescribeImages and the build's IMAGE_DIGEST agree: {}",
        ecr.digest
    ));
    Ok(())
}

/// A real client pushing the build's test-stage image under the pushed tag: the registry refuses
/// it before its tag moves, as ECR's does for an immutable repository.
async fn registry_keeps_the_tag(
    ctx: &RunContext<'_>,
    registry: &str,
    image: &EcrImage,
) -> Result<()> {
    let repository = &ctx.deployed.repository;
    let test_image = format!("localhost/{repository}:test-{}", image.tag);
    let refusal = engine::push_over_existing_tag(
        &ctx.clients.ecr,
        registry,
        &test_image,
        repository,
        &image.tag,
        ctx.scratch,
    )
    .await?
    .with_context(|| {
        format!(
            "the registry took {test_image} under {repository}:{}, a tag of an immutable repository",
            image.tag
        )
    })?;
    let still = ctx.emu.registry_manifest_digest(repository, &image.tag)?;
    if still.as_deref() != Some(image.digest.as_str()) {
        bail!(
            "after the refused push the registry holds {still:?} under {repository}:{}, not {}",
            image.tag,
            image.digest
        );
    }
    ctx.say.say(&format!(
        "podman pushing the test-stage image under {} too is refused (\"{refusal}\") and the registry's tag did not move",
        image.tag
    ));
    Ok(())
}

/// The repository scans on push (bootstrap sets `scanOnPush`): ECR scans the image podman pushed.
/// A basic scan is `IN_PROGRESS` for a while after the push; this polls DescribeImageScanFindings
/// until it is `COMPLETE` and fails on `FAILED`, the acceptors of the SDKs' `ImageScanComplete`
/// waiter (botocore `ecr/2015-09-21/waiters-2.json`), whose 5-second minimum delay is meant for
/// AWS's scanners: the emulator's scan completes after one poll, so this polls every 100 ms, at
/// most 50 times.
async fn scanned_on_push(ctx: &RunContext<'_>, image: &EcrImage) -> Result<()> {
    const POLLS: usize = 50;
    let mut seen = Vec::new();
    for _ in 0..POLLS {
        let findings = ctx
            .clients
            .ecr
            .describe_image_scan_findings()
            .repository_name(&ctx.deployed.repository)
            .image_id(
                aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_digest(&image.digest)
                    .build(),
            )
            .send()
            .await
            .with_context(|| {
                format!(
                    "ECR has no scan of {} although the repository scans on push",
                    image.digest
                )
            })?;
        let status = findings
            .image_scan_status()
            .and_then(|s| s.status())
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        match status.as_str() {
            "COMPLETE" => {
                let counts = findings
                    .image_scan_findings()
                    .and_then(|f| f.finding_severity_counts())
                    .map(|counts| {
                        let mut counts: Vec<String> =
                            counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
                        counts.sort();
                        counts.join(", ")
                    })
                    .filter(|counts| !counts.is_empty())
                    .unwrap_or_else(|| "no findings".to_owned());
                ctx.say.say(&format!(
                    "ECR scanned the image on push ({}): {counts}",
                    seen.join(" → ")
                ));
                return Ok(());
            }
            "FAILED" => bail!(
                "ECR's scan of {} failed: {}",
                image.digest,
                findings
                    .image_scan_status()
                    .and_then(|s| s.description())
                    .unwrap_or("no description")
            ),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    bail!(
        "ECR's scan of {} did not complete within {POLLS} polls 100 ms apart (statuses seen: {})",
        image.digest,
        seen.join(" → ")
    )
}

/// The image ECR lists under `tag`, if any.
pub(super) async fn ecr_image(
    clients: &Clients,
    repository: &str,
    tag: &str,
) -> Result<Option<EcrImage>> {
    let answer = clients
        .ecr
        .describe_images()
        .repository_name(repository)
        .image_ids(
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_tag(tag)
                .build(),
        )
        .send()
        .await;
    match answer {
        Ok(found) => Ok(found.image_details().first().map(|image| EcrImage {
            tag: tag.to_owned(),
            digest: image.image_digest().unwrap_or_default().to_owned(),
        })),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_image_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(error) => {
            Err(anyhow::Error::new(error).context(format!("DescribeImages {repository}:{tag}")))
        }
    }
}

/// Pushes a different manifest under an existing tag; an immutable repository must refuse it.
async fn retag_is_refused(clients: &Clients, repository: &str, tag: &str) -> Result<bool> {
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": format!("sha256:{}", random_hex(64))},
        "layers": []
    });
    let answer = clients
        .ecr
        .put_image()
        .repository_name(repository)
        .image_tag(tag)
        .image_manifest(manifest.to_string())
        .image_manifest_media_type("application/vnd.docker.distribution.manifest.v2+json")
        .send()
        .await;
    match answer {
        Ok(_) => Ok(false),
        Err(error)
            if error.as_service_error().is_some_and(|e| {
                e.is_image_tag_already_exists_exception() || e.is_image_already_exists_exception()
            }) =>
        {
            Ok(true)
        }
        Err(error) => {
            Err(anyhow::Error::new(error).context(format!("PutImage {repository}:{tag}")))
        }
    }
}
