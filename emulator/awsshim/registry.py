"""ECR's registry: the Docker Registry HTTP API v2 under /v2/ (README "ECR's registry"). Calls are judged
as ECR judges them (its tokens, IAM per call, repositories, tag immutability), answered by the
docker-registry child (registry_backend.py) or from moto's ECR, and recorded like API calls.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote, urlencode

from .core import ControlCall, Handler, Shim
from .ecr import ecr_record_image, ecr_repository, ecr_tag_immutable, ecr_track_scan
from .iam.enforcer import Denial
from .images import record_image_platform
from .parsing import read_body
from .protocol import ACCOUNT_ID, DEFAULT_REGION, AwsError, AwsRequest, Response, control_json, json_response, log
from .registry_backend import REGISTRY_API_VERSION, registry_error, registry_json
from .state import RegistryToken


# What passes between client and docker-registry; Authorization stays here (the child has no auth).
REGISTRY_REQUEST_HEADERS = (
    ("CONTENT_TYPE", "Content-Type"),
    ("HTTP_ACCEPT", "Accept"),
    ("HTTP_RANGE", "Range"),
    ("HTTP_CONTENT_RANGE", "Content-Range"),
)


IMAGE_REFERENCE_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
# /v2/NAME/(blobs|manifests|tags)/REST, NAME being everything before the last such keyword (names may
# contain slashes: `team/api`).
REGISTRY_PATH = re.compile(r"^/v2/(?P<name>.+)/(?P<kind>blobs|manifests|tags)/(?P<rest>[^/]*(?:/[^/]*)?)$")


@dataclass
class RegistryRoute:
    """A registry call as the ECR action IAM judges it by (Amazon ECR User Guide, "IAM permissions for pushing
    an image to an Amazon ECR private repository": ecr:BatchCheckLayerAvailability, InitiateLayerUpload,
    UploadLayerPart, CompleteLayerUpload, PutImage, BatchGetImage; AWS managed policy
    AmazonEC2ContainerRegistryPullOnly: ecr:BatchGetImage, GetDownloadUrlForLayer)."""

    operation: str
    name: str
    reference: str = ""
    unsupported: bool = False


def registry_route(method: str, path: str) -> RegistryRoute | None:
    match = REGISTRY_PATH.match(path)
    if match is None:
        return None
    name, kind, rest = match.group("name"), match.group("kind"), match.group("rest")
    if kind == "tags":
        return RegistryRoute("ListImages", name) if rest == "list" and method == "GET" else None
    if kind == "manifests":
        if "/" in rest or not rest:
            return None
        operation = {"PUT": "PutImage", "GET": "BatchGetImage", "HEAD": "BatchGetImage"}.get(method)
        if operation is None:
            return RegistryRoute("BatchDeleteImage", name, rest, unsupported=True) if method == "DELETE" else None
        return RegistryRoute(operation, name, rest)
    if rest in ("uploads", "uploads/"):
        return RegistryRoute("InitiateLayerUpload", name) if method == "POST" else None
    if rest.startswith("uploads/"):
        # GET (the upload's status) and DELETE (cancelling it) count as parts of the upload.
        parts = {"PATCH": "UploadLayerPart", "GET": "UploadLayerPart", "DELETE": "UploadLayerPart"}
        operation = {**parts, "PUT": "CompleteLayerUpload"}.get(method)
        return RegistryRoute(operation, name, rest.split("/", 1)[1]) if operation else None
    if "/" in rest or not rest:
        return None
    operation = {"HEAD": "BatchCheckLayerAvailability", "GET": "GetDownloadUrlForLayer"}.get(method)
    if operation is None:
        return RegistryRoute("BatchDeleteImage", name, rest, unsupported=True) if method == "DELETE" else None
    return RegistryRoute(operation, name, rest)


def registry_request(environ: dict[str, Any]) -> bool:
    """Whether a request is for the registry: a path under /v2/ that is not SigV4-signed (the AWS REST APIs
    whose paths start with /v2/, API Gateway v2 and SES v2, sign their requests; registry clients send Basic
    credentials or none)."""
    path = environ.get("PATH_INFO", "")
    if path != "/v2" and not path.startswith("/v2/"):
        return False
    signed = environ.get("HTTP_AUTHORIZATION", "").startswith("AWS4-")
    return not signed and "X-Amz-Credential=" not in environ.get("QUERY_STRING", "")


def registry_target(path: str, query: str) -> str:
    return quote(path, safe="/:@+") + (f"?{query}" if query else "")


def registry_forward_headers(environ: dict[str, Any], method: str, body: bytes) -> dict[str, str]:
    headers = {name: environ[key] for key, name in REGISTRY_REQUEST_HEADERS if environ.get(key)}
    if body or method in ("PUT", "POST", "PATCH"):
        headers["Content-Length"] = str(len(body))  # the body was read whole (and de-chunked)
    return headers


def registry_unauthorized(region: str = DEFAULT_REGION) -> Response:
    """ECR's answer to a registry call without credentials: 401, the Basic challenge and a plain-text body
    ("Curl OCI Registry", wom.icu 2023-09-11: `Www-Authenticate: Basic realm="https://ACCOUNT.dkr.ecr.
    us-east-1.amazonaws.com/",service="ecr.amazonaws.com"`, body "Not Authorized"; mayflower/docker-ls issue
    #28 quotes the same challenge; mdlavin/copy-docker-image issue #5 and argoproj/argo-workflows issue #13947
    show the body as the raw text "Not Authorized\\n", not a JSON error)."""
    body = b"Not Authorized\n"
    realm = f"https://{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/"
    return Response(
        401,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            REGISTRY_API_VERSION,
            ("WWW-Authenticate", f'Basic realm="{realm}",service="ecr.amazonaws.com"'),
        ],
        body,
    )


def registry_iam_request(environ: dict[str, Any], token: RegistryToken, route: RegistryRoute) -> AwsRequest:
    """The registry call as the ECR API call IAM judges, signed (in name) by the access key the token was
    issued to, so the enforcer finds the same identity and records grants and denials as for API calls."""
    signed: dict[str, Any] = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING": ""}
    if environ.get("REMOTE_ADDR"):
        signed["REMOTE_ADDR"] = environ["REMOTE_ADDR"]
    if token.access_key:
        day = time.strftime("%Y%m%d", time.gmtime())
        signed["HTTP_AUTHORIZATION"] = (
            f"AWS4-HMAC-SHA256 Credential={token.access_key}/{day}/{token.region}/ecr/aws4_request, "
            "SignedHeaders=host, Signature=registry"
        )
    return AwsRequest(
        environ=signed,
        method="POST",
        path="/",
        query={},
        body=b"",
        service="ecr",
        region=token.region,
        protocol="json",
        operation=route.operation,
        params={"repositoryName": route.name, "registryId": token.account},
    )


def registry_tags(environ: dict[str, Any], route: RegistryRoute, repository: Any) -> Response:
    """GET /v2/NAME/tags/list from moto's ECR (its tags are the truth), with the spec's `n` / `last` paging."""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    with_tags = sorted({tag for image in list(repository.images) for tag in image.image_tags})
    last = (query.get("last") or [""])[0]
    if last:
        with_tags = [tag for tag in with_tags if tag > last]
    headers: list[tuple[str, str]] = []
    count = (query.get("n") or [""])[0]
    if count.isdigit() and int(count) < len(with_tags):
        with_tags = with_tags[: int(count)]
        if with_tags:
            link = registry_target(f"/v2/{route.name}/tags/list", urlencode({"n": count, "last": with_tags[-1]}))
            headers.append(("Link", f'<{link}>; rel="next"'))
    return registry_json(200, {"name": route.name, "tags": with_tags}, headers)


def manifest_media_type(body: bytes) -> str | None:
    try:
        loaded = json.loads(body)
    except ValueError:
        return None
    media_type = loaded.get("mediaType") if isinstance(loaded, dict) else None
    return media_type if isinstance(media_type, str) else None


def registry_status(shim: Shim, call: ControlCall) -> Response:
    """Whether ECR's registry runs, where clients push (this shim) and the raw docker-registry behind it;
    POST {"token_seconds": N} sets the lifetime of the passwords GetAuthorizationToken issues next."""
    environ, method, payload = call.environ, call.method, call.payload
    if method == "POST":
        seconds = payload.get("token_seconds") if isinstance(payload, dict) else None
        if (
            not isinstance(payload, dict)
            or set(payload) != {"token_seconds"}
            or isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or seconds < 0
        ):
            raise ValueError('send {"token_seconds": N} (N >= 0; AWS issues 12-hour tokens, 43200)')
        with shim.state.lock:
            shim.state.registry_token_seconds = float(seconds)
    running, backend, reason = shim.registry.status(wait=True)
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
    with shim.state.lock:
        seconds = shim.state.registry_token_seconds
    return control_json(
        {
            "running": running,
            "endpoint": host if running else None,
            "backend": backend,
            "reason": reason,
            "token_seconds": seconds,
        }
    )


def registry_call(shim: Shim, environ: dict[str, Any]) -> Response:
    """A Docker Registry HTTP API v2 call: judged as ECR judges it, answered by docker-registry or from
    moto's ECR, and recorded like an API call."""
    started = time.time()
    body = read_body(environ)
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = environ.get("PATH_INFO", "/")
    route = registry_route(method, path)
    try:
        response, denial = registry_answer(shim, environ, method, path, route, body)
    except Exception as error:  # noqa: BLE001 - a crash must still answer the client
        log.exception("shim failed on registry %s %s", method, path)
        response, denial = registry_error(500, "UNKNOWN", f"emulator shim error: {error!r}"), None
    if method == "HEAD" and response.body:
        response = response.with_body(b"")
    with shim.state.lock:
        shim.state.calls.append(
            {
                "service": "ecr",
                "operation": route.operation if route is not None else f"{method} {path}",
                "status": response.status,
                "mutating": method not in ("GET", "HEAD"),
                "fault": None,
                "time": started,
                "duration_ms": round((time.time() - started) * 1000.0, 3),
                "registry": True,
                **({"denied": denial.record} if denial is not None else {}),  # IAM enforcement
            }
        )
    return response


