"""ECR API corrections and additions (README "ECR's registry"): GetAuthorizationToken's registry
passwords, PutImage as ECR answers it, basic scans `IN_PROGRESS` until polled through, image sizes and
digests moto leaves out; moto's ECR images patched to report them.
"""

from __future__ import annotations

import base64
import datetime
import fnmatch
import hashlib
import json
import re
import secrets
import time
from typing import Any

from moto.ecr.exceptions import ImageNotFoundException as EcrImageNotFoundException
from moto.ecr.models import Image as EcrImage, ecr_backends

from .core import Handler, Shim
from .iam.identity import access_key_id
from .protocol import ACCOUNT_ID, AwsError, AwsRequest, Response, json_response
from .quirks import epoch_seconds
from .state import EcrScan, RegistryToken, ShimState


def ecr_put_image_scanning_configuration(shim: Shim, req: AwsRequest) -> Response:
    """AWS reads a missing `scanOnPush` as false, and SDKs leave a false boolean out
    (`"imageScanningConfiguration": {}`); moto ignores an empty configuration, so turning
    scanning off would silently do nothing. Spell the false out."""
    config = req.params.get("imageScanningConfiguration")
    if not isinstance(config, dict) or "scanOnPush" in config:
        return shim.forward(req)
    params = {**req.params, "imageScanningConfiguration": {**config, "scanOnPush": False}}
    return shim.forward(req, json.dumps(params).encode())


def ecr_get_authorization_token(shim: Shim, req: AwsRequest) -> Response:
    """GetAuthorizationToken as ECR answers it (Amazon ECR API Reference, GetAuthorizationToken and
    AuthorizationData: "a base64-encoded string that contains authorization data ... When the string is
    decoded, it is presented in the format user:password", `expiresAt` "The Unix time in seconds and
    milliseconds when the authorization token expires. Authorization tokens are valid for 12 hours.",
    `proxyEndpoint` "https://aws_account_id.dkr.ecr.region.amazonaws.com"). The password is an opaque
    random string the emulator's registry remembers with the caller's access key, so registry calls are
    judged as that caller's (README "ECR's registry"); moto's token would be accepted by nothing."""
    registries = req.params.get("registryIds") or [ACCOUNT_ID]
    valid = isinstance(registries, list) and all(isinstance(r, str) and re.fullmatch(r"\d{12}", r) for r in registries)
    if not valid:
        raise AwsError(
            "InvalidParameterException",
            "Invalid parameter at 'registryIds' failed to satisfy constraint: 'Member must satisfy constraint: "
            "[Member must satisfy regular expression pattern: [0-9]{12}]'",
        )
    now = time.time()
    key = access_key_id(req.environ)
    data = []
    with shim.state.lock:
        tokens = shim.state.registry_tokens
        for password in [p for p, token in tokens.items() if token.expires_at <= now]:
            del tokens[password]
        expires = now + shim.state.registry_token_seconds
        for registry in registries:
            password = secrets.token_urlsafe(96)
            tokens[password] = RegistryToken(password, key, req.region, registry, expires)
            data.append(
                {
                    "authorizationToken": base64.b64encode(f"AWS:{password}".encode()).decode(),
                    "expiresAt": round(expires, 3),
                    "proxyEndpoint": f"https://{registry}.dkr.ecr.{req.region}.amazonaws.com",
                }
            )
    return json_response(req, {"authorizationData": data})


