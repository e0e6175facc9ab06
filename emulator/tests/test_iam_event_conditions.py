"""EventBridge's condition keys for PutEvents and the evaluate route: each entry of a PutEvents
request is judged with its own `events:source` and `events:detail-type`, as EventBridge judges
entries (API Reference, PutEventsResultEntry: NotAuthorizedForSourceException per entry), and
`POST /_shim/iam/evaluate` answers what a policy set allows for requests given outright."""

from __future__ import annotations

import json
import sys
from typing import Any

from shim_helpers import ACCOUNT, EMULATOR, REGION, client, control, denied, iam_user

sys.path.insert(0, str(EMULATOR))

from awsshim.iam.operations import checks_for  # noqa: E402

BUS = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
OWN_SOURCE = "rust-pipeline.deploy-handler.dev"

# The deploy-handler role's statement (bootstrap/src/policies/mod.rs, EmitDeploymentEvents).
EMIT_OWN_EVENTS = {
    "Sid": "EmitDeploymentEvents",
    "Effect": "Allow",
    "Action": ["events:PutEvents"],
    "Resource": [BUS],
    "Condition": {
        "ForAllValues:StringEquals": {"events:source": [OWN_SOURCE]},
        "StringEquals": {"events:detail-type": "Deployment Requested"},
        "Null": {"events:source": "false"},
    },
}


def entry(source: str, detail_type: str = "Deployment Requested") -> dict[str, Any]:
    return {"Source": source, "DetailType": detail_type, "Detail": "{}", "EventBusName": "default"}


def test_each_entry_is_one_check_with_its_own_source_and_detail_type() -> None:
    found = checks_for(
        "events", "PutEvents", {"Entries": [entry(OWN_SOURCE), entry("other", "Other")]}, ACCOUNT, REGION
    )
    assert found is not None
    assert [(c.action, c.resources, dict(c.context)) for c in found] == [
        ("events:PutEvents", (BUS,), {"events:source": OWN_SOURCE, "events:detail-type": "Deployment Requested"}),
        ("events:PutEvents", (BUS,), {"events:source": "other", "events:detail-type": "Other"}),
    ]
    # Identical entries are judged once.
    twice = checks_for("events", "PutEvents", {"Entries": [entry(OWN_SOURCE)] * 2}, ACCOUNT, REGION)
    assert twice is not None and len(twice) == 1


def test_put_events_is_allowed_only_for_the_granted_source_and_detail_type(shim: str) -> None:
    events = client(shim, "events", *iam_user(shim, "deploy-handler", EMIT_OWN_EVENTS))
    answer = events.put_events(Entries=[entry(OWN_SOURCE)])
    assert answer["FailedEntryCount"] == 0
    for entries in (
        [entry("rust-pipeline.deploy-handler.prod")],  # another environment's source
        [entry("rust-pipeline.deploy-handler.devx")],  # a name sharing dev's prefix
        [entry(OWN_SOURCE, "Deployment Finished")],  # another detail type
        [entry(OWN_SOURCE), entry("rust-pipeline.deploy-handler.prod")],  # one bad entry of two
    ):
        error = denied(lambda: events.put_events(Entries=entries))
        assert error.response["Error"]["Code"] == "AccessDeniedException", entries
        assert "events:PutEvents" in error.response["Error"]["Message"]
    reasons = [d["reason"] for d in control(shim, "GET", "/_shim/iam/denials")]
    assert len(reasons) == 4 and all("no statement allows" in r for r in reasons), reasons


def test_the_evaluate_route_judges_requests_given_outright(shim: str) -> None:
    documents = [{"Version": "2012-10-17", "Statement": [EMIT_OWN_EVENTS]}]
    requests = [
        {"action": "events:PutEvents", "resource": BUS, "keys": {"events:source": OWN_SOURCE, "events:detail-type": "Deployment Requested"}},
        {"action": "events:PutEvents", "resource": BUS, "keys": {"events:source": "rust-pipeline.deploy-handler.de", "events:detail-type": "Deployment Requested"}},
        {"action": "events:PutEvents", "resource": BUS, "keys": {"events:detail-type": "Deployment Requested"}},
        {"action": "events:PutEvents", "resource": BUS.replace("default", "other"), "keys": {"events:source": OWN_SOURCE, "events:detail-type": "Deployment Requested"}},
        {"action": "events:PutRule", "resource": BUS, "keys": {}},
    ]
    answer = control(shim, "POST", "/_shim/iam/evaluate", {"policies": documents, "requests": requests})
    assert [d["allowed"] for d in answer["decisions"]] == [True, False, False, False, False]
    assert answer["decisions"][0]["sid"] == "EmitDeploymentEvents"
    # The route records nothing: it is no call.
    assert control(shim, "GET", "/_shim/iam/grants") == []
    assert control(shim, "GET", "/_shim/iam/denials") == []


def test_the_evaluate_route_refuses_a_malformed_question(shim: str) -> None:
    import urllib.error

    for payload in (
        {"policies": {}, "requests": []},
        {"policies": [], "requests": [{"action": "s3:GetObject"}]},
        {"policies": [], "requests": [{"action": "s3:GetObject", "resource": "*", "keys": {"k": 1}}]},
        {"policies": [], "requests": [], "extra": True},
    ):
        try:
            control(shim, "POST", "/_shim/iam/evaluate", payload)
        except urllib.error.HTTPError as error:
            assert error.code == 400, json.dumps(payload)
        else:
            raise AssertionError(f"accepted {payload}")
