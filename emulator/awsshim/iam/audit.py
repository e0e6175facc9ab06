"""Would the run have failed without this grant? (`POST /_shim/iam/mutants`; README "Auditing the
exercised policies").

The enforcer records every allowed evaluation with everything needed to evaluate it again (`ReplayLog`).
For each Allow statement of each identity policy seen, and for each action of such a statement, a *mutant*
policy drops it; the recorded evaluations of that identity are replayed against the mutant and the first
one that becomes denied "catches" it. A mutant nobody catches *survived*: the grant was never needed
(unused, or redundant with another statement). Replaying takes seconds where re-running the rehearsal per
mutant would take minutes each.

Only Allow statements are mutated. Removing a Deny can only turn a denial into an allow (IAM User Guide,
"Policy evaluation logic", reference_policies_evaluation-logic.html: an explicit Deny wins, else an Allow
allows), and only allowed evaluations are recorded, so a Deny mutant could never be caught and would
report nothing useful. A replay leaves the signer's permissions boundary out: the boundary is the
same for the original and the mutant, and the original was allowed, so an identity statement's removal
denies with the boundary exactly when it denies without it. Everything here is pure; the enforcer keeps
the `ReplayLog`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from .evaluation import evaluate
from .policy import Decision, RequestContext, as_list, glob_to_regex, load_document
from .statements import statement_match


def document_digest(document: Any) -> str:
    """A stable digest of a policy document as handed to `evaluate` (a JSON string
    as IAM stores it, bytes, or an already-parsed dict)."""
    if isinstance(document, str):
        data = document.encode("utf-8", "surrogatepass")
    elif isinstance(document, (bytes, bytearray)):
        data = bytes(document)
    else:
        data = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Replay:
    """One allowed evaluation, as `evaluate` saw it (one check, one resource).

    policies holds (policy name, document digest) in the order evaluated; the
    documents live once in `ReplayLog.documents`. An identity policy that did not
    parse is left out, as `evaluate` leaves it out.
    """

    seq: int
    principal: str  # the signer: user ARN or assumed-role session ARN
    role: str | None  # the session's role ARN
    operation: str  # "service:Operation"
    action: str
    resource: str
    account: str
    condition_keys: tuple[tuple[str, Any], ...]
    policies: tuple[tuple[str, str], ...]
    resource_policy: str | None  # digest, None when there was none (or it did not parse)
    resource_policy_required: bool

    @property
    def identity(self) -> str:
        """Whose policies these are: the role for a session, else the user."""
        return self.role or self.principal

    def context(self) -> RequestContext:
        return RequestContext(
            action=self.action,
            resources=[self.resource],
            principal_arn=self.principal,
            role_arn=self.role,
            account=self.account,
            condition_keys=dict(self.condition_keys),
        )


class ReplayLog:
    """Allowed evaluations plus the policy documents they used, each stored once.

    A rehearsal makes a few thousand calls with a handful of distinct documents,
    so documents are interned by digest (parsed once) and identical policy lists
    share one tuple. Not thread-safe: the enforcer calls it under its lock."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.records: list[Replay] = []
        self._policy_lists: dict[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] = {}
        # raw document (as a string/bytes key) -> digest; skips re-hashing the same text every call
        self._digests: dict[Any, str | None] = {}

    def clear(self) -> None:
        self.documents.clear()
        self.records.clear()
        self._policy_lists.clear()
        self._digests.clear()

    def intern(self, document: Any) -> str | None:
        """The digest a document is stored under; None when it does not parse
        (evaluate ignores such a document, so the replay does too)."""
        cacheable = isinstance(document, (str, bytes))
        if cacheable and document in self._digests:
            return self._digests[document]
        digest = document_digest(document)
        if digest not in self.documents:
            loaded = load_document(document)
            if loaded is None:
                if cacheable:
                    self._digests[document] = None
                return None
            # A copy: the caller's dict (e.g. a Lambda policy rebuilt per call) stays its own.
            # default=str: recording runs inside enforcement and must never fail a call.
            self.documents[digest] = json.loads(json.dumps(loaded, default=str))
        if cacheable and len(self._digests) < 10_000:
            self._digests[document] = digest
        return digest

    def record(
        self,
        *,
        principal: str,
        role: str | None,
        operation: str,
        action: str,
        resource: str,
        account: str,
        condition_keys: dict[str, Any],
        policies: Sequence[tuple[str, Any]],
        resource_policy: Any,
        resource_policy_required: bool,
    ) -> Replay:
        named: list[tuple[str, str]] = []
        for name, document in policies:
            digest = self.intern(document)
            if digest is not None:
                named.append((str(name), digest))
        policy_list = tuple(named)
        policy_list = self._policy_lists.setdefault(policy_list, policy_list)
        replay = Replay(
            seq=len(self.records),
            principal=principal,
            role=role,
            operation=operation,
            action=action,
            resource=resource,
            account=account,
            condition_keys=tuple(sorted(condition_keys.items())),
            policies=policy_list,
            resource_policy=self.intern(resource_policy) if resource_policy is not None else None,
            resource_policy_required=resource_policy_required,
        )
        self.records.append(replay)
        return replay

    def snapshot(self) -> ReplayLog:
        """A copy to analyse outside the enforcer's lock (records and documents are immutable)."""
        copy = ReplayLog()
        copy.documents = dict(self.documents)
        copy.records = list(self.records)
        return copy


