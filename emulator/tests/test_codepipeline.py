"""CodePipeline as the shim serves it (awsshim/codepipeline.py), through a real shim process: webhooks,
job results, seeded and started executions, pipeline state, epoch timestamps, a taken pipeline name."""

from __future__ import annotations

import time
import urllib.error
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shim_helpers import (
    ACCOUNT,
    client,
    control,
    create_pipeline,
    error_code,
    pipeline_definition,
    raw_json_call,
)


def webhook(name: str, pipeline: str) -> dict[str, Any]:
    return {
        "name": name,
        "targetPipeline": pipeline,
        "targetAction": "Source",
        "filters": [{"jsonPath": "$.ref", "matchEquals": "refs/heads/{Branch}"}],
        "authentication": "GITHUB_HMAC",
        "authenticationConfiguration": {"SecretToken": "s3cr3t"},
    }


def test_put_webhook_returns_url_and_arn_and_keeps_them_on_replace(shim: str) -> None:
    pipeline = create_pipeline(shim)
    codepipeline = client(shim, "codepipeline")
    first = codepipeline.put_webhook(webhook=webhook("hook", pipeline), tags=[{"key": "app", "value": "demo"}])["webhook"]
    assert first["arn"] == f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:webhook:hook"
    assert first["url"].startswith("https://us-east-1.webhooks.aws/trigger?t=") and first["url"].endswith("&v=1")
    assert first["tags"] == [{"key": "app", "value": "demo"}]

    changed = webhook("hook", pipeline)
    changed["filters"] = [{"jsonPath": "$.ref", "matchEquals": "refs/heads/release"}]
    second = codepipeline.put_webhook(webhook=changed)["webhook"]
    assert (second["url"], second["arn"]) == (first["url"], first["arn"])

    listed = codepipeline.list_webhooks()["webhooks"]
    assert len(listed) == 1
    assert listed[0]["definition"]["filters"][0]["matchEquals"] == "refs/heads/release"


def test_put_webhook_rejects_unknown_pipeline_and_missing_secret(shim: str) -> None:
    codepipeline = client(shim, "codepipeline")
    with pytest.raises(ClientError) as raised:
        codepipeline.put_webhook(webhook=webhook("hook", "no-such-pipeline"))
    assert error_code(raised.value) == "PipelineNotFoundException"

    pipeline = create_pipeline(shim)
    no_secret = webhook("hook", pipeline)
    no_secret["authenticationConfiguration"] = {}
    with pytest.raises(ClientError) as raised:
        codepipeline.put_webhook(webhook=no_secret)
    assert error_code(raised.value) == "InvalidWebhookAuthenticationParametersException"


def test_register_and_deregister_webhook_flip_the_flag_and_unknown_is_not_found(shim: str) -> None:
    pipeline = create_pipeline(shim)
    codepipeline = client(shim, "codepipeline")
    codepipeline.put_webhook(webhook=webhook("hook", pipeline))

    codepipeline.register_webhook_with_third_party(webhookName="hook")
    assert control(shim, "GET", "/_shim/codepipeline/webhooks")[0]["registered"] is True
    codepipeline.deregister_webhook_with_third_party(webhookName="hook")
    assert control(shim, "GET", "/_shim/codepipeline/webhooks")[0]["registered"] is False

    with pytest.raises(ClientError) as raised:
        codepipeline.register_webhook_with_third_party(webhookName="other")
    assert error_code(raised.value) == "WebhookNotFoundException"


def test_delete_webhook_removes_it_and_unknown_name_is_fine(shim: str) -> None:
    pipeline = create_pipeline(shim)
    codepipeline = client(shim, "codepipeline")
    codepipeline.put_webhook(webhook=webhook("hook", pipeline))
    codepipeline.delete_webhook(name="hook")
    assert codepipeline.list_webhooks()["webhooks"] == []
    codepipeline.delete_webhook(name="never-existed")


