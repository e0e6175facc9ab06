"""Lambda corrections and additions (README "Lambda container images"): LoggingConfig and event invoke
configs moto drops, container-image functions (the image checks Lambda makes, image indexes refused at
once, updates `InProgress` until polled through, images marked bad), versions and aliases.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any
from urllib.parse import unquote

from moto.awslambda.utils import get_backend as lambda_backend
from moto.ecr.models import ecr_backends

from .core import Handler, Shim
from .iam.evaluation import evaluate
from .iam.operations.awslambda import ecr_image_reference, lambda_function_arn
from .iam.policy import RequestContext
from .images import architecture_mismatch, image_marked_bad, image_platform
from .protocol import ACCOUNT_ID, AwsError, AwsRequest, Response, json_body, request_id
from .state import LambdaUpdate


def with_logging_config(shim: Shim, configuration: dict[str, Any]) -> None:
    """Adds the LoggingConfig AWS reports (the stored one, else AWS's default) to a configuration."""
    name = configuration.get("FunctionName")
    if not isinstance(name, str):
        return
    with shim.state.lock:
        stored = dict(shim.state.function_logging.get(name, {}))
    configuration["LoggingConfig"] = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}", **stored}


def lambda_store_logging_config(shim: Shim, req: AwsRequest) -> Response:
    """CreateFunction / UpdateFunctionConfiguration: remember the LoggingConfig moto drops."""
    response = shim.forward(req)
    body = json_body(response) if response.status < 300 else None
    if body is None:
        return response
    logging_config = req.params.get("LoggingConfig")
    name = body.get("FunctionName")
    if isinstance(logging_config, dict) and isinstance(name, str):
        with shim.state.lock:
            merged = {**shim.state.function_logging.get(name, {}), **logging_config}
            shim.state.function_logging[name] = {k: v for k, v in merged.items() if k in ("LogFormat", "LogGroup")}
    with_logging_config(shim, body)
    return response.with_body(json.dumps(body).encode())


def lambda_report_logging_config(shim: Shim, req: AwsRequest) -> Response:
    """GetFunction / GetFunctionConfiguration: answer the LoggingConfig as AWS does."""
    response = shim.forward(req)
    body = json_body(response) if response.status < 300 else None
    if body is None:
        return response
    configuration = body.get("Configuration") if req.operation == "GetFunction" else body
    if isinstance(configuration, dict):
        with_logging_config(shim, configuration)
    return response.with_body(json.dumps(body).encode())


def lambda_forget_logging_config(shim: Shim, req: AwsRequest) -> Response:
    response = shim.forward(req)
    match = re.match(r"^/[0-9-]+/functions/([^/]+)/?$", req.path)
    if response.status < 300 and match and "Qualifier" not in req.query:
        name = unquote(match.group(1)).rsplit(":", 1)[-1]  # a name, or an ARN ending in it
        with shim.state.lock:
            shim.state.function_logging.pop(name, None)
    return response


def lambda_put_event_invoke_config(shim: Shim, req: AwsRequest) -> Response:
    """AWS replaces a function's invoke configuration; moto appends and keeps answering the first."""
    match = re.match(r"^/[0-9-]+/functions/([^/]+)/event-invoke-config", req.path)
    if match:
        name = unquote(match.group(1))
        try:
            function = lambda_backend(ACCOUNT_ID, req.region).get_function(name)
        except Exception:  # unknown function: moto answers the proper error below
            function = None
        if function is not None:
            previous = list(function.event_invoke_config)
            function.event_invoke_config = []
            response = shim.forward(req)
            if response.status >= 300:
                function.event_invoke_config = previous
            return response
    return shim.forward(req)


LAMBDA_PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")


def lambda_json(payload: dict[str, Any], status: int = 200) -> Response:
    body = json.dumps(payload).encode()
    return Response(
        status,
        [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id()), ("Content-Length", str(len(body)))],
        body,
    )


def lambda_reference(req: AwsRequest) -> str | None:
    match = re.match(r"^/[0-9-]+/functions/([^/]+)", req.path)
    return unquote(match.group(1)) if match else None