def registry_answer(
    shim: Shim, environ: dict[str, Any], method: str, path: str, route: RegistryRoute | None, body: bytes
) -> tuple[Response, Denial | None]:
    running, _, reason = shim.registry.status(wait=True)
    if not running:
        return registry_error(503, "UNAVAILABLE", str(reason)), None
    token, refusal = registry_token(shim, environ)
    if refusal is not None or token is None:
        return refusal or registry_unauthorized(), None
    if route is None:
        if path in ("/v2", "/v2/") and method in ("GET", "HEAD"):
            return registry_json(200, {}), None  # the version check `docker login` / `podman login` make
        return registry_error(404, "UNSUPPORTED", f"the emulator's registry serves no {method} {path}"), None
    if route.unsupported:
        # ECR deletes images through BatchDeleteImage, not the registry API.
        return registry_error(405, "UNSUPPORTED", "The operation is unsupported."), None
    # ---- IAM enforcement hook (awsshim/iam): the call as the ECR action it is, for the token's key ----
    denial = shim.iam.check(registry_iam_request(environ, token, route))
    if denial is not None:
        return registry_error(403, "DENIED", denial.message), denial
    # ---- end IAM enforcement hook ----
    with shim.state.lock:
        repository = ecr_repository(token.account, token.region, route.name)
    if repository is None:
        # The registry's answer for a repository ECR does not have (plexsystems/sinker issue #55:
        # "NAME_UNKNOWN: The repository with name 'coreos/prometheus-operator' does not exist in the
        # registry with id '<account-number>'"); ECR creates no repository on push.
        return (
            registry_error(
                404,
                "NAME_UNKNOWN",
                f"The repository with name '{route.name}' does not exist in the registry with id '{token.account}'",
            ),
            None,
        )
    if route.operation == "PutImage":
        return registry_put_manifest(shim, environ, route, repository, body), None
    if route.operation == "BatchGetImage":
        return registry_get_manifest(shim, environ, method, route, repository), None
    if route.operation == "ListImages":
        return registry_tags(environ, route, repository), None
    query = environ.get("QUERY_STRING", "")
    if route.operation == "InitiateLayerUpload":
        # Amazon ECR User Guide, "Blob mounting in Amazon ECR": ECR mounts a layer from another repository
        # only when the registry's BLOB_MOUNTING account setting is enabled (it is off unless turned on);
        # otherwise the POST starts a normal upload (202), as the OCI distribution spec allows.
        kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in ("mount", "from")]
        query = urlencode(kept)
    headers = registry_forward_headers(environ, method, body)
    return shim.registry.request(method, registry_target(path, query), headers, body), None