# --------------------------------------------------------------------------
# Mutants: remove a statement or one action, replay, see who notices
# --------------------------------------------------------------------------


def statement_label(statement: dict[str, Any], index: int) -> str:
    """A statement's Sid, or `Statement[i]` (0-based position) when it has none."""
    sid = statement.get("Sid")
    return sid if isinstance(sid, str) and sid else f"Statement[{index}]"


def raw_statements(document: dict[str, Any]) -> list[Any]:
    return as_list(document.get("Statement"))


def _without_statement(document: dict[str, Any], index: int) -> dict[str, Any]:
    statements = raw_statements(document)
    return {**document, "Statement": statements[:index] + statements[index + 1 :]}


def _without_action(document: dict[str, Any], index: int, action_index: int) -> dict[str, Any]:
    statements = list(raw_statements(document))
    statement = statements[index]
    actions = as_list(statement["Action"])
    # An empty Action list matches nothing, which is what removing the last action means.
    statements[index] = {**statement, "Action": actions[:action_index] + actions[action_index + 1 :]}
    return {**document, "Statement": statements}


@functools.lru_cache(maxsize=4096)
def action_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(glob_to_regex(pattern), re.IGNORECASE | re.DOTALL)


def _action_matches(pattern: Any, action: str) -> bool:
    return isinstance(pattern, str) and action_regex(pattern).fullmatch(action) is not None


def statement_covers_action(statement: dict[str, Any], action: str) -> bool:
    if "Action" in statement:
        return any(_action_matches(a, action) for a in as_list(statement["Action"]))
    if "NotAction" in statement:
        return not any(_action_matches(a, action) for a in as_list(statement["NotAction"]))
    return False


@functools.lru_cache(maxsize=4096)
def _arn_regex(pattern: str) -> re.Pattern[str]:
    """arn_match as one compiled regex (for two six-part ARNs): a wildcard in the
    first five parts stays within its part, one in the resource part may cross colons."""
    parts = pattern.split(":", 5)
    if len(parts) < 6:
        return re.compile(glob_to_regex(pattern), re.DOTALL)
    within = ["".join("[^:]*" if ch == "*" else "[^:]" if ch == "?" else re.escape(ch) for ch in part) for part in parts[:5]]
    return re.compile(":".join(within + [glob_to_regex(parts[5])]), re.DOTALL)


def _resource_could_match(statement: dict[str, Any], resource: str) -> bool:
    """A cheap necessary condition for a statement to apply to a resource; the exact
    statement_match decides after it. Policy variables, NotResource and odd ARNs
    are left to the exact match."""
    if "Resource" not in statement or resource.count(":") < 5:
        return True
    for pattern in as_list(statement["Resource"]):
        if isinstance(pattern, str) and (pattern == "*" or "${" in pattern or _arn_regex(pattern).fullmatch(resource)):
            return True
    return False


