//! The ECR pull-through cache rule module against the local emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{Fixture, assert_no_op_update, our_tags, tags};
use bootstrap::aws::Clients;
use bootstrap::model::{Observed, PullThroughCacheRuleSpec, RepositorySpec};
use bootstrap::plan::is_ours;
use bootstrap::resources::{Ctx, ecr, pull_through_cache};
use serde_json::Value;

const REPOSITORY: &str = "app-dev";
const PREFIX: &str = "base-images-dev";
/// What the first pull of `python` through the rule creates (Amazon ECR User Guide, "Pulling an
/// image with a pull through cache rule in Amazon ECR").
const CACHED: &str = "base-images-dev/docker/library/python";

fn rule() -> PullThroughCacheRuleSpec {
    PullThroughCacheRuleSpec {
        repository: REPOSITORY.into(),
        prefix: PREFIX.into(),
        upstream_registry_url: "public.ecr.aws".into(),
    }
}

fn spec(observed: Observed) -> PullThroughCacheRuleSpec {
    PullThroughCacheRuleSpec::try_from(observed.spec).expect("a pull-through cache rule")
}

/// The environment's image repository, tagged `repository_tags`.
async fn image_repository(ctx: Ctx<'_>, repository_tags: bootstrap::model::Tags) {
    let spec = RepositorySpec {
        name: REPOSITORY.into(),
        tag_immutable: true,
        scan_on_push: false,
        encryption_type: "AES256".into(),
        kms_key: None,
        lifecycle_policy: Value::Null,
        repository_policy: Value::Null,
        tags: repository_tags,
    };
    ecr::create(ctx, &spec).await.unwrap();
}

/// A plain repository, as the cache's first pull (or anyone) makes it.
async fn plain_repository(clients: &Clients, name: &str) {
    clients
        .ecr
        .create_repository()
        .repository_name(name)
        .send()
        .await
        .unwrap();
}

async fn repositories(clients: &Clients) -> Vec<String> {
    let mut names: Vec<String> = clients
        .ecr
        .describe_repositories()
        .send()
        .await
        .unwrap()
        .repositories()
        .iter()
        .filter_map(|r| r.repository_name().map(str::to_owned))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_create_observe_and_delete_with_its_cached_repositories() {
    let fx = Fixture::start().await;
    let (emu, clients, ctx) = (&fx.emu, &fx.clients, fx.ctx());
    let desired = rule();
    let name = desired.name();
    assert_eq!(name, "app-dev/base-images-dev");
    image_repository(ctx, our_tags([])).await;

    assert!(
        pull_through_cache::observe(ctx, &name)
            .await
            .unwrap()
            .is_none()
    );
    pull_through_cache::create(ctx, &desired).await.unwrap();
    let observed = pull_through_cache::observe(ctx, &name)
        .await
        .unwrap()
        .expect("the rule exists");
    assert_eq!(observed.arn, None, "a rule has no ARN");
    assert_eq!(
        observed.tags,
        our_tags([]),
        "observed with the repository's tags"
    );
    assert!(is_ours(&observed, "dev"));
    let observed = spec(observed);
    assert_eq!(observed, desired);
    assert_no_op_update::<pull_through_cache::PullThroughCacheRuleResource>(
        emu, ctx, &desired, &observed,
    )
    .await;
    // A concurrent deploy of the environment made it first: same upstream, nothing to do.
    pull_through_cache::create(ctx, &desired).await.unwrap();

    plain_repository(clients, CACHED).await;
    plain_repository(clients, "base-images-devx/other").await;
    pull_through_cache::delete(ctx, &name).await.unwrap();
    assert!(
        pull_through_cache::observe(ctx, &name)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        repositories(clients).await,
        vec!["app-dev".to_owned(), "base-images-devx/other".to_owned()],
        "the cached repository goes with its rule; a name that only starts alike stays"
    );
    // Already gone is success.
    pull_through_cache::delete(ctx, &name).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_is_ours_only_while_the_image_repository_is() {
    let fx = Fixture::start().await;
    let ctx = fx.ctx();
    let name = rule().name();
    pull_through_cache::create(ctx, &rule()).await.unwrap();
    let without_repository = pull_through_cache::observe(ctx, &name)
        .await
        .unwrap()
        .unwrap();
    assert!(without_repository.tags.is_empty());
    assert!(!is_ours(&without_repository, "dev"));

    image_repository(ctx, tags([("team", "other")])).await;
    let foreign = pull_through_cache::observe(ctx, &name)
        .await
        .unwrap()
        .unwrap();
    assert!(!is_ours(&foreign, "dev"));
    assert!(!is_ours(&foreign, "prod"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_of_another_upstream_is_replaced_by_update_and_refused_by_create() {
    let fx = Fixture::start().await;
    let (clients, ctx) = (&fx.clients, fx.ctx());
    image_repository(ctx, our_tags([])).await;
    clients
        .ecr
        .create_pull_through_cache_rule()
        .ecr_repository_prefix(PREFIX)
        .upstream_registry_url("quay.io")
        .send()
        .await
        .unwrap();

    let refused = pull_through_cache::create(ctx, &rule()).await.unwrap_err();
    let message = format!("{refused:#}");
    assert!(
        message.contains(PREFIX) && message.contains("quay.io"),
        "{message}"
    );

    plain_repository(clients, CACHED).await;
    let observed = spec(
        pull_through_cache::observe(ctx, &rule().name())
            .await
            .unwrap()
            .unwrap(),
    );
    assert_eq!(observed.upstream_registry_url, "quay.io");
    pull_through_cache::update(ctx, &rule(), &observed)
        .await
        .unwrap();
    let converged = spec(
        pull_through_cache::observe(ctx, &rule().name())
            .await
            .unwrap()
            .unwrap(),
    );
    assert_eq!(converged, rule());
    assert_eq!(
        repositories(clients).await,
        vec!["app-dev".to_owned()],
        "what the other upstream cached goes with it"
    );
}