def registry_token(shim: Shim, environ: dict[str, Any]) -> tuple[RegistryToken | None, Response | None]:
    """The token behind the call's `Authorization: Basic base64(AWS:password)`, or ECR's refusal."""
    scheme, _, credentials = environ.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    if scheme.lower() != "basic" or not credentials.strip():
        return None, registry_unauthorized()
    try:
        user, _, password = base64.b64decode(credentials.strip(), validate=True).decode("utf-8").partition(":")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return None, registry_unauthorized()
    with shim.state.lock:
        token = shim.state.registry_tokens.get(password)
    if token is None or user != "AWS":
        # A password that is no token of this registry: ECR answers 400 Bad Request (aws/aws-cli issues #4962
        # and #5317: `docker login` "failed with status: 400 Bad Request" for a mangled password or one of
        # another region). Its body is not on record for private ECR; this is ECR Public's for the same case
        # (apple/container issue #847: 400 {"errors":[{"message":"Your Authorization Token is invalid.",
        # "code":"DENIED"}]}).
        return None, registry_error(400, "DENIED", "Your Authorization Token is invalid.")
    if time.time() >= token.expires_at:
        # ECR's answer once the 12 hours are over: 403 (serverless/serverless issue #13116) and what docker
        # prints as "denied: Your authorization token has expired. Reauthenticate and try again."
        # (aws-samples/ecs-bg-external-controller issue #13; aws/aws-cli issue #6580).
        expired = "Your authorization token has expired. Reauthenticate and try again."
        return None, registry_error(403, "DENIED", expired)
    return token, None


