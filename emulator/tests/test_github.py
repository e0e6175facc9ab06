"""The GitHub REST API stand-in (awsshim/github.py) against a real shim process: commit statuses created and
listed as GitHub answers them, its authentication and validation refusals, and the injected rate limits and
outages a client must ride out."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from shim_helpers import control

SHA = "7af9a5b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7"
REPO = "octo-org/hello-app"


def github(url: str, method: str, path: str, payload: Any = None, token: str | None = "good-token", scheme: str = "Bearer") -> tuple[int, dict[str, str], Any]:
    """One REST call to the stand-in: (status, lower-cased headers, parsed JSON body)."""
    data = None if payload is None else json.dumps(payload).encode()
    headers = {"Accept": "application/vnd.github+json", "Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"{scheme} {token}"
    request = urllib.request.Request(url + "/_github" + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, json.loads(error.read())


def configure(shim: str, tokens: Any = None, repositories: list[str] | None = None) -> Any:
    return control(shim, "POST", "/_shim/github", {"tokens": tokens or ["good-token"], "repositories": repositories or [REPO]})


def test_a_status_is_created_listed_newest_first_and_recorded(shim: str) -> None:
    assert configure(shim) == {"tokens": 1, "repositories": [REPO], "pending_faults": 0}
    body = {"state": "pending", "target_url": "https://example.com/run", "description": "Deploying", "context": "pipeline-dev/staging"}
    status, headers, created = github(shim, "POST", f"/repos/{REPO}/statuses/{SHA}", body)
    assert status == 201, created
    assert created["state"] == "pending" and created["context"] == "pipeline-dev/staging"
    assert created["target_url"] == "https://example.com/run" and created["description"] == "Deploying"
    assert isinstance(created["id"], int) and created["created_at"].endswith("Z")
    assert headers["x-ratelimit-limit"] == "5000" and int(headers["x-ratelimit-remaining"]) < 5000
    # `token TOKEN` is accepted as well as `Bearer TOKEN`.
    status, _, _ = github(shim, "POST", f"/repos/{REPO}/statuses/{SHA}", {**body, "state": "success"}, scheme="token")
    assert status == 201
    status, _, listed = github(shim, "GET", f"/repos/{REPO}/commits/{SHA}/statuses")
    assert status == 200 and [s["state"] for s in listed] == ["success", "pending"]
    recorded = control(shim, "GET", "/_shim/github/statuses")
    assert [(r["repository"], r["sha"], r["state"]) for r in recorded] == [(REPO, SHA, "pending"), (REPO, SHA, "success")]


def test_the_context_defaults_to_default(shim: str) -> None:
    configure(shim)
    status, _, created = github(shim, "POST", f"/repos/{REPO}/statuses/{SHA}", {"state": "failure"})
    assert status == 201 and created["context"] == "default" and created["description"] is None


def test_missing_or_wrong_tokens_are_refused_with_401_and_no_status(shim: str) -> None:
    configure(shim)
    status, _, body = github(shim, "POST", f"/repos/{REPO}/statuses/{SHA}", {"state": "pending"}, token=None)
    assert status == 401 and body["message"] == "Requires authentication"
    status, _, body = github(shim, "POST", f"/repos/{REPO}/statuses/{SHA}", {"state": "pending"}, token="stale-token")
    assert status == 401 and body["message"] == "Bad credentials" and body["documentation_url"].startswith("https://docs.github.com")
    status, _, body = github(shim, "POST", f"/repos/{REPO}/statuses/{SHA}", {"state": "pending"}, scheme="Basic")
    assert status == 401 and body["message"] == "Bad credentials"
    assert control(shim, "GET", "/_shim/github/statuses") == []
    requests = control(shim, "GET", "/_shim/github/requests")
    assert [r["status"] for r in requests] == [401, 401, 401]
    assert "good-token" not in json.dumps(requests) and "stale-token" not in json.dumps(requests)


def test_unknown_or_invisible_repositories_answer_404(shim: str) -> None:
    configure(shim, tokens={"good-token": [REPO], "narrow-token": ["octo-org/other"]}, repositories=[REPO, "octo-org/other"])
    status, _, body = github(shim, "POST", f"/repos/octo-org/missing/statuses/{SHA}", {"state": "pending"})
    assert status == 404 and body["message"] == "Not Found"
    status, _, _ = github(shim, "POST", f"/repos/{REPO}/statuses/{SHA}", {"state": "pending"}, token="narrow-token")
    assert status == 404
    # Repository names are case-insensitive on GitHub.
    status, _, _ = github(shim, "POST", f"/repos/Octo-Org/Hello-App/statuses/{SHA}", {"state": "pending"})
    assert status == 201


def test_bad_states_shas_and_bodies_are_refused(shim: str) -> None:
    configure(shim)
    status, _, body = github(shim, "POST", f"/repos/{REPO}/statuses/{SHA}", {"state": "running"})
    assert status == 422 and body["message"] == "Validation Failed" and body["errors"][0]["field"] == "state"
    status, _, body = github(shim, "POST", f"/repos/{REPO}/statuses/not-a-sha", {"state": "pending"})
    assert status == 422 and body["message"] == "No commit found for SHA: not-a-sha"
    status, _, body = github(shim, "POST", f"/repos/{REPO}/statuses/{SHA}", {"state": "pending", "description": 7})
    assert status == 422 and "description" in body["message"]
    status, _, body = github(shim, "POST", f"/repos/{REPO}/statuses/{SHA}", {"state": "pending", "description": "d" * 141})
    assert status == 422 and body["message"] == "Validation Failed" and body["errors"][0]["field"] == "description"
    status, _, body = github(shim, "POST", f"/repos/{REPO}/statuses/{SHA + SHA[:24]}", {"state": "pending"})  # 64 hex: not a SHA-1 commit id
    assert status == 422 and body["message"].startswith("No commit found")
    status, _, body = github(shim, "POST", f"/repos/{REPO}/statuses/{SHA}", [1])
    assert status == 400 and body["message"] == "Problems parsing JSON"
    assert control(shim, "GET", "/_shim/github/statuses") == []
    status, _, created = github(shim, "POST", f"/repos/{REPO}/statuses/{SHA}", {"state": "error", "description": "d" * 140})
    assert status == 201 and len(created["description"]) == 140


def test_a_context_holds_at_most_1000_statuses(shim: str) -> None:
    configure(shim)
    for _ in range(1000):
        status, _, _ = github(shim, "POST", f"/repos/{REPO}/statuses/{SHA}", {"state": "pending", "context": "ci"})
        assert status == 201
    status, _, body = github(shim, "POST", f"/repos/{REPO}/statuses/{SHA}", {"state": "pending", "context": "CI"})
    assert status == 422 and body["message"] == "Validation Failed"
    status, _, _ = github(shim, "POST", f"/repos/{REPO}/statuses/{SHA}", {"state": "pending", "context": "other"})
    assert status == 201


def test_injected_rate_limits_and_outages_answer_as_github_then_clear(shim: str) -> None:
    configure(shim)
    control(shim, "POST", "/_shim/github/faults", {"kind": "rate-limit", "count": 1, "status": 429, "reset_in": 2})
    control(shim, "POST", "/_shim/github/faults", {"kind": "secondary-rate-limit", "retry_after": 3})
    control(shim, "POST", "/_shim/github/faults", {"kind": "server-error", "count": 2})
    path, body = f"/repos/{REPO}/statuses/{SHA}", {"state": "pending"}
    status, headers, answer = github(shim, "POST", path, body)
    assert status == 429 and headers["x-ratelimit-remaining"] == "0" and "rate limit exceeded" in answer["message"]
    assert 0 < int(headers["x-ratelimit-reset"]) - time.time() <= 3
    status, headers, answer = github(shim, "POST", path, body)
    assert status == 403 and headers["retry-after"] == "3" and "secondary rate limit" in answer["message"]
    assert [github(shim, "POST", path, body)[0] for _ in range(2)] == [503, 503]
    assert github(shim, "POST", path, body)[0] == 201
    assert len(control(shim, "GET", "/_shim/github/statuses")) == 1


def test_fault_and_setting_mistakes_are_refused_with_the_fix(shim: str) -> None:
    for payload, needle in [
        ({"kind": "flood"}, "kind"),
        ({"kind": "server-error", "status": 429}, "server-error answers one of"),
        ({"kind": "rate-limit", "count": 0}, "count"),
        ({"kind": "rate-limit", "retry_after": "soon"}, "retry_after"),
    ]:
        try:
            control(shim, "POST", "/_shim/github/faults", payload)
        except urllib.error.HTTPError as error:
            assert error.code == 400 and needle in json.loads(error.read())["error"]
        else:
            raise AssertionError(f"{payload} was accepted")
    try:
        control(shim, "POST", "/_shim/github", {"tokens": ["t"], "repositories": ["no-slash"]})
    except urllib.error.HTTPError as error:
        assert error.code == 400 and "owner/repo" in json.loads(error.read())["error"]
    else:
        raise AssertionError("a repository without owner was accepted")


def test_a_reset_forgets_tokens_statuses_and_faults(shim: str) -> None:
    configure(shim)
    assert github(shim, "POST", f"/repos/{REPO}/statuses/{SHA}", {"state": "pending"})[0] == 201
    control(shim, "POST", "/_shim/github/faults", {"kind": "server-error"})
    control(shim, "POST", "/_shim/reset")
    assert control(shim, "GET", "/_shim/github") == {"tokens": 0, "repositories": [], "pending_faults": 0}
    assert control(shim, "GET", "/_shim/github/statuses") == []
    assert github(shim, "POST", f"/repos/{REPO}/statuses/{SHA}", {"state": "pending"})[0] == 401