def test_webhook_tags_round_trip_and_pipeline_tags_still_reach_moto(shim: str) -> None:
    pipeline = create_pipeline(shim)
    codepipeline = client(shim, "codepipeline")
    arn = codepipeline.put_webhook(webhook=webhook("hook", pipeline))["webhook"]["arn"]
    codepipeline.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    codepipeline.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert codepipeline.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "b", "value": "2"}]

    pipeline_arn = f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:{pipeline}"
    codepipeline.tag_resource(resourceArn=pipeline_arn, tags=[{"key": "p", "value": "x"}])
    assert codepipeline.list_tags_for_resource(resourceArn=pipeline_arn)["tags"] == [{"key": "p", "value": "x"}]


# ---------------------------------------------------------------- job results


def test_job_success_is_recorded_and_a_second_report_is_invalid_state(shim: str) -> None:
    job_id = control(shim, "POST", "/_shim/codepipeline/jobs", {"pipelineName": "p", "actionName": "Deploy"})["jobId"]
    codepipeline = client(shim, "codepipeline")
    codepipeline.put_job_success_result(jobId=job_id, outputVariables={"imageTag": "abc"})
    with pytest.raises(ClientError) as raised:
        codepipeline.put_job_failure_result(jobId=job_id, failureDetails={"type": "JobFailed", "message": "late"})
    assert error_code(raised.value) == "InvalidJobStateException"

    job = control(shim, "GET", f"/_shim/codepipeline/jobs/{job_id}")
    assert job["status"] == "Succeeded"
    assert job["data"] == {"pipelineName": "p", "actionName": "Deploy"}
    assert [result.get("outputVariables") for result in job["results"]] == [{"imageTag": "abc"}, None]
    assert job["outcomes"] == ["accepted", "InvalidJobStateException"]


def test_job_details_describe_the_registered_pipeline_context(shim: str) -> None:
    job_id = control(
        shim, "POST", "/_shim/codepipeline/jobs", {"pipelineName": "p", "pipelineExecutionId": "exec-1"}
    )["jobId"]
    details = client(shim, "codepipeline").get_job_details(jobId=job_id)["jobDetails"]
    assert details["id"] == job_id
    assert details["accountId"] == ACCOUNT
    context = details["data"]["pipelineContext"]
    assert context["pipelineName"] == "p"
    assert context["pipelineExecutionId"] == "exec-1"
    assert context["action"] == {"name": "Deploy"}
    with pytest.raises(ClientError) as raised:
        client(shim, "codepipeline").get_job_details(jobId=str(uuid.uuid4()))
    assert error_code(raised.value) == "JobNotFoundException"


def test_unknown_job_is_job_not_found(shim: str) -> None:
    with pytest.raises(ClientError) as raised:
        client(shim, "codepipeline").put_job_success_result(jobId=str(uuid.uuid4()))
    assert error_code(raised.value) == "JobNotFoundException"


def test_continuation_keeps_the_job_in_progress_until_the_final_report(shim: str) -> None:
    job_id = control(shim, "POST", "/_shim/codepipeline/jobs", {"jobId": "11111111-2222-3333-4444-555555555555"})["jobId"]
    assert job_id == "11111111-2222-3333-4444-555555555555"
    codepipeline = client(shim, "codepipeline")
    codepipeline.put_job_success_result(jobId=job_id, continuationToken="step-1")
    assert control(shim, "GET", f"/_shim/codepipeline/jobs/{job_id}")["status"] == "InProgress"
    codepipeline.put_job_success_result(jobId=job_id, continuationToken="step-2")
    codepipeline.put_job_failure_result(jobId=job_id, failureDetails={"type": "JobFailed", "message": "boom"})
    job = control(shim, "GET", f"/_shim/codepipeline/jobs/{job_id}")
    assert job["status"] == "Failed"
    assert len(job["results"]) == 3


