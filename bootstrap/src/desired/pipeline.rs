//! The pipeline's pieces: the CodeBuild project with its report group, the pipeline, and what
//! starts it (a webhook with its secret, or a connection).

use super::*;
use pipeline_common::CpuArchitecture;

/// ECR Public's registry: the upstream of the pull-through cache rule, which needs no
/// credentials for it.
pub const ECR_PUBLIC: &str = "public.ecr.aws";
/// Where ECR Public keeps its mirror of the Docker official images (the Amazon ECR Public
/// Gallery's Docker Official Images, https://gallery.ecr.aws/docker/library/python).
pub const OFFICIAL_IMAGES: &str = "docker/library";

/// CodeBuild's managed image for Docker builds on ARM (Graviton): Amazon Linux 2023 aarch64, the
/// ARM sibling of [`BUILD_IMAGE`] (CodeBuild User Guide, "Docker images provided by CodeBuild").
pub const ARM_BUILD_IMAGE: &str = "aws/codebuild/amazonlinux-aarch64-standard:3.0";

/// The build environment for images of `architecture`: (image, environment type). A curated image
/// runs only in the environment type of its architecture: CodeBuild refuses an aarch64 image in
/// LINUX_CONTAINER ("AWS CodeBuild curated image ... is not supported for projects with
/// environment type LINUX_CONTAINER", aws/aws-cdk#35368), and `docker build` on an x86_64 host
/// would make an arm64 image only under emulation.
pub fn build_environment(architecture: CpuArchitecture) -> (&'static str, &'static str) {
    match architecture {
        CpuArchitecture::X86_64 => (BUILD_IMAGE, "LINUX_CONTAINER"),
        CpuArchitecture::Arm64 => (ARM_BUILD_IMAGE, "ARM_CONTAINER"),
    }
}

/// The CodeBuild project and the report group its builds write to.
pub(super) fn build_project(s: &Stack<'_>, out: &mut Vec<Desired>) {
    let Stack {
        config,
        target,
        env,
        n,
        tags,
        late,
        ..
    } = s;
    let mut push = |kind, name, spec, depends_on| out.push(desired(kind, name, spec, depends_on));
    // The image runs where the deploy target runs: its architecture, read at plan.
    // Every stage's target shares one architecture (plan refuses otherwise): the image is built once.
    let architecture = late
        .rollout_targets()
        .first()
        .map_or(CpuArchitecture::X86_64, |facts| facts.architecture());
    let (build_image, environment_type) = build_environment(architecture);

    let build_env = BTreeMap::from([
        (
            codebuild_env::ACCOUNT_ID.to_owned(),
            target.account_id.clone(),
        ),
        (
            codebuild_env::REPOSITORY_URI.to_owned(),
            repository_uri(env, target),
        ),
        (
            codebuild_env::REPOSITORY_NAME.to_owned(),
            n.ecr_repository(),
        ),
        (codebuild_env::PIPELINE_ENV.to_owned(), env.to_string()),
        (codebuild_env::DOCKER_CONTEXT.to_owned(), ".".to_owned()),
        (
            codebuild_env::IMAGE_PLATFORM.to_owned(),
            architecture.docker_platform().to_owned(),
        ),
        (
            codebuild_env::BASE_IMAGE_REGISTRY.to_owned(),
            base_image_registry(config.base_image_source, env, target),
        ),
    ]);
    let mut project_deps = vec![
        id(Kind::Role, n.codebuild_role()),
        id(Kind::LogGroup, n.codebuild_log_group()),
        // The project's builds write to it: created first, deleted after the project.
        id(Kind::ReportGroup, n.codebuild_report_group()),
    ];
    if config.base_image_source == BaseImageSource::PullThroughCache {
        let rule = PullThroughCacheRuleSpec {
            repository: n.ecr_repository(),
            prefix: n.base_image_cache(),
            upstream_registry_url: ECR_PUBLIC.to_owned(),
        };
        // The builds pull through it: created before the project, deleted after it.
        project_deps.push(id(Kind::PullThroughCacheRule, rule.name()));
        push(
            Kind::PullThroughCacheRule,
            rule.name(),
            Spec::PullThroughCacheRule(rule),
            // Observed with the repository's tags: ours only once that exists.
            vec![id(Kind::Repository, n.ecr_repository())],
        );
    }
    push(
        Kind::ReportGroup,
        n.codebuild_report_group(),
        Spec::ReportGroup(ReportGroupSpec {
            name: n.codebuild_report_group(),
            report_type: "TEST".to_owned(),
            export_config: "NO_EXPORT".to_owned(),
            tags: tags.clone(),
        }),
        vec![],
    );
    push(
        Kind::Project,
        n.codebuild_project(),
        Spec::Project(ProjectSpec {
            name: n.codebuild_project(),
            service_role_arn: target.role_arn(&n.codebuild_role()),
            image: build_image.to_owned(),
            compute_type: "BUILD_GENERAL1_SMALL".to_owned(),
            environment_type: environment_type.to_owned(),
            privileged_mode: true,
            environment: build_env,
            buildspec: "buildspec.yml".to_owned(),
            log_group: n.codebuild_log_group(),
            timeout_minutes: config.build_timeout_minutes,
            queued_timeout_minutes: 60,
            // Docker layers only: the source comes from CodePipeline, and a local source cache
            // works only for Git-based sources (CodeBuild User Guide, "Build caching in AWS
            // CodeBuild", "Local caching").
            cache_modes: vec![BUILD_CACHE_MODE.to_owned()],
            tags: tags.clone(),
        }),
        project_deps,
    );
}

