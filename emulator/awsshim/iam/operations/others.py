"""Operations of the services with a handful each -> IAM actions and resources: SNS (query protocol:
TopicArn, Name, Tags.member.N.Key, ResourceArn), CloudWatch Logs (logGroupName, tags, resourceArn),
EventBridge (Name / Rule, EventBusName, Tags, ResourceARN), Secrets Manager, CodeStar connections
(ConnectionArn, ConnectionName, Tags, ResourceArn), the Resource Groups Tagging API, KMS and STS.
"""

from __future__ import annotations

from typing import Any, Callable

from .common import (
    Check,
    OperationTable,
    Request,
    any_resource,
    arn_part,
    by_resource_arn,
    has_tags,
    name_from,
    query_members,
)
from ..policy import as_list


def _sns_publish(r: Request) -> list[Check]:
    topic = str(r.param("TopicArn", "TargetArn") or "")
    return [Check("sns:Publish", (topic,), (), ("sns", r.region, topic))]


def _logs(action: str) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        group = r.param("logGroupName") or ""
        stream = r.param("logStreamName") or ""
        return [Check(action, (r.arn("logs", f"log-group:{group}:log-stream:{stream}"),))]

    return checks


def _events_put(r: Request) -> list[Check]:
    """PutEvents: events:PutEvents on each entry's bus, judged entry by entry with that entry's
    `events:source` and `events:detail-type` (Service Authorization Reference, "Actions, resources,
    and condition keys for Amazon EventBridge": PutEvents takes both keys; EventBridge answers an
    entry of a source or detail type the caller may not put with its own `ErrorCode`,
    NotAuthorizedForSourceException / NotAuthorizedForDetailTypeException, API Reference,
    PutEventsResultEntry). The emulator refuses the whole request when any entry is refused: the
    caller sees the entry's failure either way, as an error instead of a failed entry."""
    checks: list[Check] = []
    for entry in as_list(r.param("Entries")):
        if not isinstance(entry, dict):
            continue
        bus = entry.get("EventBusName") or "default"
        arn = bus if bus.startswith("arn:") else r.arn("events", f"event-bus/{bus}")
        keys = tuple(
            (key, str(entry[field]))
            for key, field in (("events:source", "Source"), ("events:detail-type", "DetailType"))
            if isinstance(entry.get(field), str)
        )
        check = Check("events:PutEvents", (arn,), keys)
        if check not in checks:
            checks.append(check)
    return checks or [Check("events:PutEvents", (r.arn("events", "event-bus/default"),))]


def _secret_arn(r: Request, secret_id: str) -> str:
    """The secret's full ARN (NAME-XXXXXX, looked up in moto); for one that does not exist, the
    ARN given, else secret:NAME without the suffix."""
    return r.resolved("secret", secret_id) or (
        secret_id if secret_id.startswith("arn:") else r.arn("secretsmanager", f"secret:{secret_id}")
    )


def _secrets(action: str) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        arn = _secret_arn(r, str(r.param("SecretId") or ""))
        return [Check(action, (arn,), (), ("secretsmanager", r.region, arn))]

    return checks


def _secret_create(r: Request) -> list[Check]:
    """CreateSecret: AWS authorizes the ARN the new secret will get, random 6-character suffix
    included (denials name e.g. secret:NAME-GJe9zJ), so a policy has to use NAME-?????? or NAME*.
    The API reference: "If you include tags in the secret, you also need
    secretsmanager:TagResource"; the API operations table adds ReplicateSecretToRegions for
    AddReplicaRegions."""
    import secrets
    import string

    name = str(r.param("Name") or "")
    arn = r.resolved("secret", name)
    if arn is None:
        suffix = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(6))
        arn = r.arn("secretsmanager", f"secret:{name}-{suffix}")
    ref = ("secretsmanager", r.region, arn)
    result = [Check("secretsmanager:CreateSecret", (arn,), (), ref)]
    if has_tags(r.param("Tags")):
        result.append(Check("secretsmanager:TagResource", (arn,), (), ref))
    if has_tags(r.param("AddReplicaRegions")):
        result.append(Check("secretsmanager:ReplicateSecretToRegions", (arn,), (), ref))
    return result


