//! CodeBuild projects that build the image as the pipeline's Build stage (source and artifacts
//! come from CodePipeline; logs go to our log group).

use super::adopt::created_or_adopted_in;
use super::errors;
use super::tags::{model_tags, sdk_tags};
use super::{Ctx, util};
use crate::model::{Kind, Observed, ProjectSpec, ResourceId};
use crate::policies::deployer::Scope;
use crate::policies::statement;
use anyhow::{Context, Result};
use aws_sdk_codebuild::error::ProvideErrorMetadata;
use aws_sdk_codebuild::operation::create_project::CreateProjectError;
use aws_sdk_codebuild::types::{
    ArtifactsType, CacheMode, CacheType, CloudWatchLogsConfig, ComputeType, EnvironmentType,
    EnvironmentVariable, EnvironmentVariableType, LogsConfig, LogsConfigStatusType, Project,
    ProjectArtifacts, ProjectCache, ProjectEnvironment, ProjectSource, SourceType, Tag,
};
use serde_json::Value;

super::resource!(
    /// CodeBuild projects.
    ProjectResource: Project(ProjectSpec), depends on [Role, LogGroup, ReportGroup, PullThroughCacheRule]
);

errors::variants! { AlreadyExists: CreateProjectError => is_resource_already_exists_exception }

pub async fn observe(ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
    let out = ctx
        .clients
        .codebuild
        .batch_get_projects()
        .names(name)
        .send()
        .await?;
    if out.projects_not_found().iter().any(|n| n == name) {
        return Ok(None);
    }
    let Some(project) = util::named(out.projects(), name, Project::name) else {
        return Ok(None);
    };
    let spec = project_spec(name, project);
    Ok(Some(Observed::of(spec, project.arn().map(str::to_owned))))
}

