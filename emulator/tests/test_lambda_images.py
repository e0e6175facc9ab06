"""Lambda container-image functions through a real shim process: the image checks of CreateFunction and
UpdateFunctionCode (the image in the emulator's ECR, the repository policy letting Lambda pull, the
caller's ECR permissions), image updates InProgress for `update_polls` polls then Successful or Failed,
the refusals while an update runs, digest-pinned ResolvedImageUri, PublishVersion that publishes
nothing twice, aliases with RevisionId, and IAM enforcement of the deploy handler's calls."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shim_helpers import (
    ACCOUNT,
    ACCOUNT_ROOT,
    REGION,
    assumed_client,
    client,
    control,
    create_role,
    denied,
    policy,
    role_with_policy,
    trust_policy,
)

REPO = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app"
REPO_ARN = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/app"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:api"
HANDLER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/deploy-handler"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy-handler/job"
LAMBDA_PULL = {
    "Sid": "LambdaECRImageRetrievalPolicy",
    "Effect": "Allow",
    "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
}


def push(ecr: Any, tag: str) -> str:
    """An image pushed to the `app` repository; answers its digest (sha256:...)."""
    layer = "sha256:" + (tag.encode().hex() * 64)[:64]
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1469, "digest": layer},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1000, "digest": layer}],
    }
    image = ecr.put_image(repositoryName="app", imageManifest=json.dumps(manifest), imageTag=tag)["image"]
    return image["imageId"]["imageDigest"]


def setup(url: str, *, policy: bool = True) -> dict[str, str]:
    """The team's image repository (v1, v2, v3 pushed) and function `api` on v1 with alias `live` -> version 1."""
    ecr = client(url, "ecr")
    ecr.create_repository(repositoryName="app")
    digests = {tag: push(ecr, tag) for tag in ("v1", "v2", "v3")}
    if policy:
        ecr.set_repository_policy(repositoryName="app", policyText=json.dumps({"Version": "2012-10-17", "Statement": [LAMBDA_PULL]}))
    role = create_role(url, "api-fn", "lambda.amazonaws.com")
    if policy:
        client(url, "lambda").create_function(
            FunctionName="api", PackageType="Image", Code={"ImageUri": f"{REPO}:v1"}, Role=role, Publish=True
        )
        client(url, "lambda").create_alias(FunctionName="api", Name="live", FunctionVersion="1")
    return {**digests, "role": role}


def status(fn: Any, operation: str = "get_function") -> dict[str, Any]:
    answer = getattr(fn, operation)(FunctionName="api")
    return answer["Configuration"] if operation == "get_function" else answer


def settle(fn: Any) -> dict[str, Any]:
    for _ in range(10):
        configuration = status(fn)
        if configuration["LastUpdateStatus"] != "InProgress":
            return configuration
    raise AssertionError("the update never finished")


def test_an_image_function_runs_the_digest_its_tag_resolved_to(shim: str) -> None:
    images = setup(shim)
    got = client(shim, "lambda").get_function(FunctionName="api")
    assert got["Configuration"]["PackageType"] == "Image"
    assert got["Configuration"]["CodeSha256"] == images["v1"].split(":", 1)[1]
    assert got["Code"]["RepositoryType"] == "ECR"
    assert got["Code"]["ImageUri"] == f"{REPO}:v1"
    assert got["Code"]["ResolvedImageUri"] == f"{REPO}@{images['v1']}"
    by_digest = client(shim, "lambda").create_function(
        FunctionName="pinned", PackageType="Image", Code={"ImageUri": f"{REPO}@{images['v2']}"}, Role=images["role"]
    )
    assert by_digest["CodeSha256"] == images["v2"].split(":", 1)[1]
    assert client(shim, "lambda").get_function(FunctionName="pinned")["Code"]["ResolvedImageUri"] == f"{REPO}@{images['v2']}"