def lambda_qualifier(req: AwsRequest) -> str | None:
    """The qualifier a request names: `?Qualifier=` or embedded in the function name or ARN."""
    reference = lambda_reference(req) or ""
    qualifier = (req.query.get("Qualifier") or [None])[0]
    parts = lambda_function_arn(reference, qualifier, ACCOUNT_ID, req.region).split(":")
    return parts[7] if len(parts) > 7 else None


def lambda_entry(req: AwsRequest) -> tuple[Any, str, str]:
    """(moto's $LATEST function or None, its unqualified ARN, its name) for the function in the path."""
    arn = ":".join(lambda_function_arn(lambda_reference(req) or "", None, ACCOUNT_ID, req.region).split(":")[:7])
    name = arn.split(":")[6]
    entry = lambda_backend(ACCOUNT_ID, req.region)._lambdas._functions.get(name)
    return (entry or {}).get("latest"), arn, name


def lambda_published(req: AwsRequest, name: str) -> list[Any]:
    entry = lambda_backend(ACCOUNT_ID, req.region)._lambdas._functions.get(name) or {}
    return list(entry.get("versions") or [])


def lambda_unshare_code(req: AwsRequest, name: str) -> None:
    """moto publishes a version as copy.copy($LATEST), so the version shares $LATEST's `code` dict and a
    later UpdateFunctionCode rewrites the published version's ImageUri too; a published version's code
    is immutable (Lambda Developer Guide, "Manage Lambda function versions"). Each gets its own."""
    entry = lambda_backend(ACCOUNT_ID, req.region)._lambdas._functions.get(name) or {}
    latest = entry.get("latest")
    for version in entry.get("versions") or []:
        if latest is not None and version.code is latest.code:
            version.code = dict(latest.code)


def lambda_refuse_while_updating(shim: Shim, arn: str) -> None:
    """Lambda Developer Guide, "Lambda function states": while LastUpdateStatus is InProgress,
    UpdateFunctionCode, UpdateFunctionConfiguration and PublishVersion fail; AWS answers 409
    ResourceConflictException "The operation cannot be performed at this time. An update is in progress
    for resource: ARN" (the unqualified function ARN). Caller holds the lock."""
    update = shim.state.lambda_updates.get(arn)
    if update is not None and update.status == "InProgress":
        raise AwsError(
            "ResourceConflictException",
            f"The operation cannot be performed at this time. An update is in progress for resource: {arn}",
            409,
        )


def lambda_pull_permission(shim: Shim, req: AwsRequest, repository: Any, image: dict[str, str], function_arn: str) -> None:
    """Lambda Developer Guide, "Amazon ECR permissions" (images-create): the repository policy must let
    the Lambda service principal ecr:BatchGetImage and ecr:GetDownloadUrlForLayer; "If the Amazon ECR
    repository does not include these permissions, Lambda adds ecr:BatchGetImage and
    ecr:GetDownloadUrlForLayer to the container image repository permissions. Lambda can add these
    permissions only if the Principal calling Lambda has ecr:getRepositoryPolicy and
    ecr:setRepositoryPolicy permissions." Otherwise AWS answers 403 AccessDeniedException "Lambda does not
    have permission to access the ECR image. Check the ECR permissions." (the message AWS sends,
    aws-samples/bedrock-access-gateway issue #127; re:Post knowledge center "lambda-ecr-image").
    Lambda asks as itself, so `aws:SourceArn` (the function) and `aws:SourceAccount` are set, as in the
    guide's cross-account example. The guide does not say which form of the function's ARN the pull
    carries; its example condition (`StringLike aws:sourceARN arn:aws:lambda:REGION:ACCOUNT:function:*`)
    admits every form, and Lambda pulls again later on a version's behalf ("Lambda will eventually set a
    function's state to inactive ... retrieve the container image for optimization and caching on behalf
    of the function"). So the pull is judged with the unqualified ARN and with a qualified one
    (`function:NAME:$LATEST`): a policy admitting only one of them is not enough."""
    source_arns = (function_arn, f"{function_arn}:$LATEST")

    def lambda_may(document: Any) -> bool:
        return all(
            evaluate(
                RequestContext(
                    action=action,
                    resources=[repository.arn],
                    service_principal="lambda.amazonaws.com",
                    account=image["registry"],
                    condition_keys={"aws:SourceArn": source_arn, "aws:SourceAccount": ACCOUNT_ID},
                ),
                [],
                document,
                resource_policy_required=True,
            ).allowed
            for action in LAMBDA_PULL_ACTIONS
            for source_arn in source_arns
        )

    if repository.policy and lambda_may(repository.policy):
        return
    ref = ("ecr", image["region"], image["registry"], image["name"])
    refused = AwsError(
        "AccessDeniedException", "Lambda does not have permission to access the ECR image. Check the ECR permissions.", 403
    )
    if not all(shim.iam.may(req, action, repository.arn, ref) for action in ("ecr:GetRepositoryPolicy", "ecr:SetRepositoryPolicy")):
        raise refused
    try:
        document = json.loads(repository.policy) if repository.policy else {"Version": "2012-10-17", "Statement": []}
    except ValueError:
        raise refused from None
    if not isinstance(document, dict):
        raise refused
    statements = document.get("Statement")
    statements = [statements] if isinstance(statements, dict) else list(statements or [])
    statements.append(
        {
            "Sid": "LambdaECRImageRetrievalPolicy",
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": list(LAMBDA_PULL_ACTIONS),
        }
    )
    document["Statement"] = statements
    repository.policy = json.dumps(document)


