//! The pipeline itself: Source (GitHub v1 webhook source or a CodeStar connection with a push
//! trigger) → Build (the CodeBuild project) → Deploy (the deploy-handler Lambda).

use super::adopt::created_or_adopted_in;
use super::errors::{self, absent_as_none};
use super::tags::{model_tags, retag_with, sdk_tags};
use super::{Ctx, Inputs, codepipeline_stages, util};
use crate::model::{Kind, Observed, PipelineSpec, ResourceId, SourceSpec, Tags};
use crate::policies::deployer::Scope;
use crate::policies::statement;
use anyhow::{Context, Result, bail};
use aws_sdk_codepipeline::error::ProvideErrorMetadata;
use aws_sdk_codepipeline::operation::{
    create_pipeline::CreatePipelineError, get_pipeline::GetPipelineError,
};
use aws_sdk_codepipeline::types::{
    ActionCategory, ActionDeclaration, ActionOwner, ActionTypeId, ArtifactStore, ArtifactStoreType,
    EncryptionKey, EncryptionKeyType, ExecutionMode, GitBranchFilterCriteria, GitConfiguration,
    GitFilePathFilterCriteria, GitPushFilter, InputArtifact, OutputArtifact, PipelineDeclaration,
    PipelineTriggerDeclaration, PipelineTriggerProviderType, PipelineType, StageDeclaration,
};
use pipeline_common::pipeline_variables::{BUILD_NAMESPACE, DEPLOY_NAMESPACE};
use serde_json::Value;
use std::collections::HashMap;

super::resource!(
    /// CodePipeline pipelines.
    PipelineResource: Pipeline(PipelineSpec), depends on [Role, Bucket, Project, Function, Connection]
);

const SOURCE_STAGE: &str = "Source";
const BUILD_STAGE: &str = "Build";
const DEPLOY_STAGE: &str = "Deploy";
const SOURCE_ACTION: &str = "Source";
const SOURCE_OUTPUT: &str = "SourceOutput";
const BUILD_OUTPUT: &str = "BuildOutput";

errors::variants! { NotFound: GetPipelineError => is_pipeline_not_found_exception }
errors::variants! { AlreadyExists: CreatePipelineError => is_pipeline_name_in_use_exception }

pub async fn observe(ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
    let codepipeline = &ctx.clients.codepipeline;
    // The tags are read beside the pipeline, under the ARN its name gives, in one round.
    let named_arn = ctx.target.arn("codepipeline", name);
    let (answer, tags) = futures::join!(
        codepipeline.get_pipeline().name(name).send(),
        tags_of(ctx, &named_arn)
    );
    let Some(out) = absent_as_none(answer)? else {
        return Ok(None);
    };
    let Some(declaration) = out.pipeline() else {
        bail!("GetPipeline answered without a declaration");
    };
    let arn = out.metadata().and_then(|m| m.pipeline_arn());
    let arn = arn.map_or_else(|| named_arn.clone(), str::to_owned);
    let tags = if arn == named_arn {
        tags
    } else {
        tags_of(ctx, &arn).await
    };
    let mut spec = pipeline_spec(declaration);
    spec.tags = tags.context("listing the pipeline's tags")?;
    Ok(Some(Observed::of(spec, Some(arn))))
}

fn action<'d>(declaration: &'d PipelineDeclaration, stage: &str) -> Option<&'d ActionDeclaration> {
    declaration
        .stages()
        .iter()
        .find(|s| s.name() == stage)
        .and_then(|s| s.actions().first())
}

fn config_value(action: Option<&ActionDeclaration>, key: &str) -> String {
    action
        .and_then(|a| a.configuration())
        .and_then(|c| c.get(key))
        .cloned()
        .unwrap_or_default()
}