def test_an_image_update_is_in_progress_for_the_configured_polls_then_successful(shim: str) -> None:
    images = setup(shim)
    fn = client(shim, "lambda")
    answer = fn.update_function_code(FunctionName="api", ImageUri=f"{REPO}:v2")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert (answer["State"], answer["LastUpdateStatus"]) == ("Active", "InProgress")
    assert answer["LastUpdateStatusReason"] == "The function is being created."
    assert answer["LastUpdateStatusReasonCode"] == "Creating"
    assert answer["CodeSha256"] == images["v2"].split(":", 1)[1]
    assert status(fn)["LastUpdateStatus"] == "InProgress"
    assert status(fn, "get_function_configuration")["LastUpdateStatus"] == "InProgress"
    done = status(fn, "get_function_configuration")
    assert (done["State"], done["LastUpdateStatus"]) == ("Active", "Successful")
    assert "LastUpdateStatusReason" not in done and "LastUpdateStatusReasonCode" not in done
    assert fn.get_function(FunctionName="api")["Code"]["ResolvedImageUri"] == f"{REPO}@{images['v2']}"
    # a published version is frozen: version 1 still runs v1
    version = fn.get_function(FunctionName="api", Qualifier="1")
    assert version["Code"]["ImageUri"] == f"{REPO}:v1"
    assert version["Code"]["ResolvedImageUri"] == f"{REPO}@{images['v1']}"
    # polls of a version do not move an update on
    control(shim, "POST", "/_shim/lambda", {"update_polls": 1})
    fn.update_function_code(FunctionName="api", ImageUri=f"{REPO}:v3")
    for _ in range(3):
        assert fn.get_function_configuration(FunctionName="api", Qualifier="1")["LastUpdateStatus"] == "Successful"
    assert status(fn)["LastUpdateStatus"] == "InProgress"
    assert status(fn)["LastUpdateStatus"] == "Successful"


def test_updates_and_publishing_are_refused_while_an_update_is_in_progress(shim: str) -> None:
    setup(shim)
    fn = client(shim, "lambda")
    fn.update_function_code(FunctionName="api", ImageUri=f"{REPO}:v2")
    message = f"The operation cannot be performed at this time. An update is in progress for resource: {FUNCTION_ARN}"
    for call in (
        lambda: fn.update_function_code(FunctionName="api", ImageUri=f"{REPO}:v3"),
        lambda: fn.update_function_configuration(FunctionName="api", Timeout=10),
        lambda: fn.publish_version(FunctionName="api"),
        lambda: fn.publish_version(FunctionName=FUNCTION_ARN),
    ):
        error = denied(call)
        assert error.response["Error"] == {"Code": "ResourceConflictException", "Message": message}
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert fn.get_function(FunctionName="api")["Configuration"]["CodeSha256"]  # reads go on
    settle(fn)
    assert fn.update_function_configuration(FunctionName="api", Timeout=10)["Timeout"] == 10


def test_a_bad_image_fails_the_update_and_the_previous_code_stays(shim: str) -> None:
    images = setup(shim)
    fn = client(shim, "lambda")
    control(shim, "POST", "/_shim/lambda/bad-images", {"images": [images["v2"]]})
    fn.update_function_code(FunctionName="api", ImageUri=f"{REPO}:v2")
    failed = settle(fn)
    assert (failed["State"], failed["LastUpdateStatus"]) == ("Active", "Failed")
    assert failed["LastUpdateStatusReasonCode"] == "InvalidImage"
    assert failed["LastUpdateStatusReason"] == (
        f"The image manifest or layer media type for the source image {REPO}@{images['v2']} is not supported."
    )
    got = fn.get_function(FunctionName="api")
    assert got["Code"]["ImageUri"] == f"{REPO}:v1"
    assert got["Code"]["ResolvedImageUri"] == f"{REPO}@{images['v1']}"
    assert status(fn)["LastUpdateStatus"] == "Failed"  # until the next update
    # nothing changed since version 1: publishing answers it again
    assert fn.publish_version(FunctionName="api")["Version"] == "1"
    fn.update_function_code(FunctionName="api", ImageUri=f"{REPO}:v3")
    assert settle(fn)["LastUpdateStatus"] == "Successful"


