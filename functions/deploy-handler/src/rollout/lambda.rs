//! The Lambda rollout: the function's code updated to the image (pinned by digest), the update
//! followed until `LastUpdateStatus` is Successful or Failed (Lambda Developer Guide, "Lambda
//! function states"), then a version published and the alias moved to it. Until the alias
//! moves, traffic through it stays on the previous version.

use std::collections::BTreeMap;

use hyper::Method;
use pipeline_common::CpuArchitecture;
use serde_json::{Value, json};

use super::api as shape;
use super::lambda_shift::{self, Advanced, ShiftPlan, Shifting, TrafficShift};
use super::{Request, RolloutApi, RolloutState, Step, call_failed};
use crate::report::FailureKind;

fn function_path(function: &str) -> String {
    format!("/2015-03-31/functions/{function}")
}

/// The digest the function runs: `ResolvedImageUri` is the image pinned at its last update.
fn resolved_digest(function: &Value) -> Option<&str> {
    function["Code"]["ResolvedImageUri"]
        .as_str()
        .or_else(|| function["Code"]["ImageUri"].as_str())
        .and_then(|uri| uri.rsplit_once('@'))
        .map(|(_, digest)| digest)
}

async fn get_function(api: &dyn RolloutApi, function: &str) -> Result<Value, Step> {
    let path = function_path(function);
    match api.call(shape::lambda(Method::GET, &path, None)).await {
        Ok(answer) => Ok(answer),
        Err(err) if err.is("ResourceNotFoundException") => Err(Step::failed(
            FailureKind::ConfigurationError,
            format!(
                "the Lambda function {function} does not exist (any more): it was deleted after `bootstrap plan` \
                 checked it; recreate it or point --deploy-target elsewhere"
            ),
        )),
        Err(err) => Err(call_failed(&format!("GetFunction {function}"), &err)),
    }
}

pub async fn start(
    api: &dyn RolloutApi,
    function: &str,
    alias: Option<&str>,
    request: &Request<'_>,
) -> Step {
    let current = match get_function(api, function).await {
        Ok(current) => current,
        Err(step) => return step,
    };
    if let Some(step) = cannot_run(&current, function, request) {
        return step;
    }
    let (previous_version, weighted) = match alias {
        Some(alias) => match alias_version(api, function, alias).await {
            Ok(now) => now,
            Err(step) => return step,
        },
        None => (None, false),
    };
    // A re-delivered job (or a re-run of the same image) finds the code already updated; after a
    // Failed update the function may still name the image it could not run, so it is sent again.
    let last_failed = current["Configuration"]["LastUpdateStatus"] == "Failed";
    let holds_image = !last_failed && resolved_digest(&current) == Some(request.digest);
    // An image a published version already runs (a stage rollback, a retried stage): the alias
    // moves to that version, the code is not updated.
    if let Some(alias) = alias
        && !holds_image
        && let Some(step) = reuse_version(
            api,
            function,
            alias,
            &current,
            (previous_version.as_deref(), weighted),
            request,
        )
        .await
    {
        return step;
    }
    if !holds_image {
        let path = format!("{}/code", function_path(function));
        let updated = api
            .call(shape::lambda(
                Method::PUT,
                &path,
                Some(json!({ "ImageUri": request.image })),
            ))
            .await;
        match updated {
            Ok(_) => {}
            Err(err) if err.is("ResourceConflictException") => {
                return Step::failed(
                    FailureKind::JobFailed,
                    format!(
                        "another update of the Lambda function {function} is in progress ({err}); re-run the stage \
                         once it has finished"
                    ),
                );
            }
            // An image index or a manifest type Lambda cannot run is refused at once (400
            // InvalidParameterValueException "The image manifest, config or layer media type for
            // the source image ... is not supported."; terraform-aws-modules/terraform-aws-lambda#741,
            // boto/boto3#3255), the same failure Lambda reports later as LastUpdateStatus Failed.
            Err(err) if err.is("InvalidParameterValueException") => {
                return Step::failed(
                    FailureKind::JobFailed,
                    format!(
                        "Lambda refused to update function {function} to {}: {}; {}",
                        request.image,
                        err.message,
                        kept(alias, previous_version.as_deref())
                    ),
                );
            }
            Err(err) => return call_failed(&format!("UpdateFunctionCode {function}"), &err),
        }
    }
    Step::InProgress {
        summary: format!(
            "Updating Lambda function {function} to {}{}",
            request.image,
            match (alias, &previous_version) {
                (Some(alias), Some(version)) =>
                    format!("; alias {alias} stays on version {version} until the update succeeds"),
                _ => String::new(),
            }
        ),
        state: RolloutState::Lambda {
            function: function.to_owned(),
            alias: alias.map(str::to_owned),
            digest: request.digest.to_owned(),
            previous_version,
            started_at: request.started_at.to_owned(),
            deployment_id: request.job_id.to_owned(),
            shifting: None,
        },
    }
}