# The manifest types Lambda runs: a single-platform Docker image manifest (schema 2) or OCI image
# manifest (Lambda Developer Guide, "Create a Lambda function using a container image": Lambda supports
# "Docker image manifest V2, schema 2" and "Open Container Initiative (OCI) Specifications (v1.0.0 and
# up)"). An image index or manifest list (what `docker buildx` pushes with provenance) is refused.
LAMBDA_MANIFEST_TYPES = {
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
}


def lambda_refuse_manifest_type(found: Any, uri: str) -> None:
    """UpdateFunctionCode and CreateFunction refuse, at once, an image whose manifest is an image index or
    a type Lambda does not run: 400 InvalidParameterValueException "The image manifest, config or layer
    media type for the source image URI is not supported." (the message AWS sends:
    terraform-aws-modules/terraform-aws-lambda#741, aws/aws-lambda-roadmap#82; boto/boto3#3255 for a
    manifest list). The type is the one the image was pushed with (PutImage's imageManifestMediaType, else
    the manifest's own mediaType)."""
    media_type = getattr(found, "image_manifest_media_type", None)
    if not media_type:
        try:
            media_type = json.loads(found.image_manifest).get("mediaType")
        except (ValueError, AttributeError):
            media_type = None
    if media_type and media_type not in LAMBDA_MANIFEST_TYPES:
        raise AwsError(
            "InvalidParameterValueException",
            f"The image manifest, config or layer media type for the source image {uri} is not supported.",
        )


def lambda_image(shim: Shim, req: AwsRequest, uri: str, function_arn: str) -> tuple[str, int]:
    """What Lambda checks of a container image before taking it: an Amazon ECR image URI with a tag or a
    digest, in the function's region (Lambda Developer Guide, "Create a Lambda function using a
    container image": "The Amazon ECR repository must be in the same AWS Region as the Lambda
    function"), that exists in the emulator's ECR; AWS answers InvalidParameterValueException "Source
    image URI is not valid. Provide a valid source image." otherwise (the message AWS sends,
    aws-samples/bedrock-access-gateway issue #205); then the repository policy (lambda_pull_permission).
    Returns the image's digest without `sha256:` (Lambda's CodeSha256 for an image) and its size."""
    invalid = AwsError("InvalidParameterValueException", f"Source image {uri} is not valid. Provide a valid source image.")
    image = ecr_image_reference(uri)
    if image is None or image["region"] != req.region:
        raise invalid
    repository = ecr_backends[image["registry"]][image["region"]].repositories.get(image["name"])
    if repository is None or repository.registry_id != image["registry"]:
        raise invalid
    found = next(
        (
            candidate
            for candidate in repository.images
            if ("tag" in image and image["tag"] in candidate.image_tags)
            or ("digest" in image and candidate.get_image_digest() == image["digest"])
        ),
        None,
    )
    if found is None:
        raise invalid
    lambda_refuse_manifest_type(found, uri)
    lambda_pull_permission(shim, req, repository, image, function_arn)
    return found.get_image_digest().split(":", 1)[1], int(found.get_image_size_in_bytes() or 0)