def test_publish_version_publishes_nothing_twice(shim: str) -> None:
    images = setup(shim)
    fn = client(shim, "lambda")
    again = fn.publish_version(FunctionName="api", Description="image v1")
    assert (again["Version"], again["ResponseMetadata"]["HTTPStatusCode"]) == ("1", 201)
    fn.update_function_code(FunctionName="api", ImageUri=f"{REPO}:v2")
    settle(fn)
    v2 = images["v2"].split(":", 1)[1]
    stale = denied(lambda: fn.publish_version(FunctionName="api", CodeSha256=images["v1"].split(":", 1)[1]))
    assert stale.response["Error"]["Code"] == "InvalidParameterValueException"
    assert stale.response["Error"]["Message"] == (
        f"CodeSHA256 ({images['v1'].split(':', 1)[1]}) is different from current CodeSHA256 in $LATEST ({v2}). "
        "Please try again with the CodeSHA256 in $LATEST."
    )
    published = fn.publish_version(FunctionName="api", CodeSha256=v2, Description="image v2")
    assert (published["Version"], published["CodeSha256"], published["Description"]) == ("2", v2, "image v2")
    assert fn.publish_version(FunctionName="api", CodeSha256=v2)["Version"] == "2"
    # the same image again is no change either
    fn.update_function_code(FunctionName="api", ImageUri=f"{REPO}@{images['v2']}")
    settle(fn)
    assert fn.publish_version(FunctionName="api")["Version"] == "2"
    fn.update_function_configuration(FunctionName="api", MemorySize=512)
    assert fn.publish_version(FunctionName="api")["Version"] == "3"
    listed = fn.list_versions_by_function(FunctionName="api")["Versions"]
    assert [v["Version"] for v in listed] == ["$LATEST", "1", "2", "3"]
    assert [v["CodeSha256"] for v in listed[1:]] == [images["v1"].split(":", 1)[1], v2, v2]
    one = fn.get_function_configuration(FunctionName="api", Qualifier="1")
    assert (one["Version"], one["FunctionArn"]) == ("1", f"{FUNCTION_ARN}:1")


def test_aliases_move_with_revision_ids(shim: str) -> None:
    setup(shim)
    fn = client(shim, "lambda")
    live = fn.get_alias(FunctionName="api", Name="live")
    assert (live["FunctionVersion"], live["ResponseMetadata"]["HTTPStatusCode"]) == ("1", 200)
    taken = denied(lambda: fn.create_alias(FunctionName="api", Name="live", FunctionVersion="1"))
    assert taken.response["Error"] == {"Code": "ResourceConflictException", "Message": f"Alias already exists: {FUNCTION_ARN}:live"}
    assert taken.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    fn.update_function_code(FunctionName="api", ImageUri=f"{REPO}:v2")
    settle(fn)
    version = fn.publish_version(FunctionName="api")["Version"]
    moved = fn.update_alias(FunctionName="api", Name="live", FunctionVersion=version, RevisionId=live["RevisionId"])
    assert (moved["FunctionVersion"], moved["ResponseMetadata"]["HTTPStatusCode"]) == ("2", 200)
    assert moved["RevisionId"] != live["RevisionId"]
    assert fn.get_alias(FunctionName="api", Name="live")["RevisionId"] == moved["RevisionId"]
    stale = denied(lambda: fn.update_alias(FunctionName="api", Name="live", FunctionVersion="1", RevisionId=live["RevisionId"]))
    assert stale.response["Error"]["Code"] == "PreconditionFailedException"
    assert stale.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert fn.get_alias(FunctionName="api", Name="live")["FunctionVersion"] == "2"
    assert fn.get_function_configuration(FunctionName="api", Qualifier="live")["Version"] == "2"
    missing = denied(lambda: fn.update_alias(FunctionName="api", Name="nope", FunctionVersion="1"))
    assert missing.response["Error"]["Code"] == "ResourceNotFoundException"


