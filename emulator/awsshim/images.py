"""Images marked bad (`/_shim/ecs/bad-images`, `/_shim/lambda/bad-images`): ECS tasks of them fail to
start and Lambda cannot run them; one list for both services. And the platform each image pushed through
the registry was built for (its config blob's `os` / `architecture`), which Lambda and ECS hold against
the architecture they run the image on."""

from __future__ import annotations

import json
import re
from typing import Any

from moto.ecr.models import ecr_backends

from .core import ControlCall, Shim
from .iam.operations.awslambda import ecr_image_reference
from .protocol import Response, control_json
from .state import ShimState

# The OCI image config's `architecture` uses Go's GOARCH names (OCI Image Format Specification, "Image
# Configuration": "architecture ... values SHOULD be listed in the Go Language document for GOARCH");
# Lambda's `Architectures` says x86_64 | arm64 (Lambda API Reference, CreateFunction) and ECS's
# `runtimePlatform.cpuArchitecture` X86_64 | ARM64 (ECS API Reference, RuntimePlatform).
GOARCH_OF = {"x86_64": "amd64", "amd64": "amd64", "arm64": "arm64", "aarch64": "arm64"}


def goarch(architecture: Any) -> str | None:
    """An architecture as GOARCH names it (`amd64`, `arm64`), whichever service's spelling it is in."""
    return GOARCH_OF.get(str(architecture or "").lower())


def record_image_platform(state: ShimState, digest: str, config: bytes) -> None:
    """Records the platform an image config blob names for the manifest `digest` (caller holds the lock)."""
    try:
        loaded = json.loads(config)
    except ValueError:
        return
    if not isinstance(loaded, dict) or not isinstance(loaded.get("architecture"), str):
        return
    platform = {key: loaded[key] for key in ("os", "architecture", "variant") if isinstance(loaded.get(key), str)}
    entrypoint = (loaded.get("config") or {}).get("Entrypoint") if isinstance(loaded.get("config"), dict) else None
    if isinstance(entrypoint, list) and entrypoint and isinstance(entrypoint[0], str):
        platform["entrypoint"] = entrypoint[0]  # what the runtime fails to exec on another architecture
    state.image_platforms[digest] = platform


def image_platform(state: ShimState, uri: Any, digest: str | None = None) -> dict[str, str] | None:
    """The recorded platform of an ECR image (its URI by tag or digest, or its manifest digest), or None
    when it was not pushed through the registry (caller holds the lock)."""
    if digest is None:
        image = ecr_image_reference(uri)
        if image is None:
            return None
        digest = image.get("digest")
        if digest is None:
            repository = ecr_backends[image["registry"]][image["region"]].repositories.get(image["name"])
            found = next((i for i in (repository.images if repository else []) if image["tag"] in i.image_tags), None)
            digest = found.get_image_digest() if found is not None else None
    return state.image_platforms.get(digest) if digest else None


def architecture_mismatch(state: ShimState, uri: Any, runs_on: Any, digest: str | None = None) -> str | None:
    """The image's architecture (GOARCH) when it was recorded and differs from `runs_on`, else None."""
    platform = image_platform(state, uri, digest)
    built_for = goarch(platform.get("architecture")) if platform else None
    wanted = goarch(runs_on)
    return built_for if built_for and wanted and built_for != wanted else None


IMAGE_DIGEST = re.compile(r"sha256:[A-Fa-f0-9]+")


def image_marked_bad(state: ShimState, *images: str | None) -> bool:
    """Whether an image (its URI, or the sha256 digest it is pinned to) is on the bad-images list: an
    entry matches the same URI, or any URI containing the same digest (caller holds the lock)."""
    for marker in state.bad_images:
        marked_digest = IMAGE_DIGEST.search(marker)
        for image in images:
            if not image:
                continue
            if image == marker:
                return True
            digest = IMAGE_DIGEST.search(image)
            if marked_digest and digest and digest.group(0).lower() == marked_digest.group(0).lower():
                return True
    return False


def bad_images(shim: Shim, call: ControlCall) -> Response:
    """Images whose tasks fail to start (ECS) or that Lambda cannot run: one list for both services."""
    method, payload = call.method, call.payload
    with shim.state.lock:
        if method == "POST":
            images = payload.get("images") if isinstance(payload, dict) else None
            if (
                not isinstance(payload, dict)
                or set(payload) != {"images"}
                or not isinstance(images, list)
                or not all(isinstance(image, str) and image for image in images)
            ):
                raise ValueError('send {"images": ["<image URI or sha256:DIGEST>", ...]}')
            for image in images:
                if image not in shim.state.bad_images:
                    shim.state.bad_images.append(image)
        elif method == "DELETE":
            shim.state.bad_images.clear()
        return control_json({"images": list(shim.state.bad_images)})
