"""Behaviour of the emulator shim, driven through a real shim process with boto3."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker

from shim_helpers import ACCOUNT, client, control, create_role, start_shim

TLS_ONLY_POLICY = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "DenyInsecureTransport",
      "Effect": "Deny",
      "Principal": "*",
      "Action": "s3:*",
      "Resource": ["arn:aws:s3:::artifacts", "arn:aws:s3:::artifacts/*"],
      "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    }
  ]
}"""


def error_code(error: ClientError) -> str:
    return error.response["Error"]["Code"]


def pipeline_definition(name: str, role_arn: str) -> dict[str, Any]:
    return {
        "name": name,
        "roleArn": role_arn,
        "artifactStore": {"type": "S3", "location": "artifacts"},
        "stages": [
            {
                "name": "Source",
                "actions": [
                    {
                        "name": "Source",
                        "actionTypeId": {"category": "Source", "owner": "ThirdParty", "provider": "GitHub", "version": "1"},
                        "configuration": {"Owner": "o", "Repo": "r", "Branch": "main", "OAuthToken": "t"},
                        "outputArtifacts": [{"name": "src"}],
                    }
                ],
            },
            {
                "name": "Deploy",
                "actions": [
                    {
                        "name": "Deploy",
                        "actionTypeId": {"category": "Invoke", "owner": "AWS", "provider": "Lambda", "version": "1"},
                        "configuration": {"FunctionName": "deploy-handler"},
                        "inputArtifacts": [{"name": "src"}],
                    }
                ],
            },
        ],
    }


def create_pipeline(url: str, name: str = "app-pipeline") -> str:
    role = create_role(url, f"{name}-role", "codepipeline.amazonaws.com")
    client(url, "codepipeline").create_pipeline(pipeline=pipeline_definition(name, role))
    return name


def webhook(name: str, pipeline: str) -> dict[str, Any]:
    return {
        "name": name,
        "targetPipeline": pipeline,
        "targetAction": "Source",
        "filters": [{"jsonPath": "$.ref", "matchEquals": "refs/heads/{Branch}"}],
        "authentication": "GITHUB_HMAC",
        "authenticationConfiguration": {"SecretToken": "s3cr3t"},
    }


def codebuild_project(name: str, role_arn: str) -> dict[str, Any]:
    return {
        "name": name,
        "source": {"type": "CODEPIPELINE", "buildspec": "buildspec.yml"},
        "artifacts": {"type": "CODEPIPELINE"},
        "environment": {
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
            "privilegedMode": True,
        },
        "serviceRole": role_arn,
    }


# ---------------------------------------------------------------- process


def test_ready_line_is_the_only_stdout_and_process_exits_when_stdin_closes() -> None:
    process, url = start_shim()
    assert url.startswith("http://127.0.0.1:")
    control(url, "GET", "/_shim/calls")
    assert process.stdin is not None
    started = time.monotonic()
    process.stdin.close()
    assert process.wait(timeout=5) == 0
    assert time.monotonic() - started < 5
    assert process.stdout is not None
    assert process.stdout.read() == ""


def test_process_exits_on_sigterm() -> None:
    process, _ = start_shim()
    process.terminate()
    assert process.wait(timeout=5) == 0