def ecr_put_image(shim: Shim, req: AwsRequest) -> Response:
    """PutImage's refusals that moto lacks (Amazon ECR API Reference, PutImage errors):
    ImageDigestDoesNotMatchException "The specified image digest does not match the digest that Amazon ECR
    calculated for the image." for an `imageDigest` that is not the manifest's sha256, and
    ImageTagAlreadyExistsException "The specified image is tagged with a tag that already exists. The
    repository is configured for tag immutability." for another manifest under an immutable tag (moto says
    ImageAlreadyExistsException, which AWS keeps for the same image and tag pushed again).
    A mutable tag another image holds moves as a push moves it (ecr_record_image): the image it leaves stays,
    untagged unless it has other tags; moto would delete it (AWS sources in ecr_record_image; README "moto
    quirks handled")."""
    manifest = req.params.get("imageManifest")
    given = req.params.get("imageDigest")
    if isinstance(manifest, str) and isinstance(given, str) and given and given != ecr_manifest_digest(manifest):
        raise AwsError(
            "ImageDigestDoesNotMatchException",
            "The specified image digest does not match the digest that Amazon ECR calculated for the image.",
        )
    tag, name = req.params.get("imageTag"), req.params.get("repositoryName")
    if not (isinstance(tag, str) and isinstance(name, str) and isinstance(manifest, str)):
        return shim.forward(req)
    # Held through moto's call too, so no registry push moves the tag between this look and the put.
    with shim.state.lock:
        repository = ecr_repository(str(req.params.get("registryId") or ACCOUNT_ID), req.region, name)
        if repository is None:
            # moto raises a bare Exception here (a 500); ECR answers RepositoryNotFoundException (ECR API
            # Reference, PutImage errors), in the wording moto's other ECR operations use.
            registry_id = str(req.params.get("registryId") or ACCOUNT_ID)
            raise AwsError(
                "RepositoryNotFoundException",
                f"The repository with name '{name}' does not exist in the registry with id '{registry_id}'",
            )
        holders = [image for image in repository.images if tag in image.image_tags and image.image_manifest != manifest]
        if holders and ecr_tag_immutable(repository, tag):
            # The registry's TAG_INVALID text (see Shim.registry_put_manifest) is what the API sends too
            # (GoogleContainerTools/kaniko issue #3481 points at ImageTagAlreadyExistsException for it).
            raise AwsError(
                "ImageTagAlreadyExistsException",
                f"The image tag '{tag}' already exists in the '{name}' repository and cannot be overwritten "
                "because the tag is immutable.",
            )
        accepted, media_type = ecr_put_image_media_type(manifest, req.params.get("imageManifestMediaType"))
        if not holders or not accepted:
            # A tag no other image holds (a new image, or a new tag on this one), the same manifest and tag again
            # (moto: ImageAlreadyExistsException), or a manifest moto refuses: moto deletes nothing for these.
            return shim.forward(req)
        image = ecr_record_image(repository, manifest, media_type, ecr_manifest_digest(manifest), tag)
        return json_response(
            req,
            {
                # PutImage's answer, as moto gives it: the Image (ECR API Reference, Image: registryId,
                # repositoryName, imageId, imageManifest, imageManifestMediaType).
                "image": {
                    "registryId": image.registry_id,
                    "repositoryName": image.repository_name,
                    "imageId": {"imageDigest": image.get_image_digest(), "imageTag": tag},
                    "imageManifest": image.image_manifest,
                    "imageManifestMediaType": image.image_manifest_media_type,
                }
            },
        )


def ecr_put_image_media_type(manifest: str, given: Any) -> tuple[bool, Any]:
    """Whether moto's PutImage takes the manifest, and the media type it records: the `imageManifestMediaType`
    given, else the manifest's `mediaType`. moto refuses a manifest that is not JSON, and one with no media type
    either way (ECR API Reference, PutImage `imageManifestMediaType`: "If you push an image manifest that does
    not contain the mediaType field, you must specify the imageManifestMediaType in the request")."""
    try:
        parsed = json.loads(manifest)
    except ValueError:
        return False, None
    if not isinstance(parsed, dict):
        return False, None
    if given:
        return True, given
    return ("mediaType" in parsed), parsed.get("mediaType")


def ecr_repository(account: str, region: str, name: str) -> Any:
    """moto's ECR repository `name` in that registry, or None (caller holds the lock)."""
    try:
        repository = ecr_backends[account][region].repositories.get(name)
    except KeyError:
        return None
    return repository if repository is not None and repository.registry_id == account else None


