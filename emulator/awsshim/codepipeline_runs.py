"""CodePipeline's stage machinery, which moto 5.2.5 lacks: what each stage of an execution did
(reported by whoever plays the actions), manual approvals and PutApprovalResult, the onSuccess
conditions whose CloudWatchAlarm rules are a stage's bake, and stage rollback (RollbackStage, and
the automated rollback a failed stage or condition starts). Executions live in the shim's seeded
executions (`codepipeline.seed_execution`), so GetPipelineExecution, ListPipelineExecutions and
GetPipelineState answer about them as CodePipeline would.

Sources: CodePipeline API Reference (PutApprovalResult, RollbackStage, GetPipelineState,
StageState, ListPipelineExecutions); CodePipeline User Guide, "Approve or reject an approval
action", "Configuring stage rollback", "How do stage conditions work?", rule reference
"CloudWatchAlarm".
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from . import cloudwatch, codepipeline_role
from .backends import pipeline_backend
from .core import ControlCall, Handler, Shim
from .iam.identity import access_key_id, find_identity
from .protocol import ACCOUNT_ID, DEFAULT_REGION, AwsError, AwsRequest, Response, control_json, json_response, require

# A minute of a rule's WaitTime, in seconds: 60 (the real length) unless EMULATOR_CODEPIPELINE_MINUTE_SECONDS
# or a test (POST /_shim/codepipeline/clock) shortens it.
MINUTE_SECONDS = float(os.environ.get("EMULATOR_CODEPIPELINE_MINUTE_SECONDS", "60"))
# An approval not answered in 7 days fails (User Guide, "Add a manual approval action": "If no response
# is received within seven days, the action status changes to Failed").
APPROVAL_SECONDS = 7 * 24 * 3600
STAGE_STATUSES = {"InProgress", "Succeeded", "Failed"}


@dataclass
class Approval:
    token: str
    pipeline: str
    execution_id: str
    stage: str
    action: str
    opened_at: float
    action_execution_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "InProgress"
    summary: str | None = None
    approved_by: str | None = None
    approved_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "pipelineName": self.pipeline,
            "pipelineExecutionId": self.execution_id,
            "stageName": self.stage,
            "actionName": self.action,
            "status": self.status,
            "summary": self.summary,
            "approvedBy": self.approved_by,
            "approvedAt": self.approved_at,
        }


@dataclass
class ConditionRun:
    """One evaluation of a stage's onSuccess conditions: each CloudWatchAlarm rule is judged when
    its WaitTime is over ("the wait time in minutes to allow for a state change before running the
    rule result", rule reference "CloudWatchAlarm"), against AlarmStates (ALARM unless given)."""

    id: str
    pipeline: str
    execution_id: str
    stage: str
    region: str
    result: str
    rules: list[dict[str, Any]]
    started_at: float
    minute_seconds: float
    role_arn: str | None = None
    status: str = "InProgress"
    rule_results: list[dict[str, Any]] = field(default_factory=list)
    rollback: dict[str, Any] | None = None


@dataclass
class PipelineRuns:
    """The stage machinery's state (ShimState.pipeline_runs)."""

    minute_seconds: float = MINUTE_SECONDS
    approvals: dict[str, Approval] = field(default_factory=dict)
    conditions: dict[str, ConditionRun] = field(default_factory=dict)
    # (pipeline, stage) -> [(time, execution id, status)], oldest first
    stage_history: dict[tuple[str, str], list[tuple[float, str, str]]] = field(default_factory=dict)


def runs(shim: Shim) -> PipelineRuns:
    """The state, made at its first use (caller holds the lock)."""
    if getattr(shim.state, "pipeline_runs", None) is None:
        shim.state.pipeline_runs = PipelineRuns()
    return shim.state.pipeline_runs


def now() -> float:
    return time.time()


# ---- the declaration ----


def declaration(name: str, region: str = DEFAULT_REGION) -> dict[str, Any]:
    pipeline = pipeline_backend(_Region(region)).pipelines.get(name)
    if pipeline is None:
        raise AwsError("PipelineNotFoundException", f"Account '{ACCOUNT_ID}' does not have a pipeline with name '{name}'")
    return pipeline.pipeline


@dataclass
class _Region:
    """What `pipeline_backend` reads of a request, for control calls."""

    region: str


def stage_of(definition: dict[str, Any], stage: str) -> dict[str, Any]:
    for declared in definition.get("stages", []):
        if declared.get("name") == stage:
            return declared
    raise AwsError("StageNotFoundException", f"The stage '{stage}' was not found in pipeline '{definition.get('name')}'")


def action_of(stage: dict[str, Any], action: str) -> dict[str, Any]:
    for declared in stage.get("actions", []):
        if declared.get("name") == action:
            return declared
    raise AwsError("ActionNotFoundException", f"The action '{action}' was not found in stage '{stage.get('name')}'")


def control_payload(call: ControlCall, *names: str) -> dict[str, Any]:
    payload = call.payload
    if not isinstance(payload, dict):
        raise ValueError(f"send a JSON object with {', '.join(names)}")
    missing = [name for name in names if not isinstance(payload.get(name), str) or not payload[name]]
    if missing:
        raise ValueError(f"{', '.join(missing)} (non-empty strings) required; got {payload!r}")
    return payload


def control_declaration(payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pipeline and stage a control call names, or a ValueError naming what is missing."""
    try:
        definition = declaration(payload["pipelineName"], payload.get("region", DEFAULT_REGION))
        return definition, stage_of(definition, payload["stageName"])
    except AwsError as error:
        raise ValueError(f"{error.code}: {error.message}") from error


# ---- executions ----


def execution_record(shim: Shim, pipeline: str, execution_id: str) -> dict[str, Any] | None:
    """The seeded execution (caller holds the lock)."""
    seeded = shim.state.executions.get((pipeline, execution_id))
    return None if seeded is None else seeded["pipelineExecution"]


def set_execution_status(shim: Shim, pipeline: str, execution_id: str, status: str) -> None:
    record = execution_record(shim, pipeline, execution_id)
    if record is not None:
        record["status"] = status
        record["lastUpdateTime"] = now()


def last_success(shim: Shim, pipeline: str, stage: str, before: str | None = None) -> str | None:
    """The most recent execution, other than `before` and not itself a rollback, whose stage
    succeeded: the target of an automated rollback ("You can roll back a stage to an execution
    that was successful in that stage"; "You cannot roll back to a target execution ID that is a
    rollback execution type", User Guide, "Configuring stage rollback")."""
    for _, execution_id, status in reversed(runs(shim).stage_history.get((pipeline, stage), [])):
        if execution_id == before or status != "Succeeded":
            continue
        record = execution_record(shim, pipeline, execution_id)
        if record is not None and record.get("executionType") == "ROLLBACK":
            continue
        return execution_id
    return None


def succeeded_in(shim: Shim, pipeline: str, stage: str, execution_id: str) -> bool:
    history = runs(shim).stage_history.get((pipeline, stage), [])
    return any(e == execution_id and s == "Succeeded" for _, e, s in history)


def start_rollback(shim: Shim, pipeline: str, stage: str, target: str, trigger: str) -> dict[str, Any]:
    """A rollback execution of `stage` to `target`: a new execution (executionType ROLLBACK,
    rollbackMetadata, the target's source revisions and artifacts; User Guide, "Configuring
    stage rollback": "The rolled back operation will result in a new execution. The target
    pipeline execution chosen for rollback is used to retrieve source revisions and variables")."""
    target_record = execution_record(shim, pipeline, target) or {}
    execution_id = str(uuid.uuid4())
    started = now()
    record = {
        "pipelineName": pipeline,
        "pipelineExecutionId": execution_id,
        "pipelineVersion": target_record.get("pipelineVersion", 1),
        "status": "InProgress",
        "executionMode": target_record.get("executionMode", "QUEUED"),
        "executionType": "ROLLBACK",
        "rollbackMetadata": {"rollbackTargetPipelineExecutionId": target},
        "trigger": {"triggerType": trigger, "triggerDetail": target},
        "artifactRevisions": target_record.get("artifactRevisions", []),
        "sourceRevisions": target_record.get("sourceRevisions", []),
        "variables": target_record.get("variables", []),
        "startTime": started,
        "lastUpdateTime": started,
    }
    shim.state.executions[(pipeline, execution_id)] = {"pipelineExecution": record, "actionExecutionDetails": []}
    runs(shim).stage_history.setdefault((pipeline, stage), []).append((started, execution_id, "InProgress"))
    return {"pipelineExecutionId": execution_id, "targetPipelineExecutionId": target, "triggerType": trigger}


# ---- stage results ----


def stage_result(shim: Shim, call: ControlCall) -> Response:
    """POST /_shim/codepipeline/stage-results: what a stage's actions did in an execution. A failed
    stage that declares `onFailure: {result: ROLLBACK}` is rolled back to the last execution that
    succeeded in it (User Guide, "Configure a stage for automatic rollback")."""
    payload = control_payload(call, "pipelineName", "pipelineExecutionId", "stageName", "status")
    if payload["status"] not in STAGE_STATUSES:
        raise ValueError(f"status must be one of {sorted(STAGE_STATUSES)}, got {payload['status']!r}")
    _, stage = control_declaration(payload)
    pipeline, execution_id, name = payload["pipelineName"], payload["pipelineExecutionId"], payload["stageName"]
    rollback: dict[str, Any] | None = None
    reason = None
    with shim.state.lock:
        runs(shim).stage_history.setdefault((pipeline, name), []).append((now(), execution_id, payload["status"]))
        record = execution_record(shim, pipeline, execution_id)
        if record is not None and record.get("executionType") == "ROLLBACK" and payload["status"] != "InProgress":
            set_execution_status(shim, pipeline, execution_id, payload["status"])
        if payload["status"] == "Failed" and (stage.get("onFailure") or {}).get("result") == "ROLLBACK":
            target = last_success(shim, pipeline, name, before=execution_id)
            if target is None:
                reason = f"no earlier execution succeeded in stage {name}: nothing to roll back to, the stage stays failed"
            else:
                rollback = start_rollback(shim, pipeline, name, target, "AutomatedRollback")
    return control_json({"stageName": name, "status": payload["status"], "rollback": rollback, "reason": reason})


# ---- approvals ----


def open_approval(shim: Shim, call: ControlCall) -> Response:
    """POST /_shim/codepipeline/approvals: the execution reached a manual approval; answers its token."""
    payload = control_payload(call, "pipelineName", "pipelineExecutionId", "stageName", "actionName")
    _, stage = control_declaration(payload)
    try:
        action = action_of(stage, payload["actionName"])
    except AwsError as error:
        raise ValueError(f"{error.code}: {error.message}") from error
    kind = action.get("actionTypeId") or {}
    if (kind.get("category"), kind.get("provider")) != ("Approval", "Manual"):
        raise ValueError(f"{payload['stageName']}/{payload['actionName']} is {kind}, not a manual approval (Approval/Manual)")
    approval = Approval(
        token=str(uuid.uuid4()),
        pipeline=payload["pipelineName"],
        execution_id=payload["pipelineExecutionId"],
        stage=payload["stageName"],
        action=payload["actionName"],
        opened_at=now(),
    )
    with shim.state.lock:
        for other in runs(shim).approvals.values():
            if (other.pipeline, other.stage, other.action, other.status) == (approval.pipeline, approval.stage, approval.action, "InProgress"):
                other.status = "Superseded"
        runs(shim).approvals[approval.token] = approval
    return control_json({"token": approval.token})


def approval_record(shim: Shim, call: ControlCall) -> Response:
    """GET /_shim/codepipeline/approvals/{token}."""
    with shim.state.lock:
        approval = runs(shim).approvals.get(call.groups["token"])
        if approval is None:
            return control_json({"error": f"no approval has the token {call.groups['token']!r}"}, 404)
        expire(approval)
        return control_json(approval.to_json())


def expire(approval: Approval) -> None:
    if approval.status == "InProgress" and now() - approval.opened_at > APPROVAL_SECONDS:
        approval.status = "Failed"
        approval.summary = "The approval request expired after 7 days"


def caller_arn(req: AwsRequest) -> str:
    """Who signed the request: the session's or user's ARN; the account's root for the keys the
    emulator did not issue (they stand for an administrator)."""
    key = access_key_id(req.environ)
    try:
        identity = find_identity(key) if key else None
    except Exception:  # noqa: BLE001 - an unreadable backend means "not issued"
        identity = None
    return identity.arn if identity is not None else f"arn:aws:iam::{ACCOUNT_ID}:root"


def put_approval_result(shim: Shim, req: AwsRequest) -> Response:
    """PutApprovalResult (API Reference): the open approval's token answered once with Approved or
    Rejected; InvalidApprovalTokenException for another token, ApprovalAlreadyCompletedException
    for an answered one."""
    name = require(req.params, "pipelineName")
    stage_name = require(req.params, "stageName")
    action_name = require(req.params, "actionName")
    token = require(req.params, "token")
    result = require(req.params, "result")
    status = result.get("status") if isinstance(result, dict) else None
    if status not in ("Approved", "Rejected"):
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{status}' at 'result.status' failed to satisfy constraint: "
            "Member must satisfy enum value set: [Approved, Rejected]",
        )
    definition = declaration(name, req.region)
    kind = action_of(stage_of(definition, stage_name), action_name).get("actionTypeId") or {}
    if kind.get("category") != "Approval":
        raise AwsError("InvalidApprovalTokenException", f"The action '{action_name}' is not an approval action")
    with shim.state.lock:
        approval = runs(shim).approvals.get(token)
        if approval is None or (approval.pipeline, approval.stage, approval.action) != (name, stage_name, action_name):
            raise AwsError("InvalidApprovalTokenException", f"The token '{token}' is not valid for action '{action_name}'")
        expire(approval)
        if approval.status != "InProgress":
            raise AwsError("ApprovalAlreadyCompletedException", f"The approval action '{action_name}' has already completed ({approval.status})")
        approval.status = status
        approval.summary = result.get("summary")
        approval.approved_by = caller_arn(req)
        approval.approved_at = now()
        approved_at = approval.approved_at
        # The approval's outcome is its stage's; a rejection fails the execution (User Guide, "Approve
        # or reject an approval action in CodePipeline": "If the approver rejects the action ... the
        # pipeline status changes to Failed").
        outcome = "Succeeded" if status == "Approved" else "Failed"
        runs(shim).stage_history.setdefault((name, stage_name), []).append((approved_at, approval.execution_id, outcome))
        if status == "Rejected":
            set_execution_status(shim, name, approval.execution_id, "Failed")
    return json_response(req, {"approvedAt": approved_at})


# ---- conditions ----


def bake_rules(stage: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The onSuccess conditions' result and CloudWatchAlarm rules."""
    conditions = (stage.get("onSuccess") or {}).get("conditions") or []
    if not conditions:
        raise ValueError(f"stage {stage.get('name')} declares no onSuccess condition")
    result = conditions[0].get("result", "FAIL")
    rules = []
    for condition in conditions:
        for rule in condition.get("rules", []):
            if (rule.get("ruleTypeId") or {}).get("provider") != "CloudWatchAlarm":
                raise ValueError(f"rule {rule.get('name')}: the emulator evaluates CloudWatchAlarm rules only")
            config = rule.get("configuration") or {}
            states = [s.strip() for s in str(config.get("AlarmStates", "ALARM")).split(",") if s.strip()]
            rules.append(
                {
                    "ruleName": rule.get("name"),
                    "alarmName": config.get("AlarmName"),
                    "alarmStates": states,
                    "waitMinutes": float(config.get("WaitTime", 0) or 0),
                }
            )
    return result, rules


def start_conditions(shim: Shim, call: ControlCall) -> Response:
    """POST /_shim/codepipeline/conditions: the stage succeeded; its onSuccess conditions start."""
    payload = control_payload(call, "pipelineName", "pipelineExecutionId", "stageName")
    if payload.get("condition", "onSuccess") != "onSuccess":
        raise ValueError("only onSuccess conditions are evaluated here")
    definition, stage = control_declaration(payload)
    result, rules = bake_rules(stage)
    with shim.state.lock:
        state = runs(shim)
        run = ConditionRun(
            id=str(uuid.uuid4()),
            pipeline=payload["pipelineName"],
            execution_id=payload["pipelineExecutionId"],
            stage=payload["stageName"],
            region=payload.get("region", DEFAULT_REGION),
            result=result,
            rules=rules,
            started_at=now(),
            minute_seconds=state.minute_seconds,
            role_arn=definition.get("roleArn"),
        )
        state.conditions[run.id] = run
    return control_json({"conditionExecutionId": run.id})


def judge_rule(shim: Shim, run: ConditionRun, rule: dict[str, Any], at: float) -> dict[str, Any]:
    """The rule's result once its wait is over: Failed when the alarm is then in one of the
    monitored states (or is missing), with every state it went through during the wait; Errored
    when the pipeline's service role may not describe the alarm (codepipeline_role)."""
    denied = codepipeline_role.read_alarm_as_pipeline_role(shim, run.role_arn, run.region, rule["alarmName"])
    if denied is not None:
        return {**rule, "status": "Errored", "summary": denied}
    states = cloudwatch.alarm_states_since(ACCOUNT_ID, run.region, rule["alarmName"], run.started_at)
    seen = [s.value for s in states if s.since <= at]
    current = cloudwatch.alarm_state(ACCOUNT_ID, run.region, rule["alarmName"])
    if current is None:
        return {**rule, "status": "Failed", "summary": f"The alarm {rule['alarmName']} does not exist"}
    failed = current.value in rule["alarmStates"]
    summary = f"alarm {rule['alarmName']} is {current.value} ({current.reason}); states during the wait: {seen}"
    return {**rule, "status": "Failed" if failed else "Succeeded", "summary": summary}


def evaluate(shim: Shim, run: ConditionRun) -> None:
    """Moves the evaluation on (caller holds the lock)."""
    if run.status != "InProgress":
        return
    elapsed = now() - run.started_at
    waits = [rule["waitMinutes"] * run.minute_seconds for rule in run.rules]
    if any(elapsed < wait for wait in waits):
        return  # each rule is judged once, when every wait is over
    results = [judge_rule(shim, run, rule, run.started_at + wait) for rule, wait in zip(run.rules, waits)]
    run.rule_results = results
    if all(r["status"] == "Succeeded" for r in results):
        run.status = "Succeeded"
        return
    # A rule that could not be run errors the condition (API Reference, ConditionExecution status:
    # InProgress | Failed | Errored | Succeeded | Cancelled | Abandoned | Overridden).
    run.status = "Errored" if any(r["status"] == "Errored" for r in results) else "Failed"
    if run.result == "ROLLBACK":
        runs(shim).stage_history.setdefault((run.pipeline, run.stage), []).append((now(), run.execution_id, "Failed"))
        target = last_success(shim, run.pipeline, run.stage, before=run.execution_id)
        if target is not None:
            run.rollback = start_rollback(shim, run.pipeline, run.stage, target, "AutomatedRollback")
        set_execution_status(shim, run.pipeline, run.execution_id, "Failed")


def condition_status(shim: Shim, call: ControlCall) -> Response:
    """GET /_shim/codepipeline/conditions/{id}."""
    with shim.state.lock:
        run = runs(shim).conditions.get(call.groups["id"])
        if run is None:
            return control_json({"error": f"no condition evaluation {call.groups['id']!r}"}, 404)
        evaluate(shim, run)
        return control_json(
            {
                "conditionExecutionId": run.id,
                "stageName": run.stage,
                "status": run.status,
                "result": run.result,
                "ruleResults": run.rule_results,
                "rollback": run.rollback,
            }
        )


def clock(shim: Shim, call: ControlCall) -> Response:
    """GET|POST /_shim/codepipeline/clock: how many seconds a minute of a rule's WaitTime lasts."""
    with shim.state.lock:
        state = runs(shim)
        if call.method == "POST":
            value = call.payload.get("minuteSeconds") if isinstance(call.payload, dict) else None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f'send {{"minuteSeconds": S}} with S > 0, got {call.payload!r}')
            state.minute_seconds = float(value)
        return control_json({"minuteSeconds": state.minute_seconds})


# ---- RollbackStage ----


def rollback_stage(shim: Shim, req: AwsRequest) -> Response:
    """RollbackStage (API Reference): a new ROLLBACK execution of the stage with the target's
    artifacts. UnableToRollbackStageException when the target did not succeed in the stage, is
    itself a rollback, or the stage is running; the source stage cannot be rolled back (User
    Guide, "Considerations for rollbacks")."""
    name = require(req.params, "pipelineName")
    stage_name = require(req.params, "stageName")
    target = require(req.params, "targetPipelineExecutionId")
    definition = declaration(name, req.region)
    stage = stage_of(definition, stage_name)
    if definition.get("pipelineType", "V1") != "V2":
        raise AwsError("UnableToRollbackStageException", "Stage rollback is available for V2 pipelines only")
    categories = {(a.get("actionTypeId") or {}).get("category") for a in stage.get("actions", [])}
    if "Source" in categories:
        raise AwsError("UnableToRollbackStageException", f"The source stage '{stage_name}' cannot be rolled back")
    with shim.state.lock:
        record = execution_record(shim, name, target)
        if record is None:
            raise AwsError(
                "PipelineExecutionNotFoundException",
                f"Account '{ACCOUNT_ID}' does not have an execution with id '{target}' for pipeline '{name}'",
            )
        if record.get("executionType") == "ROLLBACK":
            raise AwsError("UnableToRollbackStageException", f"Execution {target} is a rollback execution; it cannot be a rollback target")
        history = runs(shim).stage_history.get((name, stage_name), [])
        if history and history[-1][2] == "InProgress":
            raise AwsError("UnableToRollbackStageException", f"The stage '{stage_name}' is running; roll back once it has finished")
        if not succeeded_in(shim, name, stage_name, target):
            raise AwsError("UnableToRollbackStageException", f"Execution {target} did not succeed in stage '{stage_name}'")
        started = start_rollback(shim, name, stage_name, target, "ManualRollback")
    return json_response(req, {"pipelineExecutionId": started["pipelineExecutionId"]})


# ---- what GetPipelineState adds ----


def iso(epoch: float | None) -> float | None:
    return None if epoch is None else round(epoch, 3)


def stage_state(shim: Shim, pipeline: str, stage: dict[str, Any]) -> dict[str, Any]:
    """The stage's latestExecution, its approval actions' latestExecution (with the token an
    approver needs while it is open) and its onSuccess condition state (API Reference, StageState,
    ActionExecution, StageConditionState) (caller holds the lock)."""
    name = stage.get("name")
    state = runs(shim)
    out: dict[str, Any] = {}
    history = state.stage_history.get((pipeline, name), [])
    if history:
        _, execution_id, status = history[-1]
        out["latestExecution"] = {"pipelineExecutionId": execution_id, "status": status}
    actions = []
    for action in stage.get("actions", []):
        entry: dict[str, Any] = {"actionName": action["name"]}
        opened = [a for a in state.approvals.values() if (a.pipeline, a.stage, a.action) == (pipeline, name, action["name"])]
        if opened:
            latest = max(opened, key=lambda a: a.opened_at)
            expire(latest)
            execution = {
                "actionExecutionId": latest.action_execution_id,
                "status": {"InProgress": "InProgress", "Approved": "Succeeded"}.get(latest.status, "Failed"),
                "lastStatusChange": iso(latest.approved_at or latest.opened_at),
            }
            if latest.status == "InProgress":
                execution["token"] = latest.token
            else:
                execution["summary"] = latest.summary
                execution["lastUpdatedBy"] = latest.approved_by
            entry["latestExecution"] = execution
        actions.append(entry)
    out["actionStates"] = actions
    evaluations = [run for run in state.conditions.values() if (run.pipeline, run.stage) == (pipeline, name)]
    if evaluations:
        latest_run = max(evaluations, key=lambda r: r.started_at)
        evaluate(shim, latest_run)
        out["onSuccessConditionState"] = {
            "latestExecution": {"status": latest_run.status, "summary": f"{len(latest_run.rules)} rule(s)"},
            "conditionStates": [
                {
                    "latestExecution": {"status": latest_run.status},
                    "ruleStates": [
                        {"ruleName": r["ruleName"], "latestExecution": {"status": r["status"], "summary": r["summary"]}}
                        for r in latest_run.rule_results
                    ],
                }
            ],
        }
    return out


def executions_of(shim: Shim, pipeline: str) -> list[dict[str, Any]]:
    """The seeded and rollback executions of the pipeline as ListPipelineExecutions summaries, most
    recent first (caller holds the lock)."""
    summaries = []
    for (name, _), value in shim.state.executions.items():
        if name != pipeline:
            continue
        record = value["pipelineExecution"]
        summary = {
            key: record[key]
            for key in (
                "pipelineExecutionId", "status", "startTime", "lastUpdateTime", "sourceRevisions", "trigger",
                "executionMode", "executionType", "rollbackMetadata",
            )
            if key in record
        }
        summaries.append(summary)
    return list(reversed(summaries))


SERVED: dict[tuple[str, str], Handler] = {
    ("codepipeline", "PutApprovalResult"): put_approval_result,
    ("codepipeline", "RollbackStage"): rollback_stage,
}
