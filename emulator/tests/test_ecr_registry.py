"""ECR's registry through a real shim process: the Docker Registry HTTP API v2 the shim serves under /v2/ in
front of a docker-registry child (README "ECR's registry"). Tokens from GetAuthorizationToken, IAM per
registry call, ECR's repositories and tag immutability checked before the registry moves, and the ECR API
answering about the images pushed (a scan on push, as a StartImageScan, IN_PROGRESS for `/_shim/ecr/scan-polls`
DescribeImageScanFindings polls, then COMPLETE); plus moto's image digest and size as ECR computes them, and PutImage through
the API moving a tag as a push does (the image the tag leaves stays, untagged).

The protocol is driven with plain HTTP; one smoke test pushes with podman. Without docker-registry the
registry tests skip, and fail when the CI environment variable is set."""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import urllib.error
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from shim_helpers import (
    ACCOUNT,
    ACCOUNT_ROOT,
    REGION,
    client,
    control,
    denied,
    policy,
    role_with_policy,
    session_client,
    start_shim,
    stop_shim,
    trust_policy,
)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
REALM = f'Basic realm="https://{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/",service="ecr.amazonaws.com"'
PUSH_ACTIONS = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
]


def repo_arn(name: str) -> str:
    return f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}"


def require_registry(status: dict[str, Any]) -> dict[str, Any]:
    """The registry status of a shim that runs one; without, the test skips (fails when CI is set)."""
    if not status["running"]:
        message = f"the emulator serves no registry: {status['reason']}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return status


@pytest.fixture
def registry(shim: str) -> dict[str, Any]:
    """The shim's registry status; the test skips without a registry (fails under CI)."""
    return require_registry(control(shim, "GET", "/_shim/registry"))


def basic(ecr: Any) -> dict[str, str]:
    """The Authorization header `docker login` would send with a fresh GetAuthorizationToken answer."""
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return {"Authorization": f"Basic {token}"}


def upload(url: str, auth: dict[str, str], repository: str, data: bytes) -> str:
    """A blob uploaded as docker does it (POST, PATCH, PUT ?digest=); answers its digest."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    started = requests.post(f"{url}/v2/{repository}/blobs/uploads/", headers=auth)
    assert started.status_code == 202, started.text
    sent = requests.patch(
        urljoin(url, started.headers["Location"]), data=data, headers={**auth, "Content-Type": "application/octet-stream"}
    )
    assert sent.status_code == 202, sent.text
    location = urljoin(url, sent.headers["Location"])
    done = requests.put(f"{location}{'&' if '?' in location else '?'}digest={digest}", headers=auth)
    assert done.status_code == 201, done.text
    assert done.headers["Docker-Content-Digest"] == digest
    return digest


def image(url: str, auth: dict[str, str], repository: str, content: bytes) -> tuple[bytes, int]:
    """An OCI manifest whose config and one layer are uploaded; answers its bytes and the layer's size."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layer = content * 100
    manifest = oci_manifest(
        {"digest": upload(url, auth, repository, config), "size": len(config)},
        {"digest": upload(url, auth, repository, layer), "size": len(layer)},
    )
    return json.dumps(manifest, indent=3).encode(), len(layer)


def oci_manifest(config: dict[str, Any], *layers: dict[str, Any]) -> dict[str, Any]:
    """An OCI image manifest of the config and layers (`digest` and `size` each)."""
    return {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer} for layer in layers],
    }


def put_manifest(url: str, auth: dict[str, str], repository: str, reference: str, manifest: bytes) -> requests.Response:
    headers = {**auth, "Content-Type": OCI_MANIFEST}
    return requests.put(f"{url}/v2/{repository}/manifests/{reference}", data=manifest, headers=headers)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def errors(response: requests.Response) -> list[tuple[str, str]]:
    return [(error["code"], error["message"]) for error in response.json()["errors"]]


def test_status_names_the_shim_as_endpoint_and_the_registry_behind_it(shim: str, registry: dict[str, Any]) -> None:
    assert registry["endpoint"] == urlsplit(shim).netloc and registry["reason"] is None
    assert requests.get(f"http://{registry['backend']}/v2/").status_code == 200  # the raw docker-registry, no auth
    assert registry["token_seconds"] == 43200


