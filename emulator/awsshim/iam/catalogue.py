"""IAM's action catalogue (parliament's iam_definition.json): which actions exist (to catch typos such as
`s3:GetObjects`) and the ARN templates of the resource types each action takes.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
from typing import Any

from .policy import as_list, glob_regex, load_document, policy_statements


@functools.lru_cache(maxsize=1)
def _catalogue_data() -> tuple[dict[str, frozenset[str]], dict[str, tuple[str, ...]]]:
    """(service prefix -> lower-cased action names, lower-cased "prefix:action" ->
    ARN templates of its resource types, empty when the action takes Resource "*").
    Located without importing parliament (its import loads more than the catalogue)."""
    spec = importlib.util.find_spec("parliament")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("parliament is not installed (emulator/requirements.txt pins it)")
    path = os.path.join(list(spec.submodule_search_locations)[0], "iam_definition.json")
    with open(path, encoding="utf-8") as handle:
        services = json.load(handle)
    actions: dict[str, set[str]] = {}
    arns: dict[str, tuple[str, ...]] = {}
    for service in services:
        prefix = service["prefix"].lower()
        names = actions.setdefault(prefix, set())
        templates = {r["resource"]: r["arn"] for r in service.get("resources", [])}
        for privilege in service.get("privileges", []):
            name = privilege["privilege"].lower()
            names.add(name)
            types = [t["resource_type"].rstrip("*") for t in privilege.get("resource_types", [])]
            arns[f"{prefix}:{name}"] = tuple(templates[t] for t in types if t and t in templates)
    return {prefix: frozenset(names) for prefix, names in actions.items()}, arns


def catalogue_actions() -> dict[str, frozenset[str]]:
    return _catalogue_data()[0]


def catalogue_resource_arns(action: str) -> tuple[str, ...] | None:
    """ARN templates (`arn:${Partition}:s3:::${BucketName}/${ObjectName}`) of the
    resource types IAM's catalogue lists for an action; () when the action only
    takes Resource "*"; None for an unknown action."""
    return _catalogue_data()[1].get(action.lower())


def arn_fits_template(arn: str, template: str) -> bool:
    """Whether an ARN has the shape of a catalogue template (each ${Var} one or more characters)."""
    regex = re.sub(r"\\\$\\\{[^}]*\\\}", ".+", re.escape(template))
    return re.fullmatch(regex, arn) is not None


def known_action(action: str) -> bool:
    """Whether the catalogue knows the action; wildcards count when they match one."""
    if action == "*":
        return True
    prefix, sep, name = action.partition(":")
    names = catalogue_actions().get(prefix.lower())
    if not sep or names is None or not name:
        return False
    if "*" in name or "?" in name:
        regex = glob_regex(name.lower(), None)
        return any(regex.fullmatch(candidate) for candidate in names)
    return name.lower() in names


def unknown_actions(document: Any) -> list[str]:
    """Action / NotAction values in a policy document the catalogue does not know."""
    loaded = load_document(document)
    if loaded is None:
        return []
    found: list[str] = []
    for statement in policy_statements(loaded):
        for element in ("Action", "NotAction"):
            for action in as_list(statement.get(element)):
                if isinstance(action, str) and not known_action(action) and action not in found:
                    found.append(action)
    return found