def test_unknown_control_endpoint_lists_the_real_ones(shim: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as raised:
        control(shim, "GET", "/_shim/nothing")
    assert raised.value.code == 404
    body = json.loads(raised.value.read())
    assert "POST /_shim/reset" in body["endpoints"]


def test_lambda_runs_without_docker_even_after_reset(shim: str) -> None:
    control(shim, "POST", "/moto-api/reset")
    with urllib.request.urlopen(shim + "/moto-api/config") as response:
        assert json.loads(response.read())["lambda"]["use_docker"] is False


# ---------------------------------------------------------------- webhooks


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


def test_seeded_execution_answers_get_pipeline_execution_and_list_action_executions(shim: str) -> None:
    execution = {
        "pipelineExecutionId": "exec-1",
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
    control(shim, "POST", "/_shim/codepipeline/executions", {"pipelineName": "p", "pipelineExecution": {"pipelineExecutionId": "exec-2"}})
    codepipeline = client(shim, "codepipeline")
    got = codepipeline.get_pipeline_execution(pipelineName="p", pipelineExecutionId="exec-1")["pipelineExecution"]
    assert got["status"] == "Failed" and got["pipelineName"] == "p"

    listed = codepipeline.list_action_executions(pipelineName="p", filter={"pipelineExecutionId": "exec-1"})
    only = listed["actionExecutionDetails"]
    assert [d["actionExecutionId"] for d in only] == ["a-1"]
    assert only[0]["pipelineExecutionId"] == "exec-1"
    assert only[0]["startTime"].year == 2024

    with pytest.raises(ClientError) as raised:
        codepipeline.get_pipeline_execution(pipelineName="p", pipelineExecutionId="exec-9")
    assert error_code(raised.value) == "PipelineExecutionNotFoundException"
    with pytest.raises(ClientError) as raised:
        codepipeline.list_action_executions(pipelineName="p", filter={"pipelineExecutionId": "exec-9"})
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


def raw_json_call(url: str, service: str, target: str, payload: dict[str, Any]) -> Any:
    request = urllib.request.Request(url + "/", data=json.dumps(payload).encode(), method="POST")
    request.add_header("Content-Type", "application/x-amz-json-1.1")
    request.add_header("X-Amz-Target", target)
    request.add_header(
        "Authorization",
        f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0",
    )
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


# ---------------------------------------------------------------- codebuild


def test_create_project_hides_the_placeholder_location(shim: str) -> None:
    role = create_role(shim, "build-role", "codebuild.amazonaws.com")
    codebuild = client(shim, "codebuild")
    created = codebuild.create_project(**codebuild_project("app-build", role))["project"]
    assert "location" not in created["source"] and "location" not in created["artifacts"]
    got = codebuild.batch_get_projects(names=["app-build"])["projects"][0]
    assert "location" not in got["source"] and "location" not in got["artifacts"]
    assert got["source"]["buildspec"] == "buildspec.yml"


def test_update_project_merges_fields_and_keeps_arn_and_created(shim: str) -> None:
    role = create_role(shim, "build-role", "codebuild.amazonaws.com")
    codebuild = client(shim, "codebuild")
    before = codebuild.create_project(**codebuild_project("app-build", role))["project"]
    environment = dict(codebuild_project("app-build", role)["environment"], image="aws/codebuild/standard:8.0")
    updated = codebuild.update_project(name="app-build", environment=environment, timeoutInMinutes=30)["project"]
    assert updated["environment"]["image"] == "aws/codebuild/standard:8.0"
    assert updated["timeoutInMinutes"] == 30
    assert updated["arn"] == before["arn"] and updated["created"] == before["created"]
    assert updated["source"] == {"type": "CODEPIPELINE", "buildspec": "buildspec.yml"}
    got = codebuild.batch_get_projects(names=["app-build"])["projects"][0]
    assert got["environment"]["image"] == "aws/codebuild/standard:8.0"

    with pytest.raises(ClientError) as raised:
        codebuild.update_project(name="missing", timeoutInMinutes=30)
    assert error_code(raised.value) == "ResourceNotFoundException"


# ---------------------------------------------------------------- connections


@pytest.mark.parametrize("service", ["codestar-connections", "codeconnections"])
def test_connection_lifecycle(shim: str, service: str) -> None:
    connections = client(shim, service)
    created = connections.create_connection(
        ConnectionName="github", ProviderType="GitHub", Tags=[{"Key": "app", "Value": "demo"}]
    )
    arn = created["ConnectionArn"]
    assert arn.startswith(f"arn:aws:{service}:us-east-1:{ACCOUNT}:connection/")
    assert created["Tags"] == [{"Key": "app", "Value": "demo"}]
    got = connections.get_connection(ConnectionArn=arn)["Connection"]
    assert got == {
        "ConnectionName": "github",
        "ConnectionArn": arn,
        "ProviderType": "GitHub",
        "OwnerAccountId": ACCOUNT,
        "ConnectionStatus": "PENDING",
    }

    control(shim, "POST", f"/_shim/connections/{urllib.parse.quote(arn, safe='')}/status", {"status": "AVAILABLE"})
    assert connections.get_connection(ConnectionArn=arn)["Connection"]["ConnectionStatus"] == "AVAILABLE"

    connections.create_connection(ConnectionName="gitlab", ProviderType="GitLab")
    listed = connections.list_connections(ProviderTypeFilter="GitHub")["Connections"]
    assert [c["ConnectionName"] for c in listed] == ["github"]

    connections.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "x"}])
    connections.untag_resource(ResourceArn=arn, TagKeys=["app"])
    assert connections.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "x"}]

    connections.delete_connection(ConnectionArn=arn)
    with pytest.raises(ClientError) as raised:
        connections.get_connection(ConnectionArn=arn)
    assert error_code(raised.value) == "ResourceNotFoundException"


