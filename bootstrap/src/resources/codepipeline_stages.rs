//! The deploy stages of a pipeline with stages (V2): per stage, an optional manual approval
//! stage, the deploy-handler's action, `onFailure: ROLLBACK`, and an `onSuccess` condition whose
//! CloudWatchAlarm rules are the bake. Written from the spec and read back into it, so that a
//! hand edit shows as drift.

use crate::model::{ApprovalSpec, DeployStageSpec, PipelineSpec};
use anyhow::{Context, Result};
use aws_sdk_codepipeline::types::{
    ActionCategory, ActionDeclaration, ActionOwner, ActionTypeId, Condition, FailureConditions,
    InputArtifact, PipelineDeclaration, Result as ConditionResult, RuleCategory, RuleDeclaration,
    RuleOwner, RuleTypeId, StageDeclaration, SuccessConditions,
};
use std::collections::HashMap;

pub use crate::config::stages::{APPROVAL_ACTION, approval_stage};
/// The one action of a deploy stage.
pub const DEPLOY_ACTION: &str = "Deploy";
/// The namespace of stage `name`'s deploy action: each action's namespace is unique in a
/// pipeline (CodePipeline User Guide, "Variables reference": namespaces).
pub fn deploy_namespace(name: &str) -> String {
    format!("Deploy-{name}")
}
const BUILD_OUTPUT: &str = "BuildOutput";

fn action_type(category: ActionCategory, provider: &str) -> Result<ActionTypeId> {
    ActionTypeId::builder()
        .category(category)
        .owner(ActionOwner::Aws)
        .provider(provider)
        .version("1")
        .build()
        .context("building an action type")
}

/// A manual approval action (CodePipeline User Guide, "Add a manual approval action to a stage":
/// category Approval, owner AWS, provider Manual; configuration `CustomData`,
/// `ExternalEntityLink`, `NotificationArn`). No `NotificationArn`: the event-notifier writes the
/// notification from the action's state-change event, with the commit and the image digest.
fn approval_action(approval: &ApprovalSpec) -> Result<ActionDeclaration> {
    ActionDeclaration::builder()
        .name(APPROVAL_ACTION)
        .action_type_id(action_type(ActionCategory::Approval, "Manual")?)
        .configuration("CustomData", &approval.custom_data)
        .configuration("ExternalEntityLink", &approval.external_link)
        .run_order(1)
        .build()
        .context("building the approval action")
}

fn deploy_action(function: &str, stage: &DeployStageSpec) -> Result<ActionDeclaration> {
    ActionDeclaration::builder()
        .name(DEPLOY_ACTION)
        .action_type_id(action_type(ActionCategory::Invoke, "Lambda")?)
        .configuration("FunctionName", function)
        .configuration("UserParameters", &stage.user_parameters)
        .input_artifacts(
            InputArtifact::builder()
                .name(BUILD_OUTPUT)
                .build()
                .context("building an input artifact")?,
        )
        .namespace(deploy_namespace(&stage.name))
        .run_order(1)
        .build()
        .context("building a deploy action")
}

/// One CloudWatchAlarm rule per alarm (CodePipeline User Guide, rule reference "CloudWatchAlarm":
/// category Rule, owner AWS, provider CloudWatchAlarm, version 1; `AlarmName` required,
/// `WaitTime` in minutes), in one `onSuccess` condition whose result rolls the stage back
/// (CodePipeline User Guide, "Configure stage conditions": an onSuccess condition's result is
/// ROLLBACK or FAIL).
fn bake_condition(stage: &DeployStageSpec) -> Result<SuccessConditions> {
    let mut condition = Condition::builder().result(ConditionResult::Rollback);
    for (i, alarm) in stage.alarms.iter().enumerate() {
        let rule_type = RuleTypeId::builder()
            .category(RuleCategory::Rule)
            .owner(RuleOwner::Aws)
            .provider("CloudWatchAlarm")
            .version("1")
            .build()
            .context("building a rule type")?;
        condition = condition.rules(
            RuleDeclaration::builder()
                .name(format!("Bake{}", i + 1))
                .rule_type_id(rule_type)
                .configuration("AlarmName", alarm)
                .configuration("WaitTime", stage.bake_minutes.to_string())
                .build()
                .context("building an alarm rule")?,
        );
    }
    SuccessConditions::builder()
        .conditions(condition.build())
        .build()
        .context("building the bake condition")
}