/// The version the alias points at, and whether it also sends some traffic elsewhere
/// (`RoutingConfig` weights, left by a shift that did not finish).
async fn alias_version(
    api: &dyn RolloutApi,
    function: &str,
    alias: &str,
) -> Result<(Option<String>, bool), Step> {
    let path = format!("{}/aliases/{alias}", function_path(function));
    match api.call(shape::lambda(Method::GET, &path, None)).await {
        Ok(answer) => Ok((
            answer["FunctionVersion"].as_str().map(str::to_owned),
            answer["RoutingConfig"]["AdditionalVersionWeights"]
                .as_object()
                .is_some_and(|weights| !weights.is_empty()),
        )),
        Err(err) if err.is("ResourceNotFoundException") => Err(Step::failed(
            FailureKind::ConfigurationError,
            format!(
                "the Lambda function {function} has no alias {alias}; create it (aws lambda create-alias \
                 --function-name {function} --name {alias} --function-version 1) or drop it from --deploy-target"
            ),
        )),
        Err(err) => Err(call_failed(&format!("GetAlias {function}:{alias}"), &err)),
    }
}

/// The rollout's end when a published version already runs the image with today's settings
/// ([`super::lambda_versions::version_running`]): the alias moved to it (or left there), nothing
/// published. `None` when no version does, or the role may not list versions (a role granted
/// before `lambda:ListVersionsByFunction` was: the image is updated and published as before).
async fn reuse_version(
    api: &dyn RolloutApi,
    function: &str,
    alias: &str,
    current: &Value,
    (previous_version, weighted): (Option<&str>, bool),
    request: &Request<'_>,
) -> Option<Step> {
    let found = super::lambda_versions::version_running(
        api,
        function,
        &current["Configuration"],
        request.digest,
    )
    .await;
    let version = match found {
        Ok(version) => version?,
        Err(err) if err.is_access_denied() => {
            tracing::warn!(
                function,
                error = %err,
                "cannot list the function's versions (grant lambda:ListVersionsByFunction: run `bootstrap deploy`); \
                 updating the code instead of reusing a version"
            );
            return None;
        }
        Err(err) => {
            return Some(call_failed(
                &format!("ListVersionsByFunction {function}"),
                &err,
            ));
        }
    };
    let moved = if previous_version == Some(version.as_str()) && !weighted {
        format!("alias {alias} already points at it")
    } else {
        let path = format!("{}/aliases/{alias}", function_path(function));
        // All traffic on the version: no weights left from a shift that did not finish.
        let body = json!({
            "FunctionVersion": version,
            "RoutingConfig": { "AdditionalVersionWeights": {} },
        });
        if let Err(err) = api
            .call(shape::lambda(Method::PUT, &path, Some(body)))
            .await
        {
            return Some(call_failed(
                &format!("UpdateAlias {function}:{alias} to version {version}"),
                &err,
            ));
        }
        format!(
            "alias {alias} moved from version {} to it",
            previous_version.unwrap_or("?")
        )
    };
    use pipeline_common::pipeline_variables as names;
    Some(Step::Done {
        summary: format!(
            "Lambda function {function} runs {} as version {version}, published before with this image; {moved} \
             (no code update, nothing published)",
            request.image
        ),
        variables: BTreeMap::from([
            (
                names::TARGET.to_owned(),
                format!("lambda:{function}:{alias}"),
            ),
            (names::NEW_REVISION.to_owned(), version),
            (
                names::PREVIOUS_REVISION.to_owned(),
                previous_version.unwrap_or_default().to_owned(),
            ),
        ]),
    })
}

