//! A published version that already runs the image: a stage rollback (or a retried stage)
//! deploys an image the function ran before, and the version that ran it is moved to instead of
//! updating the code and publishing it again.
//!
//! A stage rollback "will result in a new execution" with "the variables and artifacts from the
//! execution to which it is rolling back" (CodePipeline User Guide, "Configuring stage rollback",
//! https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html). Publishing
//! that image again would not find the older version: "Lambda doesn't publish a version if the
//! function's configuration and code haven't changed since the last version" (Lambda API
//! Reference, PublishVersion, https://docs.aws.amazon.com/lambda/latest/api/API_PublishVersion.html),
//! the last one only. A version's code and configuration are fixed once published (Lambda
//! Developer Guide, "Manage Lambda function versions",
//! https://docs.aws.amazon.com/lambda/latest/dg/configuration-versions.html), so an older
//! version is reused only when its settings are still `$LATEST`'s (a changed memory size or
//! environment since then would otherwise be rolled back with the image).

use hyper::Method;
use serde_json::{Value, json};

use super::api as shape;
use super::{ApiError, RolloutApi};

/// ListVersionsByFunction's largest page: it "returns a maximum of 50 items in each response"
/// (Lambda API Reference, ListVersionsByFunction,
/// https://docs.aws.amazon.com/lambda/latest/api/API_ListVersionsByFunction.html).
const PAGE_SIZE: u32 = 50;
/// Pages read at most (1,000 versions): past that the image is updated and published as for a
/// new image, which is correct, only not reused.
const MAX_PAGES: usize = 20;

/// The settings a version freezes besides its code, as the rollout's GetFunction and
/// ListVersionsByFunction answers carry them (`Configuration.Settings`).
fn settings(configuration: &Value) -> &Value {
    &configuration["Settings"]
}

