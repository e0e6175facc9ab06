"""IAM condition operators: whether a statement's `Condition` holds for the request's context keys.

Sources (IAM User Guide): "IAM JSON policy elements: Condition operators"
(reference_policies_elements_condition_operators.html): a key absent from the request context makes a
condition false, except for negated operators (`StringNotEquals`, `ArnNotLike`, ...), which are then true,
and `...IfExists` / `Null`, which test presence. "Single-valued vs. multivalued context keys"
(reference_policies_condition-single-vs-multi-valued-context-keys.html): `ForAllValues:` is true when the
key is absent, `ForAnyValue:` false. An operator the evaluator does not know is reported to the caller,
which fails closed.
"""

from __future__ import annotations

import datetime
import ipaddress
from typing import Any, Callable

from .policy import MissingVariable, arn_match, glob_match, glob_regex, string_list


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _date(value: str) -> float | None:
    try:
        return float(value)  # epoch seconds
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def _compare(parse: Callable[[str], float | None], test: Callable[[float, float], bool]) -> Callable[..., bool]:
    def match(context_value: str, policy_value: str, keys: dict[str, list[str]]) -> bool:
        left, right = parse(context_value), parse(policy_value)
        return left is not None and right is not None and test(left, right)

    return match


def _ip_match(context_value: str, policy_value: str, keys: dict[str, list[str]]) -> bool:
    try:
        return ipaddress.ip_address(context_value) in ipaddress.ip_network(policy_value, strict=False)
    except ValueError:
        return False


def _string_equals(c: str, p: str, keys: dict[str, list[str]]) -> bool:
    try:
        return glob_regex(p, keys, wildcards=False).fullmatch(c) is not None
    except MissingVariable:
        return False


def _string_equals_ignore_case(c: str, p: str, keys: dict[str, list[str]]) -> bool:
    try:
        return glob_regex(p, keys, ignore_case=True, wildcards=False).fullmatch(c) is not None
    except MissingVariable:
        return False


# base operator -> (positive match function, negated?)
_OPERATORS: dict[str, tuple[Callable[[str, str, dict[str, list[str]]], bool], bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True),
    "StringLike": (lambda c, p, k: glob_match(p, c, keys=k), False),
    "StringNotLike": (lambda c, p, k: glob_match(p, c, keys=k), True),
    "ArnEquals": (lambda c, p, k: arn_match(p, c, k), False),
    "ArnLike": (lambda c, p, k: arn_match(p, c, k), False),
    "ArnNotEquals": (lambda c, p, k: arn_match(p, c, k), True),
    "ArnNotLike": (lambda c, p, k: arn_match(p, c, k), True),
    "Bool": (lambda c, p, k: c.lower() == p.lower(), False),
    "NumericEquals": (_compare(_number, lambda a, b: a == b), False),
    "NumericNotEquals": (_compare(_number, lambda a, b: a == b), True),
    "NumericLessThan": (_compare(_number, lambda a, b: a < b), False),
    "NumericLessThanEquals": (_compare(_number, lambda a, b: a <= b), False),
    "NumericGreaterThan": (_compare(_number, lambda a, b: a > b), False),
    "NumericGreaterThanEquals": (_compare(_number, lambda a, b: a >= b), False),
    "DateEquals": (_compare(_date, lambda a, b: a == b), False),
    "DateNotEquals": (_compare(_date, lambda a, b: a == b), True),
    "DateLessThan": (_compare(_date, lambda a, b: a < b), False),
    "DateLessThanEquals": (_compare(_date, lambda a, b: a <= b), False),
    "DateGreaterThan": (_compare(_date, lambda a, b: a > b), False),
    "DateGreaterThanEquals": (_compare(_date, lambda a, b: a >= b), False),
    "IpAddress": (_ip_match, False),
    "NotIpAddress": (_ip_match, True),
    "BinaryEquals": (lambda c, p, k: c == p, False),
}
SUPPORTED_OPERATORS = frozenset(_OPERATORS) | {"Null"}


def _split_operator(operator: str) -> tuple[str | None, str, bool]:
    """("ForAnyValue"/"ForAllValues"/None, base operator, IfExists?)."""
    qualifier = None
    for prefix in ("ForAnyValue:", "ForAllValues:"):
        if operator.startswith(prefix):
            qualifier, operator = prefix[:-1], operator[len(prefix) :]
    if_exists = operator.endswith("IfExists") and operator != "IfExists"
    if if_exists:
        operator = operator[: -len("IfExists")]
    return qualifier, operator, if_exists


def _condition_holds(
    operator: str, key: str, policy_values: list[str], keys: dict[str, list[str]]
) -> bool:
    qualifier, base, if_exists = _split_operator(operator)
    present = keys.get(key.lower())
    if base == "Null":
        absent = not present
        return any((value.lower() == "true") == absent for value in policy_values)
    match, negated = _OPERATORS[base]
    if not present:
        if if_exists or qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return negated

    def hit(value: str) -> bool:
        return any(match(value, policy_value, keys) for policy_value in policy_values)

    if qualifier == "ForAllValues":
        return all((not hit(v)) if negated else hit(v) for v in present)
    if qualifier == "ForAnyValue":
        return any((not hit(v)) if negated else hit(v) for v in present)
    matched = any(hit(v) for v in present)
    return not matched if negated else matched


def condition_result(condition: Any, keys: dict[str, list[str]]) -> tuple[bool, list[str]]:
    """(all known conditions hold, operators the evaluator does not know).

    Operators are ANDed, keys within an operator are ANDed, values for one key
    are ORed. Unknown operators are left out of the first result; the caller
    decides how they count (never for an Allow, always for a Deny)."""
    unknown: list[str] = []
    holds = True
    if condition is None:
        return True, unknown
    if not isinstance(condition, dict):
        return False, ["<malformed Condition>"]
    for operator, block in condition.items():
        qualifier, base, _ = _split_operator(str(operator))
        if base not in SUPPORTED_OPERATORS or not isinstance(block, dict):
            unknown.append(str(operator))
            continue
        for key, values in block.items():
            if not _condition_holds(str(operator), str(key), string_list(values), keys):
                holds = False
    return holds, unknown
