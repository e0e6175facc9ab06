"""What CodePipeline checks in a pipeline declaration beyond its botocore model (which validation.py
checks): the V2-only parts (stage conditions, stage rollback, execution modes, triggers, variables),
the rules of stage conditions, manual approval actions, and names that must be unique. moto stores
any declaration; CreatePipeline and UpdatePipeline call `check` first and refuse as CodePipeline does.

Wording: CodePipeline answers InvalidStructureException for a declaration it refuses; its V2-only
messages read "<feature> can only be used with V2 pipelines" (seen for tag triggers:
cloudposse/terraform-aws-ecs-codepipeline#145, "InvalidStructureException: Triggers on tag can only
be used with V2 pipelines"); the other messages are the emulator's own, naming the field.
"""

from __future__ import annotations

import re
from typing import Any

from .protocol import AwsError

# CodePipeline User Guide, "Pipeline types": conditions, rollback, QUEUED/PARALLEL, triggers and
# variables are V2 features.
V1_EXECUTION_MODES = {"SUPERSEDED"}
# CodePipeline User Guide, "Rule reference": the rule providers, all category Rule, owner AWS.
RULE_PROVIDERS = {"CloudWatchAlarm", "DeploymentWindow", "LambdaInvoke", "VariableCheck", "Commands"}
# Rule reference "CloudWatchAlarm": AlarmName required; AlarmStates ALARM, OK, INSUFFICIENT_DATA;
# WaitTime in minutes.
ALARM_STATES = {"ALARM", "OK", "INSUFFICIENT_DATA"}
# API Reference, Condition / FailureConditions: a condition's result per condition type
# (CodePipeline User Guide, "Configure stage conditions": beforeEntry FAIL or SKIP, onSuccess
# ROLLBACK or FAIL, onFailure ROLLBACK, FAIL or RETRY).
CONDITION_RESULTS = {
    "beforeEntry": {"FAIL", "SKIP"},
    "onSuccess": {"ROLLBACK", "FAIL"},
    "onFailure": {"ROLLBACK", "FAIL", "RETRY"},
}
# CodePipeline User Guide, "Add a manual approval action": its configuration.
APPROVAL_KEYS = {"NotificationArn", "CustomData", "ExternalEntityLink"}
APPROVAL_CUSTOM_DATA_MAX = 500
NAMESPACE = re.compile(r"^[A-Za-z0-9@\-_]{1,100}$")


def refuse(message: str) -> AwsError:
    return AwsError("InvalidStructureException", message)


def check(pipeline: Any) -> None:
    """Raises InvalidStructureException for what CodePipeline refuses in `pipeline`."""
    if not isinstance(pipeline, dict):
        return
    stages = [s for s in pipeline.get("stages") or [] if isinstance(s, dict)]
    v2 = pipeline.get("pipelineType") == "V2"
    mode = pipeline.get("executionMode") or "SUPERSEDED"
    if not v2:
        check_v1(pipeline, stages, mode)
    for index, stage in enumerate(stages):
        check_conditions(stage, index, mode)
        for action in stage.get("actions") or []:
            if isinstance(action, dict):
                check_action(stage.get("name"), action)
    check_namespaces(stages)


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
            rules = condition.get("rules") or []
            if not rules:
                raise refuse(f"Stage {name}: a {kind} condition needs at least one rule")
            for rule in rules:
                check_rule(name, rule)


def check_rule(stage: Any, rule: dict[str, Any]) -> None:
    type_id = rule.get("ruleTypeId") or {}
    provider = type_id.get("provider")
    if type_id.get("category") != "Rule" or type_id.get("owner", "AWS") != "AWS" or provider not in RULE_PROVIDERS:
        raise refuse(
            f"Stage {stage}: rule {rule.get('name')} has type {type_id}; a rule is category Rule, owner AWS, "
            f"provider one of {sorted(RULE_PROVIDERS)}"
        )
    if provider != "CloudWatchAlarm":
        return
    config = rule.get("configuration") or {}
    if not config.get("AlarmName"):
        raise refuse(f"Stage {stage}: CloudWatchAlarm rule {rule.get('name')} needs AlarmName")
    unknown = set(config) - {"AlarmName", "AlarmStates", "WaitTime"}
    if unknown:
        raise refuse(f"Stage {stage}: CloudWatchAlarm rule {rule.get('name')} has unknown configuration {sorted(unknown)}")
    states = [s.strip() for s in str(config.get("AlarmStates", "ALARM")).split(",")]
    if not set(states) <= ALARM_STATES:
        raise refuse(f"Stage {stage}: AlarmStates {states} must be among {sorted(ALARM_STATES)}")
    wait = config.get("WaitTime")
    if wait is not None and (not str(wait).isdigit() or int(wait) < 1):
        raise refuse(f"Stage {stage}: WaitTime {wait!r} must be a whole number of minutes, at least 1")


def check_action(stage: Any, action: dict[str, Any]) -> None:
    type_id = action.get("actionTypeId") or {}
    if type_id.get("category") != "Approval" or type_id.get("provider") != "Manual":
        return
    config = action.get("configuration") or {}
    unknown = set(config) - APPROVAL_KEYS
    if unknown:
        raise AwsError(
            "InvalidActionDeclarationException",
            f"Action configuration for action '{action.get('name')}' contains unknown configuration {sorted(unknown)}",
        )
    if len(str(config.get("CustomData", ""))) > APPROVAL_CUSTOM_DATA_MAX:
        raise AwsError(
            "InvalidActionDeclarationException",
            f"CustomData of action '{action.get('name')}' is longer than {APPROVAL_CUSTOM_DATA_MAX} characters",
        )
    if action.get("inputArtifacts") or action.get("outputArtifacts"):
        raise AwsError(
            "InvalidActionDeclarationException",
            f"Manual approval action '{action.get('name')}' in stage {stage} takes no input or output artifacts",
        )


def check_namespaces(stages: list[dict[str, Any]]) -> None:
    """Each action's namespace is unique in the pipeline (CodePipeline User Guide, "Variables")."""
    seen: dict[str, str] = {}
    for stage in stages:
        for action in stage.get("actions") or []:
            namespace = action.get("namespace") if isinstance(action, dict) else None
            if namespace is None:
                continue
            if not NAMESPACE.match(namespace):
                raise refuse(f"Namespace {namespace!r} must be 1-100 characters of A-Z, a-z, 0-9, @, - and _")
            if namespace in seen:
                raise refuse(f"Namespace {namespace} is used by more than one action ({seen[namespace]}, {action.get('name')})")
            seen[namespace] = str(action.get("name"))
