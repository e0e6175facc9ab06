"""CodePipeline operations (pipelines, jobs, webhooks) -> IAM actions and resources."""

from __future__ import annotations

from typing import Any, Callable

from .common import (
    Check,
    OperationTable,
    Request,
    any_resource,
    by_resource_arn,
    has_tags,
    name_from,
    pass_role_checks,
)
from ..policy import as_list


def _pipeline(action: str, *names: str) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        return [Check(action, (r.arn("codepipeline", str(r.param(*names) or "")),))]

    return checks


def _stage(action: str, *parts: str) -> Callable[[Request], list[Check]]:
    """Operations on a stage (RollbackStage, OverrideStageCondition, RetryStageExecution) or an action
    (PutApprovalResult): the stage resource type PIPELINE/STAGE and the action resource type
    PIPELINE/STAGE/ACTION of the Service Authorization Reference."""

    def checks(r: Request) -> list[Check]:
        path = "/".join(str(r.param(part) or "") for part in parts)
        return [Check(action, (r.arn("codepipeline", path),))]

    return checks


def _pipeline_connections(pipeline: dict[str, Any]) -> list[str]:
    """The ConnectionArn of every action (CodeStarSourceConnection) in a pipeline declaration."""
    found: list[str] = []
    for stage in as_list(pipeline.get("stages")):
        for action in as_list(stage.get("actions") if isinstance(stage, dict) else None):
            configuration = action.get("configuration") if isinstance(action, dict) else None
            arn = configuration.get("ConnectionArn") if isinstance(configuration, dict) else None
            if isinstance(arn, str) and arn and arn not in found:
                found.append(arn)
    return found


def _pipeline_write(action: str, tag_on_create: bool = False) -> Callable[[Request], list[Check]]:
    """CreatePipeline / UpdatePipeline: the pipeline, iam:PassRole on its role, and (the API
    operations table of the CodePipeline reference page) codestar-connections:PassConnection on
    every connection its actions name (CodePipeline User Guide, "IAM permissions reference for
    connections": "when a connection ARN is provided in a pipeline definition to create or update
    a pipeline, the user must have the codestar-connections:PassConnection permission");
    CreatePipeline with tags also codepipeline:TagResource (User Guide, "Using tags to control
    access to CodePipeline resources", example 3)."""

    def checks(r: Request) -> list[Check]:
        pipeline = r.param("pipeline")
        pipeline = pipeline if isinstance(pipeline, dict) else {}
        arn = r.arn("codepipeline", str(pipeline.get("name") or ""))
        result = [Check(action, (arn,))]
        result += pass_role_checks(r, pipeline.get("roleArn"), "codepipeline.amazonaws.com")
        for connection in _pipeline_connections(pipeline):
            result.append(
                Check(
                    "codestar-connections:PassConnection",
                    (connection,),
                    (("codestar-connections:PassedToService", "codepipeline.amazonaws.com"),),
                )
            )
        if tag_on_create and has_tags(r.param("tags")):
            result.append(Check("codepipeline:TagResource", (arn,)))
        return result

    return checks


def _webhook_arn(r: Request, name: Any) -> str:
    return r.arn("codepipeline", f"webhook:{name_from(name or '', ':webhook:')}")


def _webhook(action: str, *names: str) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        return [Check(action, (_webhook_arn(r, r.param(*names)),))]

    return checks


def _put_webhook(r: Request) -> list[Check]:
    """PutWebhook: the reference lists both the webhook and its target pipeline as required
    resources; with tags also codepipeline:TagResource on the webhook (the API operations table
    lists TagResource for PutWebhook; UntagResource too, for a replaced definition's tags, which
    the emulator does not model)."""
    webhook = r.param("webhook")
    webhook = webhook if isinstance(webhook, dict) else {}
    arn = _webhook_arn(r, webhook.get("name"))
    pipeline = r.arn("codepipeline", str(webhook.get("targetPipeline") or ""))
    result = [Check("codepipeline:PutWebhook", (arn, pipeline))]
    if has_tags(r.param("tags")):
        result.append(Check("codepipeline:TagResource", (arn,)))
    return result