/// A configuration value of an action that must declare `namespace`: marked with the namespace
/// it has otherwise, so that an action without it (a pipeline an earlier release made) differs
/// and is converged; the spec holds no field of its own for a namespace that never varies.
fn namespaced_value(action: Option<&ActionDeclaration>, key: &str, namespace: &str) -> String {
    let value = config_value(action, key);
    match action.map(ActionDeclaration::namespace) {
        Some(declared) if declared != Some(namespace) => {
            format!("{value} (namespace {})", declared.unwrap_or("none"))
        }
        _ => value,
    }
}

/// Reads a declaration back as a spec (tags are filled in by the caller). The OAuth token comes
/// back masked and is never read.
pub fn pipeline_spec(declaration: &PipelineDeclaration) -> PipelineSpec {
    let source = action(declaration, SOURCE_STAGE);
    let provider = source
        .and_then(|a| a.action_type_id())
        .map(|t| t.provider())
        .unwrap_or_default();
    let source_spec = if provider == "CodeStarSourceConnection" {
        let push = declaration
            .triggers()
            .iter()
            .find(|t| *t.provider_type() == PipelineTriggerProviderType::CodeStarSourceConnection)
            .and_then(|t| t.git_configuration())
            .and_then(|g| g.push().first());
        let paths = push.and_then(|p| p.file_paths());
        // Kept in the order given: CodePipeline stores the lists as sent.
        let includes = paths.map(|p| p.includes().to_vec()).unwrap_or_default();
        let excludes = paths.map(|p| p.excludes().to_vec()).unwrap_or_default();
        let configured_branch = config_value(source, "BranchName");
        // A missing or different trigger branch means pushes would not start the pipeline: show it
        // as a different branch so that it is converged.
        let trigger_branches = push
            .and_then(|p| p.branches())
            .map(|b| b.includes().to_vec())
            .unwrap_or_default();
        let branch = if trigger_branches == [configured_branch.clone()] {
            configured_branch
        } else {
            format!("{configured_branch} (trigger {trigger_branches:?})")
        };
        SourceSpec::Connection {
            connection_arn: source
                .and_then(|a| a.configuration())
                .and_then(|c| c.get("ConnectionArn"))
                .cloned(),
            full_repository_id: config_value(source, "FullRepositoryId"),
            branch,
            file_path_includes: includes,
            file_path_excludes: excludes,
        }
    } else {
        SourceSpec::GithubWebhook {
            owner: config_value(source, "Owner"),
            repo: config_value(source, "Repo"),
            branch: config_value(source, "Branch"),
        }
    };
    let deploy = action(declaration, DEPLOY_STAGE);
    let (stages, stages_function) = if codepipeline_stages::has_stages(declaration) {
        codepipeline_stages::read(declaration)
    } else {
        (Vec::new(), String::new())
    };
    let (deploy_function, deploy_user_parameters) = if stages.is_empty() {
        (
            namespaced_value(deploy, "FunctionName", DEPLOY_NAMESPACE),
            config_value(deploy, "UserParameters"),
        )
    } else {
        (stages_function, String::new())
    };
    PipelineSpec {
        name: declaration.name().to_owned(),
        role_arn: declaration.role_arn().to_owned(),
        pipeline_type: declaration
            .pipeline_type()
            .map_or("V1", |t| t.as_str())
            .to_owned(),
        artifact_bucket: declaration
            .artifact_store()
            .map(|s| s.location().to_owned())
            .unwrap_or_default(),
        artifact_key: declaration
            .artifact_store()
            .and_then(|s| s.encryption_key())
            .map(|k| k.id().to_owned())
            .unwrap_or_default(),
        source: source_spec,
        build_project: namespaced_value(
            action(declaration, BUILD_STAGE),
            "ProjectName",
            BUILD_NAMESPACE,
        ),
        deploy_function,
        deploy_user_parameters,
        stages,
        tags: Tags::new(),
    }
}

fn action_type(
    category: ActionCategory,
    owner: ActionOwner,
    provider: &str,
) -> Result<ActionTypeId> {
    ActionTypeId::builder()
        .category(category)
        .owner(owner)
        .provider(provider)
        .version("1")
        .build()
        .context("building an action type")
}

