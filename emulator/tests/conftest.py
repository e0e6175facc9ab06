"""Fixtures of the emulator tests: a real shim process per test module, reset before each test that
uses it. The helpers to drive it (clients, control API, IAM principals) are in shim_helpers.py."""

from __future__ import annotations

from typing import Iterator

import pytest

from shim_helpers import control, start_shim, stop_shim


@pytest.fixture(scope="module")
def shim() -> Iterator[str]:
    """The URL of a shim process the test module shares; the process stops after the module's last test."""
    process, url = start_shim()
    yield url
    stop_shim(process)


@pytest.fixture(autouse=True)
def fresh(request: pytest.FixtureRequest) -> None:
    """Reset the shim (`POST /_shim/reset`) before each test that uses it, so no test sees another's state;
    a test that does not use the shim starts none."""
    if "shim" in request.fixturenames:
        control(request.getfixturevalue("shim"), "POST", "/_shim/reset")
