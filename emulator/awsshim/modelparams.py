"""A request's input as its service model describes it, for the request validation (`validation.py`): the
JSON body of the JSON protocols as it came, the flattened `Name.member.N` / `Name.entry.N.key` form fields
of the query protocols (IAM, SNS, STS) put back into structures, lists and maps, and a REST-JSON call's
(Lambda's) URI labels, query string, headers and body joined into one structure.

The decoding follows the shapes as botocore's serializers (botocore/serialize.py) encode them; a value
whose text does not read as its shape's type is kept as text (the validation then skips it).
"""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.model import OperationModel, Shape

from .protocol import AwsRequest


def wire_name(name: str, shape: Shape) -> str:
    """The name a member travels under: its `locationName` when the model gives one."""
    return shape.serialization.get("name", name)


def request_input(req: AwsRequest, operation: OperationModel) -> dict[str, Any] | None:
    """The request's input structure (members under their wire names), or None when the request does not
    read as the operation's (a REST path that does not fit its URI template, a protocol not decoded here)."""
    shape = operation.input_shape
    if shape is None:
        return {}
    if req.protocol == "json":
        return req.params
    if req.protocol == "query":
        fields = {key: value for key, value in req.params.items() if key not in ("Action", "Version")}
        return query_structure(shape, fields, "")
    if req.protocol == "rest-json":
        return rest_json_input(req, operation, shape)
    return None


def scalar(shape: Shape, text: str) -> Any:
    """A text field as its scalar shape's type (text it cannot be read as stays text)."""
    try:
        if shape.type_name in ("integer", "long"):
            return int(text)
        if shape.type_name in ("float", "double"):
            return float(text)
    except ValueError:
        return text
    if shape.type_name == "boolean":
        return {"true": True, "false": False}.get(text, text)
    return text


def has_prefix(fields: dict[str, str], key: str) -> bool:
    return key in fields or any(name.startswith(key + ".") for name in fields)


def indices(fields: dict[str, str], prefix: str) -> list[int]:
    """The item numbers N present under `prefix.N`, in order."""
    item = re.compile(re.escape(prefix) + r"\.(\d+)(?:\.|$)")
    return sorted({int(match.group(1)) for name in fields if (match := item.match(name))})


def query_value(shape: Shape, fields: dict[str, str], key: str) -> Any:
    if shape.type_name == "structure":
        return query_structure(shape, fields, key + ".")
    if shape.type_name == "list":
        return query_list(shape, fields, key)
    if shape.type_name == "map":
        return query_map(shape, fields, key)
    return scalar(shape, fields[key]) if key in fields else None


def query_structure(shape: Shape, fields: dict[str, str], prefix: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, member in shape.members.items():
        key = prefix + wire_name(name, member)
        if has_prefix(fields, key):
            found[name] = query_value(member, fields, key)
    return found


def query_list(shape: Shape, fields: dict[str, str], key: str) -> list[Any]:
    member = shape.member
    if shape.serialization.get("flattened"):
        named = member.serialization.get("name")
        prefix = ".".join(key.split(".")[:-1] + [named]) if named else key
    else:
        prefix = f"{key}.{member.serialization.get('name', 'member')}"
    return [query_value(member, fields, f"{prefix}.{n}") for n in indices(fields, prefix)]


def query_map(shape: Shape, fields: dict[str, str], key: str) -> dict[str, Any]:
    prefix = key if shape.serialization.get("flattened") else f"{key}.entry"
    key_name = shape.key.serialization.get("name", "key")
    value_name = shape.value.serialization.get("name", "value")
    entries: dict[str, Any] = {}
    for n in indices(fields, prefix):
        entry_key = fields.get(f"{prefix}.{n}.{key_name}")
        if entry_key is not None:
            entries[entry_key] = query_value(shape.value, fields, f"{prefix}.{n}.{value_name}")
    return entries


def uri_labels(template: str, path: str) -> dict[str, str] | None:
    """The labels (`{FunctionName}`, greedy `{Key+}`) of a REST path that fits the URI template."""
    pattern = ""
    for literal, label, greedy in re.findall(r"([^{]*)(?:\{(\w+)(\+?)\})?", template.split("?")[0]):
        pattern += re.escape(literal)
        if label:
            pattern += f"(?P<{label}>{'.+' if greedy else '[^/]+'})"
    match = re.fullmatch(pattern + "/?", path)
    return match.groupdict() if match else None


def rest_json_input(req: AwsRequest, operation: OperationModel, shape: Shape) -> dict[str, Any] | None:
    # WSGI hands the path over percent-decoded, as latin-1 text of its bytes (PEP 3333).
    path = req.path.encode("latin-1", "replace").decode("utf-8", "replace")
    labels = uri_labels(operation.http.get("requestUri", "/"), path)
    if labels is None:
        return None
    payload = shape.serialization.get("payload")
    body = req.params
    if payload is None and not body and req.body:
        try:
            loaded = json.loads(req.body)
            body = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            body = {}
    found: dict[str, Any] = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = wire_name(name, member)
        if location == "uri" and wire in labels:
            found[name] = labels[wire]
        elif location == "querystring" and member.type_name == "list" and wire in req.query:
            found[name] = [scalar(member.member, text) for text in req.query[wire]]
        elif location == "querystring" and member.type_name != "map" and wire in req.query:
            found[name] = scalar(member, req.query[wire][0])
        elif location == "header" and req.header(wire) is not None:
            found[name] = scalar(member, req.header(wire) or "")
        elif name == payload and member.type_name == "structure":
            found[name] = body
        elif location is None and name != payload and wire in body:
            found[name] = body[wire]
    return found