/// The hex digest Lambda reports as an image function's `CodeSha256` (the image manifest's
/// digest without its `sha256:` prefix).
fn code_sha256(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

/// The newest published version (never `$LATEST`) whose code is the image `digest` and whose
/// settings equal `latest`'s (GetFunction's `Configuration`), if one exists.
pub async fn version_running(
    api: &dyn RolloutApi,
    function: &str,
    latest: &Value,
    digest: &str,
) -> Result<Option<String>, ApiError> {
    let path = format!("/2015-03-31/functions/{function}/versions");
    let wanted_code = code_sha256(digest);
    let mut found = None;
    let mut marker: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = api
            .call(shape::lambda(
                Method::GET,
                &path,
                Some(json!({ "MaxItems": PAGE_SIZE, "Marker": marker })),
            ))
            .await?;
        for version in page["Versions"].as_array().into_iter().flatten() {
            let Some(number) = version["Version"].as_str() else {
                continue;
            };
            if number != "$LATEST"
                && version["CodeSha256"].as_str() == Some(wanted_code)
                && settings(version) == settings(latest)
            {
                // Versions come oldest first: the last match is the newest.
                found = Some(number.to_owned());
            }
        }
        marker = page["NextMarker"].as_str().map(str::to_owned);
        if marker.is_none() {
            break;
        }
    }
    Ok(found)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::fake::{FakeApi, error};
    use super::*;

    const VERSIONS: &str = "GET /2015-03-31/functions/api/versions";

    fn configuration(version: &str, code: &str, memory: u64) -> Value {
        json!({"Version": version, "CodeSha256": code,
            "Settings": {"Role": "arn:aws:iam::1:role/fn", "MemorySize": memory}})
    }

    #[tokio::test]
    async fn the_newest_version_with_the_image_and_today_s_settings_is_found_across_pages() {
        let api = FakeApi::default();
        api.answer(
            VERSIONS,
            Ok(json!({"Versions": [configuration("$LATEST", "aa", 512), configuration("1", "aa", 256),
                configuration("2", "aa", 512)], "NextMarker": "m1"})),
        )
        .answer(
            VERSIONS,
            Ok(json!({"Versions": [configuration("3", "bb", 512), configuration("4", "aa", 512)]})),
        );
        let latest = configuration("$LATEST", "bb", 512);
        let found = version_running(&api, "api", &latest, "sha256:aa")
            .await
            .unwrap();
        assert_eq!(found.as_deref(), Some("4"));
        let calls = api.calls_to(VERSIONS);
        assert_eq!(calls[0]["Marker"], Value::Null);
        assert_eq!(calls[1]["Marker"], "m1");
        assert_eq!(calls[0]["MaxItems"], 50);
    }

    #[tokio::test]
    async fn no_version_with_other_settings_or_code_and_never_latest() {
        let api = FakeApi::default();
        api.answer(
            VERSIONS,
            Ok(json!({"Versions": [configuration("$LATEST", "aa", 512), configuration("1", "aa", 256),
                configuration("2", "cc", 512)]})),
        );
        let latest = configuration("$LATEST", "aa", 512);
        let found = version_running(&api, "api", &latest, "sha256:aa")
            .await
            .unwrap();
        assert_eq!(found, None);
        assert_eq!(api.calls_to(VERSIONS).len(), 1);
    }

    const FN: &str = "GET /2015-03-31/functions/api";
    const ALIAS: &str = "GET /2015-03-31/functions/api/aliases/live";
    const IMAGE: &str = "1.dkr.ecr.us-east-1.amazonaws.com/app-dev@sha256:aa";

    /// $LATEST runs image bb (version 4); version 3 ran aa with the same settings.
    fn rolled_forward() -> FakeApi {
        let api = FakeApi::default();
        api.answer(
            FN,
            Ok(json!({
                "Configuration": {"PackageType": "Image", "LastUpdateStatus": "Successful", "CodeSha256": "bb",
                    "Settings": {"Role": "arn:aws:iam::1:role/fn", "MemorySize": 512}},
                "Code": {"ResolvedImageUri": "1.dkr.ecr.us-east-1.amazonaws.com/app-dev@sha256:bb"}
            })),
        )
        .answer(
            VERSIONS,
            Ok(json!({"Versions": [configuration("$LATEST", "bb", 512), configuration("3", "aa", 512),
                configuration("4", "bb", 512)]})),
        );
        api
    }

    fn rollback_request() -> crate::rollout::Request<'static> {
        crate::rollout::Request {
            job_id: "job-9",
            image: IMAGE,
            digest: "sha256:aa",
            started_at: "2026-01-01T00:00:00Z",
            architecture: None,
        }
    }

    #[tokio::test]
    async fn a_rollback_moves_the_alias_to_the_version_that_ran_the_image_and_a_repeat_changes_nothing()
     {
        use crate::rollout::{Step, lambda};
        let api = rolled_forward();
        api.answer(ALIAS, Ok(json!({"FunctionVersion": "4"})))
            .answer("PUT /2015-03-31/functions/api/aliases/live", Ok(json!({})));
        let step = lambda::start(&api, "api", Some("live"), &rollback_request()).await;
        let Step::Done { summary, variables } = step else {
            panic!("{step:?}")
        };
        assert!(
            summary.contains(
                "as version 3, published before with this image; alias live moved from version 4"
            ),
            "{summary}"
        );
        assert_eq!(
            (
                variables["NEW_REVISION"].as_str(),
                variables["PREVIOUS_REVISION"].as_str()
            ),
            ("3", "4")
        );
        assert_eq!(
            api.calls_to("PUT /2015-03-31/functions/api/aliases/live")[0]["FunctionVersion"],
            "3"
        );
        assert!(
            api.calls_to("PUT /2015-03-31/functions/api/code")
                .is_empty()
        );
        assert!(
            api.calls_to("POST /2015-03-31/functions/api/versions")
                .is_empty()
        );

        // The same job again (a retry of the stage): the alias is already there; nothing changes.
        let api = rolled_forward();
        api.answer(ALIAS, Ok(json!({"FunctionVersion": "3"})));
        let step = lambda::start(&api, "api", Some("live"), &rollback_request()).await;
        let Step::Done { summary, .. } = step else {
            panic!("{step:?}")
        };
        assert!(
            summary.contains("alias live already points at it"),
            "{summary}"
        );
        assert!(
            api.calls_to("PUT /2015-03-31/functions/api/aliases/live")
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_rollback_after_an_unfinished_shift_clears_the_weights_it_left() {
        use crate::rollout::{Step, lambda};
        // The alias is on version 3 but still sends 10% to version 4 (a shift that failed).
        let api = rolled_forward();
        api.answer(
            ALIAS,
            Ok(json!({"FunctionVersion": "3", "RoutingConfig": {"AdditionalVersionWeights": {"4": 0.1}}})),
        )
        .answer("PUT /2015-03-31/functions/api/aliases/live", Ok(json!({})));
        let step = lambda::start(&api, "api", Some("live"), &rollback_request()).await;
        assert!(matches!(step, Step::Done { .. }), "{step:?}");
        assert_eq!(
            api.calls_to("PUT /2015-03-31/functions/api/aliases/live")[0],
            json!({"FunctionVersion": "3", "RoutingConfig": {"AdditionalVersionWeights": {}}})
        );
    }

    #[tokio::test]
    async fn without_the_grant_to_list_versions_the_image_is_updated_as_before() {
        use crate::rollout::{Step, lambda};
        let api = FakeApi::default();
        api.answer(
            FN,
            Ok(json!({
                "Configuration": {"PackageType": "Image", "LastUpdateStatus": "Successful", "CodeSha256": "bb"},
                "Code": {"ResolvedImageUri": "1.dkr.ecr.us-east-1.amazonaws.com/app-dev@sha256:bb"}
            })),
        )
        .answer(ALIAS, Ok(json!({"FunctionVersion": "4"})))
        .answer(
            VERSIONS,
            error("AccessDeniedException", "not authorized to perform: lambda:ListVersionsByFunction"),
        )
        .answer("PUT /2015-03-31/functions/api/code", Ok(json!({})));
        let step = lambda::start(&api, "api", Some("live"), &rollback_request()).await;
        assert!(matches!(step, Step::InProgress { .. }), "{step:?}");
        assert_eq!(
            api.calls_to("PUT /2015-03-31/functions/api/code")[0]["ImageUri"],
            IMAGE
        );

        // Any other failure to list fails the job, naming the call.
        let api = FakeApi::default();
        api.answer(
            FN,
            Ok(json!({"Configuration": {"PackageType": "Image"}, "Code": {}})),
        )
        .answer(ALIAS, Ok(json!({"FunctionVersion": "4"})))
        .answer(VERSIONS, error("ServiceException", "internal"));
        let Step::Failed { message, .. } =
            lambda::start(&api, "api", Some("live"), &rollback_request()).await
        else {
            panic!("a failed listing fails the job")
        };
        assert!(
            message.contains("ListVersionsByFunction api failed"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_refusal_is_the_caller_s_to_judge() {
        let api = FakeApi::default();
        api.answer(
            VERSIONS,
            error(
                "AccessDeniedException",
                "not authorized to perform: lambda:ListVersionsByFunction",
            ),
        );
        let latest = configuration("$LATEST", "bb", 512);
        let err = version_running(&api, "api", &latest, "sha256:aa")
            .await
            .unwrap_err();
        assert!(err.is_access_denied(), "{err:?}");
    }
}
