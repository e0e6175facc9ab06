"""CodePipeline operations moto 5.2.5 lacks or answers wrongly: webhooks, job results (and the action's time
limits, which fail a job left without a final result), pipeline executions
seeded through the control API, action executions, pipeline state, epoch timestamps; and the control
routes for jobs, executions and webhooks (README "Operations the shim serves", CodePipeline).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any, Callable

from . import codepipeline_runs, codepipeline_structure
from .backends import pipeline_backend
from .core import ControlCall, Handler, Shim
from .protocol import ACCOUNT_ID, AwsError, AwsRequest, Response, control_json, json_response, require
from .quirks import epoch_seconds, timestamps_to_epoch
from .state import Job, Webhook


JOB_FAILURE_TYPES = {
    "JobFailed",
    "ConfigurationError",
    "PermissionError",
    "RevisionOutOfSync",
    "RevisionUnavailable",
    "SystemUnavailable",
}
WEBHOOK_AUTHENTICATION_TYPES = {"GITHUB_HMAC", "IP", "UNAUTHENTICATED"}
OUTPUT_VARIABLES_MAX_BYTES = 122_880


def webhook_arn(req: AwsRequest, name: str) -> str:
    return f"arn:aws:codepipeline:{req.region}:{ACCOUNT_ID}:webhook:{name}"


def put_webhook(shim: Shim, req: AwsRequest) -> Response:
    definition = require(req.params, "webhook")
    if not isinstance(definition, dict):
        raise AwsError("ValidationException", "webhook must be a structure")
    for member in ("name", "targetPipeline", "targetAction", "filters", "authentication", "authenticationConfiguration"):
        if member not in definition:
            raise AwsError(
                "ValidationException",
                f"1 validation error detected: Value at 'webhook.{member}' failed to satisfy constraint: Member must not be null",
            )
    authentication = definition["authentication"]
    if authentication not in WEBHOOK_AUTHENTICATION_TYPES:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{authentication}' at 'webhook.authentication' failed to satisfy "
            f"constraint: Member must satisfy enum value set: {sorted(WEBHOOK_AUTHENTICATION_TYPES)}",
        )
    auth_config = definition.get("authenticationConfiguration") or {}
    if authentication == "GITHUB_HMAC" and not auth_config.get("SecretToken"):
        raise AwsError("InvalidWebhookAuthenticationParametersException", "SecretToken is required for GITHUB_HMAC authentication")
    if authentication == "IP" and not auth_config.get("AllowedIPRange"):
        raise AwsError("InvalidWebhookAuthenticationParametersException", "AllowedIPRange is required for IP authentication")
    for rule in definition["filters"]:
        if not isinstance(rule, dict) or not str(rule.get("jsonPath", "")).startswith("$"):
            raise AwsError("InvalidWebhookFilterPatternException", f"Invalid JsonPath in webhook filter: {rule!r}")
    if definition["targetPipeline"] not in pipeline_backend(req).pipelines:
        raise AwsError(
            "PipelineNotFoundException",
            f"Account '{ACCOUNT_ID}' does not have a pipeline with name '{definition['targetPipeline']}'",
        )
    tags = {tag["key"]: tag["value"] for tag in req.params.get("tags") or []}
    name = definition["name"]
    with shim.state.lock:
        existing = shim.state.webhooks.get(name)
        if existing is not None:
            existing.definition = definition
            existing.tags.update(tags)
            hook = existing
        else:
            token = uuid.uuid4().hex + uuid.uuid4().hex
            hook = Webhook(
                definition=definition,
                url=f"https://{req.region}.webhooks.aws/trigger?t={token}&v=1",
                arn=webhook_arn(req, name),
                tags=tags,
            )
            shim.state.webhooks[name] = hook
        item = hook.list_item()
    return json_response(req, {"webhook": item})


def list_webhooks(shim: Shim, req: AwsRequest) -> Response:
    with shim.state.lock:
        items = [hook.list_item() for hook in shim.state.webhooks.values()]
    return json_response(req, {"webhooks": items})


def delete_webhook(shim: Shim, req: AwsRequest) -> Response:
    name = require(req.params, "name")
    with shim.state.lock:
        shim.state.webhooks.pop(name, None)
    return json_response(req, {})


def set_webhook_registration(registered: bool) -> Handler:
    def handler(shim: Shim, req: AwsRequest) -> Response:
        name = req.params.get("webhookName")
        with shim.state.lock:
            hook = shim.state.webhooks.get(name) if name else None
            if hook is None:
                raise AwsError("WebhookNotFoundException", f"The specified webhook {name} was not found")
            hook.registered = registered
        return json_response(req, {})

    return handler


# CodePipeline User Guide, "Quotas in AWS CodePipeline" (https://docs.aws.amazon.com/codepipeline/latest/
# userguide/limits.html), AWS Lambda invoke action: 24 hours; "If the Lambda function has sent no reply after
# 20 minutes, the action times out. If, during the 20 minutes, the Lambda function has replied that the action
# is still in progress, CodePipeline restarts the 20-minute timer and tries again. If not successful after 24
# hours, CodePipeline sets the Lambda invoke action state to failed."
LAMBDA_ACTION_TIMEOUT_SECONDS = 24 * 3600.0
LAMBDA_REPLY_TIMEOUT_SECONDS = 20 * 60.0


def job_expire(job: Job) -> None:
    """CodePipeline fails a job with no final result once the action outlived its limit, or its worker sent
    no reply within the reply limit of the start or of its last "in progress" (caller holds the lock)."""
    if job.status in ("Succeeded", "Failed"):
        return
    now = time.time()
    if now - job.registered_at > job.action_timeout_seconds:
        job.timed_out = f"the action had no final result {job.action_timeout_seconds:g} s after it started"
    elif now - (job.last_reply_at or job.registered_at) > job.reply_timeout_seconds:
        job.timed_out = f"the function sent no reply for {job.reply_timeout_seconds:g} s"
    else:
        return
    job.status = "Failed"


def find_job(shim: Shim, req: AwsRequest) -> Job:
    job_id = require(req.params, "jobId")
    job = shim.state.jobs.get(job_id)
    if job is None:
        raise AwsError("JobNotFoundException", f"The job with ID {job_id} was not found")
    job_expire(job)
    return job


def record_job_result(shim: Shim, req: AwsRequest, check: Callable[[Job], str]) -> Response:
    with shim.state.lock:
        job = find_job(shim, req)
        job.results.append(req.params)
        try:
            if job.status in ("Succeeded", "Failed"):
                raise AwsError(
                    "InvalidJobStateException",
                    f"The job {job.job_id} is in state {job.status} and can no longer be updated",
                )
            job.status = check(job)
        except AwsError as error:
            job.outcomes.append(error.code)
            raise
        job.outcomes.append("accepted")
        job.last_reply_at = time.time()
    return json_response(req, {})


def put_job_success_result(shim: Shim, req: AwsRequest) -> Response:
    params = req.params

    def check(job: Job) -> str:
        token = params.get("continuationToken")
        variables = params.get("outputVariables")
        if token is not None and variables:
            raise AwsError(
                "ValidationException",
                "outputVariables can only be provided when the job is complete; do not combine them with a continuationToken",
            )
        if token is not None and not (1 <= len(token) <= 2048):
            raise AwsError("ValidationException", "continuationToken must be 1 to 2048 characters long")
        summary = (params.get("executionDetails") or {}).get("summary")
        if summary is not None and len(summary) > 2048:
            raise AwsError("ValidationException", "executionDetails.summary must be at most 2048 characters long")
        if variables and len(json.dumps(variables, separators=(",", ":")).encode()) > OUTPUT_VARIABLES_MAX_BYTES:
            raise AwsError("ValidationException", f"outputVariables together exceed {OUTPUT_VARIABLES_MAX_BYTES} bytes")
        return "InProgress" if token is not None else "Succeeded"

    return record_job_result(shim, req, check)


def get_job_details(shim: Shim, req: AwsRequest) -> Response:
    """The job as CodePipeline describes it to its worker: the pipeline context comes from the
    data the job was registered with (pipelineName, stageName, actionName, pipelineExecutionId)."""
    with shim.state.lock:
        job = find_job(shim, req)
        data = dict(job.data)
    context: dict[str, Any] = {
        "pipelineName": data.get("pipelineName", "pipeline"),
        "stage": {"name": data.get("stageName", "Deploy")},
        "action": {"name": data.get("actionName", "Deploy")},
    }
    if isinstance(data.get("pipelineExecutionId"), str):
        context["pipelineExecutionId"] = data["pipelineExecutionId"]
    return json_response(
        req,
        {"jobDetails": {"id": job.job_id, "accountId": ACCOUNT_ID, "data": {"pipelineContext": context}}},
    )


def put_job_failure_result(shim: Shim, req: AwsRequest) -> Response:
    params = req.params

    def check(job: Job) -> str:
        details = params.get("failureDetails")
        if not isinstance(details, dict):
            raise AwsError("ValidationException", "failureDetails is required")
        if details.get("type") not in JOB_FAILURE_TYPES:
            raise AwsError(
                "ValidationException",
                f"failureDetails.type must be one of {sorted(JOB_FAILURE_TYPES)}, got {details.get('type')!r}",
            )
        message = details.get("message")
        if not isinstance(message, str) or not (1 <= len(message) <= 5000):
            raise AwsError("ValidationException", "failureDetails.message must be 1 to 5000 characters long")
        return "Failed"

    return record_job_result(shim, req, check)


def pipeline_known(shim: Shim, req: AwsRequest, name: str) -> bool:
    return name in pipeline_backend(req).pipelines or any(key[0] == name for key in shim.state.executions)


def moto_execution_known(req: AwsRequest, pipeline_name: str, execution_id: str) -> bool:
    pipeline = pipeline_backend(req).pipelines.get(pipeline_name)
    return pipeline is not None and execution_id in pipeline.executions


def pipeline_not_found(name: str) -> AwsError:
    return AwsError("PipelineNotFoundException", f"Account '{ACCOUNT_ID}' does not have a pipeline with name '{name}'")


def execution_not_found(pipeline_name: str, execution_id: str) -> AwsError:
    return AwsError(
        "PipelineExecutionNotFoundException",
        f"Account '{ACCOUNT_ID}' does not have an execution with id '{execution_id}' for pipeline '{pipeline_name}'",
    )


def get_pipeline_execution(shim: Shim, req: AwsRequest) -> Response | None:
    name = require(req.params, "pipelineName")
    execution_id = require(req.params, "pipelineExecutionId")
    with shim.state.lock:
        seeded = shim.state.executions.get((name, execution_id))
        if seeded is not None:
            return json_response(req, {"pipelineExecution": seeded["pipelineExecution"]})
        if not pipeline_known(shim, req, name):
            raise pipeline_not_found(name)
        if name not in pipeline_backend(req).pipelines:
            raise execution_not_found(name, execution_id)
    return None  # moto knows executions started by StartPipelineExecution


def list_action_executions(shim: Shim, req: AwsRequest) -> Response:
    name = require(req.params, "pipelineName")
    wanted = (req.params.get("filter") or {}).get("pipelineExecutionId")
    with shim.state.lock:
        if not pipeline_known(shim, req, name):
            raise pipeline_not_found(name)
        seeded = [(key[1], value) for key, value in shim.state.executions.items() if key[0] == name]
        if wanted is not None:
            matching = [value for execution_id, value in seeded if execution_id == wanted]
            if not matching and not moto_execution_known(req, name, wanted):
                raise execution_not_found(name, wanted)
        else:
            # Most recent execution first, as AWS lists them.
            matching = [value for _, value in reversed(seeded)]
        details = [detail for value in matching for detail in value["actionExecutionDetails"]]
    max_results = req.params.get("maxResults")
    if isinstance(max_results, int) and max_results > 0:
        details = details[:max_results]
    return json_response(req, {"actionExecutionDetails": details})


def get_pipeline_state(shim: Shim, req: AwsRequest) -> Response:
    name = require(req.params, "name")
    pipeline = pipeline_backend(req).pipelines.get(name)
    if pipeline is None:
        raise pipeline_not_found(name)
    definition = pipeline.pipeline
    with shim.state.lock:
        # What the stage machinery knows: each stage's latest execution, open approvals' tokens, the bake.
        machinery = [codepipeline_runs.stage_state(shim, name, stage) for stage in definition.get("stages", [])]
    return json_response(
        req,
        {
            "pipelineName": name,
            "pipelineVersion": definition.get("version", 1),
            "stageStates": [
                {
                    "stageName": stage["name"],
                    "inboundTransitionState": {"enabled": True},
                    **known,
                }
                for stage, known in zip(definition.get("stages", []), machinery)
            ],
            "created": epoch_seconds(pipeline._created),
            "updated": epoch_seconds(pipeline._updated),
        },
    )


def list_pipeline_executions(shim: Shim, req: AwsRequest) -> Response:
    """moto's executions (StartPipelineExecution) after the shim's own (seeded and rollback
    executions), most recent first as ListPipelineExecutions answers."""
    name = require(req.params, "pipelineName")
    with shim.state.lock:
        own = codepipeline_runs.executions_of(shim, name)
        if not own:
            return codepipeline_forward_fixing_timestamps(shim, req)
    response = codepipeline_forward_fixing_timestamps(shim, req)
    moto = json.loads(response.body).get("pipelineExecutionSummaries", []) if response.status == 200 else []
    if response.status != 200 and not pipeline_known(shim, req, name):
        return response
    summaries = timestamps_to_epoch(own) + moto
    max_results = req.params.get("maxResults")
    if isinstance(max_results, int) and max_results > 0:
        summaries = summaries[:max_results]
    return json_response(req, {"pipelineExecutionSummaries": summaries})


def codepipeline_forward_fixing_timestamps(shim: Shim, req: AwsRequest) -> Response:
    response = shim.forward(req)
    if response.status != 200 or not response.body:
        return response
    try:
        payload = json.loads(response.body)
    except ValueError:
        return response
    return response.with_body(json.dumps(timestamps_to_epoch(payload)).encode())


def webhook_for_arn(shim: Shim, arn: Any) -> Webhook | None:
    if not isinstance(arn, str) or ":webhook:" not in arn:
        return None
    hook = shim.state.webhooks.get(arn.rsplit(":webhook:", 1)[1])
    if hook is None or hook.arn != arn:
        raise AwsError("ResourceNotFoundException", f"The webhook {arn} was not found")
    return hook


def codepipeline_list_tags(shim: Shim, req: AwsRequest) -> Response | None:
    with shim.state.lock:
        hook = webhook_for_arn(shim, req.params.get("resourceArn"))
        if hook is None:
            return None
        tags = [{"key": k, "value": v} for k, v in sorted(hook.tags.items())]
    return json_response(req, {"tags": tags})


def codepipeline_tag(shim: Shim, req: AwsRequest) -> Response | None:
    with shim.state.lock:
        hook = webhook_for_arn(shim, req.params.get("resourceArn"))
        if hook is None:
            return None
        for tag in req.params.get("tags") or []:
            hook.tags[tag["key"]] = tag["value"]
    return json_response(req, {})


def codepipeline_untag(shim: Shim, req: AwsRequest) -> Response | None:
    with shim.state.lock:
        hook = webhook_for_arn(shim, req.params.get("resourceArn"))
        if hook is None:
            return None
        for key in req.params.get("tagKeys") or []:
            hook.tags.pop(key, None)
    return json_response(req, {})


# One CreatePipeline at a time, so two at once of one name cannot both pass the name check.
CREATE_PIPELINE = threading.Lock()


def codepipeline_create_pipeline(shim: Shim, req: AwsRequest) -> Response:
    """AWS answers PipelineNameInUseException for a taken name; moto an InvalidStructureException."""
    pipeline = req.params.get("pipeline")
    name = pipeline.get("name") if isinstance(pipeline, dict) else None
    codepipeline_structure.check(pipeline)
    with CREATE_PIPELINE:
        if isinstance(name, str) and name in pipeline_backend(req).pipelines:
            raise AwsError("PipelineNameInUseException", f"A pipeline with the name '{name}' already exists in account '{ACCOUNT_ID}'")
        return shim.forward(req)


def codepipeline_update_pipeline(shim: Shim, req: AwsRequest) -> Response:
    """Refuses what CodePipeline refuses in the new declaration before moto stores it."""
    codepipeline_structure.check(req.params.get("pipeline"))
    return shim.forward(req)


def register_job(shim: Shim, call: ControlCall) -> Response:
    """POST /_shim/codepipeline/jobs: a job CodePipeline would have handed to a Lambda."""
    payload = call.payload
    if not isinstance(payload, dict):
        raise ValueError('a job must be a JSON object, e.g. {"pipelineName": "p", "actionName": "Deploy"}')
    job_id = payload.get("jobId") or str(uuid.uuid4())
    if not isinstance(job_id, str):
        raise ValueError(f"jobId must be a string, got {job_id!r}")
    limits = {"actionTimeoutSeconds": LAMBDA_ACTION_TIMEOUT_SECONDS, "replyTimeoutSeconds": LAMBDA_REPLY_TIMEOUT_SECONDS}
    for key in limits:
        value = payload.get(key, limits[key])
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(f"{key} must be a number of seconds > 0, got {value!r}")
        limits[key] = float(value)
    data = {key: value for key, value in payload.items() if key != "jobId" and key not in limits}
    job = Job(
        job_id=job_id,
        data=data,
        action_timeout_seconds=limits["actionTimeoutSeconds"],
        reply_timeout_seconds=limits["replyTimeoutSeconds"],
    )
    with shim.state.lock:
        shim.state.jobs[job_id] = job
    return control_json({"jobId": job_id})


def job_status(shim: Shim, call: ControlCall) -> Response:
    """GET /_shim/codepipeline/jobs/{jobId}: the job, the results reported for it and their outcomes."""
    job_id = call.groups["id"]
    with shim.state.lock:
        job = shim.state.jobs.get(job_id)
        if job is None:
            return control_json({"error": f"no job {job_id!r} is registered; POST /_shim/codepipeline/jobs first"}, 404)
        job_expire(job)
        return control_json(job.to_json())


def seed_execution(shim: Shim, call: ControlCall) -> Response:
    """POST /_shim/codepipeline/executions: what GetPipelineExecution and ListActionExecutions answer."""
    payload = call.payload
    if not isinstance(payload, dict):
        raise ValueError("an execution seed must be a JSON object with pipelineName and pipelineExecution")
    pipeline_name = payload.get("pipelineName")
    execution = payload.get("pipelineExecution")
    if not isinstance(pipeline_name, str) or not pipeline_name:
        raise ValueError("pipelineName (a non-empty string) is required")
    if not isinstance(execution, dict) or not isinstance(execution.get("pipelineExecutionId"), str):
        raise ValueError("pipelineExecution must be an object with a string pipelineExecutionId")
    details = payload.get("actionExecutionDetails", [])
    if not isinstance(details, list) or not all(isinstance(item, dict) for item in details):
        raise ValueError("actionExecutionDetails must be a list of objects")
    execution_id = execution["pipelineExecutionId"]
    execution = timestamps_to_epoch({"pipelineName": pipeline_name, **execution})
    details = [
        timestamps_to_epoch({"pipelineExecutionId": execution_id, **detail}) for detail in details
    ]
    with shim.state.lock:
        shim.state.executions[(pipeline_name, execution_id)] = {
            "pipelineExecution": execution,
            "actionExecutionDetails": details,
        }
    return control_json({"pipelineName": pipeline_name, "pipelineExecutionId": execution_id})


def stored_webhooks(shim: Shim, call: ControlCall) -> Response:
    """GET /_shim/codepipeline/webhooks: the stored webhooks as ListWebhooks items, plus `registered`."""
    with shim.state.lock:
        return control_json([{**hook.list_item(), "registered": hook.registered} for hook in shim.state.webhooks.values()])


# The operations this module answers, by (signing name, operation); front.py merges every service's table.
SERVED: dict[tuple[str, str], Handler] = {
    ("codepipeline", "CreatePipeline"): codepipeline_create_pipeline,
    ("codepipeline", "UpdatePipeline"): codepipeline_update_pipeline,
    ("codepipeline", "PutWebhook"): put_webhook,
    ("codepipeline", "ListWebhooks"): list_webhooks,
    ("codepipeline", "DeleteWebhook"): delete_webhook,
    ("codepipeline", "RegisterWebhookWithThirdParty"): set_webhook_registration(True),
    ("codepipeline", "DeregisterWebhookWithThirdParty"): set_webhook_registration(False),
    ("codepipeline", "PutJobSuccessResult"): put_job_success_result,
    ("codepipeline", "GetJobDetails"): get_job_details,
    ("codepipeline", "PutJobFailureResult"): put_job_failure_result,
    ("codepipeline", "GetPipelineExecution"): get_pipeline_execution,
    ("codepipeline", "ListActionExecutions"): list_action_executions,
    ("codepipeline", "GetPipelineState"): get_pipeline_state,
    ("codepipeline", "ListTagsForResource"): codepipeline_list_tags,
    ("codepipeline", "TagResource"): codepipeline_tag,
    ("codepipeline", "UntagResource"): codepipeline_untag,
    ("codepipeline", "GetPipeline"): codepipeline_forward_fixing_timestamps,
    ("codepipeline", "ListPipelines"): codepipeline_forward_fixing_timestamps,
    ("codepipeline", "ListPipelineExecutions"): list_pipeline_executions,
}
