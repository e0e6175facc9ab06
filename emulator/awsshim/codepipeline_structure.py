"""What CodePipeline checks in a pipeline declaration beyond its botocore model (which validation.py
checks: name patterns and lengths, enums, a configuration value's 1000 characters, one condition per
condition block, 1-5 rules): the V2-only parts (stage conditions, stage rollback, execution modes,
triggers, variables), the rules of stage conditions, the source stage, unique stage, action and
output artifact names, inputs produced earlier, the manual approval and Lambda invoke actions'
configuration and artifacts, and unique namespaces. moto stores any declaration (it checks only the
role and that there are 2 stages); CreatePipeline and UpdatePipeline call `check` first.

Wording: CodePipeline answers InvalidStructureException for a declaration it refuses and
InvalidActionDeclarationException for an action's configuration or artifacts. Its messages, where
seen: "<feature> can only be used with V2 pipelines" (cloudposse/terraform-aws-ecs-codepipeline#145,
"Triggers on tag can only be used with V2 pipelines"); "Action X declares 0 input artifacts which is
less than the minimum count (1)" (awsdocs/aws-cloudformation-user-guide#941); "Action configuration
for action 'X' contains unknown configuration 'Y'" and "... is missing required configuration 'Y'".
The other messages are the emulator's own and name the field and the fix.
"""

from __future__ import annotations

import re
from typing import Any

from .protocol import AwsError

# CodePipeline User Guide, "Pipeline types"
# (https://docs.aws.amazon.com/codepipeline/latest/userguide/pipeline-types-planning.html):
# stage conditions, rollback, QUEUED/PARALLEL, triggers and variables are V2 features.
V1_EXECUTION_MODES = {"SUPERSEDED"}
# CodePipeline User Guide, "Rule reference"
# (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference.html): every rule is
# category Rule, owner AWS, one of these providers.
RULE_PROVIDERS = {"CloudWatchAlarm", "DeploymentWindow", "LambdaInvoke", "VariableCheck", "Commands"}
# Rule reference, "CloudWatchAlarm"
# (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-CloudWatchAlarm.html):
# AlarmName required; AlarmStates "ALARM, OK, and INSUFFICIENT_DATA"; WaitTime "in minutes" (no range
# documented: whole minutes are checked, nothing more).
ALARM_RULE_KEYS = {"AlarmName", "AlarmStates", "WaitTime"}
# The other rule pages' required configuration: "DeploymentWindow" Cron, "LambdaInvoke" FunctionName,
# "VariableCheck" Variable, Value and Operator (rule-reference-<Provider>.html beside the one above).
RULE_REQUIRED_KEYS = {
    "CloudWatchAlarm": {"AlarmName"},
    "DeploymentWindow": {"Cron"},
    "LambdaInvoke": {"FunctionName"},
    "VariableCheck": {"Variable", "Value", "Operator"},
}
ALARM_STATES = {"ALARM", "OK", "INSUFFICIENT_DATA"}
# CodePipeline User Guide, "Configure conditions for a stage"
# (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-conditions.html): entry conditions
# Fail or Skip, on failure Rollback (API Reference, FailureConditions: also FAIL and RETRY with a
# retryConfiguration), on success Rollback or Fail.
CONDITION_RESULTS = {
    "beforeEntry": {"FAIL", "SKIP"},
    "onSuccess": {"ROLLBACK", "FAIL"},
    "onFailure": {"ROLLBACK", "FAIL", "RETRY"},
}
# CodePipeline User Guide, "Manual approval action reference" and "Add a manual approval action":
# the configuration it takes; no input or output artifacts (the structure reference's artifact
# counts: Approval 0 and 0).
APPROVAL_KEYS = {"NotificationArn", "CustomData", "ExternalEntityLink"}
# CodePipeline User Guide, "AWS Lambda invoke action reference"
# (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-Lambda.html):
# FunctionName required, UserParameters optional; 0-5 input and 0-5 output artifacts.
LAMBDA_KEYS = {"FunctionName", "UserParameters"}
LAMBDA_MAX_ARTIFACTS = 5


def refuse(message: str) -> AwsError:
    return AwsError("InvalidStructureException", message)


def refuse_action(message: str) -> AwsError:
    return AwsError("InvalidActionDeclarationException", message)


