"""CodePipeline's stage machinery: a manual approval's token shown by GetPipelineState and answered
once by PutApprovalResult (refused with another token, twice, or by a role allowed only on another
action); a bake whose CloudWatchAlarm rule passes with a quiet alarm and fails when the alarm fires
during the wait, rolling the stage back to the last execution that succeeded in it; a failed stage
with onFailure ROLLBACK rolled back the same way; RollbackStage's refusals; rollback executions
listed first with their type and target."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shim_helpers import assumed_client, client, control, create_role, error_code, policy, role_with_policy, trust_policy
from test_codepipeline_structure import staged

ACCOUNT = "123456789012"
ALARM_ARN = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:web-5xx"


def pipeline(shim: str, name: str = "pipeline-dev", describe_alarms: bool = True) -> str:
    """The pipeline, its service role allowed cloudwatch:DescribeAlarms on the bake's alarm unless told not."""
    role = create_role(shim, f"{name}-role", "codepipeline.amazonaws.com")
    if describe_alarms:
        grant = policy({"Effect": "Allow", "Action": "cloudwatch:DescribeAlarms", "Resource": ALARM_ARN})
        client(shim, "iam").put_role_policy(RoleName=f"{name}-role", PolicyName="bake", PolicyDocument=json.dumps(grant))
    client(shim, "codepipeline").create_pipeline(pipeline=staged(name, role))
    return name


def seed(shim: str, name: str) -> str:
    execution_id = str(uuid.uuid4())
    control(
        shim,
        "POST",
        "/_shim/codepipeline/executions",
        {
            "pipelineName": name,
            "pipelineExecution": {
                "pipelineExecutionId": execution_id,
                "status": "InProgress",
                "artifactRevisions": [{"name": "src", "revisionId": "a" * 40}],
            },
        },
    )
    return execution_id


def stage_result(shim: str, name: str, execution_id: str, stage: str, status: str) -> Any:
    body = {"pipelineName": name, "pipelineExecutionId": execution_id, "stageName": stage, "status": status}
    return control(shim, "POST", "/_shim/codepipeline/stage-results", body)