/// Why the function cannot run the image, if it cannot: a .zip function, or an image built for
/// another architecture than the function's `Architectures` (Lambda API Reference,
/// FunctionConfiguration: "The default architecture value is x86_64").
fn cannot_run(current: &Value, function: &str, request: &Request<'_>) -> Option<Step> {
    if current["Configuration"]["PackageType"] != "Image" {
        return Some(Step::failed(
            FailureKind::ConfigurationError,
            format!(
                "the Lambda function {function} is packaged as a .zip, not a container image, so it cannot run the \
                 built image; point --deploy-target at a container-image function"
            ),
        ));
    }
    let runs_on = current["Configuration"]["Architectures"][0]
        .as_str()
        .and_then(CpuArchitecture::parse)
        .unwrap_or(CpuArchitecture::X86_64);
    super::wrong_architecture(request, &format!("the Lambda function {function}"), runs_on)
}

/// What traffic runs while an update is not through: the alias's version, or the old image.
fn kept(alias: Option<&str>, previous_version: Option<&str>) -> String {
    match (alias, previous_version) {
        (Some(alias), Some(version)) => format!("alias {alias} stays on version {version}"),
        _ => "the function keeps its previous image".to_owned(),
    }
}

pub async fn poll(
    api: &dyn RolloutApi,
    state: &RolloutState,
    image: &str,
    plan: &ShiftPlan,
) -> Step {
    let RolloutState::Lambda {
        function,
        alias,
        digest,
        previous_version,
        shifting,
        ..
    } = state
    else {
        return Step::failed(FailureKind::JobFailed, "not a Lambda rollout");
    };
    if let Some(shifting) = shifting {
        return poll_shift(api, state, shifting, image, plan).await;
    }
    let current = match get_function(api, function).await {
        Ok(current) => current,
        Err(step) => return step,
    };
    let configuration = &current["Configuration"];
    let kept = kept(alias.as_deref(), previous_version.as_deref());
    match configuration["LastUpdateStatus"].as_str() {
        Some("InProgress") => {
            return Step::InProgress {
                summary: format!(
                    "Updating Lambda function {function} to {image}: LastUpdateStatus InProgress ({}); {kept}",
                    configuration["LastUpdateStatusReasonCode"]
                        .as_str()
                        .unwrap_or("no reason code")
                ),
                state: state.clone(),
            };
        }
        Some("Failed") => {
            return Step::failed(
                FailureKind::JobFailed,
                format!(
                    "the update of Lambda function {function} to {image} failed: {} ({}); {kept}",
                    configuration["LastUpdateStatusReason"]
                        .as_str()
                        .unwrap_or("Lambda gave no reason"),
                    configuration["LastUpdateStatusReasonCode"]
                        .as_str()
                        .unwrap_or("no code"),
                ),
            );
        }
        _ => {}
    }
    if resolved_digest(&current) != Some(digest.as_str()) {
        return Step::failed(
            FailureKind::JobFailed,
            format!(
                "another update replaced this one before it finished: Lambda function {function} now runs {}; \
                 re-run the stage to deploy {image} again",
                resolved_digest(&current).unwrap_or("another image")
            ),
        );
    }
    match publish_and_move_alias(api, state, &current, image, plan.shift).await {
        Ok(Moved::All(version)) => done(state, &version, image),
        Ok(Moved::Shifting(shifting)) => shifting_step(state, shifting, image, plan),
        Err(step) => step,
    }
}

/// The rollout's end: the function (through its alias) runs `version`.
fn done(state: &RolloutState, version: &str, image: &str) -> Step {
    let RolloutState::Lambda {
        function,
        alias,
        previous_version,
        ..
    } = state
    else {
        return Step::failed(FailureKind::JobFailed, "not a Lambda rollout");
    };
    let target = match alias {
        Some(alias) => format!("lambda:{function}:{alias}"),
        None => format!("lambda:{function}"),
    };
    use pipeline_common::pipeline_variables as names;
    Step::Done {
        summary: format!(
            "Lambda function {function} runs {image} as version {version}{}",
            alias
                .as_deref()
                .map(|a| format!(
                    "; alias {a} moved from version {} to it",
                    previous_version.as_deref().unwrap_or("?")
                ))
                .unwrap_or_default()
        ),
        variables: BTreeMap::from([
            (names::TARGET.to_owned(), target),
            (names::NEW_REVISION.to_owned(), version.to_owned()),
            (
                names::PREVIOUS_REVISION.to_owned(),
                previous_version.clone().unwrap_or_default(),
            ),
        ]),
    }
}