# ---------------------------------------------------------------- faults


def test_latency_delays_every_call(shim: str) -> None:
    sts = client(shim, "sts")
    sts.get_caller_identity()
    control(shim, "POST", "/_shim/faults", {"latency_ms": 300})
    started = time.monotonic()
    sts.get_caller_identity()
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 2.0
    calls = control(shim, "GET", "/_shim/calls")
    assert calls[-1]["fault"] == "latency" and calls[-1]["duration_ms"] >= 300


@pytest.mark.parametrize(
    ("service", "call", "status", "code"),
    [
        ("codepipeline", lambda c: c.list_pipelines(), 400, "ThrottlingException"),
        ("iam", lambda c: c.list_roles(), 400, "Throttling"),
        ("sns", lambda c: c.list_topics(), 400, "Throttling"),
        ("sts", lambda c: c.get_caller_identity(), 400, "Throttling"),
        ("s3", lambda c: c.list_buckets(), 503, "SlowDown"),
        ("lambda", lambda c: c.list_functions(), 429, "TooManyRequestsException"),
    ],
)
def test_throttling_has_each_protocols_shape_and_botocore_sees_throttling(
    shim: str, service: str, call: Any, status: int, code: str
) -> None:
    control(shim, "POST", "/_shim/faults", {"throttle_probability": 1.0, "seed": 7})
    with pytest.raises(ClientError) as raised:
        call(client(shim, service))
    response = raised.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert error_code(raised.value) == code
    assert ThrottledRetryableChecker().is_retryable(RetryContext(attempt_number=1, parsed_response=response))
    faults = control(shim, "GET", "/_shim/faults")
    assert faults["throttled"] == 1
    assert control(shim, "GET", "/_shim/calls")[-1]["fault"] == "throttle"


def test_throttling_is_seeded_and_retries_get_through(shim: str) -> None:
    def pattern() -> list[str | None]:
        control(shim, "DELETE", "/_shim/calls")
        control(shim, "POST", "/_shim/faults", {"throttle_probability": 0.5, "seed": 42})
        sts = client(shim, "sts")
        for _ in range(12):
            try:
                sts.get_caller_identity()
            except ClientError:
                pass
        return [call["fault"] for call in control(shim, "GET", "/_shim/calls")]

    first = pattern()
    assert first == pattern()
    assert "throttle" in first and None in first