/// The registry path in front of an official image's name (`python:3.11-slim-bookworm`), as the
/// Dockerfile's `FROM ${BASE_IMAGE_REGISTRY}/...` takes it: Docker Hub's official images are
/// `docker.io/library/<name>`; ECR Public mirrors them as `public.ecr.aws/docker/library/<name>`
/// (Amazon ECR Public Gallery, https://gallery.ecr.aws/docker/library/python; the AWS Containers
/// Blog's "Advice for customers dealing with Docker Hub rate limits" points builds at it); the
/// pull-through cache serves that mirror as `<registry>/<prefix>/docker/library/<name>` (Amazon
/// ECR User Guide, "Pulling an image with a pull through cache rule in Amazon ECR").
pub fn base_image_registry(source: BaseImageSource, env: &EnvName, target: &Target) -> String {
    let mirror = OFFICIAL_IMAGES;
    match source {
        BaseImageSource::DockerHub => "docker.io/library".to_owned(),
        BaseImageSource::EcrPublic => format!("{}/{mirror}", ECR_PUBLIC),
        BaseImageSource::PullThroughCache => format!(
            "{}.dkr.ecr.{}.{}/{}/{mirror}",
            target.account_id,
            target.region,
            target.dns_suffix(),
            env.names().base_image_cache()
        ),
    }
}

/// The pipeline and what starts it: a webhook with its secret, or a connection.
pub(super) fn pipeline(s: &Stack<'_>, out: &mut Vec<Desired>) {
    let Stack {
        config,
        target,
        env,
        n,
        tags,
        ..
    } = s;
    let mut push = |kind, name, spec, depends_on| out.push(desired(kind, name, spec, depends_on));

    let (source, pipeline_type) = source(s);
    let bucket = n.artifact_bucket(&target.account_id);
    let mut pipeline_deps = vec![
        id(Kind::Role, n.pipeline_role()),
        id(Kind::Bucket, bucket.clone()),
        id(Kind::Project, n.codebuild_project()),
        id(Kind::Function, n.deploy_handler()),
    ];
    if !s.webhook_mode && config.connection_arn.is_none() {
        pipeline_deps.push(id(Kind::Connection, n.connection()));
    }
    // `timeoutSeconds` bounds a rollout (and a 202 webhook deployment) below CodePipeline's own limit.
    let user_parameters = json!({
        "environment": env.as_str(),
        "service": n.ecr_repository(),
        "timeoutSeconds": i64::from(config.rollout_timeout_minutes) * 60,
    })
    .to_string();
    let stages = deploy_stages(s);
    // With stages, each stage's action carries its own parameters.
    let user_parameters = if stages.is_empty() {
        user_parameters
    } else {
        String::new()
    };
    push(
        Kind::Pipeline,
        n.pipeline(),
        Spec::Pipeline(PipelineSpec {
            name: n.pipeline(),
            role_arn: target.role_arn(&n.pipeline_role()),
            pipeline_type: pipeline_type.to_owned(),
            artifact_bucket: bucket,
            artifact_key: target.arn("kms", ARTIFACT_KEY_ALIAS),
            source,
            build_project: n.codebuild_project(),
            deploy_function: n.deploy_handler(),
            deploy_user_parameters: user_parameters,
            stages,
            tags: tags.clone(),
        }),
        pipeline_deps,
    );

    if s.webhook_mode {
        push(
            Kind::Secret,
            n.webhook_secret(),
            Spec::Secret(SecretSpec {
                name: n.webhook_secret(),
                description: format!(
                    "HMAC secret of the GitHub webhook of {} (generated once, never printed)",
                    n.pipeline()
                ),
                tags: tags.clone(),
            }),
            vec![],
        );
        push(
            Kind::Webhook,
            n.webhook(),
            Spec::Webhook(WebhookSpec {
                name: n.webhook(),
                target_pipeline: n.pipeline(),
                target_action: "Source".to_owned(),
                filters: vec![WebhookFilter {
                    json_path: "$.ref".to_owned(),
                    match_equals: format!("refs/heads/{}", config.branch),
                }],
                authentication: "GITHUB_HMAC".to_owned(),
                secret_name: n.webhook_secret(),
                registered: true,
                tags: tags.clone(),
            }),
            vec![
                id(Kind::Pipeline, n.pipeline()),
                id(Kind::Secret, n.webhook_secret()),
            ],
        );
    } else if config.connection_arn.is_none() {
        push(
            Kind::Connection,
            n.connection(),
            Spec::Connection(ConnectionSpec::github(n.connection(), tags.clone())),
            vec![],
        );
    }
}