def ecr_tag_immutable(repository: Any, tag: str) -> bool:
    """Whether ECR keeps `tag` from moving (Amazon ECR API Reference, CreateRepository imageTagMutability:
    IMMUTABLE every tag; IMMUTABLE_WITH_EXCLUSION every tag but those an exclusion filter matches;
    MUTABLE_WITH_EXCLUSION only those; ImageTagMutabilityExclusionFilter: filterType WILDCARD, filter
    `^[0-9a-zA-Z._*-]{1,128}$`, `*` matching any characters)."""
    mode = repository.image_tag_mutability  # a str Enum in moto: compares equal to its value
    exclusions = repository.image_tag_mutability_exclusion_filters or []
    filters = [f.get("filter") for f in exclusions if isinstance(f, dict)]
    matched = any(isinstance(p, str) and fnmatch.fnmatchcase(tag, p) for p in filters)
    if mode in ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"):
        return not matched
    return mode == "MUTABLE_WITH_EXCLUSION" and matched


def ecr_record_image(repository: Any, manifest: str, media_type: str | None, digest: str, tag: str | None) -> Any:
    """Record a manifest as ECR records a push (a registry manifest PUT, or PutImage moving a tag): one image
    per digest (a new one unless the repository has the digest already), the tag moved onto it; the image the
    tag leaves keeps its other tags or stays in the repository untagged, its digest its only id — unlike moto's
    PutImage, which deletes it as BatchDeleteImage deletes an image whose last tag it removes. A push by digest
    records an untagged image. Caller holds the lock.
    No AWS page says in so many words what a moved tag leaves behind. The closest: Amazon ECR User Guide,
    "Deleting an image in Amazon ECR" (https://docs.aws.amazon.com/AmazonECR/latest/userguide/delete_image.html;
    its text as archived in awsdocs/amazon-ecr-user-guide, doc_source/delete_image.md): "Tagged images will
    have both an image digest as well as a list of associated tags. Untagged images will only have an image
    digest." The last tag going deletes an image only in BatchDeleteImage (ECR API Reference, BatchDeleteImage:
    "When you remove the last tag from an image, the image is deleted from your repository"); lifecycle
    policies' tagStatus `untagged` (User Guide, "Lifecycle policy properties in Amazon ECR") exists to expire
    such images. Observed on ECR: alantech/iasql pull request #1346 (2022), "Pushing twice to
    `<repositoryuri>:latest` but with different content" leaves the first image untagged in the repository."""
    image = next((candidate for candidate in repository.images if candidate.get_image_digest() == digest), None)
    if image is None:
        registry = repository.registry_id
        image = EcrImage(registry, tag, manifest, repository.name, media_type, digest, registry)
        repository.images.append(image)
    if tag is not None:
        for other in repository.images:
            if other is not image and tag in other.image_tags:
                other.remove_tag(tag)
                if not other.image_tags:
                    other.image_tag = None
        image.update_tag(tag)
    return image


def ecr_track_scan(state: ShimState, repository: Any, image: Any) -> EcrScan:
    """Start the simulated basic scan of `image` (its `last_scan` just set): IN_PROGRESS for the next
    `ecr_scan_polls` DescribeImageScanFindings calls about the image, COMPLETE from the poll after. Caller holds
    the lock. README "ECR's registry" (image scans).
    AWS: a basic scan takes a while. Amazon ECR API Reference, ImageScanStatus `status`: "The current state of
    an image scan", IN_PROGRESS | COMPLETE | FAILED | ...; DescribeImageScanFindings `imageScanStatus`: "The
    current state of the scan." (StartImageScan's answer has the same member; moto answers IN_PROGRESS). Amazon
    ECR User Guide, "Retrieving the findings for basic scans in Amazon ECR"
    (https://docs.aws.amazon.com/AmazonECR/latest/userguide/describe-scan-findings.html): "You can retrieve the
    scan findings for the last completed basic image scan", so a scan in progress has none. Observed right
    after a push to a scan-on-push repository: DescribeImageScanFindings answers `imageScanStatus:
    {status: "IN_PROGRESS"}` and no `imageScanFindings` (alexjurkiewicz/ecr-scan-image issue #3, 2020:
    "Cannot read property 'findingSeverityCounts' of undefined"; PR #4 then polls while IN_PROGRESS). The SDKs
    wait for it with the ImageScanComplete waiter, which polls DescribeImageScanFindings until
    `imageScanStatus.status` is COMPLETE (success) or FAILED (failure), every 5 s, at most 60 times (botocore
    data/ecr/2015-09-21/waiters-2.json)."""
    needed = state.ecr_scan_polls
    scan = EcrScan(needed=needed, started=image.last_scan, completed=needed == 0)
    state.ecr_scans[(repository.arn, image.get_image_digest())] = scan
    return scan