def registry_put_manifest(
    shim: Shim, environ: dict[str, Any], route: RegistryRoute, repository: Any, body: bytes
) -> Response:
    """PUT /v2/NAME/manifests/REF: ECR's tag immutability is checked before docker-registry sees the
    manifest, so the registry's tag never moves where ECR's would not; a manifest the registry took is
    recorded in moto's ECR (the tag moved onto it), under the digest the registry computed."""
    tag = None if IMAGE_REFERENCE_DIGEST.match(route.reference) else route.reference
    media_type = environ.get("CONTENT_TYPE") or manifest_media_type(body)
    with shim.registry_manifests:
        if tag is not None:
            with shim.state.lock:
                tagged = any(tag in image.image_tags for image in repository.images)
                taken = tagged and ecr_tag_immutable(repository, tag)
            if taken:
                # What docker and kaniko print for a push to an existing tag of an immutable repository:
                # "TAG_INVALID: The image tag '<tag>' already exists in the '<repo>' repository and cannot be
                # overwritten because the tag is immutable." (GoogleContainerTools/kaniko issue #3481, 2025:
                # ECR changed "because the repository is immutable" to "because the tag is immutable";
                # osscontainertools/kaniko PR #204). ECR refuses the same manifest pushed again under the tag
                # too, not only another one (kaniko issue #3481 "push the same image again"; moby/buildkit
                # issue #3776; aws/containers-roadmap issues #2179 and #2380 ask for that to be allowed).
                return registry_error(
                    400,
                    "TAG_INVALID",
                    f"The image tag '{tag}' already exists in the '{route.name}' repository and cannot be "
                    "overwritten because the tag is immutable.",
                )
        target = registry_target(environ.get("PATH_INFO", "/"), environ.get("QUERY_STRING", ""))
        response = shim.registry.request("PUT", target, registry_forward_headers(environ, "PUT", body), body)
        if response.status == 201:
            digest = response.header("Docker-Content-Digest") or "sha256:" + hashlib.sha256(body).hexdigest()
            with shim.state.lock:
                image = ecr_record_image(repository, body.decode("utf-8", "surrogateescape"), media_type, digest, tag)
                scan_on_push = (repository.image_scanning_configuration or {}).get("scanOnPush")
                if scan_on_push and image.last_scan is None:
                    # ECR API Reference, ImageScanningConfiguration `scanOnPush`: "If set to true, images will be
                    # scanned after being pushed." The basic scan starts IN_PROGRESS and completes after
                    # `ecr_scan_polls` DescribeImageScanFindings polls (ecr_track_scan has the sources).
                    image.last_scan = datetime.datetime.now()
                    ecr_track_scan(shim.state, repository, image)
            registry_record_platform(shim, route.name, body, digest)
    return response