def test_iam_propagation_rejects_new_roles_until_the_delay_passes(shim: str) -> None:
    control(shim, "POST", "/_shim/faults", {"iam_propagation_seconds": 1.5})
    role = create_role(shim, "fresh-build-role", "codebuild.amazonaws.com")
    codebuild = client(shim, "codebuild")
    with pytest.raises(ClientError) as raised:
        codebuild.create_project(**codebuild_project("app-build", role))
    assert error_code(raised.value) == "InvalidInputException"
    assert raised.value.response["Error"]["Message"] == (
        f"CodeBuild is not authorized to perform: sts:AssumeRole on arn:aws:iam::{ACCOUNT}:role/fresh-build-role"
    )

    lambda_role = create_role(shim, "fresh-fn-role", "lambda.amazonaws.com")
    with pytest.raises(ClientError) as raised:
        client(shim, "lambda").create_function(
            FunctionName="fn", Runtime="provided.al2023", Role=lambda_role, Handler="bootstrap", Code={"ZipFile": b"zip"}
        )
    assert error_code(raised.value) == "InvalidParameterValueException"
    assert "cannot be assumed by Lambda" in raised.value.response["Error"]["Message"]

    pipeline_role = create_role(shim, "fresh-pipeline-role", "codepipeline.amazonaws.com")
    with pytest.raises(ClientError) as raised:
        client(shim, "codepipeline").create_pipeline(pipeline=pipeline_definition("p", pipeline_role))
    assert error_code(raised.value) == "InvalidStructureException"
    assert "not authorized to perform AssumeRole" in raised.value.response["Error"]["Message"]

    assert control(shim, "GET", "/_shim/faults")["propagation_rejections"] == 3
    time.sleep(1.6)
    codebuild.create_project(**codebuild_project("app-build", role))
    client(shim, "codepipeline").create_pipeline(pipeline=pipeline_definition("p", pipeline_role))
    faults = [call["fault"] for call in control(shim, "GET", "/_shim/calls")]
    assert faults.count("iam_propagation") == 3


def test_outage_after_n_mutating_calls_until_cleared(shim: str) -> None:
    s3 = client(shim, "s3")
    control(shim, "POST", "/_shim/faults", {"outage_after_mutating_calls": 2})
    s3.list_buckets()  # read-only: does not count
    s3.create_bucket(Bucket="one")
    s3.create_bucket(Bucket="two")
    with pytest.raises(ClientError) as raised:
        s3.list_buckets()
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    with pytest.raises(ClientError) as raised:
        client(shim, "codepipeline").list_pipelines()
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert error_code(raised.value) == "InternalFailure"
    assert control(shim, "GET", "/_shim/faults")["mutating_calls_since_faults"] == 2

    control(shim, "DELETE", "/_shim/faults")
    assert {b["Name"] for b in s3.list_buckets()["Buckets"]} == {"one", "two"}


