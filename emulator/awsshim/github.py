"""GitHub's REST API stand-in under /_github (README "GitHub stand-in"): the commit-status endpoints the
event-notifier calls, with GitHub's authentication, its 401/404/422 answers and its rate-limit headers, so a
client can be tested against what GitHub answers. `GITHUB_API_URL=http://127.0.0.1:PORT/_github`.

GitHub's documents this follows (cited once here, named again where used):
- "REST API endpoints for commit statuses", https://docs.github.com/en/rest/commits/statuses
  (Create a commit status: POST /repos/{owner}/{repo}/statuses/{sha}, `state` one of error, failure, pending,
  success, optional target_url, description, context (default "default"), 201 with the status; "there is a
  limit of 1000 statuses per sha and context within a repository. Attempts to create more than 1000
  statuses will result in a validation error"; List commit statuses for a reference:
  GET /repos/{owner}/{repo}/commits/{ref}/statuses, reverse chronological order).
- "Authenticating to the REST API", https://docs.github.com/en/rest/authentication/authenticating-to-the-rest-api
  (`Authorization: Bearer TOKEN` or `Authorization: token TOKEN`; a bad token answers 401 "Bad credentials").
- "Troubleshooting the REST API", https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api
  (404 for a private repository the token cannot see; 422 "Validation Failed").
- "Rate limits for the REST API", https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api
  (primary limit: 403 or 429 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset` in UTC epoch seconds;
  secondary limit: 403 or 429 with an error message, `retry-after` in seconds when present).
"""

from __future__ import annotations

import datetime
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .core import ControlCall, Shim
from .parsing import read_body
from .protocol import Response, control_json

PREFIX = "/_github"
DOCS = "https://docs.github.com/rest"
STATES = ("error", "failure", "pending", "success")
# Commit statuses: at most 1000 per sha and context in a repository (see the module docstring).
MAX_STATUSES_PER_CONTEXT = 1000
RATE_LIMIT = 5000  # a personal access token's primary limit per hour ("Rate limits for the REST API")
# A commit id as the notifier sends it: 40 hex digits (SHA-1). GitHub resolves the path's sha as a commit and
# answers 422 "No commit found for SHA" when none matches (observed; the docs document only "422 Validation
# failed, or the endpoint has been spammed"); a 64-hex SHA-256 id is refused here too, as the notifier never sends one.
SHA = re.compile(r"^[0-9a-fA-F]{40}$")
# GitHub answers 422 "Validation Failed" (field description, "is too long (maximum is 140 characters)") for a
# longer description: observed behaviour, not in the endpoint's documentation, which says only "a short
# description of the status". The `state` list is documented (enum error, failure, pending, success).
MAX_DESCRIPTION_CHARS = 140
STATUSES_PATH = re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/statuses/(?P<sha>[^/]+)$")
LIST_PATH = re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/commits/(?P<ref>[^/]+)/statuses$")
FAULT_KINDS = ("rate-limit", "secondary-rate-limit", "server-error")


@dataclass
class GitHubState:
    """Tokens (each with the repositories it can see, None for all), repositories, queued faults, statuses."""

    tokens: dict[str, list[str] | None] = field(default_factory=dict)
    repositories: list[str] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    used: int = 0
    ids: Any = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def settings(self) -> dict[str, Any]:
        # Tokens are secrets even here: the control API names how many, never which.
        return {"tokens": len(self.tokens), "repositories": self.repositories, "pending_faults": len(self.faults)}


_CREATE_LOCK = threading.Lock()


def github_state(shim: Shim) -> GitHubState:
    """The stand-in's state for this shim, made at first use; `POST /_shim/reset` (ShimState.clear) drops it."""
    with _CREATE_LOCK:
        if shim.state.github is None:
            shim.state.github = GitHubState()
        state: GitHubState = shim.state.github
        return state


def github_request(environ: dict[str, Any]) -> bool:
    path = environ.get("PATH_INFO", "")
    return path == PREFIX or path.startswith(PREFIX + "/")


def github_json(status: int, payload: Any, extra: list[tuple[str, str]] | None = None) -> Response:
    body = json.dumps(payload).encode()
    headers = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(body)))]
    return Response(status, headers + (extra or []), body)


def github_error(status: int, message: str, extra: list[tuple[str, str]] | None = None, **more: Any) -> Response:
    # GitHub's error body: {"message", "documentation_url", "status"} (the "status" member as a string).
    return github_json(status, {"message": message, **more, "documentation_url": DOCS, "status": str(status)}, extra)