/// The stages after Build for `spec.stages`, in order.
pub fn declare(spec: &PipelineSpec) -> Result<Vec<StageDeclaration>> {
    let mut out = Vec::new();
    for stage in &spec.stages {
        if let Some(approval) = &stage.approval {
            let name = approval_stage(&stage.name);
            out.push(
                StageDeclaration::builder()
                    .name(&name)
                    .actions(approval_action(approval)?)
                    .build()
                    .with_context(|| format!("building stage {name}"))?,
            );
        }
        let mut declared = StageDeclaration::builder()
            .name(&stage.name)
            .actions(deploy_action(&spec.deploy_function, stage)?);
        if stage.rollback_on_failure {
            // Stage rollback (CodePipeline User Guide, "Configure stage rollback"): on failure the
            // stage runs again with the source revisions of its last successful execution.
            declared = declared.on_failure(
                FailureConditions::builder()
                    .result(ConditionResult::Rollback)
                    .build(),
            );
        }
        if !stage.alarms.is_empty() {
            declared = declared.on_success(bake_condition(stage)?);
        }
        out.push(
            declared
                .build()
                .with_context(|| format!("building stage {}", stage.name))?,
        );
    }
    Ok(out)
}

fn config(action: &ActionDeclaration, key: &str) -> String {
    action
        .configuration()
        .and_then(|c| c.get(key))
        .cloned()
        .unwrap_or_default()
}

/// Reads the deploy stages back, with the function their actions invoke (the first one's). What
/// differs from what [`declare`] writes is kept visible, so that the plan shows it as a change:
/// another function, namespace or action in a stage, a rule of another kind.
pub fn read(declaration: &PipelineDeclaration) -> (Vec<DeployStageSpec>, String) {
    let after_build: Vec<&StageDeclaration> = declaration.stages().iter().skip(2).collect();
    let by_name: HashMap<&str, &StageDeclaration> =
        after_build.iter().map(|s| (s.name(), *s)).collect();
    let mut function = None::<String>;
    let mut stages = Vec::new();
    for stage in &after_build {
        let name = stage.name();
        if name.starts_with(crate::config::stages::APPROVAL_STAGE_PREFIX)
            && stage.actions().iter().any(|a| a.name() == APPROVAL_ACTION)
        {
            continue;
        }
        let Some(action) = stage.actions().first() else {
            continue;
        };
        let this_function = config(action, "FunctionName");
        let function = function.get_or_insert_with(|| this_function.clone());
        let mut user_parameters = config(action, "UserParameters");
        let odd = [
            (this_function != *function).then(|| format!("function {this_function}")),
            (action.namespace() != Some(deploy_namespace(name).as_str()))
                .then(|| format!("namespace {:?}", action.namespace())),
            (action.name() != DEPLOY_ACTION || stage.actions().len() != 1)
                .then(|| format!("{} actions", stage.actions().len())),
        ];
        for note in odd.into_iter().flatten() {
            user_parameters.push_str(&format!(" ({note})"));
        }
        stages.push(DeployStageSpec {
            name: name.to_owned(),
            approval: by_name
                .get(approval_stage(name).as_str())
                .and_then(|s| s.actions().first())
                .map(|a| ApprovalSpec {
                    custom_data: config(a, "CustomData"),
                    external_link: config(a, "ExternalEntityLink"),
                }),
            user_parameters,
            rollback_on_failure: stage
                .on_failure()
                .and_then(|f| f.result())
                .is_some_and(|r| *r == ConditionResult::Rollback),
            bake_minutes: bake_minutes(stage),
            alarms: alarms(stage),
        });
    }
    (stages, function.unwrap_or_default())
}

fn alarm_rules(stage: &StageDeclaration) -> Vec<&RuleDeclaration> {
    stage
        .on_success()
        .map(|s| s.conditions())
        .unwrap_or_default()
        .iter()
        .filter(|c| c.result() == Some(&ConditionResult::Rollback))
        .flat_map(|c| c.rules())
        .collect()
}

fn alarms(stage: &StageDeclaration) -> Vec<String> {
    alarm_rules(stage)
        .into_iter()
        .map(|rule| {
            let provider = rule
                .rule_type_id()
                .map(|t| t.provider())
                .unwrap_or_default();
            let alarm = rule
                .configuration()
                .and_then(|c| c.get("AlarmName"))
                .cloned()
                .unwrap_or_default();
            if provider == "CloudWatchAlarm" {
                alarm
            } else {
                format!("{alarm} ({provider} rule)")
            }
        })
        .collect()
}