def test_bad_fault_set_is_rejected_with_the_fix(shim: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as raised:
        control(shim, "POST", "/_shim/faults", {"throttle_probabilty": 0.5})
    assert raised.value.code == 400
    assert "throttle_probability" in json.loads(raised.value.read())["error"]


# ---------------------------------------------------------------- recording


def test_calls_are_recorded_with_aws_operation_names(shim: str) -> None:
    s3 = client(shim, "s3")
    s3.create_bucket(Bucket="bkt")
    s3.put_bucket_versioning(Bucket="bkt", VersioningConfiguration={"Status": "Enabled"})
    s3.list_object_versions(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="a/b.txt", Body=b"x")
    s3.delete_objects(Bucket="bkt", Delete={"Objects": [{"Key": "a/b.txt"}]})
    role = create_role(shim, "fn-role", "lambda.amazonaws.com")
    fn = client(shim, "lambda")
    fn.create_function(FunctionName="fn", Runtime="provided.al2023", Role=role, Handler="bootstrap", Code={"ZipFile": b"zip"})
    fn.get_function(FunctionName="fn")
    fn.add_permission(FunctionName="fn", StatementId="s", Action="lambda:InvokeFunction", Principal="events.amazonaws.com")
    fn.put_function_event_invoke_config(FunctionName="fn", MaximumRetryAttempts=0)
    fn.update_function_configuration(FunctionName="fn", Timeout=30)

    calls = control(shim, "GET", "/_shim/calls")
    assert [(c["service"], c["operation"], c["mutating"]) for c in calls] == [
        ("s3", "CreateBucket", True),
        ("s3", "PutBucketVersioning", True),
        ("s3", "ListObjectVersions", False),
        ("s3", "PutObject", True),
        ("s3", "DeleteObjects", True),
        ("iam", "CreateRole", True),
        ("lambda", "CreateFunction", True),
        ("lambda", "GetFunction", False),
        ("lambda", "AddPermission", True),
        ("lambda", "PutFunctionEventInvokeConfig", True),
        ("lambda", "UpdateFunctionConfiguration", True),
    ]
    assert all(c["status"] < 300 and c["fault"] is None for c in calls)
    assert all(c["time"] > 1_600_000_000 and c["duration_ms"] >= 0 for c in calls)

    control(shim, "DELETE", "/_shim/calls")
    assert control(shim, "GET", "/_shim/calls") == []


def test_read_only_sequence_records_no_mutating_call(shim: str) -> None:
    client(shim, "s3").list_buckets()
    client(shim, "iam").list_roles()
    client(shim, "codepipeline").list_pipelines()
    client(shim, "codebuild").batch_get_projects(names=["x"])
    client(shim, "lambda").list_functions()
    client(shim, "sts").get_caller_identity()
    calls = control(shim, "GET", "/_shim/calls")
    assert len(calls) == 6
    assert [c for c in calls if c["mutating"]] == []
    assert [c["service"] for c in calls] == ["s3", "iam", "codepipeline", "codebuild", "lambda", "sts"]


def test_control_calls_are_not_recorded(shim: str) -> None:
    control(shim, "GET", "/_shim/faults")
    control(shim, "POST", "/_shim/codepipeline/jobs", {})
    assert control(shim, "GET", "/_shim/calls") == []


# ---------------------------------------------------------------- bucket policy


def test_tls_only_policy_reads_back_identical_and_objects_still_work(shim: str) -> None:
    s3 = client(shim, "s3")
    s3.create_bucket(Bucket="artifacts")
    s3.put_bucket_policy(Bucket="artifacts", Policy=TLS_ONLY_POLICY)
    assert s3.get_bucket_policy(Bucket="artifacts")["Policy"] == TLS_ONLY_POLICY
    s3.put_object(Bucket="artifacts", Key="k", Body=b"payload")
    assert s3.get_object(Bucket="artifacts", Key="k")["Body"].read() == b"payload"

    s3.delete_bucket_policy(Bucket="artifacts")
    with pytest.raises(ClientError) as raised:
        s3.get_bucket_policy(Bucket="artifacts")
    assert error_code(raised.value) == "NoSuchBucketPolicy"


def test_unconditional_deny_still_reaches_moto(shim: str) -> None:
    s3 = client(shim, "s3")
    s3.create_bucket(Bucket="locked")
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::locked/*"},
                json.loads(TLS_ONLY_POLICY)["Statement"][0],
            ],
        }
    )
    s3.put_object(Bucket="locked", Key="k", Body=b"x")
    s3.put_bucket_policy(Bucket="locked", Policy=policy)
    assert s3.get_bucket_policy(Bucket="locked")["Policy"] == policy
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket="locked", Key="k")
    assert error_code(raised.value) == "AccessDenied"


def test_bucket_versioning_answers_with_aws_root_element(shim: str) -> None:
    s3 = client(shim, "s3")
    s3.create_bucket(Bucket="versioned")
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    bodies: list[bytes] = []
    s3.meta.events.register(
        "after-call.s3.GetBucketVersioning",
        lambda http_response, **_: bodies.append(http_response.content),
    )
    assert s3.get_bucket_versioning(Bucket="versioned")["Status"] == "Enabled"
    body = bodies[0].decode()
    assert "<VersioningConfiguration" in body and body.rstrip().endswith("</VersioningConfiguration>")
    assert "GetBucketVersioningResponse" not in body


def test_ecr_scanning_turns_off_when_scan_on_push_is_left_out(shim: str) -> None:
    ecr = client(shim, "ecr")
    ecr.create_repository(repositoryName="scanned", imageScanningConfiguration={"scanOnPush": True})
    # What an SDK sends for scanOnPush=false: the default value is omitted.
    ecr.meta.events.register(
        "before-parameter-build.ecr.PutImageScanningConfiguration",
        lambda params, **_: params["imageScanningConfiguration"].pop("scanOnPush", None),
    )
    ecr.put_image_scanning_configuration(repositoryName="scanned", imageScanningConfiguration={"scanOnPush": False})
    repository = ecr.describe_repositories(repositoryNames=["scanned"])["repositories"][0]
    assert repository["imageScanningConfiguration"] == {"scanOnPush": False}


def test_policy_on_unknown_bucket_is_no_such_bucket(shim: str) -> None:
    with pytest.raises(ClientError) as raised:
        client(shim, "s3").put_bucket_policy(Bucket="ghost", Policy=TLS_ONLY_POLICY)
    assert error_code(raised.value) == "NoSuchBucket"


def test_reset_clears_shim_state(shim: str) -> None:
    job_id = control(shim, "POST", "/_shim/codepipeline/jobs", {})["jobId"]
    control(shim, "POST", "/_shim/faults", {"latency_ms": 5})
    client(shim, "s3").create_bucket(Bucket="bucket-b")
    control(shim, "POST", "/_shim/reset")
    assert control(shim, "GET", "/_shim/calls") == []
    assert control(shim, "GET", "/_shim/faults")["latency_ms"] == 0
    assert client(shim, "s3").list_buckets()["Buckets"] == []
    with pytest.raises(urllib.error.HTTPError) as raised:
        control(shim, "GET", f"/_shim/codepipeline/jobs/{job_id}")
    assert raised.value.code == 404



# ---------------------------------------------------------------- lambda


def test_put_function_event_invoke_config_replaces_the_previous_one(shim: str) -> None:
    role_arn = create_role(shim, "invoke-config-role", "lambda.amazonaws.com")
    lam = client(shim, "lambda")
    lam.create_function(
        FunctionName="invoke-config",
        Runtime="provided.al2023",
        Handler="bootstrap",
        Role=role_arn,
        Code={"ZipFile": make_zip()},
    )
    destination = {"OnFailure": {"Destination": "arn:aws:sns:us-east-1:123456789012:failures"}}
    lam.put_function_event_invoke_config(FunctionName="invoke-config", MaximumRetryAttempts=2, DestinationConfig=destination)
    lam.put_function_event_invoke_config(FunctionName="invoke-config", MaximumRetryAttempts=0)
    config = lam.get_function_event_invoke_config(FunctionName="invoke-config")
    assert config["MaximumRetryAttempts"] == 0
    assert "OnFailure" not in config.get("DestinationConfig", {})
    with pytest.raises(ClientError) as error:
        lam.put_function_event_invoke_config(FunctionName="absent", MaximumRetryAttempts=0)
    assert error_code(error.value) == "ResourceNotFoundException"


def make_zip() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bootstrap", b"binary")
    return buffer.getvalue()


def test_create_pipeline_with_a_taken_name_is_pipeline_name_in_use(shim: str) -> None:
    name = create_pipeline(shim, "taken-pipeline")
    role = client(shim, "iam").get_role(RoleName=f"{name}-role")["Role"]["Arn"]
    with pytest.raises(ClientError) as error:
        client(shim, "codepipeline").create_pipeline(pipeline=pipeline_definition(name, role))
    assert error_code(error.value) == "PipelineNameInUseException"


def test_lambda_logging_config_is_kept_and_reported_like_aws(shim: str) -> None:
    role_arn = create_role(shim, "logging-role", "lambda.amazonaws.com")
    lam = client(shim, "lambda")
    lam.create_function(FunctionName="plain", Runtime="provided.al2023", Handler="bootstrap", Role=role_arn, Code={"ZipFile": make_zip()})
    assert lam.get_function(FunctionName="plain")["Configuration"]["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/plain"}
    created = lam.create_function(
        FunctionName="logged",
        Runtime="provided.al2023",
        Handler="bootstrap",
        Role=role_arn,
        Code={"ZipFile": make_zip()},
        LoggingConfig={"LogFormat": "JSON", "LogGroup": "/app/logged"},
    )
    assert created["LoggingConfig"] == {"LogFormat": "JSON", "LogGroup": "/app/logged"}
    lam.update_function_configuration(FunctionName="logged", LoggingConfig={"LogGroup": "/app/other"})
    assert lam.get_function_configuration(FunctionName="logged")["LoggingConfig"] == {"LogFormat": "JSON", "LogGroup": "/app/other"}
    lam.delete_function(FunctionName="logged")
    lam.create_function(FunctionName="logged", Runtime="provided.al2023", Handler="bootstrap", Role=role_arn, Code={"ZipFile": make_zip()})
    assert lam.get_function(FunctionName="logged")["Configuration"]["LoggingConfig"]["LogFormat"] == "Text"
