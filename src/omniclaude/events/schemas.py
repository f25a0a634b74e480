"""JSON Schema export of every event, and the compatibility rule the contract test enforces.

A committed schema ``schemas/<event_type>.v<N>.json`` is a promise to every producer and
consumer of version N. A model change is *incompatible* when it removes a field, changes a
field's type, narrows an enum, or adds a required field; such a change needs a new
``schema_version`` (and a new committed file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omniclaude.events.base import EventBase
from omniclaude.events.catalog import CATALOG

__all__ = ["export_schemas", "incompatibilities", "schema_filename", "schema_of", "version_of"]

Schema = dict[str, Any]


def version_of(model: type[EventBase]) -> int:
    """Return the contract version a model declares (its ``schema_version`` default)."""
    default = model.model_fields["schema_version"].default
    return int(default)


def schema_filename(event_type: str, version: int) -> str:
    """Return the file name of a committed schema."""
    return f"{event_type}.v{version}.json"


def schema_of(model: type[EventBase]) -> Schema:
    """Return the JSON Schema (validation mode: what a producer may send) of ``model``."""
    return model.model_json_schema(mode="validation")


def export_schemas(directory: Path) -> list[Path]:
    """Write the schema of every catalogued event into ``directory``; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in CATALOG:
        path = directory / schema_filename(kind.event_type, version_of(kind.model))
        path.write_text(json.dumps(schema_of(kind.model), indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def _resolve(node: Schema, root: Schema) -> Schema:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = root.get("$defs", {}).get(name, {})
    return node


def _object_of(node: Schema, root: Schema) -> Schema:
    """The object a node describes, looking through ``anyOf`` (an optional nested model)."""
    node = _resolve(node, root)
    for option in node.get("anyOf") or node.get("oneOf") or []:
        resolved = _resolve(option, root)
        if "properties" in resolved:
            return resolved
    return node


def _types(node: Schema, root: Schema) -> set[str]:
    """Summarise what JSON types a schema node admits (``null`` included)."""
    node = _resolve(node, root)
    if "anyOf" in node or "oneOf" in node:
        result: set[str] = set()
        for option in node.get("anyOf") or node.get("oneOf") or []:
            result |= _types(option, root)
        return result
    if "const" in node:
        return {type(node["const"]).__name__}
    if "enum" in node:
        return {f"enum:{value}" for value in node["enum"]}
    kind = node.get("type")
    if isinstance(kind, list):
        return set(kind)
    if kind == "array":
        items = node.get("items", {})
        return {"array<" + ",".join(sorted(_types(items, root))) + ">"}
    return {str(kind) if kind else "any"}


def _compare(old: Schema, new: Schema, old_root: Schema, new_root: Schema, path: str) -> list[str]:
    problems: list[str] = []
    old, new = _object_of(old, old_root), _object_of(new, new_root)
    old_props: Schema = old.get("properties", {})
    new_props: Schema = new.get("properties", {})
    for name, old_field in old_props.items():
        where = f"{path}{name}"
        if name not in new_props:
            problems.append(f"{where}: field removed")
            continue
        old_types, new_types = _types(old_field, old_root), _types(new_props[name], new_root)
        if "any" not in new_types and not old_types <= new_types:
            lost = ", ".join(sorted(old_types - new_types))
            problems.append(f"{where}: type changed (no longer accepts {lost})")
        problems += _compare(old_field, new_props[name], old_root, new_root, where + ".")
    added_required = set(new.get("required", [])) - set(old.get("required", []))
    problems += [f"{path}{name}: new required field" for name in sorted(added_required)]
    return problems


def incompatibilities(old: Schema, new: Schema) -> list[str]:
    """List every way ``new`` breaks producers or consumers written against ``old``."""
    return _compare(old, new, old, new, "")