def test_calls_without_a_known_token_are_refused_as_ecr_refuses_them(shim: str, registry: dict[str, Any]) -> None:
    for headers in ({}, {"Authorization": "Bearer abc"}, {"Authorization": "Basic !!not-base64"}):
        answer = requests.get(f"{shim}/v2/", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == REALM
        assert answer.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
        assert answer.text == "Not Authorized\n"
    forged = base64.b64encode(b"AWS:not-a-token").decode()
    answer = requests.get(f"{shim}/v2/app/tags/list", headers={"Authorization": f"Basic {forged}"})
    assert answer.status_code == 400 and errors(answer) == [("DENIED", "Your Authorization Token is invalid.")]


def test_login_answers_the_version_check(shim: str, registry: dict[str, Any]) -> None:
    before = time.time()
    [data] = client(shim, "ecr").get_authorization_token()["authorizationData"]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert user == "AWS" and password
    assert data["proxyEndpoint"] == f"https://{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
    assert abs(data["expiresAt"].timestamp() - (before + 12 * 3600)) < 60
    answer = requests.get(f"{shim}/v2/", auth=("AWS", password))
    assert (answer.status_code, answer.json()) == (200, {})
    wrong_user = requests.get(f"{shim}/v2/", auth=("admin", password))
    assert wrong_user.status_code == 400


def test_an_expired_token_is_denied(shim: str, registry: dict[str, Any]) -> None:
    control(shim, "POST", "/_shim/registry", {"token_seconds": 0})
    answer = requests.get(f"{shim}/v2/", headers=basic(client(shim, "ecr")))
    assert answer.status_code == 403
    assert errors(answer) == [("DENIED", "Your authorization token has expired. Reauthenticate and try again.")]


def test_a_push_is_what_ecr_answers_about(shim: str, registry: dict[str, Any]) -> None:
    ecr = client(shim, "ecr")
    ecr.create_repository(repositoryName="team/api")
    auth = basic(ecr)
    manifest, layer_size = image(shim, auth, "team/api", b"layer")
    pushed = put_manifest(shim, auth, "team/api", "v1", manifest)
    assert pushed.status_code == 201, pushed.text
    digest = pushed.headers["Docker-Content-Digest"]
    assert digest == sha256(manifest)

    [detail] = ecr.describe_images(repositoryName="team/api")["imageDetails"]
    assert (detail["imageTags"], detail["imageDigest"]) == (["v1"], digest)
    assert detail["imageSizeInBytes"] == layer_size  # the layers' size, not the config's
    assert detail["imageManifestMediaType"] == OCI_MANIFEST
    [got] = ecr.batch_get_image(repositoryName="team/api", imageIds=[{"imageTag": "v1"}])["images"]
    assert got["imageManifest"] == manifest.decode() and got["imageId"]["imageDigest"] == digest
    assert ecr.list_images(repositoryName="team/api")["imageIds"] == [{"imageDigest": digest, "imageTag": "v1"}]

    pulled = requests.get(f"{shim}/v2/team/api/manifests/v1", headers={**auth, "Accept": OCI_MANIFEST})
    assert (pulled.status_code, pulled.content, pulled.headers["Docker-Content-Digest"]) == (200, manifest, digest)
    head = requests.head(f"{shim}/v2/team/api/manifests/{digest}", headers=auth)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(manifest))
    layer = json.loads(manifest)["layers"][0]["digest"]
    assert requests.get(f"{shim}/v2/team/api/blobs/{layer}", headers=auth).content == b"layer" * 100
    assert requests.head(f"{shim}/v2/team/api/blobs/{layer}", headers=auth).status_code == 200
    assert requests.get(f"{shim}/v2/team/api/tags/list", headers=auth).json() == {"name": "team/api", "tags": ["v1"]}

    registry_calls = [(c["operation"], c["status"]) for c in control(shim, "GET", "/_shim/calls") if c.get("registry")]
    assert registry_calls[:6] == [
        ("InitiateLayerUpload", 202),
        ("UploadLayerPart", 202),
        ("CompleteLayerUpload", 201),
        ("InitiateLayerUpload", 202),
        ("UploadLayerPart", 202),
        ("CompleteLayerUpload", 201),
    ]
    assert ("PutImage", 201) in registry_calls and ("GetDownloadUrlForLayer", 200) in registry_calls
    assert ("BatchCheckLayerAvailability", 200) in registry_calls and ("ListImages", 200) in registry_calls


def push(url: str, ecr: Any, repository: str, tag: str, content: bytes = b"layer") -> str:
    """Push an image of one layer under `tag` through the registry; answers its digest."""
    auth = basic(ecr)
    manifest, _ = image(url, auth, repository, content)
    pushed = put_manifest(url, auth, repository, tag, manifest)
    assert pushed.status_code == 201, pushed.text
    return pushed.headers["Docker-Content-Digest"]


def scan_findings(ecr: Any, repository: str, **image_id: str) -> dict[str, Any]:
    """One DescribeImageScanFindings poll (imageTag= or imageDigest=), without its ResponseMetadata."""
    answer = ecr.describe_image_scan_findings(repositoryName=repository, imageId=image_id)
    answer.pop("ResponseMetadata")
    return answer


