"""CodePipeline's stage machinery, its edges: the bake's alarm read by the pipeline's service role
(a grant recorded when allowed, the rule Errored naming AccessDenied when not), the refusals of
the stage-result, approval, condition and clock control routes and of PutApprovalResult, and
ListPipelineExecutions merging seeded and rollback executions most recent first."""

from __future__ import annotations

import time
import urllib.error
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shim_helpers import client, control, error_code
from test_codepipeline_runs import ALARM_ARN, alarm, open_approval, pipeline, seed, stage_result


def refused(shim: str, method: str, path: str, body: Any) -> str:
    """The 400 answer's text of a control call the emulator refuses."""
    with pytest.raises(urllib.error.HTTPError) as caught:
        control(shim, method, path, body)
    assert caught.value.code == 400, caught.value
    return caught.value.read().decode()


def fast_bake(shim: str, name: str, execution_id: str) -> dict[str, Any]:
    control(shim, "POST", "/_shim/codepipeline/clock", {"minuteSeconds": 0.05})
    body = {"pipelineName": name, "pipelineExecutionId": execution_id, "stageName": "prod", "condition": "onSuccess"}
    run = control(shim, "POST", "/_shim/codepipeline/conditions", body)["conditionExecutionId"]
    deadline = time.time() + 10
    outcome = control(shim, "GET", f"/_shim/codepipeline/conditions/{run}")
    while outcome["status"] == "InProgress" and time.time() < deadline:
        time.sleep(0.2)
        outcome = control(shim, "GET", f"/_shim/codepipeline/conditions/{run}")
    return outcome


def test_the_bake_reads_its_alarm_as_the_pipeline_role_and_the_grant_is_recorded(shim: str) -> None:
    name = pipeline(shim)
    alarm(shim, "OK")
    control(shim, "DELETE", "/_shim/iam/grants")
    outcome = fast_bake(shim, name, seed(shim, name))
    assert outcome["status"] == "Succeeded", outcome
    grants = [g for g in control(shim, "GET", "/_shim/iam/grants") if g["action"] == "cloudwatch:DescribeAlarms"]
    assert len(grants) == 1, grants
    assert grants[0]["role"] == "arn:aws:iam::123456789012:role/pipeline-dev-role"
    assert grants[0]["resource"] == ALARM_ARN


def test_a_pipeline_role_without_describe_alarms_errors_the_rule(shim: str) -> None:
    name = pipeline(shim, describe_alarms=False)
    alarm(shim, "OK")
    outcome = fast_bake(shim, name, seed(shim, name))
    assert outcome["status"] == "Errored", outcome
    assert outcome["ruleResults"][0]["status"] == "Errored"
    assert "AccessDenied" in outcome["ruleResults"][0]["summary"]
    assert "cloudwatch:DescribeAlarms" in outcome["ruleResults"][0]["summary"]
    denials = control(shim, "GET", "/_shim/iam/denials")
    assert any(d["action"] == "cloudwatch:DescribeAlarms" and d["resource"] == ALARM_ARN for d in denials)


def test_the_control_routes_refuse_what_they_cannot_know(shim: str) -> None:
    name = pipeline(shim)
    execution_id = seed(shim, name)
    assert "PipelineNotFoundException" in refused(
        shim, "POST", "/_shim/codepipeline/stage-results",
        {"pipelineName": "nosuch", "pipelineExecutionId": execution_id, "stageName": "prod", "status": "Succeeded"},
    )
    assert "StageNotFoundException" in refused(
        shim, "POST", "/_shim/codepipeline/stage-results",
        {"pipelineName": name, "pipelineExecutionId": execution_id, "stageName": "nosuch", "status": "Succeeded"},
    )
    assert "status must be one of" in refused(
        shim, "POST", "/_shim/codepipeline/stage-results",
        {"pipelineName": name, "pipelineExecutionId": execution_id, "stageName": "prod", "status": "Done"},
    )
    assert "ActionNotFoundException" in refused(
        shim, "POST", "/_shim/codepipeline/approvals",
        {"pipelineName": name, "pipelineExecutionId": execution_id, "stageName": "Approve-prod", "actionName": "nosuch"},
    )
    assert "declares no onSuccess condition" in refused(
        shim, "POST", "/_shim/codepipeline/conditions",
        {"pipelineName": name, "pipelineExecutionId": execution_id, "stageName": "Approve-prod"},
    )
    assert "minuteSeconds" in refused(shim, "POST", "/_shim/codepipeline/clock", {"minuteSeconds": 0})


def test_put_approval_result_refusals(shim: str) -> None:
    name = pipeline(shim)
    token = open_approval(shim, name, seed(shim, name))
    codepipeline = client(shim, "codepipeline")
    answer = {"summary": "ok", "status": "Approved"}
    cases = [
        ({"pipelineName": "nosuch", "stageName": "Approve-prod", "actionName": "Approval"}, "PipelineNotFoundException"),
        ({"pipelineName": name, "stageName": "nosuch", "actionName": "Approval"}, "StageNotFoundException"),
        ({"pipelineName": name, "stageName": "Approve-prod", "actionName": "nosuch"}, "ActionNotFoundException"),
        ({"pipelineName": name, "stageName": "prod", "actionName": "Deploy"}, "InvalidApprovalTokenException"),
    ]
    for names, code in cases:
        with pytest.raises(ClientError) as caught:
            codepipeline.put_approval_result(**names, result=answer, token=token)
        assert error_code(caught.value) == code, names
    assert control(shim, "GET", f"/_shim/codepipeline/approvals/{token}")["status"] == "InProgress"
    rejected = codepipeline.put_approval_result(
        pipelineName=name, stageName="Approve-prod", actionName="Approval",
        result={"summary": "not now", "status": "Rejected"}, token=token,
    )
    assert "approvedAt" in rejected
    record = control(shim, "GET", f"/_shim/codepipeline/approvals/{token}")
    assert (record["status"], record["summary"]) == ("Rejected", "not now")
    state = codepipeline.get_pipeline_state(name=name)["stageStates"]
    stage = next(s for s in state if s["stageName"] == "Approve-prod")
    assert stage["latestExecution"] == {"pipelineExecutionId": record["pipelineExecutionId"], "status": "Failed"}
    execution = codepipeline.get_pipeline_execution(pipelineName=name, pipelineExecutionId=record["pipelineExecutionId"])
    assert execution["pipelineExecution"]["status"] == "Failed", "a rejection fails the execution"


def test_executions_are_listed_most_recent_first_with_their_type(shim: str) -> None:
    name = pipeline(shim)
    first = seed(shim, name)
    stage_result(shim, name, first, "prod", "Succeeded")
    time.sleep(0.01)
    second = seed(shim, name)
    rollback = stage_result(shim, name, second, "prod", "Failed")["rollback"]["pipelineExecutionId"]
    listed = client(shim, "codepipeline").list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"]
    ids = [summary["pipelineExecutionId"] for summary in listed]
    assert ids[:3] == [rollback, second, first], ids
    assert listed[0]["executionType"] == "ROLLBACK"
    assert all(summary.get("executionType", "STANDARD") == "STANDARD" for summary in listed[1:])
