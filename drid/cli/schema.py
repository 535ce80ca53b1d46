"""``drid schema [NAME ...]``: the JSON Schema of the message types."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    """Add ``drid schema``."""
    schema = sub.add_parser("schema", help="print the JSON Schema of the messages", description="Print the JSON Schema of every message type (or of the named ones).")
    schema.add_argument("names", nargs="*", metavar="NAME", help="message names, e.g. Frame Detection")
    schema.add_argument("--indent", type=int, default=2)
    schema.set_defaults(handler=cmd_schema)


def cmd_schema(args: argparse.Namespace) -> int:
    from drid.errors import ConfigError, close_matches
    from drid.schemas import MESSAGES

    names = args.names or list(MESSAGES)
    for name in names:
        if name not in MESSAGES:
            hint = close_matches(name, MESSAGES) or " (messages: " + ", ".join(MESSAGES) + ")"
            raise ConfigError(f"unknown message '{name}'{hint}", path="schema")
    doc = {name: MESSAGES[name].model_json_schema() for name in names}
    print(json.dumps(doc if len(names) > 1 else doc[names[0]], indent=args.indent))
    return 0