def image_detail(ecr: Any, repository: str, digest: str) -> dict[str, Any]:
    [detail] = ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])["imageDetails"]
    return detail


def scan_polls(url: str) -> list[int]:
    """The statuses of the DescribeImageScanFindings calls in the call log, in order."""
    return [c["status"] for c in control(url, "GET", "/_shim/calls") if c["operation"] == "DescribeImageScanFindings"]


def test_a_scan_on_push_is_in_progress_for_one_poll_then_complete(shim: str, registry: dict[str, Any]) -> None:
    ecr = client(shim, "ecr")
    ecr.create_repository(repositoryName="scanned", imageScanningConfiguration={"scanOnPush": True})
    ecr.create_repository(repositoryName="unscanned")
    pushed_at = time.time()
    digest = push(shim, ecr, "scanned", "v1")
    unscanned = push(shim, ecr, "unscanned", "v1")

    # DescribeImages shows the scan running and is no poll: it moves nothing on.
    for _ in range(3):
        detail = image_detail(ecr, "scanned", digest)
        assert detail["imageScanStatus"] == {"status": "IN_PROGRESS"}
        assert "imageScanFindingsSummary" not in detail
    first = scan_findings(ecr, "scanned", imageTag="v1")
    assert first == {
        "registryId": ACCOUNT,
        "repositoryName": "scanned",
        "imageId": {"imageDigest": digest, "imageTag": "v1"},
        "imageScanStatus": {"status": "IN_PROGRESS"},
    }
    assert image_detail(ecr, "scanned", digest)["imageScanStatus"] == {"status": "IN_PROGRESS"}

    second = scan_findings(ecr, "scanned", imageDigest=digest)  # the same image, however it is named
    assert second["imageScanStatus"] == {"status": "COMPLETE", "description": "The scan was completed successfully."}
    findings = second["imageScanFindings"]
    assert findings["findings"] and findings["findingSeverityCounts"]
    assert findings["imageScanCompletedAt"].timestamp() >= pushed_at - 1
    detail = image_detail(ecr, "scanned", digest)
    assert detail["imageScanStatus"] == second["imageScanStatus"]
    summary = detail["imageScanFindingsSummary"]
    assert summary["findingSeverityCounts"] == findings["findingSeverityCounts"]
    assert summary["imageScanCompletedAt"] == findings["imageScanCompletedAt"]
    assert scan_findings(ecr, "scanned", imageTag="v1")["imageScanStatus"]["status"] == "COMPLETE"  # and stays so

    # A repository without scanOnPush scans nothing.
    with pytest.raises(ecr.exceptions.ScanNotFoundException):
        ecr.describe_image_scan_findings(repositoryName="unscanned", imageId={"imageTag": "v1"})
    plain = image_detail(ecr, "unscanned", unscanned)
    assert "imageScanStatus" not in plain and "imageScanFindingsSummary" not in plain


def test_scan_polls_set_how_long_a_scan_runs(shim: str, registry: dict[str, Any]) -> None:
    ecr = client(shim, "ecr")
    ecr.create_repository(repositoryName="scanned", imageScanningConfiguration={"scanOnPush": True})
    assert control(shim, "GET", "/_shim/ecr/scan-polls") == {"polls": 1}

    assert control(shim, "POST", "/_shim/ecr/scan-polls", {"polls": 0}) == {"polls": 0}
    at_once = push(shim, ecr, "scanned", "now", b"at once")
    assert image_detail(ecr, "scanned", at_once)["imageScanStatus"]["status"] == "COMPLETE"
    complete = scan_findings(ecr, "scanned", imageTag="now")
    assert complete["imageScanStatus"]["status"] == "COMPLETE" and complete["imageScanFindings"]["findings"]

    control(shim, "POST", "/_shim/ecr/scan-polls", {"polls": 3})
    slow = push(shim, ecr, "scanned", "slow", b"slow")
    control(shim, "POST", "/_shim/ecr/scan-polls", {"polls": 0})  # a running scan keeps the polls it started with
    for _ in range(3):
        answer = scan_findings(ecr, "scanned", imageTag="slow")
        assert answer["imageScanStatus"] == {"status": "IN_PROGRESS"} and "imageScanFindings" not in answer
        assert image_detail(ecr, "scanned", slow)["imageScanStatus"] == {"status": "IN_PROGRESS"}
    assert scan_findings(ecr, "scanned", imageTag="slow")["imageScanStatus"]["status"] == "COMPLETE"
    assert image_detail(ecr, "scanned", slow)["imageScanStatus"]["status"] == "COMPLETE"