def _kms(action: str) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        key = r.param("KeyId")
        arn = None
        if key:
            arn = r.resolved("kms-key", str(key))
            if arn is None:
                key = str(key)
                arn = key if key.startswith("arn:") else r.arn("kms", key if key.startswith("alias/") else f"key/{key}")
        elif r.param("CiphertextBlob"):
            arn = r.resolved("kms-ciphertext", str(r.param("CiphertextBlob")))
        arn = arn or r.arn("kms", "key/*")
        return [Check(action, (arn,), (), ("kms", r.region, arn), resource_policy_required=True)]

    return checks


def _assume_role(r: Request) -> list[Check]:
    role = str(r.param("RoleArn") or "")
    return [Check("sts:AssumeRole", (role,), (), ("iam-role", role), resource_policy_required=True)]


def _log_group(action: str, tag_on_create: bool = False) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        arn = r.arn("logs", f"log-group:{r.param('logGroupName') or ''}")
        result = [Check(action, (arn,))]
        # CreateLogGroup API reference: "To assign tags when you create a log group, you must have
        # either the logs:TagResource or logs:TagLogGroup permission." The emulator checks
        # logs:TagResource (TagLogGroup is on the path to deprecation).
        if tag_on_create and has_tags(r.param("tags")):
            result.append(Check("logs:TagResource", (arn,)))
        return result

    return checks


def _sns_topic(action: str, *names: str) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        topic = str(r.param(*(names or ("TopicArn",))) or "")
        return [Check(action, (topic,), (), ("sns", arn_part(topic, 3, r.region), topic))]

    return checks


def _sns_create_topic(r: Request) -> list[Check]:
    """CreateTopic on the topic it names; with tags also sns:TagResource (CreateTopic API
    reference: "To be able to tag a topic on creation, you must have the sns:CreateTopic and
    sns:TagResource permissions")."""
    topic = r.arn("sns", str(r.param("Name") or ""))
    ref = ("sns", r.region, topic)
    result = [Check("sns:CreateTopic", (topic,), (), ref)]
    if query_members(r, "Tags.member."):
        result.append(Check("sns:TagResource", (topic,), (), ref))
    return result


def _rule_arn(r: Request, name: Any, bus: Any) -> str:
    """rule/NAME on the default bus, rule/BUS/NAME on a custom one."""
    bus_name = name_from(bus or "default", ":event-bus/")
    name = str(name or "")
    return r.arn("events", f"rule/{name}" if bus_name == "default" else f"rule/{bus_name}/{name}")


def _events_rule(action: str, name: str = "Name") -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        return [Check(action, (_rule_arn(r, r.param(name), r.param("EventBusName")),))]

    return checks


def _events_put_rule(r: Request) -> list[Check]:
    """PutRule; with tags on a new rule also events:TagResource (PutRule API reference: "To use
    the PutRule operation and assign tags, you must have both the events:PutRule and
    events:TagResource permissions. If you are updating an existing rule, any tags you specify
    in the PutRule operation are ignored")."""
    arn = _rule_arn(r, r.param("Name"), r.param("EventBusName"))
    result = [Check("events:PutRule", (arn,))]
    bus = name_from(r.param("EventBusName") or "default", ":event-bus/")
    if has_tags(r.param("Tags")) and r.resolved("events-rule", f"{bus}/{r.param('Name') or ''}") is None:
        result.append(Check("events:TagResource", (arn,)))
    return result


def _connection_create(r: Request) -> list[Check]:
    """CreateConnection takes Resource "*" in the reference; with tags also
    codestar-connections:TagResource (the API operations table lists it for CreateConnection).
    The new connection's id is not known before it exists: the tag check names connection/*."""
    result = [Check("codestar-connections:CreateConnection", ("*",))]
    if has_tags(r.param("Tags")):
        result.append(Check("codestar-connections:TagResource", (r.arn("codestar-connections", "connection/*"),)))
    return result