fn artifact_in(name: &str) -> Result<InputArtifact> {
    InputArtifact::builder()
        .name(name)
        .build()
        .context("building an input artifact")
}

fn artifact_out(name: &str) -> Result<OutputArtifact> {
    OutputArtifact::builder()
        .name(name)
        .build()
        .context("building an output artifact")
}

fn stage(name: &str, action: ActionDeclaration) -> Result<StageDeclaration> {
    StageDeclaration::builder()
        .name(name)
        .actions(action)
        .build()
        .with_context(|| format!("building stage {name}"))
}

/// The artifact bucket and the KMS key CodePipeline encrypts the artifacts with. An empty key
/// leaves CodePipeline's default, which is the AWS managed key `aws/s3` as well (CodePipeline
/// User Guide, "Configure server-side encryption for artifacts stored in Amazon S3 for
/// CodePipeline"); naming it makes the encryption visible in the declaration and in the job
/// events the deploy-handler reads (`data.encryptionKey`).
fn artifact_store(spec: &PipelineSpec) -> Result<ArtifactStore> {
    let key = (!spec.artifact_key.is_empty())
        .then(|| {
            EncryptionKey::builder()
                .id(&spec.artifact_key)
                .r#type(EncryptionKeyType::Kms)
                .build()
        })
        .transpose()
        .context("building the artifact store's encryption key")?;
    ArtifactStore::builder()
        .r#type(ArtifactStoreType::S3)
        .location(&spec.artifact_bucket)
        .set_encryption_key(key)
        .build()
        .context("building the artifact store")
}

/// The source action and, for a connection, the push trigger that starts the pipeline.
fn source_action(
    inputs: &Inputs,
    spec: &PipelineSpec,
) -> Result<(ActionDeclaration, Option<PipelineTriggerDeclaration>)> {
    let (source_type, source_config, trigger) = match &spec.source {
        SourceSpec::GithubWebhook {
            owner,
            repo,
            branch,
        } => {
            let token = inputs.github_token.as_ref().context(
                "the pipeline's GitHub (version 1) source needs a GitHub OAuth token: set GITHUB_TOKEN or --github-token-secret",
            )?;
            (
                action_type(ActionCategory::Source, ActionOwner::ThirdParty, "GitHub")?,
                HashMap::from([
                    ("Owner".to_owned(), owner.clone()),
                    ("Repo".to_owned(), repo.clone()),
                    ("Branch".to_owned(), branch.clone()),
                    ("OAuthToken".to_owned(), token.expose().to_owned()),
                    // The webhook starts the pipeline; polling would start it twice.
                    ("PollForSourceChanges".to_owned(), "false".to_owned()),
                ]),
                None,
            )
        }
        SourceSpec::Connection {
            connection_arn,
            full_repository_id,
            branch,
            file_path_includes,
            file_path_excludes,
        } => {
            let connection_arn = connection_arn
                .as_ref()
                .context("the pipeline's source connection has no ARN yet: create the CodeStar connection first")?;
            (
                action_type(
                    ActionCategory::Source,
                    ActionOwner::Aws,
                    "CodeStarSourceConnection",
                )?,
                HashMap::from([
                    ("ConnectionArn".to_owned(), connection_arn.clone()),
                    ("FullRepositoryId".to_owned(), full_repository_id.clone()),
                    ("BranchName".to_owned(), branch.clone()),
                    ("OutputArtifactFormat".to_owned(), "CODE_ZIP".to_owned()),
                ]),
                Some(push_trigger(
                    branch,
                    file_path_includes,
                    file_path_excludes,
                )?),
            )
        }
    };
    let source = ActionDeclaration::builder()
        .name(SOURCE_ACTION)
        .action_type_id(source_type)
        .set_configuration(Some(source_config))
        .output_artifacts(artifact_out(SOURCE_OUTPUT)?)
        .run_order(1)
        .build()
        .context("building the source action")?;
    Ok((source, trigger))
}

