"""Audits of exercised IAM policies (emulator/awsshim/iam/audit.py, scope.py): mutants by replay of the
recorded allowed evaluations, the resource-scope lint and its broadening check, and
the two control routes through a real shim process."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
from typing import Any

import pytest

from shim_helpers import ACCOUNT, ACCOUNT_ROOT, EMULATOR, assumed_client, client, control, policy, role_with_policy, trust_policy

sys.path.insert(0, str(EMULATOR))

from awsshim.iam.audit import ReplayLog, _without_action, mutants, raw_statements  # noqa: E402
from awsshim.iam.evaluation import evaluate  # noqa: E402
from awsshim.iam.policy import RequestContext, as_list  # noqa: E402
from awsshim.iam.scope import broadening, expand_action, scope_problems, scope_report  # noqa: E402

ROLE = f"arn:aws:iam::{ACCOUNT}:role/builder"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/builder/run"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"


def record(
    log: ReplayLog,
    policies: list[tuple[str, Any]],
    action: str,
    resource: str,
    *,
    principal: str = SESSION,
    role: str | None = ROLE,
    operation: str | None = None,
    resource_policy: Any = None,
    required: bool = False,
    keys: dict[str, Any] | None = None,
) -> None:
    """Record an evaluation the way the enforcer does: only when it is allowed."""
    context = RequestContext(action, [resource], principal_arn=principal, role_arn=role, condition_keys=keys or {})
    decision = evaluate(context, policies, resource_policy, resource_policy_required=required)
    assert decision.allowed, decision.reason
    log.record(
        principal=principal,
        role=role,
        operation=operation or action,
        action=action,
        resource=resource,
        account=ACCOUNT,
        condition_keys=keys or {},
        policies=policies,
        resource_policy=resource_policy,
        resource_policy_required=required,
    )


def by_key(results: list[dict[str, Any]]) -> dict[tuple[str, str | None], dict[str, Any] | None]:
    return {(m["sid"], m["action"]): m["caughtBy"] for m in results}


ARTIFACTS = {
    "Sid": "Artifacts",
    "Effect": "Allow",
    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
    "Resource": "arn:aws:s3:::artifacts/*",
}
LOGS = {
    "Sid": "Logs",
    "Effect": "Allow",
    "Action": "logs:PutLogEvents",
    "Resource": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/codebuild/p:*",
}
READ_EVERYTHING = {"Sid": "ReadEverything", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
# The call that catches the mutant without statement Artifacts: the first that needed it, the PutObject of out.zip.
CAUGHT_BY_THE_PUT = {
    "operation": "s3:PutObject",
    "action": "s3:PutObject",
    "resource": "arn:aws:s3:::artifacts/out.zip",
    "reason": "no statement allows",
}


# --------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------


def test_documents_are_stored_once_and_policy_lists_shared() -> None:
    log = ReplayLog()
    text = json.dumps(policy(ARTIFACTS))
    for key in ("a", "b", "c"):
        # the same text as another string object, as moto hands it out per request
        record(log, [("inline policy 'p' of role builder", "".join(text))], "s3:GetObject", f"arn:aws:s3:::artifacts/{key}")
    record(log, [("inline policy 'p' of role builder", policy(ARTIFACTS))], "s3:PutObject", "arn:aws:s3:::artifacts/d")
    assert len(log.records) == 4
    assert len(log.documents) == 2  # the JSON text and the dict hash differently; each is kept once
    assert log.records[0].policies is log.records[2].policies
    assert [r.seq for r in log.records] == [0, 1, 2, 3]
    # an unparsable document is left out, as evaluate leaves it out
    assert log.intern("{not json") is None
    log.clear()
    assert not log.records and not log.documents


# --------------------------------------------------------------------------
# Mutants
# --------------------------------------------------------------------------


def test_removing_a_needed_statement_is_caught_by_the_first_call_that_needed_it() -> None:
    log = ReplayLog()
    policies = [("inline policy 'build' of role builder", policy(ARTIFACTS, LOGS))]
    record(log, policies, "s3:PutObject", "arn:aws:s3:::artifacts/out.zip", operation="s3:PutObject")
    record(log, policies, "logs:PutLogEvents", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/codebuild/p:log-stream:s")
    record(log, policies, "s3:GetObject", "arn:aws:s3:::artifacts/in.zip", operation="s3:HeadObject")
    record(log, policies, "s3:GetObject", "arn:aws:s3:::artifacts/in.zip", operation="s3:GetObject")
    results = mutants(log)
    assert all(m["principal"] == ROLE and m["policy"] == "inline policy 'build' of role builder" for m in results)
    caught = by_key(results)
    assert caught[("Artifacts", None)] == CAUGHT_BY_THE_PUT
    # an action mutant is caught by the first call of that action
    assert caught[("Artifacts", "s3:GetObject")]["operation"] == "s3:HeadObject"
    assert caught[("Artifacts", "s3:PutObject")]["resource"] == "arn:aws:s3:::artifacts/out.zip"
    # an action no call used survives
    assert caught[("Artifacts", "s3:DeleteObject")] is None
    # a single-action statement lists its action mutant too, with the same outcome
    assert caught[("Logs", None)] == caught[("Logs", "logs:PutLogEvents")] is not None
    # deterministic order: statement by statement, the statement mutant before its actions
    assert [(m["sid"], m["action"]) for m in results] == [
        ("Artifacts", None),
        ("Artifacts", "s3:GetObject"),
        ("Artifacts", "s3:PutObject"),
        ("Artifacts", "s3:DeleteObject"),
        ("Logs", None),
        ("Logs", "logs:PutLogEvents"),
    ]


def test_a_redundant_statement_survives_and_so_does_the_one_it_duplicates() -> None:
    log = ReplayLog()
    unnamed = {k: v for k, v in ARTIFACTS.items() if k != "Sid"}
    policies = [("p", policy(unnamed, READ_EVERYTHING))]
    record(log, policies, "s3:GetObject", "arn:aws:s3:::artifacts/in.zip")
    caught = by_key(mutants(log))
    # either statement alone allows the read: removing one of them breaks nothing
    assert caught[("Statement[0]", None)] is None
    assert caught[("Statement[0]", "s3:GetObject")] is None
    assert caught[("ReadEverything", None)] is None


def test_statements_in_other_policies_and_the_resource_policy_still_count() -> None:
    log = ReplayLog()
    bucket_policy = policy({**READ_EVERYTHING, "Principal": {"AWS": ROLE}})
    policies = [("a", policy(ARTIFACTS)), ("b", policy(LOGS))]
    record(log, policies, "s3:GetObject", "arn:aws:s3:::artifacts/k", resource_policy=bucket_policy)
    # the bucket policy grants the role on its own (same account), so Artifacts is not needed
    assert by_key(mutants(log))[("Artifacts", None)] is None
    log = ReplayLog()
    record(log, policies, "s3:GetObject", "arn:aws:s3:::artifacts/k")
    assert by_key(mutants(log))[("Artifacts", None)] is not None


def test_a_trust_policy_that_must_allow_is_replayed_as_required() -> None:
    log = ReplayLog()
    target = f"arn:aws:iam::{ACCOUNT}:role/deployer"
    trust = trust_policy(ACCOUNT_ROOT)
    assume = {"Sid": "Assume", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": target}
    record(log, [("p", policy(assume))], "sts:AssumeRole", target, principal=BOB, role=None, resource_policy=trust, required=True)
    [statement_mutant, _] = mutants(log)
    assert statement_mutant["principal"] == BOB
    assert statement_mutant["caughtBy"]["reason"].startswith("the resource-based policy allows only the account")


def test_conditions_are_replayed_with_the_recorded_keys() -> None:
    log = ReplayLog()
    pass_role = {
        "Sid": "PassToCodeBuild",
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": ROLE,
        "Condition": {"StringEquals": {"iam:PassedToService": "codebuild.amazonaws.com"}},
    }
    record(log, [("p", policy(pass_role))], "iam:PassRole", ROLE, keys={"iam:PassedToService": "codebuild.amazonaws.com"})
    assert by_key(mutants(log))[("PassToCodeBuild", None)] is not None


def test_only_allow_statements_are_mutated_and_principals_filter() -> None:
    log = ReplayLog()
    guard = {"Sid": "NoSecrets", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::secrets/*"}
    record(log, [("p", policy(ARTIFACTS, guard))], "s3:GetObject", "arn:aws:s3:::artifacts/k")
    record(log, [("q", policy(READ_EVERYTHING))], "s3:GetObject", "arn:aws:s3:::artifacts/k", principal=BOB, role=None)
    results = mutants(log)
    assert "NoSecrets" not in {m["sid"] for m in results}
    assert {m["principal"] for m in results} == {ROLE, BOB}
    assert {m["principal"] for m in mutants(log, [BOB])} == {BOB}
    assert mutants(log, []) == []


def test_a_policy_changed_during_the_run_is_replayed_per_version() -> None:
    log = ReplayLog()
    first, second = policy(ARTIFACTS), policy(ARTIFACTS, LOGS)
    record(log, [("p", first)], "s3:GetObject", "arn:aws:s3:::artifacts/k")
    record(log, [("p", second)], "logs:PutLogEvents", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/codebuild/p:log-stream:s")
    results = [m for m in mutants(log) if m["action"] is None]
    assert len({m["document"] for m in results}) == 2
    # in the second version only the log write was made: Artifacts survives there
    outcome = {(m["document"], m["sid"]): m["caughtBy"] is not None for m in results}
    assert sorted(outcome.values()) == [False, True, True]


def synthetic_load(records: int = 3000, roles: int = 4, statements_per_role: int = 25) -> ReplayLog:
    """A rehearsal-sized log: `roles` roles with `statements_per_role` statements each (three
    actions per statement, one unused; a condition on every fifth) and `records` calls spread
    over them, with per-call time keys as the enforcer records them."""
    log = ReplayLog()
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    role_policies: list[tuple[str, str, list[tuple[str, Any]]]] = []
    for r in range(roles):
        role = f"arn:aws:iam::{ACCOUNT}:role/role{r}"
        statements = []
        for s in range(statements_per_role):
            statement: dict[str, Any] = {
                "Sid": f"S{s}",
                "Effect": "Allow",
                "Action": actions,
                "Resource": f"arn:aws:s3:::bucket-{r}-{s}/*",
            }
            if s % 5 == 0:
                statement["Condition"] = {"Bool": {"aws:SecureTransport": "true"}}
            statements.append(statement)
        statements.append({"Sid": "Guard", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::secrets/*"})
        documents = [(f"inline policy 'access' of role role{r}", json.dumps(policy(*statements))),
                     (f"managed policy logs attached to role role{r}", json.dumps(policy(LOGS)))]
        role_policies.append((role, f"{role.replace(':role/', ':assumed-role/').replace(':iam:', ':sts:')}/run", documents))
    for n in range(records):
        role, session, documents = role_policies[n % roles]
        s = (n // roles) % (statements_per_role - 2)  # the last two statements of each role stay unused
        keys = {"aws:SecureTransport": "true", "aws:CurrentTime": f"2024-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}Z",
                "aws:EpochTime": str(1704067200 + n)}
        log.record(
            principal=session,
            role=role,
            operation="s3:GetObject",
            action=actions[(n // roles) % 2],
            resource=f"arn:aws:s3:::bucket-{role[-1]}-{s}/key{n}",
            account=ACCOUNT,
            condition_keys=keys,
            policies=documents,
            resource_policy=None,
            resource_policy_required=False,
        )
    return log


def test_a_rehearsal_sized_log_is_audited_in_seconds() -> None:
    log = synthetic_load()
    # one access policy per role plus the logs policy, whose text is the same for every role
    assert len(log.records) == 3000 and len(log.documents) == 5
    started = time.perf_counter()
    results = mutants(log)
    elapsed = time.perf_counter() - started
    # 4 roles x 25 statements x (1 + 3 actions) + 4 x 1 logs statement x 2
    assert len(results) == 4 * 25 * 4 + 4 * 2
    caught = {(m["principal"][-5:], m["sid"], m["action"]): m["caughtBy"] is not None for m in results}
    assert caught[("role0", "S0", None)] and caught[("role0", "S0", "s3:PutObject")]
    assert not caught[("role0", "S0", "s3:DeleteObject")]
    assert not caught[("role0", "S24", None)]  # never used
    assert elapsed < 10, f"{elapsed:.2f}s"  # about 0.5 s on a 2-core machine; the bound absorbs a busy CI host


# --------------------------------------------------------------------------
# The scope lint
# --------------------------------------------------------------------------


def problems_of(*statements: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(p["sid"], p["action"], p["resource"]) for p in scope_problems(policy(*statements), "p")]


@pytest.mark.parametrize(
    "action, resource",
    [
        ("s3:GetObject", "*"),
        ("s3:GetObject", "arn:aws:s3:::*"),
        ("s3:GetObject", "arn:aws:s3:::*/*"),
        ("s3:ListBucket", "arn:aws:s3:::*"),
        ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/*"),
        ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:*"),  # the wildcard swallows the resource type
        ("iam:PassRole", "arn:aws:iam::*:role/deployer"),  # any account
        ("logs:PutLogEvents", "arn:aws:logs:us-east-1:123:log-group:*"),
        ("logs:PutLogEvents", "arn:aws:logs:us-east-1:123:log-group:*:log-stream:*"),
        ("logs:PutLogEvents", "arn:aws:logs:*:123:log-group:/aws/codebuild/p:*"),  # any region
        ("codepipeline:GetPipeline", f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:*"),
        ("codepipeline:PutWebhook", f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:webhook:*"),
        ("lambda:InvokeFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:*"),
        ("ecr:PutImage", f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/?*"),
        ("s3:Get*", "*"),  # a wildcard action covering actions that take resource types
    ],
)
def test_broad_resources_are_problems(action: str, resource: str) -> None:
    [problem] = scope_problems(policy({"Sid": "Broad", "Effect": "Allow", "Action": action, "Resource": resource}), "p")
    assert (problem["policy"], problem["sid"], problem["action"], problem["resource"]) == ("p", "Broad", action, resource)
    assert problem["why"]


@pytest.mark.parametrize(
    "action, resource",
    [
        ("ecr:GetAuthorizationToken", "*"),  # no resource type: "*" is the only choice
        ("sts:GetCallerIdentity", "*"),
        ("codepipeline:PutJobSuccessResult", "*"),
        ("tag:GetResources", "*"),
        ("s3:GetObject", "arn:aws:s3:::artifacts/*"),  # one bucket, any key
        ("s3:ListBucket", "arn:aws:s3:::artifacts"),
        ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/service-role/*"),  # a path
        ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/cicd-*"),  # a name prefix
        ("logs:PutLogEvents", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/codebuild/p:*"),
        ("lambda:InvokeFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:deploy:*"),
        ("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:gh-token-??????"),
        ("s3:GetObject", f"arn:aws:iam::{ACCOUNT}:role/*"),  # another service's ARN grants this action nothing
        ("s3:GetObjects", "*"),  # unknown to the catalogue: unknown_actions reports typos, not this lint
    ],
)
def test_scoped_or_unscopable_grants_are_fine(action: str, resource: str) -> None:
    assert problems_of({"Effect": "Allow", "Action": action, "Resource": resource}) == []


def test_notresource_in_an_allow_and_notaction_are_problems_deny_and_conditions_are_not_considered() -> None:
    not_resource = {"Sid": "Nr", "Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::secrets/*"}
    assert problems_of(not_resource) == [("Nr", "s3:GetObject", 'NotResource ["arn:aws:s3:::secrets/*"]')]
    # NotResource even with an action that takes no resource type: it is always a problem
    assert problems_of({**not_resource, "Action": "sts:GetCallerIdentity"})
    not_action = {"Sid": "Na", "Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    assert problems_of(not_action) == [("Na", 'NotAction ["iam:*"]', "*")]
    assert problems_of({"Effect": "Deny", "Action": "*", "Resource": "*"}) == []
    conditioned = {
        "Sid": "Cond",
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": "*",
        "Condition": {"StringEquals": {"iam:PassedToService": "codebuild.amazonaws.com"}},
    }
    assert problems_of(conditioned) == [("Cond", "iam:PassRole", "*")]
    # one problem per offending Action x Resource entry, no statement is Sid-less unnamed
    mixed = {"Effect": "Allow", "Action": ["s3:GetObject", "ecr:GetAuthorizationToken"], "Resource": ["*", "arn:aws:s3:::a/*"]}
    assert problems_of(mixed) == [("Statement[0]", "s3:GetObject", "*")]


def test_broadening_finds_where_the_lint_is_blind() -> None:
    document = policy(
        ARTIFACTS,
        {"Sid": "Token", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Sid": "Caller", "Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": f"arn:aws:iam::{ACCOUNT}:root"},
        {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::secrets/*"},
    )
    assert broadening(document, "p") == [
        {"policy": "p", "sid": "Artifacts", "statement": 0, "caught": True},
        # already "*" (Token) and Deny statements are not broadened; an action without resource types is blind
        {"policy": "p", "sid": "Caller", "statement": 2, "caught": False},
    ]


def test_scope_report_takes_documents_as_json_strings_and_rejects_garbage() -> None:
    report = scope_report({"b": json.dumps(policy(READ_EVERYTHING)), "a": policy(ARTIFACTS)})
    assert [(p["policy"], p["sid"]) for p in report["problems"]] == [("b", "ReadEverything")]
    assert [(b["policy"], b["sid"], b["caught"]) for b in report["broadening"]] == [("a", "Artifacts", True)]
    with pytest.raises(ValueError):
        scope_report({"a": "{not json"})
    with pytest.raises(ValueError):
        scope_report({})


def test_expand_action_uses_the_catalogue() -> None:
    assert "s3:getobject" in expand_action("s3:Get*")
    assert expand_action("s3:GetObjects") == ()
    assert expand_action("ecr:GetAuthorizationToken") == ("ecr:getauthorizationtoken",)


# --------------------------------------------------------------------------
# Through the shim
# --------------------------------------------------------------------------


def test_mutants_and_scope_routes_through_the_shim(shim: str) -> None:
    client(shim, "s3").create_bucket(Bucket="artifacts")
    unused = {"Sid": "Logs", "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": LOGS["Resource"]}
    access = policy(ARTIFACTS, unused)
    role_with_policy(shim, "builder", trust_policy(ACCOUNT_ROOT), "build", access)

    session = assumed_client(shim, "s3", ROLE, "run")
    session.put_object(Bucket="artifacts", Key="out.zip", Body=b"zip")
    assert session.get_object(Bucket="artifacts", Key="out.zip")["Body"].read() == b"zip"

    grants = control(shim, "GET", "/_shim/iam/grants")
    assert [(g["operation"], g["sid"]) for g in grants] == [("s3:PutObject", "Artifacts"), ("s3:GetObject", "Artifacts")]
    assert set(grants[0]) == {"principal", "role", "operation", "action", "resource", "sid", "policy", "policyType"}

    results = control(shim, "POST", "/_shim/iam/mutants", {})
    caught = by_key(results)
    assert caught[("Artifacts", None)] == CAUGHT_BY_THE_PUT
    assert caught[("Artifacts", "s3:GetObject")]["operation"] == "s3:GetObject"
    assert caught[("Artifacts", "s3:DeleteObject")] is None
    assert caught[("Logs", None)] is None  # granted, never used: survives
    assert {m["principal"] for m in results} == {ROLE}
    assert {m["policy"] for m in results} == {"inline policy 'build' of role builder"}
    assert control(shim, "POST", "/_shim/iam/mutants", {"principals": [f"arn:aws:iam::{ACCOUNT}:user/nobody"]}) == []
    with pytest.raises(urllib.error.HTTPError) as bad:
        control(shim, "POST", "/_shim/iam/mutants", {"principals": "builder"})
    assert bad.value.code == 400

    scope = control(shim, "POST", "/_shim/iam/scope", {"documents": {"build": json.dumps(access), "wide": policy(READ_EVERYTHING)}})
    assert [(p["policy"], p["sid"], p["resource"]) for p in scope["problems"]] == [("wide", "ReadEverything", "*")]
    assert [(b["policy"], b["sid"], b["caught"]) for b in scope["broadening"]] == [
        ("build", "Artifacts", True),
        ("build", "Logs", True),
    ]
    with pytest.raises(urllib.error.HTTPError) as bad:
        control(shim, "POST", "/_shim/iam/scope", {"build": access})
    assert bad.value.code == 400

    # clearing the grants clears what the replay reads
    control(shim, "DELETE", "/_shim/iam/grants")
    assert control(shim, "POST", "/_shim/iam/mutants", {}) == []


def brute_force(log: ReplayLog) -> list[dict[str, Any]]:
    """The mutants by definition: every record of the identity that used the policy version,
    evaluated in full against the whole mutated document."""
    found = []
    for mutant in mutants(log):
        [digest] = [d for d in log.documents if d.startswith(mutant["document"])]
        document = log.documents[digest]
        statements = list(raw_statements(document))
        index = mutant["statement"]
        if mutant["action"] is None:
            mutated = {**document, "Statement": statements[:index] + statements[index + 1 :]}
        else:
            actions = as_list(statements[index]["Action"])
            position = next(i for i, a in enumerate(actions) if a == mutant["action"])
            mutated = _without_action(document, index, position)
        caught = None
        for r in log.records:
            if r.identity != mutant["principal"] or (mutant["policy"], digest) not in r.policies:
                continue
            policies = [(n, mutated if (n, d) == (mutant["policy"], digest) else log.documents[d]) for n, d in r.policies]
            resource_policy = log.documents[r.resource_policy] if r.resource_policy else None
            decision = evaluate(r.context(), policies, resource_policy, resource_policy_required=r.resource_policy_required)
            if not decision.allowed:
                caught = {"operation": r.operation, "action": r.action, "resource": r.resource, "reason": decision.reason}
                break
        found.append({**mutant, "caughtBy": caught})
    return found


def test_the_fast_replay_agrees_with_evaluating_everything() -> None:
    """Only the statements that applied are replayed; on a varied load (wildcards, NotAction,
    NotResource, conditions, an unknown operator, policy variables, resource policies, users and
    sessions) that gives exactly what evaluating every record with the whole documents gives."""
    import random

    rng = random.Random(7)
    buckets = ["artifacts", "cache", "logs-archive"]
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "logs:PutLogEvents"]
    resource_choices = ["*", "arn:aws:s3:::artifacts/*", "arn:aws:s3:::cache/*", "arn:aws:s3:::*/build/*",
                        "arn:aws:s3:::artifacts", "arn:aws:s3:::${aws:username}/*", LOGS["Resource"]]
    action_choices = [["s3:GetObject"], ["s3:PutObject", "s3:GetObject"], ["s3:*"], ["s3:Get*", "s3:List*"],
                      ["s3:DeleteObject", "logs:PutLogEvents"], ["logs:*"]]
    conditions = [None, {"Bool": {"aws:SecureTransport": "true"}}, {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
                  {"StringLikeMaybe": {"aws:RequestedRegion": "*"}}, {"Null": {"s3:prefix": "true"}}]

    def statement(n: int) -> dict[str, Any]:
        s: dict[str, Any] = {"Effect": "Deny" if rng.random() < 0.1 else "Allow"}
        if rng.random() < 0.7:
            s["Sid"] = f"S{n}"
        if rng.random() < 0.1:
            s["NotAction"] = ["iam:*"]
        else:
            s["Action"] = rng.choice(action_choices)
        if s["Effect"] == "Deny":
            s["Resource"] = "arn:aws:s3:::cache/secret/*"
        elif rng.random() < 0.1:
            s["NotResource"] = "arn:aws:s3:::cache/*"
        else:
            s["Resource"] = rng.sample(resource_choices, rng.randint(1, 2))
        condition = rng.choice(conditions)
        if condition:
            s["Condition"] = condition
        return s

    identities = []
    for i in range(5):
        user = i % 2 == 0
        principal = f"arn:aws:iam::{ACCOUNT}:user/u{i}" if user else f"arn:aws:sts::{ACCOUNT}:assumed-role/r{i}/run"
        role = None if user else f"arn:aws:iam::{ACCOUNT}:role/r{i}"
        docs = [(f"p{i}-{k}", json.dumps(policy(*[statement(n) for n in range(rng.randint(2, 6))]))) for k in range(2)]
        identities.append((principal, role, docs))
    bucket_policy = policy({"Sid": "Shared", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/u0"},
                            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::cache/*"})
    log = ReplayLog()
    for n in range(600):
        principal, role, docs = rng.choice(identities)
        action = rng.choice(actions)
        bucket = rng.choice(buckets + ["u0", "u2"])
        if action == "logs:PutLogEvents":
            resource = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/codebuild/p:log-stream:s{n}"
        elif action == "s3:ListBucket":
            resource = f"arn:aws:s3:::{bucket}"
        else:
            resource = f"arn:aws:s3:::{bucket}/{rng.choice(['build/', 'cache/secret/', ''])}k{n}"
        resource_policy = bucket_policy if bucket == "cache" and action.startswith("s3:") else None
        keys = {"aws:SecureTransport": rng.choice(["true", "false"]), "aws:RequestedRegion": rng.choice(["us-east-1", "eu-west-1"])}
        if action == "s3:ListBucket" and rng.random() < 0.5:
            keys["s3:prefix"] = "build/"
        context = RequestContext(action, [resource], principal_arn=principal, role_arn=role, condition_keys=keys)
        if evaluate(context, docs, resource_policy).allowed:
            log.record(principal=principal, role=role, operation=f"op{n}", action=action, resource=resource, account=ACCOUNT,
                       condition_keys=keys, policies=docs, resource_policy=resource_policy, resource_policy_required=False)
    fast = mutants(log)
    assert len(log.records) > 100 and len(fast) > 40
    assert 0 < sum(1 for m in fast if m["caughtBy"]) < len(fast)  # some caught, some survive
    assert fast == brute_force(log)


def test_the_synthetic_load_agrees_with_evaluating_everything() -> None:
    log = synthetic_load(records=120, roles=2, statements_per_role=6)
    assert mutants(log) == brute_force(log)