def lambda_settle_image(req: AwsRequest, name: str, uri: str, digest: str, size: int) -> None:
    """moto (MOTO_LAMBDA_STUB_ECR, its default) takes sha256(ImageUri) as the code hash; Lambda's is the
    image digest the tag resolved to. Fixes $LATEST and any version moto published with it."""
    stub = hashlib.sha256(uri.encode("utf-8")).hexdigest()
    entry = lambda_backend(ACCOUNT_ID, req.region)._lambdas._functions.get(name) or {}
    for fn in [entry.get("latest"), *(entry.get("versions") or [])]:
        if fn is not None and fn.code_sha_256 in (stub, digest):
            fn.code_sha_256 = digest
            fn.code_size = size
    lambda_unshare_code(req, name)


def lambda_decorate(shim: Shim, configuration: Any) -> None:
    """$LATEST's LastUpdateStatus during and after an image update (Lambda Developer Guide, "Lambda
    function states": State stays Active; while InProgress AWS reports LastUpdateStatusReason "The
    function is being created." with LastUpdateStatusReasonCode "Creating", as update-function-code
    answers show; Failed keeps its reason until the next update). Caller holds the lock."""
    if not isinstance(configuration, dict) or configuration.get("Version", "$LATEST") != "$LATEST":
        return
    update = shim.state.lambda_updates.get(":".join(str(configuration.get("FunctionArn", "")).split(":")[:7]))
    if update is None:
        return
    configuration["State"] = "Active"
    configuration["LastUpdateStatus"] = update.status
    configuration.pop("LastUpdateStatusReason", None)
    configuration.pop("LastUpdateStatusReasonCode", None)
    if update.reason:
        configuration["LastUpdateStatusReason"] = update.reason
    if update.reason_code:
        configuration["LastUpdateStatusReasonCode"] = update.reason_code


def lambda_advance(shim: Shim, fn: Any, arn: str) -> None:
    """One GetFunction / GetFunctionConfiguration poll of $LATEST: an image update stays InProgress for
    the configured number of polls, then is Successful, or Failed for an image marked bad: reason code
    InvalidImage (an enum value of LastUpdateStatusReasonCode in the Lambda API Reference) with the
    reason Lambda gives for an image it cannot run ("The image manifest or layer media type for the
    source image ... is not supported.", re:Post), and "Lambda aborts the update and the function's
    previous code and configuration remain available" ("Lambda function states"). Caller holds the lock."""
    update = shim.state.lambda_updates.get(arn)
    if update is None or update.status != "InProgress":
        return
    update.polls += 1
    if update.polls <= update.needed:
        return
    image = ecr_image_reference(fn.code.get("ImageUri"))
    resolved = (
        f"{image['registry']}.dkr.ecr.{image['region']}.amazonaws.com/{image['name']}@sha256:{fn.code_sha_256}"
        if image
        else str(fn.code.get("ImageUri"))
    )
    if image_marked_bad(shim.state, fn.code.get("ImageUri"), resolved):
        fn.code = dict(update.previous["code"])
        fn.code_sha_256 = update.previous["code_sha_256"]
        fn.code_size = update.previous["code_size"]
        update.status = "Failed"
        update.reason_code = "InvalidImage"
        update.reason = f"The image manifest or layer media type for the source image {resolved} is not supported."
    else:
        update.status = "Successful"
        update.reason = update.reason_code = None


def lambda_resolved_image(body: dict[str, Any]) -> None:
    """GetFunction's Code.ResolvedImageUri is the image pinned by digest (Lambda API Reference,
    FunctionCodeLocation); moto builds it by cutting the URI at its first `:` and appending sha256 of the
    URI. Rebuilt from the repository and the digest the function runs (its CodeSha256)."""
    code, configuration = body.get("Code"), body.get("Configuration")
    if not isinstance(code, dict) or not isinstance(configuration, dict):
        return
    image = ecr_image_reference(code.get("ImageUri"))
    if image and configuration.get("CodeSha256"):
        code["ResolvedImageUri"] = (
            f"{image['registry']}.dkr.ecr.{image['region']}.amazonaws.com/{image['name']}@sha256:{configuration['CodeSha256']}"
        )


