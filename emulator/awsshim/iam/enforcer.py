"""`Enforcer`: IAM enforcement for requests signed with credentials the emulator issued. It resolves the
signer (identity.py), maps the operation to its checks (operations/), collects the policies and the
resource's policy (resources.py), evaluates (evaluation.py), answers AWS's access-denied error, records
denials, grants and replays (audit.py), and serves the control routes under `/_shim/iam`.
"""

from __future__ import annotations

import datetime
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import unquote

from .audit import ReplayLog, mutants
from .catalogue import unknown_actions
from .evaluation import evaluate
from .identity import Identity, access_key_id, find_identity
from .operations import checks_for
from .operations.s3 import s3_delete_entries
from .policy import Decision, RequestContext
from .probe import evaluate_requests
from .resources import ResourceLookup
from .scope import scope_report


_LAMBDA_FUNCTION_PATH = re.compile(r"^/[0-9-]+/functions/(?P<name>[^/]+)(?:/aliases/(?P<alias>[^/]+))?")
_LAMBDA_TAGS_PATH = re.compile(r"^/[0-9-]+/tags/(?P<arn>.+?)/?$")


@dataclass
class Denial:
    code: str
    message: str
    status: int
    record: dict[str, str]


def denial_error(protocol: str, service: str) -> tuple[str, int]:
    """AWS's access-denied code and HTTP status per protocol (botocore models:
    S3 AccessDenied 403, SNS AuthorizationError 403; IAM and STS answer
    AccessDenied 403; JSON services AccessDeniedException 400; Lambda
    AccessDeniedException 403)."""
    if protocol == "rest-xml":
        return "AccessDenied", 403
    if protocol == "query":
        return ("AuthorizationError", 403) if service == "sns" else ("AccessDenied", 403)
    if protocol == "rest-json":
        return "AccessDeniedException", 403
    return "AccessDeniedException", 400