def rate_headers(state: GitHubState, remaining: int | None = None, reset_in: int = 3600) -> list[tuple[str, str]]:
    left = max(RATE_LIMIT - state.used, 0) if remaining is None else remaining
    return [
        ("x-ratelimit-limit", str(RATE_LIMIT)),
        ("x-ratelimit-remaining", str(left)),
        ("x-ratelimit-reset", str(int(time.time()) + reset_in)),
        ("x-ratelimit-used", str(RATE_LIMIT - left)),
        ("x-ratelimit-resource", "core"),
    ]


def injected(state: GitHubState) -> Response | None:
    """The next queued fault's answer, as GitHub shapes it ("Rate limits for the REST API")."""
    if not state.faults:
        return None
    fault = state.faults[0]
    fault["count"] -= 1
    if fault["count"] <= 0:
        state.faults.pop(0)
    status = fault["status"]
    if fault["kind"] == "rate-limit":
        message = "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID."
        return github_error(status, message, rate_headers(state, remaining=0, reset_in=fault["reset_in"]))
    if fault["kind"] == "secondary-rate-limit":
        message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
        return github_error(status, message, rate_headers(state) + [("retry-after", str(fault["retry_after"]))])
    return github_json(status, {"message": "Server Error"})


def authenticated(state: GitHubState, environ: dict[str, Any]) -> tuple[str | None, Response | None]:
    """The token of `Authorization: Bearer T` / `token T`, or GitHub's 401 ("Authenticating to the REST API")."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if not header:
        return None, github_error(401, "Requires authentication")
    if scheme.lower() not in ("bearer", "token") or token.strip() not in state.tokens:
        return None, github_error(401, "Bad credentials")
    return token.strip(), None


def visible_repository(state: GitHubState, token: str, owner: str, repo: str) -> str | None:
    """The repository's configured spelling when it exists and the token can see it; GitHub answers 404 otherwise
    (a private repository is invisible to a token without access, "Troubleshooting the REST API")."""
    wanted = f"{owner}/{repo}".lower()
    name = next((r for r in state.repositories if r.lower() == wanted), None)
    allowed = state.tokens.get(token)
    if name is None or (allowed is not None and wanted not in {r.lower() for r in allowed}):
        return None
    return name


def create_status(state: GitHubState, repository: str, sha: str, body: bytes) -> Response:
    """POST /repos/{owner}/{repo}/statuses/{sha} ("REST API endpoints for commit statuses")."""
    try:
        payload = json.loads(body) if body.strip() else None
    except ValueError:
        return github_error(400, "Problems parsing JSON")
    if not isinstance(payload, dict):
        return github_error(400, "Problems parsing JSON")
    state_name = payload.get("state")
    if state_name not in STATES:
        errors = [{"resource": "Status", "code": "custom", "field": "state", "message": "state is not included in the list"}]
        return github_error(422, "Validation Failed", errors=errors)
    if not SHA.match(sha):
        return github_error(422, f"No commit found for SHA: {sha}")
    context = payload.get("context") or "default"
    for member in ("target_url", "description", "context"):
        if payload.get(member) is not None and not isinstance(payload[member], str):
            return github_error(422, f"Invalid request.\n\nFor '{member}', {json.dumps(payload[member])} is not a string.")
    description = payload.get("description")
    if isinstance(description, str) and len(description) > MAX_DESCRIPTION_CHARS:
        errors = [{"resource": "Status", "code": "custom", "field": "description", "message": f"description is too long (maximum is {MAX_DESCRIPTION_CHARS} characters)"}]
        return github_error(422, "Validation Failed", errors=errors)
    same = [s for s in state.statuses if s["repository"] == repository and s["sha"] == sha.lower() and s["context"].lower() == context.lower()]
    if len(same) >= MAX_STATUSES_PER_CONTEXT:
        errors = [{"resource": "Status", "code": "custom", "message": "This SHA and context has reached the maximum number of statuses."}]
        return github_error(422, "Validation Failed", errors=errors)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    status_id = next(state.ids)
    status = {
        "url": f"https://api.github.com/repos/{repository}/statuses/{sha.lower()}",
        "id": status_id,
        "node_id": f"SC_stand_in_{status_id}",
        "state": state_name,
        "description": payload.get("description"),
        "target_url": payload.get("target_url"),
        "context": context,
        "created_at": now,
        "updated_at": now,
        "creator": {"login": "pipeline-bot", "id": 1, "type": "User"},
    }
    state.statuses.append({"repository": repository, "sha": sha.lower(), **status})
    return github_json(201, status, [("Location", status["url"])] + rate_headers(state))


def list_statuses(state: GitHubState, repository: str, ref: str) -> Response:
    """GET /repos/{owner}/{repo}/commits/{ref}/statuses: newest first ("REST API endpoints for commit statuses")."""
    found = [
        {k: v for k, v in s.items() if k not in ("repository", "sha")}
        for s in reversed(state.statuses)
        if s["repository"] == repository and s["sha"] == ref.lower()
    ]
    return github_json(200, found, rate_headers(state))


def github_call(shim: Shim, environ: dict[str, Any]) -> Response:
    """One REST call under /_github: a queued fault first, then authentication, the repository, the endpoint."""
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = environ.get("PATH_INFO", "")[len(PREFIX):].rstrip("/")
    body = read_body(environ)
    state = github_state(shim)
    with state.lock:
        response = answer(state, method, path, body, environ)
        state.requests.append({"method": method, "path": path, "status": response.status})
        return response


def answer(state: GitHubState, method: str, path: str, body: bytes, environ: dict[str, Any]) -> Response:
    fault = injected(state)
    if fault is not None:
        return fault
    token, refusal = authenticated(state, environ)
    if refusal is not None or token is None:
        return refusal or github_error(401, "Bad credentials")
    state.used += 1
    create, listing = STATUSES_PATH.match(path), LIST_PATH.match(path)
    matched = create or listing
    if matched is None:
        return github_error(404, "Not Found")
    repository = visible_repository(state, token, matched["owner"], matched["repo"])
    if repository is None:
        return github_error(404, "Not Found")
    if create is not None and method == "POST":
        return create_status(state, repository, create["sha"], body)
    if listing is not None and method == "GET":
        return list_statuses(state, repository, listing["ref"])
    return github_error(404, "Not Found")


def github_settings(shim: Shim, call: ControlCall) -> Response:
    """GET|POST /_shim/github: `{"tokens": [T, ...] or {T: [owner/repo, ...] or null}, "repositories": [...]}`."""
    state = github_state(shim)
    with state.lock:
        if call.method == "POST":
            payload = call.payload if isinstance(call.payload, dict) else {}
            tokens, repositories = payload.get("tokens"), payload.get("repositories")
            if isinstance(tokens, list):
                tokens = {token: None for token in tokens}
            if not isinstance(tokens, dict) or not all(isinstance(t, str) and t for t in tokens):
                raise ValueError('send {"tokens": ["TOKEN", ...] or {"TOKEN": ["owner/repo", ...] or null}, "repositories": ["owner/repo", ...]}')
            if not isinstance(repositories, list) or not all(isinstance(r, str) and r.count("/") == 1 for r in repositories):
                raise ValueError('"repositories" must be a list of "owner/repo" names')
            state.tokens, state.repositories = dict(tokens), list(repositories)
        return control_json(state.settings())


def github_faults(shim: Shim, call: ControlCall) -> Response:
    """POST /_shim/github/faults `{"kind": rate-limit|secondary-rate-limit|server-error, "count": N, "status": S,
    "retry_after": SECONDS, "reset_in": SECONDS}`: the next N GitHub calls get that answer; DELETE clears them."""
    state = github_state(shim)
    with state.lock:
        if call.method == "DELETE":
            state.faults.clear()
        elif call.method == "POST":
            state.faults.append(parse_fault(call.payload))
        return control_json({"pending": state.faults})


def parse_fault(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict) or payload.get("kind") not in FAULT_KINDS:
        raise ValueError(f'send {{"kind": one of {list(FAULT_KINDS)}, "count": N}}, got {payload!r}')
    kind = payload["kind"]
    numbers = {"count": 1, "retry_after": 1, "reset_in": 1, "status": 503 if kind == "server-error" else 403}
    fault: dict[str, Any] = {"kind": kind}
    for name, default in numbers.items():
        value = payload.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f'"{name}" must be an integer >= 0, got {value!r}')
        fault[name] = value
    allowed = (500, 502, 503, 504) if kind == "server-error" else (403, 429)
    if fault["status"] not in allowed:
        raise ValueError(f'a {kind} answers one of {list(allowed)}, not {fault["status"]}')
    if fault["count"] < 1:
        raise ValueError('"count" must be at least 1')
    return fault


def github_records(shim: Shim, call: ControlCall) -> Response:
    """GET /_shim/github/statuses: every status created, oldest first, with `repository` and `sha`;
    GET /_shim/github/requests: every REST call (method, path, answer status; never the token). DELETE clears."""
    state = github_state(shim)
    records = state.statuses if call.path.endswith("/statuses") else state.requests
    with state.lock:
        if call.method == "DELETE":
            records.clear()
        return control_json(list(records))