def ecr_scan_of(state: ShimState, repository: Any, image: Any) -> EcrScan | None:
    """The simulated scan of `image`, if the shim started the scan it last had (caller holds the lock)."""
    scan = state.ecr_scans.get((repository.arn, image.get_image_digest()))
    if scan is None or image.last_scan is None or scan.started != image.last_scan:
        return None
    return scan


def ecr_request_image(req: AwsRequest) -> tuple[Any, Any] | tuple[None, None]:
    """moto's repository and image the call's `registryId` / `repositoryName` / `imageId` name, or (None, None)
    when there is none (moto then answers its RepositoryNotFoundException / ImageNotFoundException). Caller holds
    the lock."""
    name, image_id = req.params.get("repositoryName"), req.params.get("imageId")
    if not isinstance(name, str) or not isinstance(image_id, dict):
        return None, None
    repository = ecr_repository(str(req.params.get("registryId") or ACCOUNT_ID), req.region, name)
    tag, digest = image_id.get("imageTag"), image_id.get("imageDigest")
    if repository is None or not (tag or digest):
        return None, None
    try:
        return repository, repository._get_image(tag, digest)
    except EcrImageNotFoundException:
        return None, None


# A completed basic scan's status: moto's, and AWS's wording too (aws/aws-sdk issue #289 shows a
# DescribeImageScanFindings answer with it).
ECR_SCAN_COMPLETE = {"status": "COMPLETE", "description": "The scan was completed successfully."}


def ecr_describe_image_scan_findings(shim: Shim, req: AwsRequest) -> Response:
    """Each DescribeImageScanFindings naming an image whose scan is in progress is one poll of it (ecr_track_scan):
    while polls remain it answers the scan IN_PROGRESS without `imageScanFindings`; the poll after completes the
    scan (moto's `imageScanCompletedAt` becomes the time of that poll) and moto answers the findings. Images
    without a scan stay moto's ScanNotFoundException."""
    with shim.state.lock:
        repository, image = ecr_request_image(req)
        scan = ecr_scan_of(shim.state, repository, image) if image is not None else None
        if scan is not None and scan.polls < scan.needed:
            scan.polls += 1
            image_id = {"imageDigest": image.get_image_digest()}
            if image.image_tag is not None:
                image_id["imageTag"] = image.image_tag  # the image's identity as moto answers it
            return json_response(
                req,
                {
                    "registryId": repository.registry_id,
                    "repositoryName": repository.name,
                    "imageId": image_id,
                    # What ECR answers while the scan runs (alexjurkiewicz/ecr-scan-image issue #3): the status
                    # and no findings (a description ECR may add is not on record, so none is sent).
                    "imageScanStatus": {"status": "IN_PROGRESS"},
                },
            )
        if scan is not None and not scan.completed:
            scan.completed = True
            image.last_scan = scan.started = datetime.datetime.now()
        return shim.forward(req)


def ecr_start_image_scan(shim: Shim, req: AwsRequest) -> Response:
    """StartImageScan is moto's (it answers IN_PROGRESS, and LimitExceededException for a second scan of an image
    the same day, the push's included: ECR API Reference, StartImageScan "A basic image scan can only be started
    once per 24 hours on an individual image. This limit includes if an image was scanned on initial push."); the
    scan it starts is then IN_PROGRESS for `ecr_scan_polls` DescribeImageScanFindings polls like a push's."""
    with shim.state.lock:
        response = shim.forward(req)
        if response.status == 200:
            repository, image = ecr_request_image(req)
            if image is not None and image.last_scan is not None:
                ecr_track_scan(shim.state, repository, image)
        return response


