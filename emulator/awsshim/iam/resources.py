"""The resources a request names as IAM sees them: canonical ARNs (secrets, KMS keys, roles, rules, task
definitions) and the resource policies that govern them, read from moto's backends.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Callable

from .policy import ACCOUNT_IN_ARN, load_document, policy_statements


class ResourceLookup:
    """Canonical ARNs of resources a request names, and the resource policies that govern them, read from moto."""

    def __init__(self, account: str, stored_bucket_policies: Callable[[], dict[str, bytes]]) -> None:
        self.account = account
        self.stored_bucket_policies = stored_bucket_policies

    def resolve(self, kind: str, value: str, region: str) -> str | None:
        try:
            if kind == "secret":
                from moto.secretsmanager.models import secretsmanager_backends

                secret = secretsmanager_backends[self.account][region].secrets.get(value)
                return secret.arn if secret is not None else None
            if kind in ("kms-key", "kms-ciphertext"):
                from moto.kms.models import kms_backends

                backend = kms_backends[self.account][region]
                if kind == "kms-ciphertext":
                    from moto.kms.utils import _deserialize_ciphertext_blob

                    blob = base64.b64decode(value)
                    key_id = _deserialize_ciphertext_blob(blob).key_id
                else:
                    key_id = backend.any_id_to_key_id(value)
                key = backend.keys.get(key_id)
                return key.arn if key is not None else None
            if kind == "iam-role-boundary":  # the ARN of the role's permissions boundary, if any
                from moto.iam.models import iam_backends

                return iam_backends[self.account]["aws"].get_role(value).permissions_boundary_arn or None
            if kind in ("iam-role", "iam-instance-profile"):
                # The ARN carries the entity's path (role/PATH/NAME), which the request does not name.
                from moto.iam.models import iam_backends

                iam = iam_backends[self.account]["aws"]
                entity = iam.get_role(value) if kind == "iam-role" else iam.get_instance_profile(value)
                return entity.arn
            if kind == "events-rule":  # "BUS/NAME": the rule's ARN when it exists
                from moto.events.models import events_backends

                bus_name, _, name = value.rpartition("/")  # rule names have no "/", partner buses do
                bus = events_backends[self.account][region].event_buses.get(bus_name)
                rule = bus.rules.get(name) if bus is not None else None
                return rule.arn if rule is not None else None
            if kind in ("ecs-task-definition", "ecs-task-definition-next"):
                from moto.ecs.models import ecs_backends

                families = ecs_backends[self.account][region].task_definitions
                if kind == "ecs-task-definition-next":  # the ARN RegisterTaskDefinition will give
                    revisions = families.get(value) or {}
                    return (
                        f"arn:aws:ecs:{region}:{self.account}:task-definition/{value}:{max(revisions, default=0) + 1}"
                    )
                family, _, revision = value.rsplit("/", 1)[-1].partition(":")
                revisions = families.get(family) or {}
                if revision:
                    found = revisions.get(int(revision))
                else:  # a bare family names its latest ACTIVE revision
                    active = [td for td in revisions.values() if td.status == "ACTIVE"]
                    found = max(active, key=lambda td: td.revision) if active else None
                return found.arn if found is not None else None
        except Exception:  # noqa: BLE001 - unknown resource: the caller builds a best-effort ARN
            return None
        return None

    def policy(self, ref: tuple[str, ...] | None) -> Any:
        if not ref:
            return None
        try:
            kind = ref[0]
            if kind == "s3":
                stored = self.stored_bucket_policies().get(ref[1])
                if stored is not None:
                    return stored
                from moto.s3.models import s3_backends

                bucket = s3_backends[self.account]["aws"].buckets.get(ref[1])
                return bucket.policy if bucket is not None else None
            if kind == "sns":
                from moto.sns.models import sns_backends

                topic = sns_backends[self.account][ref[1]].topics.get(ref[2])
                return topic.policy if topic is not None else None
            if kind == "ecr":
                from moto.ecr.models import ecr_backends

                repository = ecr_backends[ref[2]][ref[1]].repositories.get(ref[3])
                return repository.policy if repository is not None else None
            if kind == "lambda":
                from moto.awslambda.utils import get_backend

                arn = ref[2]
                parts = arn.split(":")
                qualifier = parts[7] if len(parts) > 7 else None
                wire = json.loads(get_backend(parts[4], ref[1]).get_policy(parts[6], qualifier))
                return _lambda_policy_as_aws_stores_it(wire.get("Policy"))
            if kind == "secretsmanager":
                from moto.secretsmanager.models import secretsmanager_backends

                secret = secretsmanager_backends[self.account][ref[1]].secrets.get(ref[2])
                return secret.policy if secret is not None else None
            if kind == "kms":
                from moto.kms.models import kms_backends

                backend = kms_backends[self.account][ref[1]]
                key_id = ref[2].split(":key/", 1)[1] if ":key/" in ref[2] else None
                key = backend.keys.get(key_id) if key_id else None
                return key.policy if key is not None else None
            if kind == "iam-role":
                from moto.iam.models import iam_backends

                match = ACCOUNT_IN_ARN.match(ref[1])
                account = match.group(1) if match else self.account
                role = iam_backends[account]["aws"].get_role_by_arn(ref[1])
                return role.assume_role_policy_document
        except Exception:  # noqa: BLE001 - no such resource or no policy
            return None
        return None


def _lambda_policy_as_aws_stores_it(document: Any) -> Any:
    """moto keeps an AddPermission principal as the bare string it was given
    (an ARN or an account id); AWS stores {"AWS": ...} (services: {"Service": ...})."""
    loaded = load_document(document)
    if loaded is None:
        return document
    for statement in policy_statements(loaded):
        principal = statement.get("Principal")
        if isinstance(principal, str) and principal != "*":
            kind = "Service" if principal.endswith(".amazonaws.com") else "AWS"
            statement["Principal"] = {kind: principal}
    return loaded
