//! The pipeline's variables: every `#{NAMESPACE.VARIABLE}` the declaration or the READMEs name
//! resolves to an action's declared namespace and a variable that action exports (the Build
//! action's are `buildspec.yml`'s `exported-variables`, the Deploy action's the deploy-handler's
//! output variables, one list in `pipeline_common::pipeline_variables`).

use super::*;
use crate::secret::Secret;
use pipeline_common::pipeline_variables::DEPLOY_OUTPUTS;
use std::collections::BTreeMap;

const BUILDSPEC: &str = include_str!("../../../buildspec.yml");
const README: &str = include_str!("../../../README.md");
const DEPLOY_HANDLER_README: &str = include_str!("../../../functions/deploy-handler/README.md");

/// The names listed under `env: exported-variables` in a buildspec.
fn buildspec_exported_variables(buildspec: &str) -> Vec<String> {
    let mut lines = buildspec
        .lines()
        .skip_while(|line| line.trim() != "exported-variables:")
        .skip(1);
    let mut names = Vec::new();
    for line in lines.by_ref() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some(name) = trimmed.strip_prefix("- ") else {
            break;
        };
        names.push(name.trim().to_owned());
    }
    names
}

/// What each namespace exports, as the Build and Deploy actions' sources say.
fn exports() -> BTreeMap<&'static str, Vec<String>> {
    BTreeMap::from([
        (BUILD_NAMESPACE, buildspec_exported_variables(BUILDSPEC)),
        (
            DEPLOY_NAMESPACE,
            DEPLOY_OUTPUTS.iter().map(|v| (*v).to_owned()).collect(),
        ),
    ])
}

/// Every `#{NAMESPACE.VARIABLE}` in `text`.
fn references(text: &str) -> Vec<(String, String)> {
    text.split("#{")
        .skip(1)
        .filter_map(|rest| {
            let inner = rest.split('}').next()?;
            let (namespace, variable) = inner.split_once('.')?;
            Some((namespace.to_owned(), variable.to_owned()))
        })
        .collect()
}

/// The namespaces the declaration's actions declare.
fn declared_namespaces(declaration: &PipelineDeclaration) -> Vec<String> {
    declaration
        .stages()
        .iter()
        .flat_map(StageDeclaration::actions)
        .filter_map(|a| a.namespace().map(str::to_owned))
        .collect()
}

/// The references in the declaration's action configurations and in `texts` that name no
/// declared namespace, or a variable that namespace does not export.
fn unresolved(declaration: &PipelineDeclaration, texts: &[&str]) -> Vec<String> {
    let declared = declared_namespaces(declaration);
    let exports = exports();
    let configured = declaration
        .stages()
        .iter()
        .flat_map(StageDeclaration::actions)
        .filter_map(ActionDeclaration::configuration)
        .flat_map(|c| c.values().cloned());
    configured
        .chain(texts.iter().map(|t| (*t).to_owned()))
        .flat_map(|text| references(&text))
        .filter(|(namespace, variable)| {
            !declared.contains(namespace)
                || !exports
                    .get(namespace.as_str())
                    .is_some_and(|vars| vars.contains(variable))
        })
        .map(|(namespace, variable)| format!("#{{{namespace}.{variable}}}"))
        .collect()
}

fn spec(source: SourceSpec) -> PipelineSpec {
    PipelineSpec {
        name: "pipeline-dev".into(),
        role_arn: "arn:aws:iam::1:role/r".into(),
        pipeline_type: "V2".into(),
        artifact_bucket: "artifacts-1-dev".into(),
        artifact_key: String::new(),
        source,
        build_project: "build-dev".into(),
        deploy_function: "deploy-handler-dev".into(),
        deploy_user_parameters: r#"{"environment":"dev"}"#.into(),
        stages: Vec::new(),
        tags: Tags::new(),
    }
}

fn both_sources() -> Vec<PipelineDeclaration> {
    let inputs = Inputs {
        github_token: Some(Secret::new("gh-token")),
    };
    let github = SourceSpec::GithubWebhook {
        owner: "acme".into(),
        repo: "app".into(),
        branch: "main".into(),
    };
    let connection = SourceSpec::Connection {
        connection_arn: Some("arn:aws:codestar-connections:us-east-1:1:connection/x".into()),
        full_repository_id: "acme/app".into(),
        branch: "main".into(),
        file_path_includes: vec![],
        file_path_excludes: vec![],
    };
    [github, connection]
        .into_iter()
        .map(|source| declaration(&inputs, &spec(source)).expect("declaration"))
        .collect()
}