def test_images_lambda_cannot_take_are_refused(shim: str) -> None:
    images = setup(shim)
    fn = client(shim, "lambda")
    for uri in (f"{REPO}:v9", f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/other:v1", f"{REPO}", "app:v1",
                f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/app:v1"):
        error = denied(lambda: fn.update_function_code(FunctionName="api", ImageUri=uri))
        assert error.response["Error"] == {
            "Code": "InvalidParameterValueException",
            "Message": f"Source image {uri} is not valid. Provide a valid source image.",
        }, uri
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert status(fn)["LastUpdateStatus"] == "Successful"  # nothing started
    create = denied(
        lambda: fn.create_function(FunctionName="x", PackageType="Image", Code={"ImageUri": f"{REPO}:nope"}, Role=images["role"])
    )
    assert create.response["Error"]["Code"] == "InvalidParameterValueException"


# --------------------------------------------------------------------------
# The repository policy and IAM
# --------------------------------------------------------------------------


def handler_session(url: str, statements: list[dict[str, Any]], service: str = "lambda") -> Any:
    """A `service` client signed as the deploy handler: role deploy-handler (assumable by the account; kept
    if a call before made it) with the statements as its inline policy `deploy`, assumed as session `job`."""
    role_with_policy(url, "deploy-handler", trust_policy(ACCOUNT_ROOT), "deploy", policy(*statements), exist_ok=True)
    return assumed_client(url, service, HANDLER_ROLE, "job")


HANDLER_STATEMENTS = [
    {
        "Sid": "Function",
        "Effect": "Allow",
        "Action": ["lambda:GetFunction", "lambda:UpdateFunctionCode", "lambda:PublishVersion", "lambda:GetAlias", "lambda:UpdateAlias"],
        "Resource": FUNCTION_ARN,
    },
    {"Sid": "Pull", "Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "Resource": REPO_ARN},
]


def test_the_handlers_calls_under_a_least_privilege_role(shim: str) -> None:
    images = setup(shim)
    fn = handler_session(shim, HANDLER_STATEMENTS)
    assert fn.get_alias(FunctionName="api", Name="live")["FunctionVersion"] == "1"
    fn.update_function_code(FunctionName="api", ImageUri=f"{REPO}@{images['v2']}")
    for _ in range(3):
        current = fn.get_function(FunctionName="api")
    assert current["Configuration"]["LastUpdateStatus"] == "Successful"
    version = fn.publish_version(FunctionName="api", CodeSha256=current["Configuration"]["CodeSha256"])["Version"]
    assert fn.update_alias(FunctionName="api", Name="live", FunctionVersion=version)["FunctionVersion"] == "2"
    assert control(shim, "GET", "/_shim/iam/denials") == []
    grants = {(g["action"], g["resource"]) for g in control(shim, "GET", "/_shim/iam/grants")}
    assert ("lambda:UpdateAlias", FUNCTION_ARN) in grants and ("lambda:GetAlias", FUNCTION_ARN) in grants
    assert ("ecr:BatchGetImage", REPO_ARN) in grants and ("ecr:GetDownloadUrlForLayer", REPO_ARN) in grants

    # without the ECR pull permissions the caller cannot hand Lambda the image
    no_pull = handler_session(shim, HANDLER_STATEMENTS[:1])
    error = denied(lambda: no_pull.update_function_code(FunctionName="api", ImageUri=f"{REPO}:v3"))
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error.response["Error"]["Message"] == (
        f"User: {SESSION} is not authorized to perform: ecr:BatchGetImage on resource: {REPO_ARN} "
        "because no identity-based policy allows the ecr:BatchGetImage action"
    )
    # alias calls are authorized on the function, so an alias ARN alone grants nothing
    alias_only = handler_session(
        shim, [{"Effect": "Allow", "Action": "lambda:GetAlias", "Resource": f"{FUNCTION_ARN}:live"}]
    )
    refused = denied(lambda: alias_only.get_alias(FunctionName="api", Name="live"))
    assert f"lambda:GetAlias on resource: {FUNCTION_ARN} because" in refused.response["Error"]["Message"]


def test_a_repository_policy_without_lambda_is_refused_unless_the_caller_may_set_it(shim: str) -> None:
    images = setup(shim, policy=False)
    role = images["role"]
    caller = handler_session(
        shim,
        [
            {"Effect": "Allow", "Action": ["lambda:CreateFunction", "lambda:GetFunction"], "Resource": FUNCTION_ARN},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role},
            {"Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "Resource": REPO_ARN},
        ],
    )
    error = denied(lambda: caller.create_function(FunctionName="api", PackageType="Image", Code={"ImageUri": f"{REPO}:v1"}, Role=role))
    assert error.response["Error"] == {
        "Code": "AccessDeniedException",
        "Message": "Lambda does not have permission to access the ECR image. Check the ECR permissions.",
    }
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    ecr = client(shim, "ecr")
    with pytest.raises(ClientError):
        ecr.get_repository_policy(repositoryName="app")  # nothing was added
    # a policy for someone else is not enough either
    other = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "ecr:BatchGetImage"}
    ecr.set_repository_policy(repositoryName="app", policyText=json.dumps({"Version": "2012-10-17", "Statement": [other]}))
    denied(lambda: caller.create_function(FunctionName="api", PackageType="Image", Code={"ImageUri": f"{REPO}:v1"}, Role=role))

    # a caller that may get and set the repository policy: Lambda adds its statement and goes on
    client(shim, "iam").put_role_policy(
        RoleName="deploy-handler",
        PolicyName="repository-policy",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ecr:GetRepositoryPolicy", "ecr:SetRepositoryPolicy"], "Resource": REPO_ARN}]}
        ),
    )
    created = caller.create_function(FunctionName="api", PackageType="Image", Code={"ImageUri": f"{REPO}:v1"}, Role=role)
    assert created["CodeSha256"] == images["v1"].split(":", 1)[1]
    statements = json.loads(ecr.get_repository_policy(repositoryName="app")["policyText"])["Statement"]
    assert statements == [other, LAMBDA_PULL]

    # the fixed test keys stand for an administrator: Lambda adds the statement for them too
    ecr.delete_repository_policy(repositoryName="app")
    client(shim, "lambda").update_function_code(FunctionName="api", ImageUri=f"{REPO}:v2")
    assert json.loads(ecr.get_repository_policy(repositoryName="app")["policyText"])["Statement"] == [LAMBDA_PULL]