def registry_record_platform(shim: Shim, name: str, manifest: bytes, digest: str) -> None:
    """Records the platform of a single-platform image pushed through the registry: its config blob (in the
    registry already, as a client uploads the blobs before the manifest) names `os` and `architecture`
    (OCI Image Format Specification, "Image Configuration"; Docker Image Specification v1.2), which Lambda
    and ECS hold against the architecture they run it on. An index names platforms, not a config: none."""
    try:
        config = json.loads(manifest).get("config")
    except (ValueError, AttributeError):
        return
    config_digest = config.get("digest") if isinstance(config, dict) else None
    if not isinstance(config_digest, str) or not IMAGE_REFERENCE_DIGEST.match(config_digest):
        return
    blob = shim.registry.request("GET", registry_target(f"/v2/{name}/blobs/{config_digest}", ""), {}, b"")
    if blob.status == 200:
        with shim.state.lock:
            record_image_platform(shim.state, digest, blob.body)


def registry_get_manifest(
    shim: Shim, environ: dict[str, Any], method: str, route: RegistryRoute, repository: Any
) -> Response:
    """GET/HEAD /v2/NAME/manifests/REF: the image moto's ECR has under that tag or digest, fetched from
    docker-registry by its digest (so a tag the registry still knows but ECR does not answers nothing)."""
    reference = route.reference
    by_digest = bool(IMAGE_REFERENCE_DIGEST.match(reference))
    with shim.state.lock:
        image = next(
            (
                candidate
                for candidate in repository.images
                if (candidate.get_image_digest() == reference if by_digest else reference in candidate.image_tags)
            ),
            None,
        )
        if image is None:
            # ECR's reason for an image it does not have (BatchGetImage failureReason "Requested image not
            # found"; see README "ECR's registry" for what is verified of the registry's wording).
            return registry_error(404, "MANIFEST_UNKNOWN", "Requested image not found")
        digest, manifest = image.get_image_digest(), image.image_manifest
        text = manifest.encode("utf-8", "surrogateescape")
        media_type = image.image_manifest_media_type or manifest_media_type(text)
    target = registry_target(f"/v2/{route.name}/manifests/{digest}", "")
    response = shim.registry.request(method, target, registry_forward_headers(environ, method, b""), b"")
    if response.status != 404:
        return response
    # An image put through the ECR API only: its manifest is ECR's alone (its layers are unknown to the registry).
    headers = [
        ("Content-Type", media_type or "application/json"),
        ("Content-Length", str(len(text))),
        ("Docker-Content-Digest", digest),
        REGISTRY_API_VERSION,
    ]
    return Response(200, headers, b"" if method == "HEAD" else text)


# ---- GetDownloadUrlForLayer and the URL it hands out ----
# Amazon ECR API Reference, GetDownloadUrlForLayer
# (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_GetDownloadUrlForLayer.html): "Retrieves the
# pre-signed Amazon S3 download URL corresponding to an image layer. You can only get URLs for image layers that
# are referenced in an image." Answer {downloadUrl, layerDigest}; errors InvalidParameterException,
# LayerInaccessibleException, LayersNotFoundException, RepositoryNotFoundException. The URL is S3's, pre-signed:
# whoever holds it downloads the blob without ECR's token. Here it points back at this process, signed with a
# process secret, and expires like a pre-signed URL (ECR documents no lifetime; the emulator's is its own choice).
LAYER_URL_PREFIX = "/_ecr-layer/"
LAYER_URL_SECONDS = 600
LAYER_URL_SECRET = secrets.token_bytes(32)
LAYER_DIGEST = re.compile(r"^[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+$")  # the API reference's layerDigest pattern


def layer_url_signature(path: str, issued: int) -> str:
    return hmac.new(LAYER_URL_SECRET, f"{path}\n{issued}".encode(), hashlib.sha256).hexdigest()


def manifest_blob_digests(manifest: str) -> set[str]:
    """The blobs an image manifest references: its config and its layers (an index references manifests,
    which are not layers)."""
    try:
        parsed = json.loads(manifest)
    except ValueError:
        return set()
    if not isinstance(parsed, dict):
        return set()
    entries = [parsed.get("config")] + list(parsed.get("layers") or [])
    return {entry["digest"] for entry in entries if isinstance(entry, dict) and isinstance(entry.get("digest"), str)}