def test_the_scan_polls_route_is_validated_listed_and_reset(shim: str) -> None:
    for payload in ({"polls": -1}, {"polls": True}, {"polls": "2"}, {"polls": 1.5}, {"rollout_polls": 1}, {}, [1]):
        with pytest.raises(urllib.error.HTTPError) as bad:
            control(shim, "POST", "/_shim/ecr/scan-polls", payload)
        assert bad.value.code == 400, payload
    with pytest.raises(urllib.error.HTTPError) as unknown:
        control(shim, "GET", "/_shim/nothing")
    assert "GET|POST /_shim/ecr/scan-polls" in json.loads(unknown.value.read())["endpoints"]
    control(shim, "POST", "/_shim/ecr/scan-polls", {"polls": 4})
    control(shim, "POST", "/_shim/reset")
    assert control(shim, "GET", "/_shim/ecr/scan-polls") == {"polls": 1}


def test_the_image_scan_complete_waiter_waits_for_the_scan(shim: str, registry: dict[str, Any]) -> None:
    ecr = client(shim, "ecr")
    ecr.create_repository(repositoryName="scanned", imageScanningConfiguration={"scanOnPush": True})
    control(shim, "POST", "/_shim/ecr/scan-polls", {"polls": 2})
    push(shim, ecr, "scanned", "v1")
    control(shim, "DELETE", "/_shim/calls")
    waiter = ecr.get_waiter("image_scan_complete")
    waiter.wait(repositoryName="scanned", imageId={"imageTag": "v1"}, WaiterConfig={"Delay": 0, "MaxAttempts": 5})
    assert scan_polls(shim) == [200, 200, 200]  # two IN_PROGRESS, then COMPLETE


def test_start_image_scan_runs_like_a_scan_on_push(shim: str) -> None:
    ecr = client(shim, "ecr")
    ecr.create_repository(repositoryName="app")
    ecr.put_image(repositoryName="app", imageManifest=api_manifest(1), imageTag="v1")
    with pytest.raises(ecr.exceptions.ScanNotFoundException):
        ecr.describe_image_scan_findings(repositoryName="app", imageId={"imageTag": "v1"})
    started = ecr.start_image_scan(repositoryName="app", imageId={"imageTag": "v1"})
    assert started["imageScanStatus"]["status"] == "IN_PROGRESS"
    assert scan_findings(ecr, "app", imageTag="v1")["imageScanStatus"] == {"status": "IN_PROGRESS"}
    assert scan_findings(ecr, "app", imageTag="v1")["imageScanStatus"]["status"] == "COMPLETE"
    # Once per 24 hours an image (moto's LimitExceededException; ECR API Reference, StartImageScan).
    with pytest.raises(ecr.exceptions.LimitExceededException):
        ecr.start_image_scan(repositoryName="app", imageId={"imageTag": "v1"})


def test_a_moved_tag_leaves_the_old_image_untagged(shim: str, registry: dict[str, Any]) -> None:
    ecr = client(shim, "ecr")
    ecr.create_repository(repositoryName="app")
    auth = basic(ecr)
    first, _ = image(shim, auth, "app", b"one")
    second, _ = image(shim, auth, "app", b"two")
    assert put_manifest(shim, auth, "app", "latest", first).status_code == 201
    assert put_manifest(shim, auth, "app", "latest", second).status_code == 201
    tags = {d["imageDigest"]: d.get("imageTags") for d in ecr.describe_images(repositoryName="app")["imageDetails"]}
    assert tags == {sha256(first): None, sha256(second): ["latest"]}
    assert put_manifest(shim, auth, "app", sha256(first), first).status_code == 201  # by digest: nothing moves
    assert requests.get(f"{shim}/v2/app/manifests/latest", headers=auth).content == second


def test_an_immutable_tag_never_moves_in_the_registry(shim: str, registry: dict[str, Any]) -> None:
    ecr = client(shim, "ecr")
    ecr.create_repository(repositoryName="app", imageTagMutability="IMMUTABLE")
    auth = basic(ecr)
    first, _ = image(shim, auth, "app", b"one")
    second, _ = image(shim, auth, "app", b"two")
    assert put_manifest(shim, auth, "app", "v1", first).status_code == 201
    message = "The image tag 'v1' already exists in the 'app' repository and cannot be overwritten because the tag is immutable."
    for manifest in (second, first):  # ECR refuses the same manifest again too
        refused = put_manifest(shim, auth, "app", "v1", manifest)
        assert refused.status_code == 400 and errors(refused) == [("TAG_INVALID", message)]
    raw = requests.head(f"http://{registry['backend']}/v2/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert raw.headers["Docker-Content-Digest"] == sha256(first)
    assert [d["imageDigest"] for d in ecr.describe_images(repositoryName="app")["imageDetails"]] == [sha256(first)]
    assert put_manifest(shim, auth, "app", "v2", second).status_code == 201  # a new tag is fine


def test_exclusion_filters_decide_which_tags_are_immutable(shim: str, registry: dict[str, Any]) -> None:
    ecr = client(shim, "ecr")
    ecr.create_repository(
        repositoryName="app",
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "dev-*"}],
    )
    auth = basic(ecr)
    first, _ = image(shim, auth, "app", b"one")
    second, _ = image(shim, auth, "app", b"two")
    for tag in ("dev-1", "v1"):
        assert put_manifest(shim, auth, "app", tag, first).status_code == 201
    assert put_manifest(shim, auth, "app", "dev-1", second).status_code == 201
    assert put_manifest(shim, auth, "app", "v1", second).status_code == 400