def ecr_describe_images(shim: Shim, req: AwsRequest) -> Response:
    """DescribeImages with the scan state moto leaves out (ECR API Reference, ImageDetail `imageScanStatus`:
    "The current state of the scan."; `imageScanFindingsSummary`: "A summary of the last completed image
    scan."): for a scanned image, IN_PROGRESS while its scan is (ecr_track_scan; DescribeImages is no poll and
    moves nothing on), else COMPLETE with the summary of the findings DescribeImageScanFindings answers."""
    with shim.state.lock:
        response = shim.forward(req)
        name, registry = req.params.get("repositoryName"), str(req.params.get("registryId") or ACCOUNT_ID)
        repository = ecr_repository(registry, req.region, name) if isinstance(name, str) else None
        if response.status != 200 or repository is None:
            return response
        answer = json.loads(response.body)
        changed = False
        for detail in answer.get("imageDetails") or []:
            digest = detail.get("imageDigest")
            image = next((i for i in repository.images if i.get_image_digest() == digest), None)
            if image is None or image.last_scan is None:
                continue  # never scanned: ECR leaves both members out
            changed = True
            scan = ecr_scan_of(shim.state, repository, image)
            if scan is not None and not scan.completed:
                detail["imageScanStatus"] = {"status": "IN_PROGRESS"}
                continue
            detail["imageScanStatus"] = dict(ECR_SCAN_COMPLETE)
            summary = ecr_scan_summary(repository, image)
            if summary:
                detail["imageScanFindingsSummary"] = summary
        return json_response(req, answer) if changed else response


def ecr_scan_summary(repository: Any, image: Any) -> dict[str, Any]:
    """ImageScanFindingsSummary (imageScanCompletedAt, vulnerabilitySourceUpdatedAt, findingSeverityCounts) of the
    findings moto's DescribeImageScanFindings gives the image by digest (caller holds the lock). moto's static
    findings are computed afresh; a result configured through moto's scan-finding-results API is bound to the
    digest's identifier here, as DescribeImageScanFindings by digest would bind it."""
    backend = ecr_backends[repository.account_id][repository.region_name]
    found = backend.describe_image_scan_findings(
        repository.registry_id, repository.name, {"imageDigest": image.get_image_digest()}
    )
    findings = found.get("imageScanFindings") if isinstance(found, dict) else None
    if not isinstance(findings, dict):
        return {}
    summary = {}
    for key in ("imageScanCompletedAt", "vulnerabilitySourceUpdatedAt", "findingSeverityCounts"):
        if key in findings:
            summary[key] = findings[key] if key == "findingSeverityCounts" else epoch_seconds(findings[key])
    return summary


def ecr_manifest_digest(manifest: str) -> str:
    """An image's digest: the sha256 of its manifest's bytes (Amazon ECR API Reference, ImageDetail
    `imageDigest`: "The sha256 digest of the image manifest."; OCI distribution spec: a manifest's digest
    is that of its content)."""
    return "sha256:" + hashlib.sha256(manifest.encode("utf-8", "surrogateescape")).hexdigest()


def _ecr_image_digest(image: Any) -> None:
    image._image_digest = ecr_manifest_digest(image.image_manifest)


def _ecr_image_size(image: Any) -> int | None:
    """Amazon ECR API Reference, ImageDetail `imageSizeInBytes`: "The size, in bytes, of the image in the
    repository ... the Docker client compresses image layers before pushing them to a V2 Docker registry":
    the sum of the (compressed) layer sizes the manifest lists. A manifest list's ("the max size of all
    manifests in the list") is not computed: None, as moto answers for it."""
    try:
        manifest = json.loads(image.image_manifest)
    except ValueError:
        return None
    layers = manifest.get("layers") if isinstance(manifest, dict) else None
    if not isinstance(layers, list):
        return None
    return sum(int(layer.get("size") or 0) for layer in layers if isinstance(layer, dict))