def test_a_job_without_a_final_result_fails_when_the_action_outlives_its_limit(shim: str) -> None:
    """CodePipeline's limits on a Lambda invoke action (24 hours in all; 20 minutes without a reply),
    shortened per job by the control API."""
    codepipeline = client(shim, "codepipeline")
    job_id = control(shim, "POST", "/_shim/codepipeline/jobs", {"actionTimeoutSeconds": 1.5, "replyTimeoutSeconds": 60})["jobId"]
    codepipeline.put_job_success_result(jobId=job_id, continuationToken="step-1")
    job = control(shim, "GET", f"/_shim/codepipeline/jobs/{job_id}")
    assert (job["status"], "timedOut" in job, job["data"]) == ("InProgress", False, {})
    time.sleep(1.6)
    job = control(shim, "GET", f"/_shim/codepipeline/jobs/{job_id}")
    assert job["status"] == "Failed"
    assert job["timedOut"] == "the action had no final result 1.5 s after it started"
    with pytest.raises(ClientError) as raised:  # the worker's late result
        codepipeline.put_job_success_result(jobId=job_id)
    assert error_code(raised.value) == "InvalidJobStateException"

    # no reply within the reply limit; each "in progress" restarts it
    quiet = control(shim, "POST", "/_shim/codepipeline/jobs", {"replyTimeoutSeconds": 1})["jobId"]
    for step in ("step-1", "step-2"):
        time.sleep(0.6)
        codepipeline.put_job_success_result(jobId=quiet, continuationToken=step)
    assert control(shim, "GET", f"/_shim/codepipeline/jobs/{quiet}")["status"] == "InProgress"
    time.sleep(1.1)
    job = control(shim, "GET", f"/_shim/codepipeline/jobs/{quiet}")
    assert (job["status"], job["timedOut"]) == ("Failed", "the function sent no reply for 1 s")
    # a finished job never times out
    done = control(shim, "POST", "/_shim/codepipeline/jobs", {"actionTimeoutSeconds": 0.5})["jobId"]
    codepipeline.put_job_success_result(jobId=done)
    time.sleep(0.6)
    assert control(shim, "GET", f"/_shim/codepipeline/jobs/{done}")["status"] == "Succeeded"
    with pytest.raises(urllib.error.HTTPError):
        control(shim, "POST", "/_shim/codepipeline/jobs", {"actionTimeoutSeconds": 0})


def test_output_variables_with_continuation_token_is_a_validation_error(shim: str) -> None:
    job_id = control(shim, "POST", "/_shim/codepipeline/jobs", {})["jobId"]
    with pytest.raises(ClientError) as raised:
        client(shim, "codepipeline").put_job_success_result(
            jobId=job_id, continuationToken="t", outputVariables={"k": "v"}
        )
    assert error_code(raised.value) == "ValidationException"
    assert control(shim, "GET", f"/_shim/codepipeline/jobs/{job_id}")["status"] == "Created"


def test_failure_with_unknown_type_is_a_validation_error(shim: str) -> None:
    job_id = control(shim, "POST", "/_shim/codepipeline/jobs", {})["jobId"]
    with pytest.raises(ClientError) as raised:
        client(shim, "codepipeline").put_job_failure_result(
            jobId=job_id, failureDetails={"type": "Oops", "message": "m"}
        )
    assert error_code(raised.value) == "ValidationException"


# ---------------------------------------------------------------- executions and state


# Execution ids are UUIDs, as the model's pattern (and so the request validation) wants them.
SEEDED_EXECUTION = "11111111-1111-4111-8111-111111111111"
OTHER_EXECUTION = "22222222-2222-4222-8222-222222222222"
UNKNOWN_EXECUTION = "99999999-9999-4999-8999-999999999999"


