"""CreatePipeline and UpdatePipeline refuse what CodePipeline refuses in a declaration: V2-only
parts on V1, bad stage conditions and rules, rollback where it cannot run, manual approval
actions with what they do not take, and a namespace used twice; a V2 pipeline with stages,
an approval, rollback and a bake condition is stored and read back as sent."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shim_helpers import client, create_role, error_code, pipeline_definition

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from awsshim.iam.catalogue import known_action  # noqa: E402
from awsshim.iam.operations import checks_for  # noqa: E402


def staged(name: str, role: str) -> dict[str, Any]:
    """The shape bootstrap makes with stages: V2, QUEUED, an approval, rollback and a bake."""
    pipeline = pipeline_definition(name, role)
    deploy = pipeline["stages"][1]
    deploy["name"] = "prod"
    deploy["actions"][0]["namespace"] = "Deploy-prod"
    deploy["onFailure"] = {"result": "ROLLBACK"}
    deploy["onSuccess"] = {
        "conditions": [
            {
                "result": "ROLLBACK",
                "rules": [
                    {
                        "name": "Bake1",
                        "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": "CloudWatchAlarm", "version": "1"},
                        "configuration": {"AlarmName": "web-5xx", "WaitTime": "15"},
                    }
                ],
            }
        ]
    }
    approval = {
        "name": "Approve-prod",
        "actions": [
            {
                "name": "Approval",
                "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"},
                "configuration": {"CustomData": "Deploy to prod", "ExternalEntityLink": "https://github.com/o/r"},
            }
        ],
    }
    pipeline["stages"].insert(1, approval)
    pipeline["pipelineType"] = "V2"
    pipeline["executionMode"] = "QUEUED"
    return pipeline


def test_a_v2_pipeline_with_stages_is_stored_as_sent(shim: str) -> None:
    role = create_role(shim, "staged-role", "codepipeline.amazonaws.com")
    codepipeline = client(shim, "codepipeline")
    sent = staged("staged", role)
    codepipeline.create_pipeline(pipeline=sent)
    got = codepipeline.get_pipeline(name="staged")["pipeline"]
    prod = got["stages"][2]
    assert prod["onFailure"] == {"result": "ROLLBACK"}
    assert prod["onSuccess"]["conditions"][0]["rules"][0]["configuration"]["AlarmName"] == "web-5xx"
    assert got["executionMode"] == "QUEUED"
    # UpdatePipeline checks the new declaration too.
    bad = copy.deepcopy(got)
    bad["executionMode"] = "PARALLEL"
    with pytest.raises(ClientError) as refused:
        codepipeline.update_pipeline(pipeline=bad)
    assert error_code(refused.value) == "InvalidStructureException"
    assert "PARALLEL" in str(refused.value)


def test_a_v1_pipeline_takes_no_v2_parts(shim: str) -> None:
    role = create_role(shim, "v1-role", "codepipeline.amazonaws.com")
    codepipeline = client(shim, "codepipeline")
    for change, says in [
        ({"variables": [{"name": "Release", "defaultValue": "1"}]}, "Pipeline variables can only be used with V2 pipelines"),
        ({"executionMode": "QUEUED"}, "Execution mode QUEUED can only be used with V2 pipelines"),
    ]:
        pipeline = {**pipeline_definition("v1", role), **change}
        with pytest.raises(ClientError) as refused:
            codepipeline.create_pipeline(pipeline=pipeline)
        assert error_code(refused.value) == "InvalidStructureException"
        assert says in str(refused.value)
    codepipeline.create_pipeline(pipeline=pipeline_definition("v1", role))


def test_update_pipeline_stores_the_new_declaration_and_counts_versions(shim: str) -> None:
    role = create_role(shim, "versions-role", "codepipeline.amazonaws.com")
    codepipeline = client(shim, "codepipeline")
    sent = staged("versions", role)
    assert codepipeline.create_pipeline(pipeline=sent)["pipeline"]["version"] == 1
    sent["stages"][2]["onSuccess"]["conditions"][0]["rules"][0]["configuration"]["WaitTime"] = "30"
    sent["executionMode"] = "SUPERSEDED"
    updated = codepipeline.update_pipeline(pipeline=sent)["pipeline"]
    assert updated["version"] == 2
    got = codepipeline.get_pipeline(name="versions")["pipeline"]
    assert got["version"] == 2 and got["executionMode"] == "SUPERSEDED" and got["pipelineType"] == "V2"
    rule = got["stages"][2]["onSuccess"]["conditions"][0]["rules"][0]
    assert rule == sent["stages"][2]["onSuccess"]["conditions"][0]["rules"][0]
    assert got["stages"][1]["actions"][0]["configuration"] == sent["stages"][1]["actions"][0]["configuration"]


@pytest.mark.parametrize(
    "change, code, says",
    [
        (lambda p: p.pop("pipelineType"), "InvalidStructureException", "can only be used with V2 pipelines"),
        (lambda p: p["stages"][0].update(onFailure={"result": "ROLLBACK"}), "InvalidStructureException", "first (source) stage"),
        (
            lambda p: p["stages"][2]["onSuccess"]["conditions"][0].update(result="SKIP"),
            "InvalidStructureException",
            "is not one of",
        ),
        (
            lambda p: p["stages"][2]["onSuccess"]["conditions"][0]["rules"][0]["configuration"].pop("AlarmName"),
            "InvalidStructureException",
            "is missing required configuration 'AlarmName'",
        ),
        (
            lambda p: p["stages"][2]["onSuccess"]["conditions"][0]["rules"][0].update(
                ruleTypeId={"category": "Rule", "owner": "AWS", "provider": "DeploymentWindow", "version": "1"},
                configuration={"TimeZone": "UTC"},
            ),
            "InvalidStructureException",
            "DeploymentWindow rule Bake1 is missing required configuration 'Cron'",
        ),
        (
            lambda p: p["stages"][2]["onSuccess"]["conditions"][0]["rules"][0]["configuration"].update(WaitTime="ten"),
            "InvalidStructureException",
            "WaitTime",
        ),
        (
            lambda p: p["stages"][2]["onSuccess"]["conditions"][0]["rules"][0]["ruleTypeId"].update(provider="Pager"),
            "InvalidStructureException",
            "provider one of",
        ),
        (
            lambda p: p["stages"][1]["actions"][0]["configuration"].update(Approvers="me"),
            "InvalidActionDeclarationException",
            "unknown configuration",
        ),
        (
            lambda p: p["stages"][1]["actions"][0]["configuration"].update(CustomData="x" * 1001),
            "ValidationException",
            "1000",
        ),
        (
            lambda p: p["stages"][1]["actions"][0].update(inputArtifacts=[{"name": "src"}]),
            "InvalidActionDeclarationException",
            "declares 1 input artifacts which is more than the maximum count (0)",
        ),
        (
            lambda p: p["stages"][2]["actions"][0]["configuration"].pop("FunctionName"),
            "InvalidActionDeclarationException",
            "is missing required configuration 'FunctionName'",
        ),
        (
            lambda p: p["stages"][2]["actions"][0]["configuration"].update(Qualifier="live"),
            "InvalidActionDeclarationException",
            "contains unknown configuration 'Qualifier'",
        ),
        (lambda p: p["stages"][1].update(name="prod"), "InvalidStructureException", "Stage name prod is used more than once"),
        (
            lambda p: p["stages"][2]["actions"].append(copy.deepcopy(p["stages"][2]["actions"][0])),
            "InvalidStructureException",
            "action name Deploy is used more than once",
        ),
        (
            lambda p: p["stages"][0]["actions"].append(copy.deepcopy(p["stages"][2]["actions"][0])),
            "InvalidStructureException",
            "may contain only source actions",
        ),
        (
            lambda p: p["stages"][2]["actions"].append({**copy.deepcopy(p["stages"][0]["actions"][0]), "name": "Late"}),
            "InvalidStructureException",
            "source actions belong in the first stage only",
        ),
        (
            lambda p: p["stages"][2]["actions"][0].update(inputArtifacts=[{"name": "BuildOutput"}]),
            "InvalidStructureException",
            "is not the output artifact of any earlier action",
        ),
        (
            lambda p: p["stages"][2]["actions"][0].update(outputArtifacts=[{"name": "src"}]),
            "InvalidStructureException",
            "Output artifact name src is used more than once",
        ),
        (
            lambda p: p["stages"][0]["actions"][0].update(namespace="Deploy-prod"),
            "InvalidStructureException",
            "more than one action",
        ),
    ],
)
def test_what_codepipeline_refuses_in_a_declaration(shim: str, change: Any, code: str, says: str) -> None:
    role = create_role(shim, "refused-role", "codepipeline.amazonaws.com")
    pipeline = staged("refused", role)
    change(pipeline)
    with pytest.raises(ClientError) as refused:
        client(shim, "codepipeline").create_pipeline(pipeline=pipeline)
    assert error_code(refused.value) == code
    assert says in str(refused.value)


def test_approving_and_rolling_back_are_judged_on_the_action_and_the_stage() -> None:
    """Service Authorization Reference, AWS CodePipeline: PutApprovalResult takes the action resource
    type (PIPELINE/STAGE/ACTION), RollbackStage and OverrideStageCondition the stage (PIPELINE/STAGE),
    ListPipelineExecutions and GetPipelineState the pipeline."""
    prefix = "arn:aws:codepipeline:us-east-1:123456789012:"
    approval = {"pipelineName": "p", "stageName": "Approve-prod", "actionName": "Approval"}
    stage = {"pipelineName": "p", "stageName": "prod"}
    expected = {
        "PutApprovalResult": (approval, "p/Approve-prod/Approval"),
        "RollbackStage": (stage, "p/prod"),
        "OverrideStageCondition": (stage, "p/prod"),
        "ListPipelineExecutions": ({"pipelineName": "p"}, "p"),
        "GetPipelineState": ({"name": "p"}, "p"),
    }
    for operation, (params, resource) in expected.items():
        checks = checks_for("codepipeline", operation, params, "123456789012", "us-east-1")
        assert checks is not None, f"{operation} is not mapped"
        assert [(c.action, c.resources) for c in checks] == [(f"codepipeline:{operation}", (prefix + resource,))]
        assert known_action(checks[0].action), checks[0].action