def lambda_pull_when(condition: dict[str, Any]) -> dict[str, Any]:
    return {**LAMBDA_PULL, "Condition": condition}


def test_lambda_pulls_with_a_qualified_source_arn_too(shim: str) -> None:
    """A condition matching only the unqualified function ARN refuses Lambda's pull; the guide's shape
    (`function:*`) and one scoped to the function with its qualified forms admit it."""
    images = setup(shim, policy=False)
    role = images["role"]
    ecr = client(shim, "ecr")
    caller = handler_session(
        shim,
        [
            {"Effect": "Allow", "Action": ["lambda:CreateFunction", "lambda:DeleteFunction"], "Resource": FUNCTION_ARN},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role},
            {"Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "Resource": REPO_ARN},
        ],
    )
    exact = lambda_pull_when({"StringLike": {"aws:sourceArn": FUNCTION_ARN}})
    ecr.set_repository_policy(repositoryName="app", policyText=json.dumps({"Version": "2012-10-17", "Statement": [exact]}))
    error = denied(lambda: caller.create_function(FunctionName="api", PackageType="Image", Code={"ImageUri": f"{REPO}:v1"}, Role=role))
    assert error.response["Error"]["Message"] == "Lambda does not have permission to access the ECR image. Check the ECR permissions."
    documented = lambda_pull_when({"StringLike": {"aws:sourceARN": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:*"}})
    scoped = lambda_pull_when({"StringLike": {"aws:sourceArn": [FUNCTION_ARN, f"{FUNCTION_ARN}:*"]}})
    elsewhere = lambda_pull_when({"StringLike": {"aws:sourceArn": [f"{FUNCTION_ARN}-other", f"{FUNCTION_ARN}-other:*"]}})
    for statement, admitted in ((documented, True), (scoped, True), (elsewhere, False)):
        ecr.set_repository_policy(repositoryName="app", policyText=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
        create = lambda: caller.create_function(FunctionName="api", PackageType="Image", Code={"ImageUri": f"{REPO}:v1"}, Role=role)
        if admitted:
            assert create()["CodeSha256"] == images["v1"].split(":", 1)[1]
            caller.delete_function(FunctionName="api")
        else:
            assert denied(create).response["Error"]["Code"] == "AccessDeniedException"
        # the caller may not set the policy, so Lambda added nothing
        assert json.loads(ecr.get_repository_policy(repositoryName="app")["policyText"])["Statement"] == [statement]


def push_index(ecr: Any, tag: str, platform_digest: str) -> str:
    """An image index (what `docker buildx` pushes with provenance) naming one platform image; its digest."""
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "size": 1000,
                "digest": platform_digest,
                "platform": {"architecture": "amd64", "os": "linux"},
            }
        ],
    }
    image = ecr.put_image(
        repositoryName="app",
        imageManifest=json.dumps(index),
        imageManifestMediaType="application/vnd.oci.image.index.v1+json",
        imageTag=tag,
    )["image"]
    return image["imageId"]["imageDigest"]


def test_an_image_index_is_refused_at_once_and_the_function_keeps_its_image(shim: str) -> None:
    images = setup(shim)
    fn = client(shim, "lambda")
    index_digest = push_index(client(shim, "ecr"), "multi", images["v2"])
    for uri in (f"{REPO}:multi", f"{REPO}@{index_digest}"):
        error = denied(lambda: fn.update_function_code(FunctionName="api", ImageUri=uri))
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error.response["Error"] == {
            "Code": "InvalidParameterValueException",
            "Message": f"The image manifest, config or layer media type for the source image {uri} is not supported.",
        }
    configuration = status(fn)
    assert configuration["LastUpdateStatus"] == "Successful"
    assert configuration["CodeSha256"] == images["v1"].split(":", 1)[1]
    refused = denied(
        lambda: fn.create_function(FunctionName="multi", PackageType="Image", Code={"ImageUri": f"{REPO}:multi"}, Role=images["role"])
    )
    assert refused.response["Error"]["Code"] == "InvalidParameterValueException"
    # the platform image itself is a single-platform manifest Lambda runs
    fn.update_function_code(FunctionName="api", ImageUri=f"{REPO}@{images['v2']}")
    assert settle(fn)["LastUpdateStatus"] == "Successful"