OPERATIONS: OperationTable = {
    # SNS. Source: "Actions, resources, and condition keys for Amazon SNS": the topic ARN, except
    # Unsubscribe, which lists no resource type (Resource "*").
    ("sns", "Publish"): _sns_publish,
    ("sns", "CreateTopic"): _sns_create_topic,
    **{
        ("sns", op): _sns_topic(f"sns:{op}")
        for op in ("DeleteTopic", "GetTopicAttributes", "SetTopicAttributes", "Subscribe", "ListSubscriptionsByTopic")
    },
    ("sns", "Unsubscribe"): any_resource("sns:Unsubscribe"),
    ("sns", "ListTagsForResource"): _sns_topic("sns:ListTagsForResource", "ResourceArn"),
    ("sns", "TagResource"): _sns_topic("sns:TagResource", "ResourceArn"),
    ("sns", "UntagResource"): _sns_topic("sns:UntagResource", "ResourceArn"),
    # CloudWatch Logs. Source: "Actions, resources, and condition keys for Amazon CloudWatch Logs":
    # arn:aws:logs:REGION:ACCOUNT:log-group:NAME; DescribeLogGroups lists no resource type (*).
    ("logs", "CreateLogStream"): _logs("logs:CreateLogStream"),
    ("logs", "PutLogEvents"): _logs("logs:PutLogEvents"),
    ("logs", "CreateLogGroup"): _log_group("logs:CreateLogGroup", tag_on_create=True),
    ("logs", "DeleteLogGroup"): _log_group("logs:DeleteLogGroup"),
    ("logs", "PutRetentionPolicy"): _log_group("logs:PutRetentionPolicy"),
    ("logs", "DescribeLogGroups"): any_resource("logs:DescribeLogGroups"),
    ("logs", "ListTagsForResource"): by_resource_arn("logs:ListTagsForResource", "resourceArn"),
    ("logs", "TagResource"): by_resource_arn("logs:TagResource", "resourceArn"),
    ("logs", "UntagResource"): by_resource_arn("logs:UntagResource", "resourceArn"),
    # EventBridge. Source: "Actions, resources, and condition keys for Amazon EventBridge": rule/NAME
    # (default bus) or rule/BUS/NAME; PutEvents on the event bus.
    ("events", "PutEvents"): _events_put,
    ("events", "PutRule"): _events_put_rule,
    ("events", "DescribeRule"): _events_rule("events:DescribeRule"),
    ("events", "DeleteRule"): _events_rule("events:DeleteRule"),
    ("events", "PutTargets"): _events_rule("events:PutTargets", "Rule"),
    ("events", "RemoveTargets"): _events_rule("events:RemoveTargets", "Rule"),
    ("events", "ListTargetsByRule"): _events_rule("events:ListTargetsByRule", "Rule"),
    ("events", "ListTagsForResource"): by_resource_arn("events:ListTagsForResource", "ResourceARN"),
    ("events", "TagResource"): by_resource_arn("events:TagResource", "ResourceARN"),
    ("events", "UntagResource"): by_resource_arn("events:UntagResource", "ResourceARN"),
    # Secrets Manager. Source: "Actions, resources, and condition keys for AWS Secrets Manager": the
    # secret's full ARN (random 6-character suffix), looked up in moto.
    ("secretsmanager", "CreateSecret"): _secret_create,
    **{
        ("secretsmanager", op): _secrets(f"secretsmanager:{op}")
        for op in (
            "GetSecretValue",
            "DescribeSecret",
            "DeleteSecret",
            "RestoreSecret",
            "UpdateSecret",
            "TagResource",
            "UntagResource",
        )
    },
    # CodeStar connections. Source: "Actions, resources, and condition keys for AWS CodeStar
    # Connections": connection/ID; CreateConnection takes "*"; ListConnections lists the
    # Connection resource type as required, so it is judged on connection/* (every connection).
    ("codestar-connections", "CreateConnection"): _connection_create,
    ("codestar-connections", "GetConnection"): by_resource_arn("codestar-connections:GetConnection", "ConnectionArn"),
    ("codestar-connections", "DeleteConnection"): by_resource_arn(
        "codestar-connections:DeleteConnection", "ConnectionArn"
    ),
    ("codestar-connections", "ListConnections"): lambda r: [
        Check("codestar-connections:ListConnections", (r.arn("codestar-connections", "connection/*"),))
    ],
    **{
        ("codestar-connections", op): by_resource_arn(f"codestar-connections:{op}", "ResourceArn")
        for op in ("ListTagsForResource", "TagResource", "UntagResource")
    },
    # Resource Groups Tagging API. Source: "Actions, resources, and condition keys for Amazon
    # Resource Group Tagging API": tag:GetResources takes Resource "*".
    ("tagging", "GetResources"): any_resource("tag:GetResources"),
    # KMS, STS
    ("kms", "Decrypt"): _kms("kms:Decrypt"),
    ("kms", "Encrypt"): _kms("kms:Encrypt"),
    ("kms", "GenerateDataKey"): _kms("kms:GenerateDataKey"),
    ("sts", "AssumeRole"): _assume_role,
    ("sts", "GetCallerIdentity"): any_resource("sts:GetCallerIdentity", always_allowed=True),
}