/// The V2 trigger: pushes to `branch` (touching the file paths, when given) start the pipeline.
fn push_trigger(
    branch: &str,
    includes: &[String],
    excludes: &[String],
) -> Result<PipelineTriggerDeclaration> {
    let mut push = GitPushFilter::builder()
        .branches(GitBranchFilterCriteria::builder().includes(branch).build());
    if !includes.is_empty() || !excludes.is_empty() {
        push = push.file_paths(
            GitFilePathFilterCriteria::builder()
                .set_includes((!includes.is_empty()).then(|| includes.to_vec()))
                .set_excludes((!excludes.is_empty()).then(|| excludes.to_vec()))
                .build(),
        );
    }
    PipelineTriggerDeclaration::builder()
        .provider_type(PipelineTriggerProviderType::CodeStarSourceConnection)
        .git_configuration(
            GitConfiguration::builder()
                .source_action_name(SOURCE_ACTION)
                .push(push.build())
                .build()
                .context("building the trigger's git configuration")?,
        )
        .build()
        .context("building the push trigger")
}

/// The Build and Deploy actions. Each declares the namespace its variables are read through by
/// later actions: `#{BuildVariables.IMAGE_DIGEST}` (what `buildspec.yml` exports),
/// `#{DeployVariables.NEW_REVISION}` (the deploy-handler's output variables). An action without
/// a namespace has its variables hidden (CodePipeline User Guide, "Variables reference"; the
/// action declaration's `namespace`, 1-100 characters of `[A-Za-z0-9@\-_]`).
fn build_and_deploy_actions(spec: &PipelineSpec) -> Result<(ActionDeclaration, ActionDeclaration)> {
    let build = ActionDeclaration::builder()
        .name(BUILD_STAGE)
        .action_type_id(action_type(
            ActionCategory::Build,
            ActionOwner::Aws,
            "CodeBuild",
        )?)
        .configuration("ProjectName", &spec.build_project)
        .input_artifacts(artifact_in(SOURCE_OUTPUT)?)
        .output_artifacts(artifact_out(BUILD_OUTPUT)?)
        .namespace(BUILD_NAMESPACE)
        .run_order(1)
        .build()
        .context("building the build action")?;
    let deploy = ActionDeclaration::builder()
        .name(DEPLOY_STAGE)
        .action_type_id(action_type(
            ActionCategory::Invoke,
            ActionOwner::Aws,
            "Lambda",
        )?)
        .configuration("FunctionName", &spec.deploy_function)
        .configuration("UserParameters", &spec.deploy_user_parameters)
        .input_artifacts(artifact_in(BUILD_OUTPUT)?)
        .namespace(DEPLOY_NAMESPACE)
        .run_order(1)
        .build()
        .context("building the deploy action")?;
    Ok((build, deploy))
}

/// The full declaration for `spec`, the GitHub token included for a version 1 source.
pub fn declaration(inputs: &Inputs, spec: &PipelineSpec) -> Result<PipelineDeclaration> {
    let (source, trigger) = source_action(inputs, spec)?;
    let (build, deploy) = build_and_deploy_actions(spec)?;
    let pipeline_type = PipelineType::from(spec.pipeline_type.as_str());
    // V2 runs every push (QUEUED): an execution waiting at an approval holds the ones behind it
    // rather than being superseded; V1 keeps its only mode, SUPERSEDED (CodePipeline User Guide,
    // "Set or change the pipeline execution mode"; stage rollback is refused only with PARALLEL).
    let execution_mode = (pipeline_type == PipelineType::V2).then_some(ExecutionMode::Queued);
    let mut stages = vec![stage(SOURCE_STAGE, source)?, stage(BUILD_STAGE, build)?];
    if spec.stages.is_empty() {
        stages.push(stage(DEPLOY_STAGE, deploy)?);
    } else {
        stages.extend(codepipeline_stages::declare(spec)?);
    }
    PipelineDeclaration::builder()
        .name(&spec.name)
        .role_arn(&spec.role_arn)
        .artifact_store(artifact_store(spec)?)
        .set_stages(Some(stages))
        .pipeline_type(pipeline_type)
        .set_execution_mode(execution_mode)
        .set_triggers(trigger.map(|t| vec![t]))
        .build()
        .context("building the pipeline declaration")
}