def test_unknown_repositories_and_images(shim: str, registry: dict[str, Any]) -> None:
    ecr = client(shim, "ecr")
    ecr.create_repository(repositoryName="app")
    auth = basic(ecr)
    missing = requests.post(f"{shim}/v2/nope/blobs/uploads/", headers=auth)
    assert missing.status_code == 404
    assert errors(missing) == [("NAME_UNKNOWN", f"The repository with name 'nope' does not exist in the registry with id '{ACCOUNT}'")]
    for reference in ("v9", "sha256:" + "0" * 64):
        answer = requests.get(f"{shim}/v2/app/manifests/{reference}", headers=auth)
        assert answer.status_code == 404 and errors(answer) == [("MANIFEST_UNKNOWN", "Requested image not found")]


def test_a_reset_forgets_the_tags_the_registry_still_has(shim: str, registry: dict[str, Any]) -> None:
    ecr = client(shim, "ecr")
    ecr.create_repository(repositoryName="app")
    auth = basic(ecr)
    manifest, _ = image(shim, auth, "app", b"one")
    assert put_manifest(shim, auth, "app", "v1", manifest).status_code == 201
    control(shim, "POST", "/_shim/reset")
    ecr.create_repository(repositoryName="app")
    auth = basic(ecr)
    assert requests.get(f"{shim}/v2/app/manifests/v1", headers=auth).status_code == 404
    assert requests.get(f"{shim}/v2/app/tags/list", headers=auth).json() == {"name": "app", "tags": []}


def test_a_mount_from_another_repository_starts_a_normal_upload(shim: str, registry: dict[str, Any]) -> None:
    ecr = client(shim, "ecr")
    for name in ("base", "app"):
        ecr.create_repository(repositoryName=name)
    auth = basic(ecr)
    digest = upload(shim, auth, "base", b"shared layer")
    answer = requests.post(f"{shim}/v2/app/blobs/uploads/?mount={digest}&from=base", headers=auth)
    assert answer.status_code == 202 and "/v2/app/blobs/uploads/" in answer.headers["Location"]