def test_seeded_execution_answers_get_pipeline_execution_and_list_action_executions(shim: str) -> None:
    execution = {
        "pipelineExecutionId": SEEDED_EXECUTION,
        "pipelineVersion": 1,
        "status": "Failed",
        "statusSummary": "Deploy failed",
    }
    details = [
        {
            "actionExecutionId": "a-1",
            "stageName": "Deploy",
            "actionName": "Deploy",
            "status": "Failed",
            "startTime": "2024-05-01T10:00:00Z",
            "output": {"executionResult": {"externalExecutionSummary": "image missing"}},
        }
    ]
    control(
        shim,
        "POST",
        "/_shim/codepipeline/executions",
        {"pipelineName": "p", "pipelineExecution": execution, "actionExecutionDetails": details},
    )
    control(shim, "POST", "/_shim/codepipeline/executions", {"pipelineName": "p", "pipelineExecution": {"pipelineExecutionId": OTHER_EXECUTION}})
    codepipeline = client(shim, "codepipeline")
    got = codepipeline.get_pipeline_execution(pipelineName="p", pipelineExecutionId=SEEDED_EXECUTION)["pipelineExecution"]
    assert got["status"] == "Failed" and got["pipelineName"] == "p"

    listed = codepipeline.list_action_executions(pipelineName="p", filter={"pipelineExecutionId": SEEDED_EXECUTION})
    only = listed["actionExecutionDetails"]
    assert [d["actionExecutionId"] for d in only] == ["a-1"]
    assert only[0]["pipelineExecutionId"] == SEEDED_EXECUTION
    assert only[0]["startTime"].year == 2024

    with pytest.raises(ClientError) as raised:
        codepipeline.get_pipeline_execution(pipelineName="p", pipelineExecutionId=UNKNOWN_EXECUTION)
    assert error_code(raised.value) == "PipelineExecutionNotFoundException"
    with pytest.raises(ClientError) as raised:
        codepipeline.list_action_executions(pipelineName="p", filter={"pipelineExecutionId": UNKNOWN_EXECUTION})
    assert error_code(raised.value) == "PipelineExecutionNotFoundException"
    with pytest.raises(ClientError) as raised:
        codepipeline.list_action_executions(pipelineName="other")
    assert error_code(raised.value) == "PipelineNotFoundException"


def test_started_execution_and_pipeline_state_and_epoch_timestamps(shim: str) -> None:
    pipeline = create_pipeline(shim)
    codepipeline = client(shim, "codepipeline")
    execution_id = codepipeline.start_pipeline_execution(name=pipeline)["pipelineExecutionId"]
    got = codepipeline.get_pipeline_execution(pipelineName=pipeline, pipelineExecutionId=execution_id)
    assert got["pipelineExecution"]["pipelineExecutionId"] == execution_id

    state = codepipeline.get_pipeline_state(name=pipeline)
    assert [stage["stageName"] for stage in state["stageStates"]] == ["Source", "Deploy"]
    assert state["stageStates"][1]["actionStates"] == [{"actionName": "Deploy"}]
    with pytest.raises(ClientError) as raised:
        codepipeline.get_pipeline_state(name="nope")
    assert error_code(raised.value) == "PipelineNotFoundException"

    # The wire must carry epoch seconds (the Rust SDK rejects ISO strings there).
    raw = raw_json_call(shim, "codepipeline", "CodePipeline_20150709.GetPipeline", {"name": pipeline})
    assert isinstance(raw["metadata"]["created"], float)
    raw = raw_json_call(shim, "codepipeline", "CodePipeline_20150709.ListPipelineExecutions", {"pipelineName": pipeline})
    assert isinstance(raw["pipelineExecutionSummaries"][0]["startTime"], float)


def test_create_pipeline_with_a_taken_name_is_pipeline_name_in_use(shim: str) -> None:
    name = create_pipeline(shim, "taken-pipeline")
    role = client(shim, "iam").get_role(RoleName=f"{name}-role")["Role"]["Arn"]
    with pytest.raises(ClientError) as error:
        client(shim, "codepipeline").create_pipeline(pipeline=pipeline_definition(name, role))
    assert error_code(error.value) == "PipelineNameInUseException"