/// CodePipeline cannot assume the role yet. AWS models no narrower type than
/// InvalidStructureException, so the message tells propagation apart from a bad declaration.
fn is_propagation<E: ProvideErrorMetadata>(err: &E) -> bool {
    util::has_code_and_message(err, "InvalidStructureException", "not authorized")
}

pub async fn create(ctx: Ctx<'_>, spec: &PipelineSpec) -> Result<()> {
    let id = ResourceId::new(Kind::Pipeline, &spec.name);
    let declaration = declaration(ctx.inputs, spec)?;
    let tags = sdk_tags(&spec.tags)?;
    let create = ctx.clients.codepipeline.create_pipeline();
    let create = create.pipeline(declaration).set_tags(Some(tags));
    let created = util::until_role_usable(ctx, &id, &spec.role_arn, is_propagation, || {
        create.clone().send()
    })
    .await;
    created_or_adopted_in::<PipelineResource, CreatePipelineError>(ctx, spec, created).await?;
    Ok(())
}

pub async fn update(ctx: Ctx<'_>, desired: &PipelineSpec, observed: &PipelineSpec) -> Result<()> {
    let mut desired_untagged = desired.clone();
    desired_untagged.tags = observed.tags.clone();
    if desired_untagged != *observed {
        let id = ResourceId::new(Kind::Pipeline, &desired.name);
        let update = ctx.clients.codepipeline.update_pipeline();
        let update = update.pipeline(declaration(ctx.inputs, desired)?);
        util::until_role_usable(ctx, &id, &desired.role_arn, is_propagation, || {
            update.clone().send()
        })
        .await?;
    }
    retag(ctx, &desired.name, &desired.tags, &observed.tags).await
}

/// The tags of a CodePipeline resource (a pipeline or a webhook).
pub async fn tags_of(ctx: Ctx<'_>, arn: &str) -> Result<Tags> {
    let listed = ctx
        .clients
        .codepipeline
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await?;
    Ok(model_tags(listed.tags()))
}

/// Converges the tags of a CodePipeline resource (a pipeline, or a webhook: `webhook:NAME`).
pub async fn retag(ctx: Ctx<'_>, resource: &str, desired: &Tags, observed: &Tags) -> Result<()> {
    let codepipeline = &ctx.clients.codepipeline;
    let arn = ctx.target.arn("codepipeline", resource);
    retag_with!(codepipeline, resource_arn(&arn), desired, observed).await
}

pub async fn delete(ctx: Ctx<'_>, name: &str) -> Result<()> {
    match ctx
        .clients
        .codepipeline
        .delete_pipeline()
        .name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // AWS answers success for an unknown pipeline; DeletePipeline models no not-found type,
        // so an emulator's PipelineNotFoundException is matched by its code.
        Err(err) if err.code() == Some("PipelineNotFoundException") => Ok(()),
        Err(err) => Err(anyhow::Error::new(err).context("DeletePipeline failed")),
    }
}