def alarm(shim: str, state: str) -> None:
    cw = client(shim, "cloudwatch")
    cw.put_metric_alarm(
        AlarmName="web-5xx", Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=5.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cw.set_alarm_state(AlarmName="web-5xx", StateValue=state, StateReason="test")


def approver(shim: str, action_arn: str) -> Any:
    role_with_policy(
        shim,
        "approver",
        trust_policy({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
        "approve",
        policy(
            {"Effect": "Allow", "Action": "codepipeline:GetPipelineState", "Resource": f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:pipeline-dev"},
            {"Effect": "Allow", "Action": "codepipeline:PutApprovalResult", "Resource": action_arn},
        ),
    )
    return assumed_client(shim, "codepipeline", f"arn:aws:iam::{ACCOUNT}:role/approver", "ada")


def open_approval(shim: str, name: str, execution_id: str) -> str:
    body = {"pipelineName": name, "pipelineExecutionId": execution_id, "stageName": "Approve-prod", "actionName": "Approval"}
    return control(shim, "POST", "/_shim/codepipeline/approvals", body)["token"]


def approve(codepipeline: Any, token: str) -> Any:
    return codepipeline.put_approval_result(
        pipelineName="pipeline-dev", stageName="Approve-prod", actionName="Approval",
        result={"summary": "looks good", "status": "Approved"}, token=token,
    )


def test_an_approval_is_read_from_the_pipeline_state_and_answered_once_by_its_approver(shim: str) -> None:
    name = pipeline(shim)
    execution_id = seed(shim, name)
    token = open_approval(shim, name, execution_id)
    codepipeline = approver(shim, f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:pipeline-dev/Approve-prod/Approval")
    state = codepipeline.get_pipeline_state(name=name)
    stage = next(s for s in state["stageStates"] if s["stageName"] == "Approve-prod")
    assert stage["actionStates"][0]["latestExecution"]["token"] == token
    assert stage["actionStates"][0]["latestExecution"]["status"] == "InProgress"

    with pytest.raises(ClientError) as wrong:
        approve(codepipeline, str(uuid.uuid4()))
    assert error_code(wrong.value) == "InvalidApprovalTokenException"
    assert "approvedAt" in approve(codepipeline, token)
    with pytest.raises(ClientError) as twice:
        approve(codepipeline, token)
    assert error_code(twice.value) == "ApprovalAlreadyCompletedException"

    record = control(shim, "GET", f"/_shim/codepipeline/approvals/{token}")
    assert record["status"] == "Approved"
    assert record["summary"] == "looks good"
    assert record["approvedBy"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/approver/")
    after = client(shim, "codepipeline").get_pipeline_state(name=name)
    done = next(s for s in after["stageStates"] if s["stageName"] == "Approve-prod")["actionStates"][0]["latestExecution"]
    assert done["status"] == "Succeeded" and "token" not in done


def test_a_role_allowed_on_another_action_cannot_approve(shim: str) -> None:
    name = pipeline(shim)
    token = open_approval(shim, name, seed(shim, name))
    codepipeline = approver(shim, f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:pipeline-dev/Approve-staging/Approval")
    with pytest.raises(ClientError) as refused:
        approve(codepipeline, token)
    assert error_code(refused.value) == "AccessDeniedException"
    assert control(shim, "GET", f"/_shim/codepipeline/approvals/{token}")["status"] == "InProgress"


def test_only_a_manual_approval_action_can_be_opened(shim: str) -> None:
    name = pipeline(shim)
    body = {"pipelineName": name, "pipelineExecutionId": seed(shim, name), "stageName": "prod", "actionName": "Deploy"}
    with pytest.raises(Exception) as refused:
        control(shim, "POST", "/_shim/codepipeline/approvals", body)
    assert "400" in str(refused.value)


def bake(shim: str, name: str, execution_id: str, fire: bool) -> dict[str, Any]:
    control(shim, "POST", "/_shim/codepipeline/clock", {"minuteSeconds": 0.5})
    body = {"pipelineName": name, "pipelineExecutionId": execution_id, "stageName": "prod"}
    run = control(shim, "POST", "/_shim/codepipeline/conditions", body)["conditionExecutionId"]
    if fire:
        client(shim, "cloudwatch").set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="5xx")
    outcome = control(shim, "GET", f"/_shim/codepipeline/conditions/{run}")
    assert outcome["status"] == "InProgress", "a 15-minute wait lasts 7.5 s here"
    deadline = time.time() + 15
    while outcome["status"] == "InProgress" and time.time() < deadline:
        time.sleep(0.5)
        outcome = control(shim, "GET", f"/_shim/codepipeline/conditions/{run}")
    return outcome


def test_a_quiet_bake_succeeds_and_a_fired_alarm_rolls_back_to_the_last_success(shim: str) -> None:
    name = pipeline(shim)
    alarm(shim, "OK")
    first = seed(shim, name)
    stage_result(shim, name, first, "prod", "Succeeded")
    quiet = bake(shim, name, first, fire=False)
    assert quiet["status"] == "Succeeded" and quiet["rollback"] is None, quiet

    second = seed(shim, name)
    stage_result(shim, name, second, "prod", "Succeeded")
    fired = bake(shim, name, second, fire=True)
    assert fired["status"] == "Failed", fired
    assert fired["ruleResults"][0]["status"] == "Failed"
    assert fired["rollback"]["targetPipelineExecutionId"] == first
    rollback_id = fired["rollback"]["pipelineExecutionId"]

    codepipeline = client(shim, "codepipeline")
    listed = codepipeline.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"]
    assert listed[0]["pipelineExecutionId"] == rollback_id
    assert listed[0]["executionType"] == "ROLLBACK"
    assert listed[0]["rollbackMetadata"]["rollbackTargetPipelineExecutionId"] == first
    assert listed[0]["trigger"]["triggerType"] == "AutomatedRollback"
    execution = codepipeline.get_pipeline_execution(pipelineName=name, pipelineExecutionId=rollback_id)["pipelineExecution"]
    assert execution["artifactRevisions"][0]["revisionId"] == "a" * 40
    stage_result(shim, name, rollback_id, "prod", "Succeeded")
    assert codepipeline.get_pipeline_execution(pipelineName=name, pipelineExecutionId=rollback_id)["pipelineExecution"]["status"] == "Succeeded"


def test_a_failed_stage_with_on_failure_rollback_goes_back_to_the_last_success(shim: str) -> None:
    name = pipeline(shim)
    first = seed(shim, name)
    stage_result(shim, name, first, "prod", "Succeeded")
    second = seed(shim, name)
    answer = stage_result(shim, name, second, "prod", "Failed")
    assert answer["rollback"]["targetPipelineExecutionId"] == first
    third = seed(shim, name)
    alone = stage_result(shim, "pipeline-dev", third, "Approve-prod", "Failed")
    assert alone["rollback"] is None, "Approve-prod declares no onFailure rollback"


def test_rollback_stage_refuses_what_codepipeline_refuses(shim: str) -> None:
    name = pipeline(shim)
    codepipeline = client(shim, "codepipeline")
    ok, failed = seed(shim, name), seed(shim, name)
    stage_result(shim, name, ok, "prod", "Succeeded")
    automated = stage_result(shim, name, failed, "prod", "Failed")["rollback"]["pipelineExecutionId"]
    with pytest.raises(ClientError) as busy:
        codepipeline.rollback_stage(pipelineName=name, stageName="prod", targetPipelineExecutionId=ok)
    assert error_code(busy.value) == "UnableToRollbackStageException", "the automated rollback is running"
    stage_result(shim, name, automated, "prod", "Succeeded")
    refusals = [
        ("prod", failed, "UnableToRollbackStageException"),
        ("Source", ok, "UnableToRollbackStageException"),
        ("nosuch", ok, "StageNotFoundException"),
        ("prod", str(uuid.uuid4()), "PipelineExecutionNotFoundException"),
    ]
    for stage, target, code in refusals:
        with pytest.raises(ClientError) as refused:
            codepipeline.rollback_stage(pipelineName=name, stageName=stage, targetPipelineExecutionId=target)
        assert error_code(refused.value) == code, (stage, target)
    started = codepipeline.rollback_stage(pipelineName=name, stageName="prod", targetPipelineExecutionId=ok)
    rollback_id = started["pipelineExecutionId"]
    with pytest.raises(ClientError) as running:
        codepipeline.rollback_stage(pipelineName=name, stageName="prod", targetPipelineExecutionId=ok)
    assert error_code(running.value) == "UnableToRollbackStageException"
    stage_result(shim, name, rollback_id, "prod", "Succeeded")
    with pytest.raises(ClientError) as of_rollback:
        codepipeline.rollback_stage(pipelineName=name, stageName="prod", targetPipelineExecutionId=rollback_id)
    assert error_code(of_rollback.value) == "UnableToRollbackStageException"
    manual = codepipeline.get_pipeline_execution(pipelineName=name, pipelineExecutionId=rollback_id)["pipelineExecution"]
    assert manual["trigger"]["triggerType"] == "ManualRollback"
    assert json.dumps(manual["rollbackMetadata"]) == json.dumps({"rollbackTargetPipelineExecutionId": ok})