def check(pipeline: Any) -> None:
    """Raises InvalidStructureException / InvalidActionDeclarationException for what CodePipeline
    refuses in `pipeline`."""
    if not isinstance(pipeline, dict):
        return
    stages = [s for s in pipeline.get("stages") or [] if isinstance(s, dict)]
    v2 = pipeline.get("pipelineType") == "V2"
    mode = pipeline.get("executionMode") or "SUPERSEDED"
    if not v2:
        check_v1(pipeline, stages, mode)
    check_names(stages)
    check_sources(stages)
    for index, stage in enumerate(stages):
        check_conditions(stage, index, mode)
        for action in actions_of(stage):
            check_action(stage.get("name"), action)
    check_artifacts(stages)
    check_namespaces(stages)


def actions_of(stage: dict[str, Any]) -> list[dict[str, Any]]:
    return [action for action in stage.get("actions") or [] if isinstance(action, dict)]


def check_v1(pipeline: dict[str, Any], stages: list[dict[str, Any]], mode: str) -> None:
    if mode not in V1_EXECUTION_MODES:
        raise refuse(f"Execution mode {mode} can only be used with V2 pipelines")
    if pipeline.get("triggers"):
        raise refuse("Triggers can only be used with V2 pipelines")
    if pipeline.get("variables"):
        raise refuse("Pipeline variables can only be used with V2 pipelines")
    for stage in stages:
        for kind in CONDITION_RESULTS:
            if stage.get(kind):
                raise refuse(f"Stage {stage.get('name')}: {kind} can only be used with V2 pipelines")


def check_names(stages: list[dict[str, Any]]) -> None:
    """CodePipeline User Guide, "CodePipeline pipeline structure reference"
    (https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-pipeline-structure.html):
    stage names are unique in a pipeline, action names unique in a stage."""
    seen: set[str] = set()
    for stage in stages:
        name = stage.get("name")
        if name in seen:
            raise refuse(f"Stage name {name} is used more than once; each stage of a pipeline needs its own name")
        seen.add(name)
        actions: set[str] = set()
        for action in actions_of(stage):
            if action.get("name") in actions:
                raise refuse(
                    f"Stage {name}: action name {action.get('name')} is used more than once; "
                    "each action of a stage needs its own name"
                )
            actions.add(action.get("name"))


def category(action: dict[str, Any]) -> Any:
    type_id = action.get("actionTypeId")
    return type_id.get("category") if isinstance(type_id, dict) else None


def check_sources(stages: list[dict[str, Any]]) -> None:
    """Pipeline structure reference: the first stage holds only source actions, and source actions
    appear in no other stage."""
    for index, stage in enumerate(stages):
        for action in actions_of(stage):
            if index == 0 and category(action) != "Source":
                raise refuse(
                    f"Stage {stage.get('name')} is the first stage and may contain only source actions; "
                    f"action {action.get('name')} is category {category(action)}"
                )
            if index > 0 and category(action) == "Source":
                raise refuse(
                    f"Source action {action.get('name')} is in stage {stage.get('name')}; "
                    "source actions belong in the first stage only"
                )


def check_artifacts(stages: list[dict[str, Any]]) -> None:
    """CodePipeline User Guide, "Input and output artifacts"
    (https://docs.aws.amazon.com/codepipeline/latest/userguide/welcome-introducing-artifacts.html):
    "Every output artifact in the pipeline must have a unique name. Every input artifact for an
    action must match the output artifact of an action earlier in the pipeline" (an earlier stage,
    or a lower runOrder in the same stage)."""
    produced: set[str] = set()
    for stage in stages:
        by_order: dict[int, list[dict[str, Any]]] = {}
        for action in actions_of(stage):
            run_order = action.get("runOrder") if isinstance(action.get("runOrder"), int) else 1
            by_order.setdefault(run_order, []).append(action)
        for run_order in sorted(by_order):
            outputs: list[str] = []
            for action in by_order[run_order]:
                for artifact in artifact_names(action, "inputArtifacts"):
                    if artifact not in produced:
                        raise refuse(
                            f"Input artifact {artifact} of action {action.get('name')} in stage {stage.get('name')} "
                            "is not the output artifact of any earlier action"
                        )
                for artifact in artifact_names(action, "outputArtifacts"):
                    if artifact in produced or artifact in outputs:
                        raise refuse(f"Output artifact name {artifact} is used more than once; each output artifact needs its own name")
                    outputs.append(artifact)
            produced.update(outputs)


def artifact_names(action: dict[str, Any], field: str) -> list[str]:
    return [str(item.get("name")) for item in action.get(field) or [] if isinstance(item, dict)]