/// What the deployer needs for the pipeline.
pub fn deployer_grants(scope: &Scope<'_>) -> Vec<Value> {
    vec![statement(
        "Pipeline",
        &[
            "codepipeline:CreatePipeline",
            "codepipeline:DeletePipeline",
            "codepipeline:GetPipeline",
            "codepipeline:ListTagsForResource",
            "codepipeline:TagResource",
            "codepipeline:UntagResource",
            "codepipeline:UpdatePipeline",
        ],
        vec![
            scope
                .target
                .arn("codepipeline", &scope.env.names().pipeline()),
        ],
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection_declaration(trigger_branch: Option<&str>) -> PipelineDeclaration {
        let source = ActionDeclaration::builder()
            .name(SOURCE_ACTION)
            .action_type_id(
                action_type(
                    ActionCategory::Source,
                    ActionOwner::Aws,
                    "CodeStarSourceConnection",
                )
                .expect("type"),
            )
            .configuration(
                "ConnectionArn",
                "arn:aws:codestar-connections:us-east-1:1:connection/x",
            )
            .configuration("FullRepositoryId", "acme/app")
            .configuration("BranchName", "main")
            .build()
            .expect("action");
        let mut builder = PipelineDeclaration::builder()
            .name("p")
            .role_arn("arn:aws:iam::1:role/r")
            .stages(stage(SOURCE_STAGE, source).expect("stage"))
            .pipeline_type(PipelineType::V2);
        if let Some(branch) = trigger_branch {
            builder = builder.triggers(
                PipelineTriggerDeclaration::builder()
                    .provider_type(PipelineTriggerProviderType::CodeStarSourceConnection)
                    .git_configuration(
                        GitConfiguration::builder()
                            .source_action_name(SOURCE_ACTION)
                            .push(
                                GitPushFilter::builder()
                                    .branches(
                                        GitBranchFilterCriteria::builder().includes(branch).build(),
                                    )
                                    .build(),
                            )
                            .build()
                            .expect("git"),
                    )
                    .build()
                    .expect("trigger"),
            );
        }
        builder.build().expect("declaration")
    }

    fn branch_of(spec: &PipelineSpec) -> &str {
        match &spec.source {
            SourceSpec::Connection { branch, .. } => branch,
            SourceSpec::GithubWebhook { .. } => panic!("read back as a GitHub source"),
        }
    }

    #[test]
    fn a_matching_push_trigger_reads_back_as_the_branch() {
        let spec = pipeline_spec(&connection_declaration(Some("main")));
        assert_eq!(branch_of(&spec), "main");
        assert_eq!(spec.pipeline_type, "V2");
        assert_eq!(
            spec.build_project, "",
            "a missing Build stage reads as no project, so it differs"
        );
    }

    #[test]
    fn the_artifact_store_names_its_kms_key_and_reads_back_as_declared() {
        let spec = PipelineSpec {
            name: "p".into(),
            role_arn: "arn:aws:iam::1:role/r".into(),
            pipeline_type: "V1".into(),
            artifact_bucket: "artifacts-1-dev".into(),
            artifact_key: "arn:aws:kms:us-east-1:1:alias/aws/s3".into(),
            source: SourceSpec::GithubWebhook {
                owner: "acme".into(),
                repo: "app".into(),
                branch: "main".into(),
            },
            build_project: "build-dev".into(),
            deploy_function: "deploy-handler-dev".into(),
            deploy_user_parameters: "{}".into(),
            stages: Vec::new(),
            tags: Tags::new(),
        };
        let store = artifact_store(&spec).expect("store");
        assert_eq!(store.r#type(), &ArtifactStoreType::S3);
        assert_eq!(store.location(), "artifacts-1-dev");
        let key = store.encryption_key().expect("a declared key");
        assert_eq!(key.id(), "arn:aws:kms:us-east-1:1:alias/aws/s3");
        assert_eq!(key.r#type(), &EncryptionKeyType::Kms);
        let default = PipelineSpec {
            artifact_key: String::new(),
            ..spec
        };
        assert!(
            artifact_store(&default)
                .expect("store")
                .encryption_key()
                .is_none()
        );
    }

    #[test]
    fn a_missing_or_different_trigger_shows_as_drift() {
        assert_ne!(
            branch_of(&pipeline_spec(&connection_declaration(None))),
            "main"
        );
        assert_ne!(
            branch_of(&pipeline_spec(&connection_declaration(Some("dev")))),
            "main"
        );
    }
}

#[cfg(test)]
#[path = "codepipeline_variables.rs"]
mod variables_tests;