/// A shift in progress as the job's continuation: where the traffic is, when the next step is.
fn shifting_step(state: &RolloutState, shifting: Shifting, image: &str, plan: &ShiftPlan) -> Step {
    let mut next = state.clone();
    let RolloutState::Lambda {
        function,
        alias,
        previous_version,
        shifting: slot,
        ..
    } = &mut next
    else {
        return Step::failed(FailureKind::JobFailed, "not a Lambda rollout");
    };
    let watched = if plan.alarms.is_empty() {
        String::new()
    } else {
        format!("; watching alarms {}", plan.alarms.join(", "))
    };
    let summary = format!(
        "Shifting alias {} of Lambda function {function} to version {} ({image}): {}% of its traffic, the rest on \
         version {}; next step at {}{watched}",
        alias.as_deref().unwrap_or("?"),
        shifting.version,
        shifting.weight,
        previous_version.as_deref().unwrap_or("?"),
        shifting.next_at,
    );
    *slot = Some(shifting);
    Step::InProgress {
        summary,
        state: next,
    }
}

/// One poll of a shift in progress ([`lambda_shift::advance`]).
async fn poll_shift(
    api: &dyn RolloutApi,
    state: &RolloutState,
    shifting: &Shifting,
    image: &str,
    plan: &ShiftPlan,
) -> Step {
    let RolloutState::Lambda {
        function,
        alias: Some(alias),
        previous_version: Some(previous),
        ..
    } = state
    else {
        return Step::failed(
            FailureKind::JobFailed,
            "a traffic shift's token names no alias or no previous version",
        );
    };
    match lambda_shift::advance(api, (function, alias, previous), shifting, plan).await {
        Ok(Advanced::Finished) => done(state, &shifting.version, image),
        Ok(Advanced::Waiting(next) | Advanced::Stepped(next)) => {
            shifting_step(state, next, image, plan)
        }
        Err(step) => step,
    }
}

/// Where the alias went once the version was published.
enum Moved {
    /// All traffic on the version.
    All(String),
    /// The first step of a gradual shift.
    Shifting(Shifting),
}

/// Publishes the updated code as a version and moves the alias to it; a version Lambda is
/// not ready to publish leaves the rollout in progress.
async fn publish_and_move_alias(
    api: &dyn RolloutApi,
    state: &RolloutState,
    current: &Value,
    image: &str,
    shift: TrafficShift,
) -> Result<Moved, Step> {
    let RolloutState::Lambda {
        function,
        alias,
        digest,
        previous_version,
        ..
    } = state
    else {
        return Err(Step::failed(FailureKind::JobFailed, "not a Lambda rollout"));
    };
    let configuration = &current["Configuration"];
    // Publishing unchanged code returns the latest version instead of a new one (Lambda API
    // Reference, PublishVersion), so a re-delivered job publishes nothing twice.
    let published = api
        .call(shape::lambda(
            Method::POST,
            &format!("{}/versions", function_path(function)),
            Some(json!({
                "CodeSha256": configuration["CodeSha256"],
                "Description": format!("image {digest}"),
            })),
        ))
        .await;
    let version = match published {
        Ok(answer) => answer["Version"].as_str().unwrap_or("$LATEST").to_owned(),
        Err(err) if err.is("ResourceConflictException") => {
            return Err(Step::InProgress {
                summary: format!(
                    "Updating Lambda function {function} to {image}: waiting to publish a version"
                ),
                state: state.clone(),
            });
        }
        Err(err) => return Err(call_failed(&format!("PublishVersion {function}"), &err)),
    };
    if let Some(alias) = alias {
        if let Some(previous) = previous_version.as_deref()
            && shift != TrafficShift::AllAtOnce
            && previous != version
        {
            let shifting =
                lambda_shift::begin(api, function, alias, previous, &version, shift).await?;
            return Ok(Moved::Shifting(shifting));
        }
        let path = format!("{}/aliases/{alias}", function_path(function));
        // No weights left from an earlier shift that did not finish.
        let body = json!({
            "FunctionVersion": version,
            "RoutingConfig": { "AdditionalVersionWeights": {} },
        });
        if let Err(err) = api
            .call(shape::lambda(Method::PUT, &path, Some(body)))
            .await
        {
            return Err(call_failed(
                &format!("UpdateAlias {function}:{alias} to version {version}"),
                &err,
            ));
        }
    }
    Ok(Moved::All(version))
}

#[cfg(test)]
#[path = "lambda_tests.rs"]
mod tests;