class Enforcer:
    """Checks requests signed with emulator-issued credentials (see module doc)."""

    def __init__(
        self,
        account: str,
        *,
        s3_location: Callable[[dict[str, Any], str], tuple[str | None, str | None]],
        stored_bucket_policies: Callable[[], dict[str, bytes]],
        connection_tags: Callable[[str], dict[str, str] | None] = lambda arn: None,
    ) -> None:
        self.account = account
        self.s3_location = s3_location
        self.connection_tags = connection_tags
        self.resources = ResourceLookup(account, stored_bucket_policies)
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "lock", threading.Lock()):
            self.enforce = True
            # aws:SecureTransport: the emulator's plain HTTP on loopback stands for the HTTPS every
            # SDK speaks to AWS, so "true" unless told to treat requests as plain HTTP.
            self.secure_transport = True
            self.denials: list[dict[str, Any]] = []
            # Calls signed with issued credentials that were evaluated (allowed or denied).
            self.evaluated = 0
            # Every allowed action with the statement that allowed it: which grants were used.
            self.grants: list[dict[str, Any]] = []
            # The same evaluations with everything needed to evaluate them again (the mutants route).
            self.replays = ReplayLog()

    def settings(self) -> dict[str, Any]:
        return {
            "enforce": self.enforce,
            "secure_transport": self.secure_transport,
            "evaluated": self.evaluated,
            "denials": len(self.denials),
        }

    # ---- control API: /_shim/iam ----

    def control(self, method: str, path: str, payload: Any) -> tuple[Any, int] | None:
        if path == "/_shim/iam/service-call" and method == "POST":
            # Outside the lock: the judgement reads moto's backends and records under the lock.
            return self.service_call(payload), 200
        if path == "/_shim/iam/mutants" and method == "POST":
            # Replays run outside the lock on a snapshot: enforcement goes on meanwhile.
            principals = payload.get("principals") if isinstance(payload, dict) else None
            if (
                not isinstance(payload, dict)
                or set(payload) - {"principals"}
                or (
                    principals is not None
                    and not (isinstance(principals, list) and all(isinstance(p, str) for p in principals))
                )
            ):
                raise ValueError('send {} or {"principals": ["<role or user ARN>", ...]}')
            with self.lock:
                snapshot = self.replays.snapshot()
            return mutants(snapshot, principals), 200
        if path == "/_shim/iam/evaluate" and method == "POST":
            return evaluate_requests(payload), 200
        if path == "/_shim/iam/scope" and method == "POST":
            if not isinstance(payload, dict) or set(payload) != {"documents"}:
                raise ValueError('send {"documents": {"<name>": <policy document or JSON string>, ...}}')
            return scope_report(payload["documents"]), 200
        with self.lock:
            if path == "/_shim/iam":
                if method == "GET":
                    return self.settings(), 200
                if method == "POST":
                    fields = {"enforce", "secure_transport"}
                    if (
                        not isinstance(payload, dict)
                        or not payload
                        or set(payload) - fields
                        or not all(isinstance(value, bool) for value in payload.values())
                    ):
                        raise ValueError(
                            'send booleans for any of "enforce" and "secure_transport", e.g. {"enforce": false}'
                        )
                    self.enforce = payload.get("enforce", self.enforce)
                    self.secure_transport = payload.get("secure_transport", self.secure_transport)
                    return self.settings(), 200
            if path == "/_shim/iam/denials":
                if method == "GET":
                    return list(self.denials), 200
                if method == "DELETE":
                    self.denials.clear()
                    return {"cleared": True}, 200
            if path == "/_shim/iam/grants":
                if method == "GET":
                    return list(self.grants), 200
                if method == "DELETE":
                    self.grants.clear()
                    self.replays.clear()
                    return {"cleared": True}, 200
        return None

    # ---- a service acting on a resource owner's behalf ----

    def service_call(self, payload: Any) -> dict[str, Any]:
        """Whether a service principal may make a call through the resource's own policy, the
        way AWS decides a delivery: EventBridge publishing to a topic or invoking a function is
        allowed only by the topic's policy / the function's policy, with `aws:SourceArn` (the
        rule) and `aws:SourceAccount` set (IAM User Guide, "AWS global condition context keys":
        present when a service calls on a resource owner's behalf)."""
        if not isinstance(payload, dict):
            raise ValueError('send {"service", "action", "resource", "sourceArn", "sourceAccount"}')
        service, action, resource = payload.get("service"), payload.get("action"), payload.get("resource")
        if not all(isinstance(v, str) and v for v in (service, action, resource)):
            raise ValueError("service, action and resource are required strings")
        if action == "sns:Publish":
            ref: tuple[str, ...] = ("sns", resource.split(":")[3], resource)
        elif action == "lambda:InvokeFunction":
            ref = ("lambda", resource.split(":")[3], resource)
        else:
            raise ValueError(f"no resource policy to judge {action} by; the emulator knows sns:Publish and lambda:InvokeFunction")
        keys: dict[str, Any] = {}
        if isinstance(payload.get("sourceArn"), str):
            keys["aws:SourceArn"] = payload["sourceArn"]
        if isinstance(payload.get("sourceAccount"), str):
            keys["aws:SourceAccount"] = payload["sourceAccount"]
        context = RequestContext(
            action=action,
            resources=[resource],
            service_principal=service,
            account=self.account,
            condition_keys=keys,
        )
        policy = self.resources.policy(ref)
        decision = evaluate(context, [], policy, resource_policy_required=True)
        if not decision.allowed:
            with self.lock:
                self.denials.append(
                    {
                        "service": service,
                        "operation": action,
                        "time": time.time(),
                        "principal": service,
                        "action": action,
                        "resource": resource,
                        "reason": decision.reason,
                    }
                )
        return {"allowed": decision.allowed, "reason": decision.reason, "sid": decision.sid}

    # ---- the check ----

    def check(self, req: Any) -> Denial | None:
        """None when the request may go on; a Denial (AWS's error) otherwise.
        Only requests signed with emulator-issued credentials are checked."""
        with self.lock:
            if not self.enforce:
                return None
            secure = self.secure_transport
        key = access_key_id(req.environ)
        if not key:
            return None
        try:
            identity = find_identity(key)
        except Exception:  # noqa: BLE001 - an unreadable backend means "not issued"
            identity = None
        if identity is None:
            return None
        with self.lock:
            self.evaluated += 1
        try:
            denial = self.authorize(req, identity, secure)
        except Exception as error:  # noqa: BLE001 - fail closed for issued credentials
            denial = self.deny(req, identity, f"{req.service}:{req.operation}", "*", f"the emulator's IAM evaluation failed: {error!r}")
        if denial is not None:
            with self.lock:
                self.denials.append(
                    {"service": req.service, "operation": req.operation, "time": time.time(), **denial.record}
                )
        return denial

    def authorize(self, req: Any, identity: Identity, secure: bool = False) -> Denial | None:
        params = self.params(req)
        checks = checks_for(req.service, req.operation, params, self.account, req.region, self.resources.resolve)
        if checks is None:
            return self.deny(
                req,
                identity,
                f"{req.service}:{req.operation}",
                "*",
                f"the emulator has no IAM mapping for {req.service} {req.operation} "
                "(emulator/awsshim/iam/operations), so enforcement fails closed",
            )
        for check in checks:
            if check.always_allowed:
                continue
            resource_policy = self.resources.policy(check.policy_ref)
            for resource in check.resources:
                context = RequestContext(
                    action=check.action,
                    resources=[resource],
                    principal_arn=identity.arn,
                    role_arn=identity.role_arn,
                    account=identity.account,
                    condition_keys=self.condition_keys(
                        req, identity, {**self.tag_keys(req.service, params, resource), **dict(check.context)}, secure
                    ),
                )
                decision = evaluate(
                    context,
                    identity.policies,
                    resource_policy,
                    resource_policy_required=check.resource_policy_required,
                    permissions_boundary=identity.boundary,
                )
                if not decision.allowed:
                    return self.deny(req, identity, check.action, resource, decision.reason, decision)
                with self.lock:
                    self.grants.append(
                        {
                            "principal": identity.arn,
                            "role": identity.role_arn,
                            "operation": f"{req.service}:{req.operation}",
                            "action": check.action,
                            "resource": resource,
                            "sid": decision.sid,
                            "policy": decision.policy,
                            "policyType": decision.policy_type,
                        }
                    )
                    # What this evaluation saw, so POST /_shim/iam/mutants can evaluate it again.
                    self.replays.record(
                        principal=identity.arn,
                        role=identity.role_arn,
                        operation=f"{req.service}:{req.operation}",
                        action=check.action,
                        resource=resource,
                        account=identity.account,
                        condition_keys=context.condition_keys,
                        policies=identity.policies,
                        resource_policy=resource_policy,
                        resource_policy_required=check.resource_policy_required,
                    )
        return None

    def may(self, req: Any, action: str, resource: str, policy_ref: tuple[str, ...] | None = None) -> bool:
        """Whether the signer of `req` may perform `action` on `resource`, for the checks a service makes
        with its caller's permissions beyond the call's own authorization (Lambda adding the statement it
        needs to a repository policy when its caller may get and set that policy). True for credentials
        the emulator does not enforce (they stand for an administrator) and when enforcement is off.
        Records no grant and no denial: the caller sees the service's own answer."""
        with self.lock:
            if not self.enforce:
                return True
            secure = self.secure_transport
        key = access_key_id(req.environ)
        try:
            identity = find_identity(key) if key else None
        except Exception:  # noqa: BLE001 - an unreadable backend means "not issued"
            identity = None
        if identity is None:
            return True
        context = RequestContext(
            action=action,
            resources=[resource],
            principal_arn=identity.arn,
            role_arn=identity.role_arn,
            account=identity.account,
            condition_keys=self.condition_keys(req, identity, {}, secure),
        )
        return evaluate(
            context, identity.policies, self.resources.policy(policy_ref), permissions_boundary=identity.boundary
        ).allowed

    def deny(
        self,
        req: Any,
        identity: Identity,
        action: str,
        resource: str,
        reason: str,
        decision: Decision | None = None,
    ) -> Denial:
        typos = [
            f"{name}: {', '.join(found)}" for name, document in identity.policies if (found := _safe_unknown(document))
        ]
        if typos:
            reason += f"; note: actions unknown to IAM's catalogue in {'; '.join(typos)}"
        code, status = denial_error(req.protocol, req.service)
        if decision is not None:
            tail = decision.aws_suffix(action)
        else:
            tail = f"because {reason}"
        message = f"User: {identity.arn} is not authorized to perform: {action} on resource: {resource} {tail}"
        return Denial(code, message, status, {"principal": identity.arn, "action": action, "resource": resource, "reason": reason})

    # ---- the request's parameters and context ----

    def params(self, req: Any) -> dict[str, Any]:
        if req.service == "s3":
            bucket, key = self.s3_location(req.environ, req.path)
            params: dict[str, Any] = {"Bucket": bucket, "Key": key}
            if req.query.get("versionId"):
                params["VersionId"] = req.query["versionId"][0]
            if "prefix" in req.query:
                params["prefix"] = req.query["prefix"][0]
            copy_source = req.environ.get("HTTP_X_AMZ_COPY_SOURCE")
            if copy_source:
                params["CopySource"] = copy_source
            if req.operation == "DeleteObjects":  # authorized per key: read the keys from the body
                params["Delete"] = s3_delete_entries(req.body)
            return params
        if req.service == "lambda":
            params = dict(req.params)
            match = _LAMBDA_FUNCTION_PATH.match(req.path)
            tags = _LAMBDA_TAGS_PATH.match(req.path)
            if tags:  # ListTags / TagResource / UntagResource name the function ARN in the path
                params["Resource"] = unquote(tags.group("arn"))
            elif match:
                params["FunctionName"] = unquote(match.group("name"))
                if match.group("alias"):
                    params["AliasName"] = unquote(match.group("alias"))
            elif isinstance(req.params.get("FunctionName"), str):
                params["FunctionName"] = req.params["FunctionName"]
            if req.query.get("Qualifier"):
                params["Qualifier"] = req.query["Qualifier"][0]
            return params
        return dict(req.params)

    def tag_keys(self, service: str, params: dict[str, Any], resource: str) -> dict[str, Any]:
        """The tag condition keys of a CodeStar connections request: `aws:RequestTag/KEY` and
        `aws:TagKeys` from the tags it sets (CreateConnection, TagResource) or removes (UntagResource),
        and `aws:ResourceTag/KEY` from the tags the named connection carries as the emulator stores
        them (Service Authorization Reference, "Actions, resources, and condition keys for AWS CodeStar
        Connections": the connection resource type takes aws:ResourceTag/${TagKey}; CreateConnection
        and TagResource take aws:RequestTag/${TagKey} and aws:TagKeys). A connection not yet created
        (the tag check of CreateConnection names connection/*) has no resource tags. A connection
        checked for another service's call (codestar-connections:PassConnection when CreatePipeline or
        UpdatePipeline names it) carries its resource tags too: the condition keys belong to the
        resource type, whichever call is authorised on it."""
        keys: dict[str, Any] = {}
        if service in ("codestar-connections", "codeconnections"):
            tags = params.get("Tags")
            if isinstance(tags, list):
                pairs = [t for t in tags if isinstance(t, dict) and isinstance(t.get("Key"), str)]
                keys.update({f"aws:RequestTag/{t['Key']}": str(t.get("Value", "")) for t in pairs})
                keys["aws:TagKeys"] = [t["Key"] for t in pairs]
            elif isinstance(params.get("TagKeys"), list):
                keys["aws:TagKeys"] = [str(k) for k in params["TagKeys"]]
        stored = self.connection_tags(resource) if ":connection/" in resource and "*" not in resource else None
        keys.update({f"aws:ResourceTag/{key}": value for key, value in (stored or {}).items()})
        return keys

    def condition_keys(self, req: Any, identity: Identity, extra: dict[str, str], secure: bool = False) -> dict[str, Any]:
        now = datetime.datetime.now(datetime.timezone.utc)
        keys: dict[str, Any] = {
            # The emulator speaks plain HTTP on loopback (POST /_shim/iam {"secure_transport": true} pretends TLS).
            "aws:SecureTransport": "true" if secure else "false",
            "aws:RequestedRegion": req.region,
            "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:EpochTime": str(int(now.timestamp())),
        }
        if req.environ.get("REMOTE_ADDR"):
            keys["aws:SourceIp"] = req.environ["REMOTE_ADDR"]
        if identity.user_id:
            keys["aws:userid"] = identity.user_id
        keys.update(extra)
        return keys


def _safe_unknown(document: Any) -> list[str]:
    try:
        return unknown_actions(document)
    except Exception:  # noqa: BLE001 - the catalogue is a hint only
        return []