def fix_moto_ecr_images() -> None:
    """moto's image digest is the sha256 of the joined layer digests and its size the config blob's; ECR's
    are those of the manifest and its layers (README "moto quirks handled")."""
    EcrImage._create_digest = _ecr_image_digest
    EcrImage.get_image_size_in_bytes = _ecr_image_size


# Pull-through cache rules (moto 5.2.5 serves none of the three operations).
# The upstream registries ECR supports, by URL (ECR API Reference, CreatePullThroughCacheRule
# `upstreamRegistryUrl`: "The following is the syntax to use for each supported upstream registry"), with the
# `upstreamRegistry` ECR answers and whether the rule needs a Secrets Manager `credentialArn` (Amazon ECR User
# Guide, "Creating a pull through cache rule in Amazon ECR": Docker Hub, GitHub Container Registry, Microsoft
# Azure Container Registry and GitLab Container Registry need one; ECR Public, Kubernetes and Quay do not).
ECR_UPSTREAMS: dict[str, tuple[str, bool]] = {
    "public.ecr.aws": ("ecr-public", False),
    "registry.k8s.io": ("k8s", False),
    "quay.io": ("quay", False),
    "registry-1.docker.io": ("docker-hub", True),
    "ghcr.io": ("github-container-registry", True),
    "registry.gitlab.com": ("gitlab-container-registry", True),
}