def lambda_create_function(shim: Shim, req: AwsRequest) -> Response:
    """CreateFunction with PackageType Image: the image checks (lambda_image), then moto, then the code
    hash and size of the image."""
    code = req.params.get("Code")
    uri = code.get("ImageUri") if isinstance(code, dict) else None
    if req.params.get("PackageType") != "Image" or not isinstance(uri, str):
        return lambda_store_logging_config(shim, req)
    arn = ":".join(lambda_function_arn(str(req.params.get("FunctionName") or ""), None, ACCOUNT_ID, req.region).split(":")[:7])
    with shim.state.lock:
        digest, size = lambda_image(shim, req, uri, arn)
        response = lambda_store_logging_config(shim, req)
        body = json_body(response) if response.status < 300 else None
        if body is None:
            return response
        lambda_settle_image(req, arn.split(":")[6], uri, digest, size)
        shim.state.lambda_updates.pop(arn, None)
        body["CodeSha256"], body["CodeSize"] = digest, size
        return response.with_body(json.dumps(body).encode())


def lambda_update_function_code(shim: Shim, req: AwsRequest) -> Response:
    """UpdateFunctionCode: refused while an update is in progress; with an ImageUri, the image checks,
    then LastUpdateStatus InProgress until polls move it on (lambda_advance). DryRun changes nothing."""
    with shim.state.lock:
        fn, arn, name = lambda_entry(req)
        if fn is None:
            return shim.forward(req)  # moto: ResourceNotFoundException
        lambda_refuse_while_updating(shim, arn)
        uri = req.params.get("ImageUri")
        if not isinstance(uri, str) or fn.package_type != "Image":
            return shim.forward(req)
        digest, size = lambda_image(shim, req, uri, arn)
        lambda_unshare_code(req, name)
        previous = {"code": dict(fn.code), "code_sha_256": fn.code_sha_256, "code_size": fn.code_size}
        response = shim.forward(req)
        body = json_body(response) if response.status < 300 else None
        if body is None:
            return response
        if req.params.get("DryRun") is not True:
            lambda_settle_image(req, name, uri, digest, size)
            shim.state.lambda_updates[arn] = LambdaUpdate(needed=shim.state.lambda_update_polls, previous=previous)
        body["CodeSha256"], body["CodeSize"] = digest, size
        lambda_decorate(shim, body)
        return response.with_body(json.dumps(body).encode())


def lambda_update_function_configuration(shim: Shim, req: AwsRequest) -> Response:
    with shim.state.lock:
        fn, arn, _ = lambda_entry(req)
        if fn is not None:
            lambda_refuse_while_updating(shim, arn)
    return lambda_store_logging_config(shim, req)


def lambda_get_function(shim: Shim, req: AwsRequest) -> Response:
    """GetFunction / GetFunctionConfiguration: a poll of $LATEST's image update, its LastUpdateStatus,
    and (GetFunction) the digest-pinned ResolvedImageUri."""
    with shim.state.lock:
        if lambda_qualifier(req) in (None, "$LATEST"):
            fn, arn, _ = lambda_entry(req)
            if fn is not None:
                lambda_advance(shim, fn, arn)
        response = lambda_report_logging_config(shim, req)
        body = json_body(response) if response.status < 300 else None
        if body is None:
            return response
        lambda_decorate(shim, body.get("Configuration") if req.operation == "GetFunction" else body)
        if req.operation == "GetFunction":
            lambda_resolved_image(body)
        return response.with_body(json.dumps(body).encode())


def lambda_list_versions(shim: Shim, req: AwsRequest) -> Response:
    with shim.state.lock:
        response = shim.forward(req)
        body = json_body(response) if response.status < 300 else None
        if body is None:
            return response
        for configuration in body.get("Versions") or []:
            lambda_decorate(shim, configuration)
        return response.with_body(json.dumps(body).encode())


