"""Lambda operations -> IAM actions and resources. Parameters: FunctionName and Qualifier from the URL;
container images also need ECR's pull actions on their repository.
"""

from __future__ import annotations

import re
from typing import Any, Callable
from urllib.parse import unquote

from .common import Check, OperationTable, Request, has_tags, pass_role_checks


def lambda_function_arn(reference: str, qualifier: str | None, account: str, region: str) -> str:
    """A function ARN from a name, `name:qualifier`, a partial ARN or an ARN;
    qualified (`function:NAME:QUALIFIER`) when a qualifier is given."""
    reference = unquote(reference)
    parts = reference.split(":")
    if reference.startswith("arn:") and len(parts) >= 7:
        account, region, name = parts[4], parts[3], parts[6]
        embedded = parts[7] if len(parts) > 7 else None
    elif len(parts) >= 3 and parts[1] == "function":
        account, name = parts[0], parts[2]
        embedded = parts[3] if len(parts) > 3 else None
    else:
        name, _, embedded = reference.partition(":")
    qualifier = qualifier or embedded or None
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


_ECR_IMAGE_URI = re.compile(
    r"^(?P<registry>\d{12})\.dkr\.ecr\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?"
    r"/(?P<name>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|@(?P<digest>sha256:[a-f0-9]{64}))$"
)


def ecr_image_reference(uri: Any) -> dict[str, str] | None:
    """The parts of an Amazon ECR image URI `REGISTRY.dkr.ecr.REGION.amazonaws.com/NAME:TAG` or
    `...NAME@sha256:DIGEST` (`registry`, `region`, `name`, and `tag` or `digest`), or None when it
    is not one (Lambda takes images by tag or by digest, nothing else)."""
    match = _ECR_IMAGE_URI.match(uri) if isinstance(uri, str) else None
    if match is None:
        return None
    return {key: value for key, value in match.groupdict().items() if value is not None}


def _lambda_image_pull(r: Request, uri: Any) -> list[Check]:
    """Creating or updating a function from a container image: the caller needs ecr:BatchGetImage and
    ecr:GetDownloadUrlForLayer on the image's repository (AWS re:Post knowledge center, "lambda-ecr-image":
    "the user or role creating the function and Amazon ECR repository must have policies that allow
    access"; the caller's own ecr:BatchGetImage denial is what CloudTrail shows, aws-controllers-k8s
    issue #1641). The repository policy is the resource policy, as for a direct ECR call."""
    image = ecr_image_reference(uri)
    if image is None:  # not an ECR image: Lambda refuses it before any authorization
        return []
    arn = f"arn:aws:ecr:{image['region']}:{image['registry']}:repository/{image['name']}"
    ref = ("ecr", image["region"], image["registry"], image["name"])
    return [Check("ecr:BatchGetImage", (arn,), (), ref), Check("ecr:GetDownloadUrlForLayer", (arn,), (), ref)]


def _lambda(
    action: str,
    qualified: bool = True,
    pass_role: bool = False,
    tag_on_create: bool = False,
    image: Callable[[Request], Any] | None = None,
) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        qualifier = r.param("Qualifier") if qualified else None
        arn = lambda_function_arn(str(r.param("FunctionName") or ""), qualifier, r.account, r.region)
        if not qualified:  # drop a qualifier embedded in the name too
            arn = ":".join(arn.split(":")[:7])
        result = [Check(action, (arn,), (), ("lambda", r.region, arn))]
        if pass_role:
            result += pass_role_checks(r, r.param("Role"), "lambda.amazonaws.com")
        # Lambda Developer Guide, "Using tags on Lambda functions": lambda:TagResource is needed
        # "to call TagResource or perform a tag on create".
        if tag_on_create and has_tags(r.param("Tags")):
            result.append(Check("lambda:TagResource", (arn,), (), ("lambda", r.region, arn)))
        if image is not None:
            result += _lambda_image_pull(r, image(r))
        return result

    return checks