def check_conditions(stage: dict[str, Any], index: int, mode: str) -> None:
    name = stage.get("name")
    on_failure = stage.get("onFailure") or {}
    if on_failure.get("result") == "ROLLBACK":
        # CodePipeline User Guide, "Configure stage rollback": not for the source stage, and not
        # in PARALLEL mode (aws-facts: rollback is refused only with PARALLEL).
        if index == 0:
            raise refuse(f"Stage {name}: rollback cannot be configured on the first (source) stage")
        if mode == "PARALLEL":
            raise refuse(f"Stage {name}: rollback is not supported for pipelines in PARALLEL execution mode")
    for kind, results in CONDITION_RESULTS.items():
        block = stage.get(kind) or {}
        if kind == "onFailure" and block.get("result") not in (None, *results):
            raise refuse(f"Stage {name}: onFailure result {block.get('result')} is not one of {sorted(results)}")
        for condition in block.get("conditions") or []:
            result = condition.get("result")
            if result is not None and result not in results:
                raise refuse(f"Stage {name}: a {kind} condition's result {result} is not one of {sorted(results)}")
            for rule in condition.get("rules") or []:
                check_rule(name, rule)


def check_rule(stage: Any, rule: dict[str, Any]) -> None:
    type_id = rule.get("ruleTypeId") or {}
    provider = type_id.get("provider")
    if type_id.get("category") != "Rule" or type_id.get("owner", "AWS") != "AWS" or provider not in RULE_PROVIDERS:
        raise refuse(
            f"Stage {stage}: rule {rule.get('name')} has type {type_id}; a rule is category Rule, owner AWS, "
            f"provider one of {sorted(RULE_PROVIDERS)}"
        )
    config = rule.get("configuration") or {}
    for key in sorted(RULE_REQUIRED_KEYS.get(provider, set()) - {k for k, v in config.items() if v}):
        raise refuse(f"Stage {stage}: {provider} rule {rule.get('name')} is missing required configuration '{key}'")
    if provider != "CloudWatchAlarm":
        return
    unknown = set(config) - ALARM_RULE_KEYS
    if unknown:
        raise refuse(f"Stage {stage}: CloudWatchAlarm rule {rule.get('name')} has unknown configuration {sorted(unknown)}")
    states = [s.strip() for s in str(config.get("AlarmStates", "ALARM")).split(",")]
    if not set(states) <= ALARM_STATES:
        raise refuse(f"Stage {stage}: AlarmStates {states} must be among {sorted(ALARM_STATES)}")
    wait = config.get("WaitTime")
    if wait is not None and not str(wait).isdigit():
        raise refuse(f"Stage {stage}: WaitTime {wait!r} must be a whole number of minutes, such as \"15\"")


def check_action(stage: Any, action: dict[str, Any]) -> None:
    type_id = action.get("actionTypeId") or {}
    kind = (type_id.get("category"), type_id.get("owner"), type_id.get("provider"))
    if kind == ("Approval", "AWS", "Manual"):
        check_configuration(action, APPROVAL_KEYS, set())
        check_artifact_counts(action, 0, 0)
    elif kind == ("Invoke", "AWS", "Lambda"):
        check_configuration(action, LAMBDA_KEYS, {"FunctionName"})
        check_artifact_counts(action, 0, LAMBDA_MAX_ARTIFACTS)


def check_configuration(action: dict[str, Any], allowed: set[str], required: set[str]) -> None:
    config = action.get("configuration") or {}
    for key in sorted(set(config) - allowed):
        raise refuse_action(f"Action configuration for action '{action.get('name')}' contains unknown configuration '{key}'")
    for key in sorted(required - set(config)):
        raise refuse_action(f"Action configuration for action '{action.get('name')}' is missing required configuration '{key}'")


def check_artifact_counts(action: dict[str, Any], least: int, most: int) -> None:
    for field, label in (("inputArtifacts", "input"), ("outputArtifacts", "output")):
        count = len(action.get(field) or [])
        if count < least:
            raise refuse_action(
                f"Action {action.get('name')} declares {count} {label} artifacts which is less than the minimum count ({least})"
            )
        if count > most:
            raise refuse_action(
                f"Action {action.get('name')} declares {count} {label} artifacts which is more than the maximum count ({most})"
            )


def check_namespaces(stages: list[dict[str, Any]]) -> None:
    """Each action's namespace is unique in the pipeline (CodePipeline User Guide, "Variables
    reference": "a namespace ... must be unique in the pipeline"; its pattern is the model's)."""
    seen: dict[str, str] = {}
    for stage in stages:
        for action in actions_of(stage):
            namespace = action.get("namespace")
            if namespace is None:
                continue
            if namespace in seen:
                raise refuse(f"Namespace {namespace} is used by more than one action ({seen[namespace]}, {action.get('name')})")
            seen[namespace] = str(action.get("name"))