def pusher(shim: str, name: str, actions: list[str]) -> Any:
    """An ECR client signed as a session of role `name`, allowed GetAuthorizationToken and `actions` on `app`."""
    document = policy(
        {"Sid": "Login", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Sid": "Push", "Effect": "Allow", "Action": actions, "Resource": repo_arn("app")},
    )
    role_with_policy(shim, name, trust_policy(ACCOUNT_ROOT), "push", document)
    credentials = client(shim, "sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}", RoleSessionName="ci")["Credentials"]
    return session_client(shim, "ecr", credentials)


def test_a_role_without_put_image_cannot_tag(shim: str, registry: dict[str, Any]) -> None:
    client(shim, "ecr").create_repository(repositoryName="app")
    ecr = pusher(shim, "builder", [a for a in PUSH_ACTIONS if a != "ecr:PutImage"])
    auth = basic(ecr)
    manifest, _ = image(shim, auth, "app", b"one")  # the layer calls are allowed
    refused = put_manifest(shim, auth, "app", "v1", manifest)
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/builder/ci"
    assert refused.status_code == 403
    assert errors(refused) == [
        (
            "DENIED",
            f"User: {session} is not authorized to perform: ecr:PutImage on resource: {repo_arn('app')} "
            "because no identity-based policy allows the ecr:PutImage action",
        )
    ]
    [denial] = control(shim, "GET", "/_shim/iam/denials")
    assert (denial["service"], denial["operation"], denial["action"], denial["resource"], denial["principal"]) == (
        "ecr", "PutImage", "ecr:PutImage", repo_arn("app"), session,
    )
    assert requests.head(f"http://{registry['backend']}/v2/app/manifests/v1").status_code == 404
    assert client(shim, "ecr").describe_images(repositoryName="app")["imageDetails"] == []
    [call] = [c for c in control(shim, "GET", "/_shim/calls") if c.get("registry") and c["operation"] == "PutImage"]
    assert call["denied"]["action"] == "ecr:PutImage"


def test_a_role_with_the_push_grants_pushes_and_the_grants_are_recorded(shim: str, registry: dict[str, Any]) -> None:
    client(shim, "ecr").create_repository(repositoryName="app")
    ecr = pusher(shim, "builder", PUSH_ACTIONS)
    auth = basic(ecr)
    manifest, _ = image(shim, auth, "app", b"one")
    assert put_manifest(shim, auth, "app", "v1", manifest).status_code == 201
    assert requests.head(f"{shim}/v2/app/manifests/v1", headers=auth).status_code == 200
    assert requests.get(f"{shim}/v2/app/tags/list", headers=auth).status_code == 403  # no ecr:ListImages
    grants = control(shim, "GET", "/_shim/iam/grants")
    registry_grants = {(g["operation"], g["action"], g["sid"]) for g in grants if g["resource"] == repo_arn("app")}
    assert registry_grants == {
        ("ecr:InitiateLayerUpload", "ecr:InitiateLayerUpload", "Push"),
        ("ecr:UploadLayerPart", "ecr:UploadLayerPart", "Push"),
        ("ecr:CompleteLayerUpload", "ecr:CompleteLayerUpload", "Push"),
        ("ecr:PutImage", "ecr:PutImage", "Push"),
        ("ecr:BatchGetImage", "ecr:BatchGetImage", "Push"),
    }
    # The recorded grants feed the mutants route like API calls: dropping ecr:PutImage would have failed the run.
    mutants = control(shim, "POST", "/_shim/iam/mutants", {})
    put_image = next(m for m in mutants if m["action"] == "ecr:PutImage")
    assert put_image["caughtBy"]["operation"] == "ecr:PutImage"
    unused = next(m for m in mutants if m["action"] == "ecr:BatchCheckLayerAvailability")
    assert unused["caughtBy"] is None


def test_put_image_digests_and_sizes_are_ecrs(shim: str) -> None:
    ecr = client(shim, "ecr")
    ecr.create_repository(repositoryName="app", imageTagMutability="IMMUTABLE")
    config = {"size": 7777, "digest": "sha256:" + "c" * 64}
    manifest = json.dumps(oci_manifest(config, {"size": 1000, "digest": "sha256:" + "a" * 64}, {"size": 24, "digest": "sha256:" + "b" * 64}))
    put = ecr.put_image(repositoryName="app", imageManifest=manifest, imageTag="v1")["image"]
    assert put["imageId"]["imageDigest"] == sha256(manifest.encode())
    [detail] = ecr.describe_images(repositoryName="app")["imageDetails"]
    assert detail["imageSizeInBytes"] == 1024
    original = sha256(manifest.encode())
    error = denied(lambda: ecr.put_image(repositoryName="app", imageManifest=manifest + " ", imageTag="v2", imageDigest=original))
    assert error.response["Error"]["Code"] == "ImageDigestDoesNotMatchException"
    error = denied(lambda: ecr.put_image(repositoryName="app", imageManifest=manifest + " ", imageTag="v1"))
    assert error.response["Error"]["Code"] == "ImageTagAlreadyExistsException"
    error = denied(lambda: ecr.put_image(repositoryName="app", imageManifest=manifest, imageTag="v1"))
    assert error.response["Error"]["Code"] == "ImageAlreadyExistsException"


def api_manifest(size: int) -> str:
    """An OCI manifest for PutImage (no blobs behind it), told apart by its config's size."""
    return json.dumps(oci_manifest({"size": size, "digest": "sha256:" + "c" * 64}))


def image_tags(ecr: Any, repository: str) -> dict[str, list[str] | None]:
    """DescribeImages as {digest: imageTags} (None where ECR sends no imageTags: an untagged image)."""
    return {d["imageDigest"]: d.get("imageTags") for d in ecr.describe_images(repositoryName=repository)["imageDetails"]}


def test_put_image_moving_a_tag_leaves_the_old_image_untagged(shim: str) -> None:
    ecr = client(shim, "ecr")
    ecr.create_repository(repositoryName="app")
    first, second = api_manifest(1), api_manifest(2)
    ecr.put_image(repositoryName="app", imageManifest=first, imageTag="v1")
    put = ecr.put_image(repositoryName="app", imageManifest=second, imageTag="v1")["image"]
    assert put == {
        "registryId": ACCOUNT,
        "repositoryName": "app",
        "imageId": {"imageDigest": sha256(second.encode()), "imageTag": "v1"},
        "imageManifest": second,
        "imageManifestMediaType": OCI_MANIFEST,
    }
    assert image_tags(ecr, "app") == {sha256(first.encode()): None, sha256(second.encode()): ["v1"]}
    [got] = ecr.batch_get_image(repositoryName="app", imageIds=[{"imageDigest": sha256(first.encode())}])["images"]
    assert got["imageManifest"] == first and got["imageId"]["imageDigest"] == sha256(first.encode())
    [by_tag] = ecr.batch_get_image(repositoryName="app", imageIds=[{"imageTag": "v1"}])["images"]
    assert by_tag["imageManifest"] == second
    # What a lifecycle rule with tagStatus "untagged" would select.
    untagged = ecr.list_images(repositoryName="app", filter={"tagStatus": "UNTAGGED"})["imageIds"]
    assert untagged == [{"imageDigest": sha256(first.encode())}]
    tagged = ecr.list_images(repositoryName="app", filter={"tagStatus": "TAGGED"})["imageIds"]
    assert tagged == [{"imageDigest": sha256(second.encode()), "imageTag": "v1"}]
    # The same manifest under the same tag again is still refused as before, and changes nothing.
    error = denied(lambda: ecr.put_image(repositoryName="app", imageManifest=second, imageTag="v1"))
    assert error.response["Error"]["Code"] == "ImageAlreadyExistsException"
    assert image_tags(ecr, "app") == {sha256(first.encode()): None, sha256(second.encode()): ["v1"]}


def test_put_image_moving_one_of_two_tags_leaves_the_other(shim: str) -> None:
    ecr = client(shim, "ecr")
    ecr.create_repository(repositoryName="app")
    first, second = api_manifest(1), api_manifest(2)
    for tag in ("v1", "keep"):
        ecr.put_image(repositoryName="app", imageManifest=first, imageTag=tag)
    ecr.put_image(repositoryName="app", imageManifest=second, imageTag="v1")
    assert image_tags(ecr, "app") == {sha256(first.encode()): ["keep"], sha256(second.encode()): ["v1"]}
    assert ecr.list_images(repositoryName="app", filter={"tagStatus": "UNTAGGED"})["imageIds"] == []


def test_put_image_moving_a_tag_onto_an_image_already_there(shim: str) -> None:
    """Retagging (ECR User Guide, "Retagging an image in Amazon ECR"): the manifest of an image the repository has,
    put under a tag another image holds; the tag joins that image's tags and the other image stays untagged."""
    ecr = client(shim, "ecr")
    ecr.create_repository(repositoryName="app")
    first, second = api_manifest(1), api_manifest(2)
    ecr.put_image(repositoryName="app", imageManifest=first, imageTag="latest")
    ecr.put_image(repositoryName="app", imageManifest=second, imageTag="v2")
    put = ecr.put_image(repositoryName="app", imageManifest=second, imageTag="latest")["image"]
    assert put["imageId"] == {"imageDigest": sha256(second.encode()), "imageTag": "latest"}
    assert image_tags(ecr, "app") == {sha256(first.encode()): None, sha256(second.encode()): ["v2", "latest"]}


def test_put_image_never_moves_an_immutable_tag(shim: str) -> None:
    ecr = client(shim, "ecr")
    ecr.create_repository(repositoryName="app", imageTagMutability="IMMUTABLE")
    first, second = api_manifest(1), api_manifest(2)
    ecr.put_image(repositoryName="app", imageManifest=first, imageTag="v1")
    error = denied(lambda: ecr.put_image(repositoryName="app", imageManifest=second, imageTag="v1"))
    assert error.response["Error"]["Code"] == "ImageTagAlreadyExistsException"
    assert image_tags(ecr, "app") == {sha256(first.encode()): ["v1"]}
    assert ecr.list_images(repositoryName="app", filter={"tagStatus": "UNTAGGED"})["imageIds"] == []


def test_put_image_to_a_missing_repository_is_repository_not_found(shim: str) -> None:
    ecr = client(shim, "ecr")
    error = denied(lambda: ecr.put_image(repositoryName="nope", imageManifest=api_manifest(1), imageTag="v1"))
    assert error.response["Error"]["Code"] == "RepositoryNotFoundException"
    assert error.response["Error"]["Message"] == (
        "The repository with name 'nope' does not exist in the registry with id '123456789012'"
    )
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_an_image_put_through_the_api_answers_its_manifest(shim: str, registry: dict[str, Any]) -> None:
    ecr = client(shim, "ecr")
    ecr.create_repository(repositoryName="app")
    manifest = json.dumps(oci_manifest({"size": 1, "digest": "sha256:" + "c" * 64}))
    ecr.put_image(repositoryName="app", imageManifest=manifest, imageTag="v1")
    pulled = requests.get(f"{shim}/v2/app/manifests/v1", headers=basic(ecr))
    assert (pulled.status_code, pulled.text) == (200, manifest)
    assert pulled.headers["Docker-Content-Digest"] == sha256(manifest.encode())


# ---- the registry process ----


def registry_of(url: str) -> dict[str, Any]:
    return control(url, "GET", "/_shim/registry")


def answers(address: str) -> bool:
    try:
        return requests.get(f"http://{address}/v2/", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


def gone(address: str, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not answers(address):
            return True
        time.sleep(0.1)
    return False


def test_without_a_registry_every_registry_call_answers_503() -> None:
    for env, reason in (
        ({"EMULATOR_REGISTRY": "off"}, "EMULATOR_REGISTRY=off"),
        ({"EMULATOR_REGISTRY": "", "EMULATOR_REGISTRY_BINARY": "/nonexistent/docker-registry"}, "is not an executable"),
    ):
        process, url = start_shim(env)
        try:
            status = registry_of(url)
            assert (status["running"], status["endpoint"], status["backend"]) == (False, None, None)
            assert reason in status["reason"]
            answer = requests.get(f"{url}/v2/app/tags/list")
            assert answer.status_code == 503 and errors(answer) == [("UNAVAILABLE", status["reason"])]
        finally:
            stop_shim(process)


def test_the_registry_stops_with_the_shim_even_when_the_shim_is_killed() -> None:
    process, url = start_shim()
    try:
        backend = require_registry(registry_of(url))["backend"]
        assert answers(backend)
    finally:
        stop_shim(process)
    assert gone(backend)
    process, url = start_shim()
    backend = registry_of(url)["backend"]
    assert answers(backend)
    process.send_signal(signal.SIGKILL)  # no cleanup runs: the child's parent-death signal stops it
    process.wait(timeout=5)
    assert gone(backend)
    # Its directory stays until the next shim starts a registry and sweeps the directories of dead shims.
    [left] = glob.glob(os.path.join(tempfile.gettempdir(), f"emulator-registry-{process.pid}-*"))
    process, url = start_shim()
    try:
        assert registry_of(url)["running"] and not os.path.exists(left)
    finally:
        stop_shim(process)


# ---- podman ----


@pytest.fixture
def podman() -> Iterator[list[str]]:
    """podman with its own storage (vfs: no mounts to clean up) in a short temporary directory (podman
    refuses a runroot path longer than 50 characters)."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    with tempfile.TemporaryDirectory(prefix="emu-podman-") as storage:
        base = ["podman", "--root", f"{storage}/root", "--runroot", f"{storage}/run", "--storage-driver", "vfs"]
        yield base
        subprocess.run([*base, "rmi", "--all", "--force"], capture_output=True, timeout=60)


def test_podman_logs_in_and_pushes(shim: str, registry: dict[str, Any], podman: list[str], tmp_path: Path) -> None:
    ecr = client(shim, "ecr")
    ecr.create_repository(repositoryName="team/smoke")
    password = base64.b64decode(ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]).decode().split(":", 1)[1]
    (tmp_path / "hello.txt").write_text("hello\n")
    with tarfile.open(tmp_path / "rootfs.tar", "w") as archive:
        archive.add(tmp_path / "hello.txt", arcname="hello.txt")
    endpoint = registry["endpoint"]
    env = {**os.environ, "REGISTRY_AUTH_FILE": str(tmp_path / "auth.json")}

    def run(*arguments: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*podman, *arguments], input=stdin, capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, f"podman {' '.join(arguments)}: {done.stderr}"
        return done

    run("import", str(tmp_path / "rootfs.tar"), f"{endpoint}/team/smoke:v1")
    run("login", "--tls-verify=false", "--username", "AWS", "--password-stdin", endpoint, stdin=password)
    run("push", "--tls-verify=false", f"{endpoint}/team/smoke:v1")
    [detail] = ecr.describe_images(repositoryName="team/smoke")["imageDetails"]
    assert detail["imageTags"] == ["v1"]
    [got] = ecr.batch_get_image(repositoryName="team/smoke", imageIds=[{"imageTag": "v1"}])["images"]
    assert sha256(got["imageManifest"].encode()) == detail["imageDigest"]
    run("rmi", f"{endpoint}/team/smoke:v1")
    run("pull", "--tls-verify=false", f"{endpoint}/team/smoke:v1")


def test_signed_calls_under_v2_are_aws_calls(shim: str) -> None:
    """API Gateway v2's REST paths start with /v2/ too; its signed calls still reach moto."""
    api = client(shim, "apigatewayv2").create_api(Name="hooks", ProtocolType="HTTP")
    assert [item["Name"] for item in client(shim, "apigatewayv2").get_apis()["Items"]] == ["hooks"]
    assert api["ApiId"]


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