/// The deploy stages (`--stage`), each with its target in its action's `UserParameters`, so
/// that one deploy-handler serves them all; every stage deploys the image the one Build made.
fn deploy_stages(s: &Stack<'_>) -> Vec<DeployStageSpec> {
    let Stack { config, n, .. } = s;
    let build = pipeline_common::pipeline_variables::BUILD_NAMESPACE;
    let (commit, image) = (
        pipeline_common::pipeline_variables::COMMIT_ID,
        pipeline_common::pipeline_variables::IMAGE_URI,
    );
    config
        .stages
        .iter()
        .map(|stage| DeployStageSpec {
            name: stage.name.clone(),
            user_parameters: crate::config::stages::user_parameters(
                &config.env,
                config.rollout_timeout_minutes,
                stage,
            ),
            approval: stage.approve.then(|| ApprovalSpec {
                custom_data: format!(
                    "Deploy #{{{build}.{image}}} (commit #{{{build}.{commit}}}) to {} of {}",
                    stage.name,
                    n.pipeline()
                ),
                external_link: format!(
                    "https://github.com/{}/{}/commit/#{{{build}.{commit}}}",
                    config.github_owner, config.github_repo
                ),
            }),
            rollback_on_failure: true,
            bake_minutes: stage.bake_minutes,
            alarms: stage.alarms.clone(),
        })
        .collect()
}

/// The pipeline's source and the pipeline type it needs: a GitHub (version 1) source on V1, or
/// a connection with a push trigger on V2.
fn source(s: &Stack<'_>) -> (SourceSpec, &'static str) {
    let config = s.config;
    if s.webhook_mode {
        return (
            SourceSpec::GithubWebhook {
                owner: config.github_owner.clone(),
                repo: config.github_repo.clone(),
                branch: config.branch.clone(),
            },
            "V1",
        );
    }
    (
        SourceSpec::Connection {
            connection_arn: s.connection_arn.clone(),
            full_repository_id: format!("{}/{}", config.github_owner, config.github_repo),
            branch: config.branch.clone(),
            file_path_includes: config.file_path_includes.clone(),
            file_path_excludes: config.file_path_excludes.clone(),
        },
        "V2",
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::{Layer, resolve};
    use crate::target_facts::TargetFacts;
    use std::path::PathBuf;

    fn project(target_kind: &str, late: &Late) -> ProjectSpec {
        let config = resolve(
            Layer {
                env: Some("dev".into()),
                github_repo: Some("octo/app".into()),
                deploy_target: Some(target_kind.into()),
                ..Layer::default()
            },
            Layer::default(),
        )
        .unwrap();
        let target = Target {
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
        };
        let zip = LambdaZip {
            package: crate::artifacts::Package::File(PathBuf::from("x.zip")),
            code_sha256: "abc=".into(),
            architecture: "arm64".into(),
        };
        let zips = Zips {
            deploy_handler: zip.clone(),
            event_notifier: zip,
        };
        build(&config, &target, &zips, late)
            .into_iter()
            .find_map(|want| match want.spec {
                Spec::Project(project) => Some(project),
                _ => None,
            })
            .unwrap()
    }

    fn late(facts: TargetFacts) -> Late {
        Late {
            deploy_target: Some(facts),
            ..Late::default()
        }
    }

    #[test]
    fn the_build_runs_on_the_architecture_of_the_deploy_target() {
        let function = |architecture| TargetFacts::Lambda {
            function_arn: "arn:aws:lambda:eu-west-1:123456789012:function:api".into(),
            architecture,
        };
        let service = |architecture| TargetFacts::Ecs {
            service_arn: "arn:aws:ecs:eu-west-1:123456789012:service/prod/web".into(),
            family: "arn:aws:ecs:eu-west-1:123456789012:task-definition/web".into(),
            pass_roles: vec![],
            rollback: true,
            architecture,
        };
        for (kind, facts) in [
            ("lambda:api", function(CpuArchitecture::Arm64)),
            ("ecs:prod/web", service(CpuArchitecture::Arm64)),
        ] {
            let arm = project(kind, &late(facts));
            assert_eq!(
                (arm.environment_type.as_str(), arm.image.as_str()),
                ("ARM_CONTAINER", ARM_BUILD_IMAGE),
                "{kind}"
            );
            assert_eq!(
                arm.environment.get(codebuild_env::IMAGE_PLATFORM),
                Some(&"linux/arm64".to_owned())
            );
        }
        for (kind, late) in [
            ("lambda:api", late(function(CpuArchitecture::X86_64))),
            ("ecs:prod/web", late(service(CpuArchitecture::X86_64))),
            // no target read yet (or none): the build makes x86_64 images, as before
            ("lambda:api", Late::default()),
        ] {
            let x86 = project(kind, &late);
            assert_eq!(
                (x86.environment_type.as_str(), x86.image.as_str()),
                ("LINUX_CONTAINER", BUILD_IMAGE),
                "{kind}"
            );
            assert_eq!(
                x86.environment.get(codebuild_env::IMAGE_PLATFORM),
                Some(&"linux/amd64".to_owned())
            );
        }
    }
}