OPERATIONS: OperationTable = {
    # CodePipeline. Source: "Actions, resources, and condition keys for AWS CodePipeline": the job
    # calls take Resource "*"; pipeline ARN arn:aws:codepipeline:REGION:ACCOUNT:NAME, webhook ARN
    # ...:webhook:NAME. ListWebhooks lists the webhook resource type as required, so it is judged
    # on webhook:* (every webhook).
    ("codepipeline", "PutJobSuccessResult"): any_resource("codepipeline:PutJobSuccessResult"),
    ("codepipeline", "PutJobFailureResult"): any_resource("codepipeline:PutJobFailureResult"),
    ("codepipeline", "GetJobDetails"): any_resource("codepipeline:GetJobDetails"),
    ("codepipeline", "GetPipelineExecution"): _pipeline("codepipeline:GetPipelineExecution", "pipelineName"),
    ("codepipeline", "ListActionExecutions"): _pipeline("codepipeline:ListActionExecutions", "pipelineName"),
    ("codepipeline", "GetPipelineState"): _pipeline("codepipeline:GetPipelineState", "name"),
    ("codepipeline", "ListPipelineExecutions"): _pipeline("codepipeline:ListPipelineExecutions", "pipelineName"),
    ("codepipeline", "ListRuleExecutions"): _pipeline("codepipeline:ListRuleExecutions", "pipelineName"),
    ("codepipeline", "StopPipelineExecution"): _pipeline("codepipeline:StopPipelineExecution", "pipelineName"),
    # Stage and action resource types: arn:aws:codepipeline:REGION:ACCOUNT:PIPELINE/STAGE and
    # .../PIPELINE/STAGE/ACTION (the reference's "stage" and "action" rows; approving takes the action).
    ("codepipeline", "PutApprovalResult"): _stage(
        "codepipeline:PutApprovalResult", "pipelineName", "stageName", "actionName"
    ),
    ("codepipeline", "RollbackStage"): _stage("codepipeline:RollbackStage", "pipelineName", "stageName"),
    ("codepipeline", "OverrideStageCondition"): _stage(
        "codepipeline:OverrideStageCondition", "pipelineName", "stageName"
    ),
    ("codepipeline", "RetryStageExecution"): _stage("codepipeline:RetryStageExecution", "pipelineName", "stageName"),
    ("codepipeline", "GetPipeline"): _pipeline("codepipeline:GetPipeline", "name"),
    ("codepipeline", "StartPipelineExecution"): _pipeline("codepipeline:StartPipelineExecution", "name"),
    ("codepipeline", "DeletePipeline"): _pipeline("codepipeline:DeletePipeline", "name"),
    ("codepipeline", "CreatePipeline"): _pipeline_write("codepipeline:CreatePipeline", tag_on_create=True),
    ("codepipeline", "UpdatePipeline"): _pipeline_write("codepipeline:UpdatePipeline"),
    ("codepipeline", "ListTagsForResource"): by_resource_arn("codepipeline:ListTagsForResource", "resourceArn"),
    ("codepipeline", "TagResource"): by_resource_arn("codepipeline:TagResource", "resourceArn"),
    ("codepipeline", "UntagResource"): by_resource_arn("codepipeline:UntagResource", "resourceArn"),
    ("codepipeline", "ListWebhooks"): lambda r: [Check("codepipeline:ListWebhooks", (r.arn("codepipeline", "webhook:*"),))],
    ("codepipeline", "PutWebhook"): _put_webhook,
    ("codepipeline", "DeleteWebhook"): _webhook("codepipeline:DeleteWebhook", "name"),
    ("codepipeline", "RegisterWebhookWithThirdParty"): _webhook(
        "codepipeline:RegisterWebhookWithThirdParty", "webhookName"
    ),
    ("codepipeline", "DeregisterWebhookWithThirdParty"): _webhook(
        "codepipeline:DeregisterWebhookWithThirdParty", "webhookName"
    ),
}