def ecr_upstream(url: Any) -> tuple[str, bool]:
    """(`upstreamRegistry`, needs a credential) of a supported upstream URL; UnsupportedUpstreamRegistryException
    ("The specified upstream registry isn't supported.", the exception's modelled description) for any other."""
    text = str(url or "")
    if text in ECR_UPSTREAMS:
        return ECR_UPSTREAMS[text]
    if re.fullmatch(r"[a-z0-9-]+\.azurecr\.io", text):
        return ("azure-container-registry", True)
    if re.fullmatch(r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com", text):
        return ("ecr", False)
    raise AwsError("UnsupportedUpstreamRegistryException", "The specified upstream registry isn't supported.")


def ecr_rule_key(req: AwsRequest, prefix: Any) -> tuple[str, str, str]:
    return (str(req.params.get("registryId") or ACCOUNT_ID), req.region, str(prefix))


def ecr_rule_not_found() -> AwsError:
    # The exception's modelled description (ECR API Reference, PullThroughCacheRuleNotFoundException).
    return AwsError(
        "PullThroughCacheRuleNotFoundException",
        "The pull through cache rule was not found. Specify a valid pull through cache rule and try again.",
    )


def ecr_create_pull_through_cache_rule(shim: Shim, req: AwsRequest) -> Response:
    """CreatePullThroughCacheRule (ECR API Reference): one rule per `ecrRepositoryPrefix` in a registry
    (PullThroughCacheRuleAlreadyExistsException "A pull through cache rule with these settings already exists for
    the private registry."); an upstream ECR does not support is UnsupportedUpstreamRegistryException, and so is one
    that needs credentials given none ("The specified upstream registry requires authentication. Specify a valid
    Secrets Manager ARN", aws-controllers-k8s/community#2589). The prefix's length and pattern, and the
    `ecr-pullthroughcache/` name of a credential's secret, are the model's (validation.py). Not modelled: whether
    the secret exists (SecretNotFoundException) and registry-wide quotas."""
    prefix = req.params.get("ecrRepositoryPrefix")
    upstream, needs_credential = ecr_upstream(req.params.get("upstreamRegistryUrl"))
    credential = req.params.get("credentialArn")
    if needs_credential and not credential:
        raise AwsError(
            "UnsupportedUpstreamRegistryException",
            "The specified upstream registry requires authentication. Specify a valid Secrets Manager ARN.",
        )
    key = ecr_rule_key(req, prefix)
    with shim.state.lock:
        if key in shim.state.ecr_cache_rules:
            raise AwsError(
                "PullThroughCacheRuleAlreadyExistsException",
                "A pull through cache rule with these settings already exists for the private registry.",
            )
        rule: dict[str, Any] = {
            "ecrRepositoryPrefix": prefix,
            "upstreamRegistryUrl": req.params.get("upstreamRegistryUrl"),
            "createdAt": round(time.time(), 3),
            "registryId": key[0],
            "upstreamRegistry": upstream,
        }
        if credential:
            rule["credentialArn"] = credential
        shim.state.ecr_cache_rules[key] = rule
    ecr_pull_through_cache_role(key[0])
    return json_response(req, rule)


def ecr_pull_through_cache_role(account: str) -> None:
    """ECR creates the service-linked role AWSServiceRoleForECRPullThroughCache, trusting
    pullthroughcache.ecr.amazonaws.com, with the account's first rule (ECR User Guide, "Using service-linked
    roles for Amazon ECR": "After you configure replication or pull through cache for your registry, a
    service-linked role is created automatically on your behalf"; the IAM evaluator requires the caller's
    iam:CreateServiceLinkedRole while it is absent, iam/operations/ecr.py)."""
    from moto.iam.models import iam_backends

    service = "pullthroughcache.ecr.amazonaws.com"
    iam = iam_backends[account]["aws"]
    if any(role.name == "AWSServiceRoleForECRPullThroughCache" for role in iam.roles.values()):
        return
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(
        "AWSServiceRoleForECRPullThroughCache",
        json.dumps(trust),
        f"/aws-service-role/{service}/",
        None,
        "",
        [],
        None,
        linked_service=service,
    )


def ecr_describe_pull_through_cache_rules(shim: Shim, req: AwsRequest) -> Response:
    """DescribePullThroughCacheRules: the rules of the prefixes named (any unknown one is
    PullThroughCacheRuleNotFoundException), else every rule of the registry, `maxResults` at a time with a
    `nextToken` for the rest."""
    registry = str(req.params.get("registryId") or ACCOUNT_ID)
    named = req.params.get("ecrRepositoryPrefixes")
    with shim.state.lock:
        rules = shim.state.ecr_cache_rules
        if named:
            keys = [ecr_rule_key(req, prefix) for prefix in named]
            if any(key not in rules for key in keys):
                raise ecr_rule_not_found()
            found = [rules[key] for key in keys]
        else:
            found = [rule for (reg, region, _), rule in sorted(rules.items()) if (reg, region) == (registry, req.region)]
    start = int(req.params.get("nextToken") or 0)
    size = int(req.params.get("maxResults") or 100)
    answer: dict[str, Any] = {"pullThroughCacheRules": found[start : start + size]}
    if start + size < len(found):
        answer["nextToken"] = str(start + size)
    return json_response(req, answer)


def ecr_delete_pull_through_cache_rule(shim: Shim, req: AwsRequest) -> Response:
    """DeletePullThroughCacheRule: answers the rule it deleted; an unknown prefix is
    PullThroughCacheRuleNotFoundException. The repositories the rule's pulls created stay, as in ECR (they are
    ordinary repositories once created)."""
    key = ecr_rule_key(req, req.params.get("ecrRepositoryPrefix"))
    with shim.state.lock:
        rule = shim.state.ecr_cache_rules.pop(key, None)
    if rule is None:
        raise ecr_rule_not_found()
    return json_response(req, rule)


# The operations this module answers, by (signing name, operation); front.py merges every service's table.
SERVED: dict[tuple[str, str], Handler] = {
    ("ecr", "PutImageScanningConfiguration"): ecr_put_image_scanning_configuration,
    ("ecr", "GetAuthorizationToken"): ecr_get_authorization_token,
    ("ecr", "PutImage"): ecr_put_image,
    ("ecr", "DescribeImageScanFindings"): ecr_describe_image_scan_findings,
    ("ecr", "StartImageScan"): ecr_start_image_scan,
    ("ecr", "DescribeImages"): ecr_describe_images,
    ("ecr", "CreatePullThroughCacheRule"): ecr_create_pull_through_cache_rule,
    ("ecr", "DescribePullThroughCacheRules"): ecr_describe_pull_through_cache_rules,
    ("ecr", "DeletePullThroughCacheRule"): ecr_delete_pull_through_cache_rule,
}
