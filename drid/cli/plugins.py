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
            print(f"    {p['name']}: {p['type']} ({default}){doc}")
    if not rows:
        raise ConfigError("no plugins are installed in the 'drid' entry-point group")
    return 0