#[test]
fn build_and_deploy_declare_the_namespaces_every_documented_reference_resolves_in() {
    let valid = |ns: &str| {
        (1..=100).contains(&ns.len())
            && ns
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "@-_".contains(c))
    };
    for declaration in both_sources() {
        let namespace_of = |stage: &str| action(&declaration, stage).and_then(|a| a.namespace());
        assert_eq!(namespace_of(BUILD_STAGE), Some(BUILD_NAMESPACE));
        assert_eq!(namespace_of(DEPLOY_STAGE), Some(DEPLOY_NAMESPACE));
        assert!(declared_namespaces(&declaration).iter().all(|n| valid(n)));
        let problems = unresolved(&declaration, &[README, DEPLOY_HANDLER_README, BUILDSPEC]);
        assert_eq!(problems, Vec::<String>::new(), "unresolved references");
    }
    // The READMEs show both namespaces in use, and the handler's README names every variable.
    for namespace in [BUILD_NAMESPACE, DEPLOY_NAMESPACE] {
        assert!(README.contains(&format!("#{{{namespace}.")), "{namespace}");
    }
    for variable in DEPLOY_OUTPUTS {
        assert!(
            DEPLOY_HANDLER_README.contains(&format!("#{{{DEPLOY_NAMESPACE}.{variable}}}")),
            "the deploy-handler's README does not document {variable}"
        );
    }
}

#[test]
fn the_build_exports_what_buildspec_lists() {
    let listed = buildspec_exported_variables(BUILDSPEC);
    assert!(
        listed.contains(&"IMAGE_TAG".to_owned()) && listed.contains(&"IMAGE_DIGEST".to_owned()),
        "{listed:?}"
    );
    let sample = "env:\n  exported-variables:\n    - A\n    # a note\n    - B\nphases:\n  - C\n";
    assert_eq!(buildspec_exported_variables(sample), ["A", "B"]);
}

#[test]
fn a_reference_to_an_undeclared_namespace_or_an_unexported_variable_is_named() {
    let mut pipeline = spec(SourceSpec::GithubWebhook {
        owner: "acme".into(),
        repo: "app".into(),
        branch: "main".into(),
    });
    pipeline.deploy_user_parameters =
        r##"{"digest":"#{BuildVariables.IMAGE_DIGEST}","x":"#{BuildVariables.NOPE}"}"##.into();
    let inputs = Inputs {
        github_token: Some(Secret::new("gh-token")),
    };
    let declaration = declaration(&inputs, &pipeline).expect("declaration");
    let problems = unresolved(
        &declaration,
        &["#{SourceVariables.CommitId} #{DeployVariables.TARGET}"],
    );
    assert_eq!(
        problems,
        ["#{BuildVariables.NOPE}", "#{SourceVariables.CommitId}"]
    );
}

#[test]
fn a_pipeline_without_the_namespaces_reads_back_as_different() {
    let inputs = Inputs {
        github_token: Some(Secret::new("gh-token")),
    };
    let want = spec(SourceSpec::GithubWebhook {
        owner: "acme".into(),
        repo: "app".into(),
        branch: "main".into(),
    });
    let declared = declaration(&inputs, &want).expect("declaration");
    let read = pipeline_spec(&declared);
    assert_eq!(read.build_project, want.build_project);
    assert_eq!(read.deploy_function, want.deploy_function);
    let stages: Vec<StageDeclaration> = declared
        .stages()
        .iter()
        .map(|stage| {
            let actions = stage
                .actions()
                .iter()
                .map(|a| {
                    let mut a = a.clone();
                    a.namespace = None;
                    a
                })
                .collect();
            let mut stage = stage.clone();
            stage.actions = actions;
            stage
        })
        .collect();
    let mut old = declared.clone();
    old.stages = stages;
    let read = pipeline_spec(&old);
    assert_eq!(read.build_project, "build-dev (namespace none)");
    assert_eq!(read.deploy_function, "deploy-handler-dev (namespace none)");
}