class _Replayer:
    """Replays recorded evaluations with one identity statement removed or narrowed.

    Whether a request is allowed depends only on the statements that apply to it
    (IAM User Guide, "Policy evaluation logic", reference_policies_evaluation-logic.html:
    explicit Deny among them wins, else an Allow among them allows). So:
    - removing or narrowing a statement that did not apply to a recorded request cannot
      change its outcome: only requests the statement applied to are replayed;
    - a replay evaluates just the statements that applied originally (with the mutated
      one in place), which decides allowed/denied exactly as the whole documents would,
      at a fraction of the cost. The one request reported as catching a mutant is then
      evaluated again with the whole mutated documents, for the reason text.
    A recorded request was allowed, so no Deny applied to it (the evaluation fails a Deny with
    an unknown operator closed, which also denies): the statements that applied are Allows.
    """

    def __init__(self, log: ReplayLog) -> None:
        self.log = log
        self._contexts: dict[int, RequestContext] = {}
        self._applied: dict[int, dict[tuple[str, str], tuple[int, ...]]] = {}
        self._covering: dict[tuple[str, str], tuple[int, ...]] = {}

    def context(self, record: Replay) -> RequestContext:
        context = self._contexts.get(record.seq)
        if context is None:
            context = self._contexts[record.seq] = record.context()
        return context

    def covering(self, digest: str, action: str) -> tuple[int, ...]:
        """Positions of the statements of a document whose Action / NotAction covers an action."""
        key = (digest, action)
        found = self._covering.get(key)
        if found is None:
            statements = raw_statements(self.log.documents[digest])
            found = self._covering[key] = tuple(
                index
                for index, statement in enumerate(statements)
                if isinstance(statement, dict) and statement_covers_action(statement, action)
            )
        return found

    def applied(self, record: Replay) -> dict[tuple[str, str], tuple[int, ...]]:
        """Per identity policy of a record, the positions of its statements that applied."""
        found = self._applied.get(record.seq)
        if found is not None:
            return found
        context = self.context(record)
        keys = context.keys()
        found = {}
        for name, digest in record.policies:
            document = self.log.documents[digest]
            statements = raw_statements(document)
            variables = document.get("Version") == "2012-10-17"
            found[(name, digest)] = tuple(
                index
                for index in self.covering(digest, record.action)
                if _resource_could_match(statements[index], record.resource)
                and statement_match(statements[index], context, record.resource, keys, "identity", variables)[0]
            )
        self._applied[record.seq] = found
        return found

    def _evaluate(self, record: Replay, policies: list[tuple[str, dict[str, Any]]]) -> Decision:
        resource_policy = self.log.documents[record.resource_policy] if record.resource_policy else None
        return evaluate(
            self.context(record),
            policies,
            resource_policy,
            resource_policy_required=record.resource_policy_required,
        )

    def allowed_with(self, record: Replay, swap: tuple[str, str], index: int, replacement: dict[str, Any] | None) -> bool:
        """Whether the record stays allowed with statement `index` of policy `swap` replaced
        (None: removed), evaluating only the statements that applied."""
        applied = self.applied(record)
        policies: list[tuple[str, dict[str, Any]]] = []
        for name, digest in record.policies:
            document = self.log.documents[digest]
            statements = raw_statements(document)
            chosen = [
                replacement if ((name, digest) == swap and position == index) else statements[position]
                for position in applied[(name, digest)]
                if not ((name, digest) == swap and position == index and replacement is None)
            ]
            policies.append((name, {"Version": document.get("Version"), "Statement": chosen}))
        return self._evaluate(record, policies).allowed

    def first_denied(
        self,
        records: Iterable[Replay],
        swap: tuple[str, str],
        index: int,
        replacement: dict[str, Any] | None,
        mutated: dict[str, Any],
    ) -> dict[str, Any] | None:
        for record in records:
            if self.allowed_with(record, swap, index, replacement):
                continue
            policies = [
                (name, mutated if (name, digest) == swap else self.log.documents[digest]) for name, digest in record.policies
            ]
            decision = self._evaluate(record, policies)
            return {
                "operation": record.operation,
                "action": record.action,
                "resource": record.resource,
                "reason": decision.reason,
            }
        return None


def mutants(log: ReplayLog, principals: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """For each Allow statement of each identity policy the records used (per identity:
    the role ARN for sessions, the user ARN for users), a mutant without the statement
    and one per entry of its Action list without that action; each with the first
    recorded evaluation it turns into a denial (`caughtBy`), or None when it survives.

    `document` (the digest's first 12 characters) tells versions apart when a policy
    changed during the run; each version is replayed only against the evaluations that
    used it. Sorted by principal, policy, document, statement position, then the
    statement mutant before its action mutants in Action order.
    """
    wanted = set(principals) if principals is not None else None
    by_identity: dict[str, list[Replay]] = {}
    for record in log.records:
        if wanted is None or record.identity in wanted:
            by_identity.setdefault(record.identity, []).append(record)

    replayer = _Replayer(log)
    results: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for identity, records in by_identity.items():
        uses: dict[tuple[str, str], list[Replay]] = {}
        for record in records:  # in recording order, so "first" is the first recorded
            for policy in dict.fromkeys(record.policies):
                uses.setdefault(policy, []).append(record)
        for swap, used_by in uses.items():
            name, digest = swap
            document = log.documents[digest]
            for index, statement in enumerate(raw_statements(document)):
                if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                    continue
                label = statement_label(statement, index)
                # Only requests this statement applied to can notice it missing or narrowed.
                applied = [r for r in used_by if index in replayer.applied(r)[swap]]

                def entry(action: str | None, caught: dict[str, Any] | None, action_index: int) -> None:
                    results.append(
                        (
                            (identity, name, digest, index, action_index),
                            {
                                "principal": identity,
                                "policy": name,
                                "document": digest[:12],
                                "sid": label,
                                "statement": index,
                                "action": action,
                                "caughtBy": caught,
                            },
                        )
                    )

                caught = replayer.first_denied(applied, swap, index, None, _without_statement(document, index))
                entry(None, caught, -1)
                if "Action" not in statement:
                    continue  # NotAction statements get only the statement mutant
                actions = as_list(statement["Action"])
                for action_index, action in enumerate(actions):
                    if len(actions) == 1:
                        action_caught = caught  # the same policy as the statement mutant
                    else:
                        mutated = _without_action(document, index, action_index)
                        narrowed = raw_statements(mutated)[index]
                        affected = [r for r in applied if _action_matches(action, r.action)]
                        action_caught = replayer.first_denied(affected, swap, index, narrowed, mutated)
                    entry(action if isinstance(action, str) else json.dumps(action), action_caught, action_index)
    results.sort(key=lambda item: item[0])
    return [result for _, result in results]
