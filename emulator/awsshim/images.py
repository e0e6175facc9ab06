"""Images marked bad (`/_shim/ecs/bad-images`, `/_shim/lambda/bad-images`): ECS tasks of them fail to
start and Lambda cannot run them; one list for both services."""

from __future__ import annotations

import re

from .core import ControlCall, Shim
from .protocol import Response, control_json
from .state import ShimState


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
