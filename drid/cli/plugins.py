"""``drid plugins [NAME]``: every plugin of the ``drid`` entry-point group, with its parameters."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    """Add ``drid plugins``."""
    plugins = sub.add_parser("plugins", help="list installed plugins", description="List every plugin in the 'drid' entry-point group.")
    plugins.add_argument("name", nargs="?", help="show one plugin only")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    plugins.set_defaults(handler=cmd_plugins)


def cmd_plugins(args: argparse.Namespace) -> int:
    from drid.errors import ConfigError
    from drid.pipeline.registry import default_registry

    registry = default_registry()
    if args.name:
        registry.get(args.name, path="plugins")
        infos = [registry.info(args.name)]
    else:
        infos = registry.all()
    rows = []
    for info in infos:
        row: dict[str, Any] = {
            "name": info.name,
            "stages": info.roles,
            "distribution": info.distribution,
            "version": info.version,
            "target": info.target,
            "description": info.description,
            "error": info.error,
            "parameters": [],
        }
        if info.ok:
            try:
                row["parameters"] = info.parameters()
                for p in row["parameters"]:
                    p["input_path"] = _is_input_path(info.params_model, p["name"])
                    if "Annotated[" in p["type"]:  # a marker inside a union: show the type, not its repr
                        p["type"] = _type_text(info.params_model.model_fields[p["name"]].annotation)
            except Exception as exc:  # a plugin with an unusable parameter model is reported, not fatal
                row["error"] = f"parameters: {exc}"
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        origin = f"{row['distribution'] or '?'} {row['version'] or ''}".strip()
        if row["error"]:
            print(f"{row['name']:<20} FAILED TO LOAD ({origin}, {row['target']}): {row['error']}")
            continue
        print(f"{row['name']:<20} {', '.join(row['stages']):<18} {origin:<16} {row['description']}")
        for p in row["parameters"]:
            default = "required" if p["required"] else f"default {json.dumps(p['default'])}"
            doc = f"  {p['description']}" if p["description"] else ""
            kind = f"{p['type']}, a path read from the config's folder" if p.get("input_path") else p["type"]
            print(f"    {p['name']}: {kind} ({default}){doc}")
    if not rows:
        raise ConfigError("no plugins are installed in the 'drid' entry-point group")
    return 0


def _is_input_path(model: Any, name: str) -> bool:
    """Whether parameter ``name`` of ``model`` is declared an ``InputPath`` (anywhere in its type)."""
    from drid.pipeline.params import InputPath

    field = getattr(model, "model_fields", {}).get(name)
    if field is None:
        return False
    if any(isinstance(m, InputPath) for m in field.metadata):
        return True
    return "InputPath(" in repr(field.annotation)  # inside a union: Annotated[str, InputPath()] | list[str]


def _type_text(annotation: Any) -> str:
    """A type as a user reads it: ``str | list[str] | None`` (markers such as ``InputPath`` dropped)."""
    import types
    from typing import Annotated, Union, get_args, get_origin

    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _type_text(args[0])
    if origin in (Union, types.UnionType):
        return " | ".join(_type_text(a) for a in args)
    if annotation is type(None):
        return "None"
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(_type_text(a) for a in args)}]"
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))