def lambda_fingerprint(fn: Any) -> str:
    """What PublishVersion compares: the code and the configuration a version freezes. The description is
    left out: PublishVersion's Description overrides it in the version."""
    return json.dumps(
        [
            fn.code_sha_256,
            fn.package_type,
            fn.handler,
            fn.run_time,
            fn.role,
            fn.memory_size,
            fn.timeout,
            fn.environment_vars,
            fn.layers,
            fn._vpc_config,
            fn.image_config.response(),
            fn.architectures,
            fn.ephemeral_storage,
            fn.tracing_config,
            fn.kms_key_arn,
        ],
        sort_keys=True,
        default=str,
    )


def lambda_publish_version(shim: Shim, req: AwsRequest) -> Response:
    """PublishVersion as Lambda does it (Lambda API Reference, PublishVersion): refused while an update is
    in progress; `CodeSha256` must match $LATEST's, else InvalidParameterValueException "CodeSHA256 (X) is
    different from current CodeSHA256 in $LATEST (Y). Please try again with the CodeSHA256 in $LATEST.";
    "Lambda doesn't publish a version if the function's configuration and code haven't changed since
    the last version": the last version answers (201) instead. moto decides that by whether any update
    call came in, so an update to the same image (or a failed one) published a new version."""
    with shim.state.lock:
        fn, arn, name = lambda_entry(req)
        if fn is None:
            return shim.forward(req)
        lambda_refuse_while_updating(shim, arn)
        wanted = req.params.get("CodeSha256")
        if wanted and wanted != fn.code_sha_256:
            raise AwsError(
                "InvalidParameterValueException",
                f"CodeSHA256 ({wanted}) is different from current CodeSHA256 in $LATEST ({fn.code_sha_256}). "
                "Please try again with the CodeSHA256 in $LATEST.",
            )
        versions = lambda_published(req, name)
        if versions and lambda_fingerprint(versions[-1]) == lambda_fingerprint(fn):
            return lambda_json(versions[-1].get_configuration(), 201)
        fn.code_or_config_updated = True
        response = shim.forward(req)
        if response.status < 300:
            lambda_unshare_code(req, name)
        return response


def lambda_alias(req: AwsRequest, fn: Any, name: Any) -> Any:
    if fn is None or not isinstance(name, str):
        return None
    return lambda_backend(ACCOUNT_ID, req.region)._lambdas._get_function_aliases(fn.function_name).get(name)


def lambda_create_alias(shim: Shim, req: AwsRequest) -> Response:
    """A taken alias name: AWS answers 409 ResourceConflictException (Lambda API Reference, CreateAlias
    errors); moto says ConflictException, a code the SDKs do not know."""
    with shim.state.lock:
        fn, arn, _ = lambda_entry(req)
        name = req.params.get("Name")
        if lambda_alias(req, fn, name) is not None:
            raise AwsError("ResourceConflictException", f"Alias already exists: {arn}:{name}", 409)
        return shim.forward(req)


def lambda_get_alias(shim: Shim, req: AwsRequest) -> Response:
    """moto answers GetAlias with 201; AWS with 200 (Lambda API Reference, GetAlias)."""
    response = shim.forward(req)
    if response.status == 201:
        return Response(200, response.headers, response.body, "OK")
    return response


def lambda_update_alias(shim: Shim, req: AwsRequest) -> Response:
    """UpdateAlias: a `RevisionId` that is not the alias's answers 412 PreconditionFailedException (Lambda
    API Reference, UpdateAlias: "Only update the alias if the revision ID matches the ID that's
    specified"); each update gives the alias a new RevisionId; 200, not moto's 201. moto ignores
    RevisionId and never changes it."""
    with shim.state.lock:
        fn, _, _ = lambda_entry(req)
        match = re.match(r"^/[0-9-]+/functions/[^/]+/aliases/([^/]+)/?$", req.path)
        alias = lambda_alias(req, fn, unquote(match.group(1)) if match else None)
        if alias is None:
            return shim.forward(req)  # moto: ResourceNotFoundException
        wanted = req.params.get("RevisionId")
        if wanted and wanted != alias.revision_id:
            raise AwsError(
                "PreconditionFailedException",
                "The Revision Id provided does not match the latest Revision Id. "
                "Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
                412,
            )
        response = shim.forward(req)
        if response.status >= 300:
            return response
        alias.revision_id = str(uuid.uuid4())
        return lambda_json(alias.to_json(), 200)