/// The rules' common `WaitTime`; rules that disagree read as 0, which differs from any bake.
fn bake_minutes(stage: &StageDeclaration) -> u32 {
    let waits: Vec<u32> = alarm_rules(stage)
        .into_iter()
        .map(|rule| {
            rule.configuration()
                .and_then(|c| c.get("WaitTime"))
                .and_then(|w| w.parse().ok())
                .unwrap_or(0)
        })
        .collect();
    match waits.split_first() {
        Some((first, rest)) if rest.iter().all(|w| w == first) => *first,
        _ => 0,
    }
}

/// Whether a declaration has stages after Build other than today's one `Deploy` stage.
pub fn has_stages(declaration: &PipelineDeclaration) -> bool {
    let after_build: Vec<&str> = declaration
        .stages()
        .iter()
        .skip(2)
        .map(StageDeclaration::name)
        .collect();
    after_build != ["Deploy"]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{SourceSpec, Tags};
    use aws_sdk_codepipeline::types::PipelineDeclaration;

    fn spec() -> PipelineSpec {
        let stage = |name: &str, approval: bool, alarms: &[&str]| DeployStageSpec {
            name: name.into(),
            approval: approval.then(|| ApprovalSpec {
                custom_data: format!("Deploy to {name}"),
                external_link: "https://github.com/o/r/commit/#{BuildVariables.COMMIT_ID}".into(),
            }),
            user_parameters: format!(r#"{{"stage":"{name}"}}"#),
            rollback_on_failure: true,
            bake_minutes: if alarms.is_empty() { 0 } else { 15 },
            alarms: alarms.iter().map(|a| (*a).to_owned()).collect(),
        };
        PipelineSpec {
            name: "pipeline-dev".into(),
            role_arn: "arn:aws:iam::123456789012:role/r".into(),
            pipeline_type: "V2".into(),
            artifact_bucket: "b".into(),
            artifact_key: String::new(),
            source: SourceSpec::Connection {
                connection_arn: Some("arn:c".into()),
                full_repository_id: "o/r".into(),
                branch: "main".into(),
                file_path_includes: vec![],
                file_path_excludes: vec![],
            },
            build_project: "build-dev".into(),
            deploy_function: "deploy-handler-dev".into(),
            deploy_user_parameters: String::new(),
            stages: vec![
                stage("staging", false, &[]),
                stage("prod", true, &["web-5xx", "web-latency"]),
            ],
            tags: Tags::new(),
        }
    }

    fn declaration(stages: Vec<StageDeclaration>) -> PipelineDeclaration {
        let placeholder = |name: &str| {
            StageDeclaration::builder()
                .name(name)
                .set_actions(Some(vec![]))
                .build()
                .unwrap()
        };
        let mut all = vec![placeholder("Source"), placeholder("Build")];
        all.extend(stages);
        PipelineDeclaration::builder()
            .name("p")
            .role_arn("r")
            .set_stages(Some(all))
            .build()
            .unwrap()
    }

    #[test]
    fn the_declared_stages_read_back_as_the_spec() {
        let spec = spec();
        let declared = declare(&spec).unwrap();
        assert_eq!(
            declared
                .iter()
                .map(StageDeclaration::name)
                .collect::<Vec<_>>(),
            ["staging", "Approve-prod", "prod"]
        );
        let prod = &declared[2];
        let rules = alarm_rules(prod);
        assert_eq!(rules.len(), 2);
        assert_eq!(
            rules[0]
                .configuration()
                .unwrap()
                .get("WaitTime")
                .map(String::as_str),
            Some("15")
        );
        assert!(prod.on_failure().is_some());
        let (stages, function) = read(&declaration(declared));
        assert_eq!(function, spec.deploy_function);
        assert_eq!(stages, spec.stages);
    }

    #[test]
    fn a_hand_edit_reads_as_a_difference() {
        let spec = spec();
        let mut declared = declare(&spec).unwrap();
        // The bake condition removed by hand from prod.
        declared[2] = StageDeclaration::builder()
            .name("prod")
            .set_actions(Some(declared[2].actions().to_vec()))
            .set_on_failure(declared[2].on_failure().cloned())
            .build()
            .unwrap();
        let (stages, _) = read(&declaration(declared));
        assert_ne!(stages, spec.stages);
        assert!(stages[1].alarms.is_empty());
        assert!(has_stages(&declaration(declare(&spec).unwrap())));
    }
}