def _create_function_image(r: Request) -> Any:
    code = r.param("Code")
    return code.get("ImageUri") if isinstance(code, dict) else None


def _lambda_tagging(action: str) -> Callable[[Request], list[Check]]:
    """ListTags / TagResource / UntagResource: the function ARN in the path (/2017-03-31/tags/ARN)."""

    def checks(r: Request) -> list[Check]:
        arn = lambda_function_arn(str(r.param("Resource") or ""), None, r.account, r.region)
        return [Check(action, (arn,), (), ("lambda", r.region, arn))]

    return checks


OPERATIONS: OperationTable = {
    # Lambda (operation names as the shim records them; Invoke is lambda:InvokeFunction). Source:
    # "Actions, resources, and condition keys for AWS Lambda": the function ARN, qualified
    # (function:NAME:QUALIFIER) for the calls that take a Qualifier.
    ("lambda", "Invoke"): _lambda("lambda:InvokeFunction"),
    ("lambda", "GetFunction"): _lambda("lambda:GetFunction"),
    ("lambda", "GetFunctionConfiguration"): _lambda("lambda:GetFunctionConfiguration"),
    ("lambda", "DeleteFunction"): _lambda("lambda:DeleteFunction"),
    ("lambda", "AddPermission"): _lambda("lambda:AddPermission"),
    ("lambda", "RemovePermission"): _lambda("lambda:RemovePermission"),
    ("lambda", "GetPolicy"): _lambda("lambda:GetPolicy"),
    ("lambda", "GetFunctionEventInvokeConfig"): _lambda("lambda:GetFunctionEventInvokeConfig"),
    ("lambda", "PutFunctionEventInvokeConfig"): _lambda("lambda:PutFunctionEventInvokeConfig"),
    ("lambda", "DeleteFunctionEventInvokeConfig"): _lambda("lambda:DeleteFunctionEventInvokeConfig"),
    # UpdateFunctionCode / CreateFunction with an image also need the ECR pull actions (_lambda_image_pull).
    ("lambda", "UpdateFunctionCode"): _lambda(
        "lambda:UpdateFunctionCode", qualified=False, image=lambda r: r.param("ImageUri")
    ),
    ("lambda", "PublishVersion"): _lambda("lambda:PublishVersion", qualified=False),
    ("lambda", "ListVersionsByFunction"): _lambda("lambda:ListVersionsByFunction", qualified=False),
    # The alias actions are authorized on the unqualified function ARN, not the alias ARN: the
    # reference and the Lambda Developer Guide ("Resources and conditions for Lambda actions") list
    # only the function resource for CreateAlias, DeleteAlias, GetAlias, ListAliases and UpdateAlias,
    # and AWS's denial names `...:function:NAME` for lambda:UpdateAlias.
    ("lambda", "CreateAlias"): _lambda("lambda:CreateAlias", qualified=False),
    ("lambda", "UpdateAlias"): _lambda("lambda:UpdateAlias", qualified=False),
    ("lambda", "GetAlias"): _lambda("lambda:GetAlias", qualified=False),
    ("lambda", "DeleteAlias"): _lambda("lambda:DeleteAlias", qualified=False),
    ("lambda", "ListAliases"): _lambda("lambda:ListAliases", qualified=False),
    ("lambda", "CreateFunction"): _lambda(
        "lambda:CreateFunction", qualified=False, pass_role=True, tag_on_create=True, image=_create_function_image
    ),
    ("lambda", "UpdateFunctionConfiguration"): _lambda(
        "lambda:UpdateFunctionConfiguration", qualified=False, pass_role=True
    ),
    ("lambda", "ListTags"): _lambda_tagging("lambda:ListTags"),
    ("lambda", "TagResource"): _lambda_tagging("lambda:TagResource"),
    ("lambda", "UntagResource"): _lambda_tagging("lambda:UntagResource"),
}