def ecr_get_download_url_for_layer(shim: Shim, req: AwsRequest) -> Response:
    """GetDownloadUrlForLayer for a blob an image of the repository references (its config blob included, as
    a registry client fetches it through the same blob endpoint)."""
    account = str(req.params.get("registryId") or ACCOUNT_ID)
    name = str(req.params.get("repositoryName") or "")
    digest = str(req.params.get("layerDigest") or "")
    if not LAYER_DIGEST.match(digest):
        raise AwsError("InvalidParameterException", f"Invalid parameter at 'layerDigest' failed to satisfy constraint: '{digest}' is not a digest")
    with shim.state.lock:
        repository = ecr_repository(account, req.region, name)
        if repository is None:
            raise AwsError(
                "RepositoryNotFoundException",
                f"The repository with name '{name}' does not exist in the registry with id '{account}'",
            )
        referenced = any(digest in manifest_blob_digests(image.image_manifest) for image in repository.images)
    stored = shim.registry.request("HEAD", registry_target(f"/v2/{name}/blobs/{digest}", ""), {}, b"").status == 200
    if not referenced and stored:
        # ECR API Reference, LayerInaccessibleException: "The specified layer is not available because it is
        # not associated with an image. Unassociated image layers may be cleaned up at any time."
        raise AwsError(
            "LayerInaccessibleException",
            "The specified layer is not available because it is not associated with an image. Unassociated image layers may be cleaned up at any time.",
        )
    if not referenced or not stored:
        # The message as ECR words it (monken/aws-ecr-public issue #11).
        raise AwsError(
            "LayersNotFoundException",
            f"The layer with digest {digest} does not exist within the repository with name '{name}' in the registry with id '{account}'",
        )
    path = f"{LAYER_URL_PREFIX}{name}/blobs/{digest}"
    issued = int(time.time())
    query = urlencode({"X-Amz-Date": str(issued), "X-Amz-Expires": str(LAYER_URL_SECONDS), "X-Amz-Signature": layer_url_signature(path, issued)})
    host = req.environ.get("HTTP_HOST") or f"{req.environ.get('SERVER_NAME')}:{req.environ.get('SERVER_PORT')}"
    scheme = req.environ.get("wsgi.url_scheme", "http")
    return json_response(req, {"downloadUrl": f"{scheme}://{host}{quote(path, safe='/:@+')}?{query}", "layerDigest": digest})


def s3_refusal(status: int, code: str, message: str) -> Response:
    """An error as S3 answers a pre-signed GET (Amazon S3 API Reference, "Error responses": XML Error)."""
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'.encode()
    return Response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))], body)


def ecr_layer_download(shim: Shim, environ: dict[str, Any]) -> Response:
    """GET of a URL GetDownloadUrlForLayer handed out: the blob, with no Authorization (the URL is the
    permission), until it expires; a tampered or expired URL is refused as S3 refuses a pre-signed one."""
    path = environ.get("PATH_INFO", "")
    query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
    try:
        issued = int(query.get("X-Amz-Date", ""))
        lifetime = int(query.get("X-Amz-Expires", ""))
    except ValueError:
        return s3_refusal(403, "AccessDenied", "Query-string authentication requires the X-Amz-Date and X-Amz-Expires parameters")
    if not hmac.compare_digest(layer_url_signature(path, issued), query.get("X-Amz-Signature", "")) or lifetime != LAYER_URL_SECONDS:
        return s3_refusal(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
    if time.time() > issued + lifetime:
        return s3_refusal(403, "AccessDenied", "Request has expired")
    name, _, digest = path[len(LAYER_URL_PREFIX) :].rpartition("/blobs/")
    blob = shim.registry.request("GET", registry_target(f"/v2/{name}/blobs/{digest}", ""), {}, b"")
    if blob.status != 200:
        return s3_refusal(404, "NoSuchKey", "The specified key does not exist.")
    return blob


# The operations this module answers, by (signing name, operation); front.py merges every service's table.
SERVED: dict[tuple[str, str], Handler] = {("ecr", "GetDownloadUrlForLayer"): ecr_get_download_url_for_layer}
