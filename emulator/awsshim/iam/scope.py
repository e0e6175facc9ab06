"""Is every grant scoped to resources? (`POST /_shim/iam/scope`; README "Auditing the exercised policies").

A strict lint (`scope_problems`): an Allow of an action that IAM's catalogue lists resource types for, on
`"*"` or on an ARN whose name part (or region, or account) is only a wildcard, or any Allow with
`NotResource`. Conditions excuse nothing. `broadening` mutates each scoped statement to `Resource: "*"`
and checks the lint notices, which shows where the lint is blind (statements whose actions take no
resource type, or that the catalogue does not know).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from .audit import action_regex, raw_statements, statement_label
from .catalogue import catalogue_actions, catalogue_resource_arns
from .policy import as_list, load_document


_WILDCARD_ONLY = re.compile(r"[*?]+")
_VARIABLE = re.compile(r"\$\{[^}]*\}")


@functools.lru_cache(maxsize=4096)
def expand_action(pattern: str) -> tuple[str, ...]:
    """The catalogue actions (lower-case `prefix:name`) an Action entry covers; empty when
    the catalogue knows none (a typo: unknown_actions reports those, not this lint)."""
    prefix, sep, name = pattern.lower().partition(":")
    catalogue = catalogue_actions()
    if pattern == "*":
        return tuple(sorted(f"{p}:{n}" for p, names in catalogue.items() for n in names))
    if not sep:
        return ()
    prefix_regex = action_regex(prefix)
    name_regex = action_regex(name)
    return tuple(
        sorted(
            f"{p}:{n}"
            for p, names in catalogue.items()
            if prefix_regex.fullmatch(p)
            for n in names
            if name_regex.fullmatch(n)
        )
    )


def _template_broadness(pattern: str, template: str) -> str | None:
    """Why an ARN pattern is broad for resources of this catalogue template; None when it
    names a specific resource, or cannot name this type at all (another service or type)."""
    parts = pattern.split(":", 5)
    shape = template.split(":", 5)
    if len(parts) < 6 or len(shape) < 6:
        return None  # not an ARN: arn_match compares it whole, it cannot be judged per part
    if not action_regex(parts[2]).fullmatch(shape[2]):
        return None  # another service's resource: it grants this action nothing
    for position, label in ((3, "region"), (4, "account")):
        if shape[position] and _WILDCARD_ONLY.fullmatch(parts[position]):
            return f"the {label} is only a wildcard ({pattern} fits {template} anywhere)"
    rest, kind = parts[5], shape[5]
    variable = _VARIABLE.search(kind)
    prefix = kind[: variable.start()] if variable else kind
    if not rest.startswith(prefix):
        head = re.split(r"[*?]", rest, maxsplit=1)[0]
        if head != rest and prefix.startswith(head):
            # The wildcard starts inside the resource type ("*", "role*", "log-*"): every name.
            return f"{pattern} covers every resource of {template}"
        return None  # another resource type
    if variable is None:
        return None  # a singleton resource type: nothing to scope
    after = kind[variable.end() :]
    literal = _VARIABLE.split(after, maxsplit=1)[0]  # what follows the name in the template
    name = rest[len(prefix) :]
    segment = name.split(literal, 1)[0] if literal else name
    if _WILDCARD_ONLY.fullmatch(segment):
        return f"the {variable.group(0)[2:-1]} part of {pattern} is only a wildcard (template {template})"
    return None


def _resource_problem(action: str, resource: str) -> str | None:
    """Why Resource `resource` is too broad for one catalogue action, or None."""
    templates = catalogue_resource_arns(action)
    if not templates:
        return None  # unknown, or the action takes only "*" (ecr:GetAuthorizationToken)
    if resource == "*":
        return f'Resource "*" for an action that takes resource types ({", ".join(templates)})'
    for template in templates:
        why = _template_broadness(resource, template)
        if why:
            return why
    return None


def _action_problem(entry: str, resource: str) -> str | None:
    """The problem of one Action entry (wildcards expanded) on one Resource entry."""
    expanded = expand_action(entry)
    broad = [(action, why) for action in expanded if (why := _resource_problem(action, resource))]
    if not broad:
        return None
    if "*" in entry or "?" in entry:
        first, why = broad[0]
        return f"{entry} covers {len(broad)} action(s) that take resource types, e.g. {first}: {why}"
    return broad[0][1]


def scope_problems(document: Any, policy: str = "policy") -> list[dict[str, Any]]:
    """Allow statements not scoped to resources: `{"policy", "sid", "statement", "action",
    "resource", "why"}` per Action entry (as written, wildcards expanded against IAM's
    catalogue) and Resource entry. NotResource in an Allow is always a problem (it grants
    everything it does not name); an Allow with NotAction is judged over every catalogue
    action it leaves in, reported once per Resource entry as action `NotAction [...]`.
    Conditions are ignored on purpose: the lint is strict and simple."""
    loaded = load_document(document)
    if loaded is None:
        raise ValueError(f"{policy}: not a JSON policy document")
    problems: list[dict[str, Any]] = []
    for index, statement in enumerate(raw_statements(loaded)):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        label = statement_label(statement, index)

        def problem(action: str, resource: str, why: str) -> None:
            problems.append(
                {"policy": policy, "sid": label, "statement": index, "action": action, "resource": resource, "why": why}
            )

        if "Action" in statement:
            actions = [a for a in as_list(statement["Action"]) if isinstance(a, str)]
        elif "NotAction" in statement:
            excluded = [a for a in as_list(statement["NotAction"]) if isinstance(a, str)]
            actions = [f"NotAction {json.dumps(excluded)}"]
        else:
            continue
        if "NotResource" in statement:
            not_resources = [r for r in as_list(statement["NotResource"]) if isinstance(r, str)]
            for action in actions:
                problem(
                    action,
                    f"NotResource {json.dumps(not_resources)}",
                    "NotResource in an Allow grants every resource it does not name",
                )
            continue
        for action in actions:
            for resource in (r for r in as_list(statement.get("Resource")) if isinstance(r, str)):
                if action.startswith("NotAction "):
                    why = _not_action_problem(excluded, resource)
                else:
                    why = _action_problem(action, resource)
                if why:
                    problem(action, resource, why)
    return problems


def _not_action_problem(excluded: list[str], resource: str) -> str | None:
    excluded_set = {a for pattern in excluded for a in expand_action(pattern)}
    left = [a for a in expand_action("*") if a not in excluded_set]
    for action in left:
        why = _resource_problem(action, resource)
        if why:
            return f"NotAction in an Allow leaves {len(left)} action(s), e.g. {action}: {why}"
    return None


def broadening(document: Any, policy: str = "policy") -> list[dict[str, Any]]:
    """For each Allow statement scoped by a Resource other than `"*"`: would the lint catch it
    if its Resource were `"*"`? `{"policy", "sid", "statement", "caught"}`. caught false marks
    a statement the lint cannot guard (its actions take no resource type or are unknown)."""
    loaded = load_document(document)
    if loaded is None:
        raise ValueError(f"{policy}: not a JSON policy document")
    results: list[dict[str, Any]] = []
    statements = raw_statements(loaded)
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow" or "Resource" not in statement:
            continue
        if "*" in as_list(statement["Resource"]):
            continue
        mutated = {**loaded, "Statement": statements[:index] + [{**statement, "Resource": "*"}] + statements[index + 1 :]}
        caught = any(p["statement"] == index for p in scope_problems(mutated, policy))
        results.append({"policy": policy, "sid": statement_label(statement, index), "statement": index, "caught": caught})
    return results


def scope_report(documents: Any) -> dict[str, list[dict[str, Any]]]:
    """The `POST /_shim/iam/scope` answer for `{"documents": {name: document, ...}}`, by name."""
    if not isinstance(documents, dict) or not documents:
        raise ValueError('send {"documents": {"<name>": <policy document or JSON string>, ...}}')
    problems: list[dict[str, Any]] = []
    broadened: list[dict[str, Any]] = []
    for name in sorted(documents):
        problems += scope_problems(documents[name], name)
        broadened += broadening(documents[name], name)
    return {"problems": problems, "broadening": broadened}