def lambda_invoke(shim: Shim, req: AwsRequest) -> Response:
    """Invoke of an image function whose image was built for another architecture than the function's
    `Architectures`: the update that set the image reported Successful, and every invoke fails as the
    runtime cannot exec the entrypoint: 200 with `X-Amz-Function-Error: Unhandled` and the error
    {"errorType": "Runtime.InvalidEntrypoint", "errorMessage": "RequestId: ID Error: fork/exec
    /lambda-entrypoint.sh: exec format error"} (aws/aws-lambda-base-images#26 and #34,
    aws-samples/amazon-textract-idp-cdk-constructs#4, aws-samples/bedrock-access-gateway#32;
    awslabs/swift-aws-lambda-runtime#541 for an image whose entrypoint is /var/task/bootstrap). An
    asynchronous invoke is accepted (202) and fails the same way out of sight."""
    with shim.state.lock:
        try:
            fn = lambda_backend(ACCOUNT_ID, req.region).get_function(lambda_reference(req) or "", lambda_qualifier(req))
        except Exception:  # unknown function or qualifier: moto answers the proper error
            fn = None
        if fn is None or fn.package_type != "Image":
            return shim.forward(req)
        runs_on = (fn.architectures or ["x86_64"])[0]
        digest = f"sha256:{fn.code_sha_256}"
        built_for = architecture_mismatch(shim.state, fn.code.get("ImageUri"), runs_on, digest)
        entrypoint = (image_platform(shim.state, None, digest) or {}).get("entrypoint", "/lambda-entrypoint.sh")
    if built_for is None:
        return shim.forward(req)
    invocation = req.header("X-Amz-Invocation-Type") or "RequestResponse"
    if invocation == "Event":
        return Response(202, [("x-amzn-RequestId", request_id()), ("Content-Length", "0")], b"")
    if invocation == "DryRun":
        return Response(204, [("x-amzn-RequestId", request_id()), ("Content-Length", "0")], b"")
    invocation_id = request_id()
    body = json.dumps(
        {
            "errorMessage": f"RequestId: {invocation_id} Error: fork/exec {entrypoint}: exec format error",
            "errorType": "Runtime.InvalidEntrypoint",
        }
    ).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("x-amzn-RequestId", invocation_id),
        ("X-Amz-Function-Error", "Unhandled"),
        ("X-Amz-Executed-Version", str(fn.version)),
        ("Content-Length", str(len(body))),
    ]
    return Response(200, headers, body)


def lambda_delete_function(shim: Shim, req: AwsRequest) -> Response:
    response = lambda_forget_logging_config(shim, req)
    if response.status < 300 and lambda_qualifier(req) is None:
        _, arn, _ = lambda_entry(req)
        with shim.state.lock:
            shim.state.lambda_updates.pop(arn, None)
    return response


# The operations this module answers, by (signing name, operation); front.py merges every service's table.
SERVED: dict[tuple[str, str], Handler] = {
    ("lambda", "PutFunctionEventInvokeConfig"): lambda_put_event_invoke_config,
    ("lambda", "CreateFunction"): lambda_create_function,
    ("lambda", "UpdateFunctionConfiguration"): lambda_update_function_configuration,
    ("lambda", "UpdateFunctionCode"): lambda_update_function_code,
    ("lambda", "GetFunction"): lambda_get_function,
    ("lambda", "GetFunctionConfiguration"): lambda_get_function,
    ("lambda", "DeleteFunction"): lambda_delete_function,
    ("lambda", "PublishVersion"): lambda_publish_version,
    ("lambda", "ListVersionsByFunction"): lambda_list_versions,
    ("lambda", "CreateAlias"): lambda_create_alias,
    ("lambda", "GetAlias"): lambda_get_alias,
    ("lambda", "UpdateAlias"): lambda_update_alias,
    ("lambda", "Invoke"): lambda_invoke,
}