/// Reads a project back in the shape of [`ProjectSpec`]. A source or artifacts type other than
/// CODEPIPELINE has no field of its own, so it shows in `buildspec` to surface as drift.
fn project_spec(name: &str, project: &Project) -> ProjectSpec {
    let source = project.source();
    let source_type = source.map(|s| s.r#type().as_str()).unwrap_or("none");
    let artifacts_type = project
        .artifacts()
        .map(|a| a.r#type().as_str())
        .unwrap_or("none");
    let buildspec = source.and_then(|s| s.buildspec()).unwrap_or_default();
    let buildspec = if source_type == "CODEPIPELINE" && artifacts_type == "CODEPIPELINE" {
        buildspec.to_owned()
    } else {
        format!("{buildspec} (source {source_type}, artifacts {artifacts_type})")
    };
    let environment = project.environment();
    let cloud_watch = project.logs_config().and_then(|l| l.cloud_watch_logs());
    let log_group = match cloud_watch {
        Some(cw) if *cw.status() == LogsConfigStatusType::Enabled => {
            cw.group_name().unwrap_or_default().to_owned()
        }
        _ => String::new(),
    };
    let mut cache_modes: Vec<String> = match project.cache() {
        Some(cache) if *cache.r#type() == CacheType::Local => cache
            .modes()
            .iter()
            .map(|m| m.as_str().to_owned())
            .collect(),
        _ => Vec::new(),
    };
    cache_modes.sort();
    ProjectSpec {
        name: name.to_owned(),
        service_role_arn: project.service_role().unwrap_or_default().to_owned(),
        image: environment
            .map(|e| e.image().to_owned())
            .unwrap_or_default(),
        compute_type: environment
            .map(|e| e.compute_type().as_str().to_owned())
            .unwrap_or_default(),
        environment_type: environment
            .map(|e| e.r#type().as_str().to_owned())
            .unwrap_or_default(),
        privileged_mode: environment
            .and_then(|e| e.privileged_mode())
            .unwrap_or(false),
        // A variable of another type (parameter store, secrets manager) keeps its type in the value
        // so that it differs from the plain-text one we want.
        environment: environment
            .map(|e| {
                e.environment_variables()
                    .iter()
                    .map(|v| {
                        let value = match v.r#type() {
                            None | Some(EnvironmentVariableType::Plaintext) => v.value().to_owned(),
                            Some(other) => format!("{}:{}", other.as_str(), v.value()),
                        };
                        (v.name().to_owned(), value)
                    })
                    .collect()
            })
            .unwrap_or_default(),
        buildspec,
        log_group,
        timeout_minutes: project.timeout_in_minutes().unwrap_or(60),
        queued_timeout_minutes: project.queued_timeout_in_minutes().unwrap_or(480),
        cache_modes,
        tags: model_tags(project.tags()),
    }
}

/// Everything CreateProject and UpdateProject send, built once.
struct Definition {
    name: String,
    service_role: String,
    timeout_minutes: i32,
    queued_timeout_minutes: i32,
    source: ProjectSource,
    artifacts: ProjectArtifacts,
    environment: ProjectEnvironment,
    logs: LogsConfig,
    cache: ProjectCache,
    tags: Vec<Tag>,
}

fn definition(spec: &ProjectSpec) -> Result<Definition> {
    let variables = spec
        .environment
        .iter()
        .map(|(k, v)| {
            EnvironmentVariable::builder()
                .name(k)
                .value(v)
                .r#type(EnvironmentVariableType::Plaintext)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .context("building the environment variables")?;
    let cache = if spec.cache_modes.is_empty() {
        ProjectCache::builder().r#type(CacheType::NoCache).build()
    } else {
        ProjectCache::builder()
            .r#type(CacheType::Local)
            .set_modes(Some(
                spec.cache_modes
                    .iter()
                    .map(|m| CacheMode::from(m.as_str()))
                    .collect(),
            ))
            .build()
    }
    .context("building the cache settings")?;
    Ok(Definition {
        name: spec.name.clone(),
        service_role: spec.service_role_arn.clone(),
        timeout_minutes: spec.timeout_minutes,
        queued_timeout_minutes: spec.queued_timeout_minutes,
        source: ProjectSource::builder()
            .r#type(SourceType::Codepipeline)
            .buildspec(&spec.buildspec)
            .build()
            .context("building the source")?,
        artifacts: ProjectArtifacts::builder()
            .r#type(ArtifactsType::Codepipeline)
            .build()
            .context("building the artifacts")?,
        environment: ProjectEnvironment::builder()
            .r#type(EnvironmentType::from(spec.environment_type.as_str()))
            .image(&spec.image)
            .compute_type(ComputeType::from(spec.compute_type.as_str()))
            .privileged_mode(spec.privileged_mode)
            .set_environment_variables(Some(variables))
            .build()
            .context("building the environment")?,
        logs: LogsConfig::builder()
            .cloud_watch_logs(
                CloudWatchLogsConfig::builder()
                    .status(LogsConfigStatusType::Enabled)
                    .group_name(&spec.log_group)
                    .build()
                    .context("building the logs settings")?,
            )
            .build(),
        cache,
        tags: sdk_tags(&spec.tags)?,
    })
}

/// Sets the whole [`Definition`] on a CreateProject or UpdateProject request: the two take the
/// same fields, but their builders share no type a function could accept.
macro_rules! with_definition {
    ($request:expr, $def:expr) => {
        $request
            .name(&$def.name)
            .source($def.source.clone())
            .artifacts($def.artifacts.clone())
            .environment($def.environment.clone())
            .service_role(&$def.service_role)
            .logs_config($def.logs.clone())
            .timeout_in_minutes($def.timeout_minutes)
            .queued_timeout_in_minutes($def.queued_timeout_minutes)
            .cache($def.cache.clone())
            .set_tags(Some($def.tags.clone()))
    };
}

/// CodeBuild cannot assume the service role yet. AWS models no narrower type than
/// InvalidInputException, so the message tells propagation apart from a bad definition.
fn is_propagation<E: ProvideErrorMetadata>(err: &E) -> bool {
    util::has_code_and_message(err, "InvalidInputException", "not authorized to perform")
}

/// Sends the request `send` makes of the project's definition, again while CodeBuild cannot
/// assume the service role yet.
async fn send_definition<T, E, Fut>(
    ctx: Ctx<'_>,
    spec: &ProjectSpec,
    send: impl Fn(&Definition) -> Fut,
) -> Result<T>
where
    Fut: Future<Output = Result<T, E>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let id = ResourceId::new(Kind::Project, &spec.name);
    let def = definition(spec)?;
    util::until_role_usable(ctx, &id, &spec.service_role_arn, is_propagation, || {
        send(&def)
    })
    .await
}

pub async fn create(ctx: Ctx<'_>, spec: &ProjectSpec) -> Result<()> {
    let codebuild = &ctx.clients.codebuild;
    let created = send_definition(ctx, spec, |def| {
        with_definition!(codebuild.create_project(), def).send()
    })
    .await;
    created_or_adopted_in::<ProjectResource, CreateProjectError>(ctx, spec, created).await?;
    Ok(())
}

/// UpdateProject replaces the whole definition, tags included (CodeBuild has no tag calls).
pub async fn update(ctx: Ctx<'_>, desired: &ProjectSpec, observed: &ProjectSpec) -> Result<()> {
    if desired == observed {
        return Ok(());
    }
    let codebuild = &ctx.clients.codebuild;
    send_definition(ctx, desired, |def| {
        with_definition!(codebuild.update_project(), def).send()
    })
    .await?;
    Ok(())
}

/// DeleteProject succeeds for a project that does not exist, so deleting twice is fine.
pub async fn delete(ctx: Ctx<'_>, name: &str) -> Result<()> {
    ctx.clients
        .codebuild
        .delete_project()
        .name(name)
        .send()
        .await
        .context("DeleteProject failed")?;
    Ok(())
}

/// What the deployer needs for the build project.
pub fn deployer_grants(scope: &Scope<'_>) -> Vec<Value> {
    let project = scope.env.names().codebuild_project();
    vec![statement(
        "BuildProject",
        &[
            "codebuild:BatchGetProjects",
            "codebuild:CreateProject",
            "codebuild:DeleteProject",
            "codebuild:UpdateProject",
        ],
        vec![scope.target.arn("codebuild", &format!("project/{project}"))],
    )]
}
