"""ECR's GetDownloadUrlForLayer against the real shim process: the pre-signed URL it hands out serves the
blob without ECR's token until it expires, only blobs an image references get one, and IAM judges the call
on the repository's ARN."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests

from shim_helpers import client, denied
from test_ecr_registry import basic, image, pusher, put_manifest, registry, upload  # noqa: F401 - fixture

__all__ = ["registry"]


def pushed_image(shim: str, repository: str, tag: str) -> dict[str, Any]:
    """Push an image of one amd64 config and one layer; answers its manifest."""
    ecr = client(shim, "ecr")
    auth = basic(ecr)
    manifest, _ = image(shim, auth, repository, b"layer")
    answer = put_manifest(shim, auth, repository, tag, manifest)
    assert answer.status_code == 201, answer.text
    parsed: dict[str, Any] = json.loads(manifest)
    return parsed


def test_the_url_serves_the_config_blob_without_ecr_auth(shim: str, registry: dict[str, Any]) -> None:
    ecr = client(shim, "ecr")
    ecr.create_repository(repositoryName="team/api")
    manifest = pushed_image(shim, "team/api", "v1")
    config_digest = manifest["config"]["digest"]

    answer = ecr.get_download_url_for_layer(repositoryName="team/api", layerDigest=config_digest)
    assert answer["layerDigest"] == config_digest
    downloaded = requests.get(answer["downloadUrl"])  # no Authorization: the URL is the permission
    assert downloaded.status_code == 200, downloaded.text
    assert json.loads(downloaded.content)["architecture"] == "amd64"

    layer = manifest["layers"][0]["digest"]
    layer_url = ecr.get_download_url_for_layer(repositoryName="team/api", layerDigest=layer)["downloadUrl"]
    assert requests.get(layer_url).content == b"layer" * 100


def test_a_tampered_or_unsigned_url_is_refused_as_s3_refuses_it(shim: str, registry: dict[str, Any]) -> None:
    ecr = client(shim, "ecr")
    ecr.create_repository(repositoryName="app")
    manifest = pushed_image(shim, "app", "v1")
    url = ecr.get_download_url_for_layer(repositoryName="app", layerDigest=manifest["config"]["digest"])["downloadUrl"]
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))

    other_blob = parts.path.replace(manifest["config"]["digest"], manifest["layers"][0]["digest"])
    tampered = requests.get(f"{parts.scheme}://{parts.netloc}{other_blob}?{parts.query}")
    assert tampered.status_code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in tampered.content

    # The URL is signed over its date: moving the date back (to outlive the lifetime) breaks the signature.
    stale = {**query, "X-Amz-Date": str(int(query["X-Amz-Date"]) - 3600)}
    backdated = requests.get(f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(stale)}")
    assert backdated.status_code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in backdated.content

    unsigned = requests.get(f"{parts.scheme}://{parts.netloc}{parts.path}")
    assert unsigned.status_code == 403 and b"<Code>AccessDenied</Code>" in unsigned.content


def test_only_blobs_an_image_references_get_a_url(shim: str, registry: dict[str, Any]) -> None:
    ecr = client(shim, "ecr")
    ecr.create_repository(repositoryName="app")
    pushed_image(shim, "app", "v1")
    loose = upload(shim, basic(ecr), "app", b"uploaded but in no image")
    refused = denied(lambda: ecr.get_download_url_for_layer(repositoryName="app", layerDigest=loose))
    assert refused.response["Error"]["Code"] == "LayerInaccessibleException"
    assert "not associated with an image" in refused.response["Error"]["Message"]

    unknown = "sha256:" + "0" * 64
    missing = denied(lambda: ecr.get_download_url_for_layer(repositoryName="app", layerDigest=unknown))
    assert missing.response["Error"]["Code"] == "LayersNotFoundException"
    assert f"The layer with digest {unknown} does not exist within the repository with name 'app'" in missing.response["Error"]["Message"]

    no_repository = denied(lambda: ecr.get_download_url_for_layer(repositoryName="nope", layerDigest=unknown))
    assert no_repository.response["Error"]["Code"] == "RepositoryNotFoundException"
    assert "The repository with name 'nope' does not exist" in no_repository.response["Error"]["Message"]


def test_iam_judges_the_call_on_the_repository(shim: str, registry: dict[str, Any]) -> None:
    client(shim, "ecr").create_repository(repositoryName="app")
    manifest = pushed_image(shim, "app", "v1")
    reader = pusher(shim, "reader", ["ecr:BatchGetImage"])
    refused = denied(lambda: reader.get_download_url_for_layer(repositoryName="app", layerDigest=manifest["config"]["digest"]))
    assert refused.response["Error"]["Code"] == "AccessDeniedException"
    assert "ecr:GetDownloadUrlForLayer" in refused.response["Error"]["Message"]
    allowed = pusher(shim, "puller", ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"])
    assert allowed.get_download_url_for_layer(repositoryName="app", layerDigest=manifest["config"]["digest"])["downloadUrl"]
