"""``drid train WHAT`` and ``drid eval WHAT``: sub-commands found through the entry-point group
``drid.cli``, so that any installed distribution can add one.

An entry point is named ``VERB.WHAT`` (``train.classifier``) and points at a function
``register(subparsers)`` that adds the ``WHAT`` parser and sets its ``handler`` default (a function
of the parsed arguments that returns the exit status)::

    [project.entry-points."drid.cli"]
    "train.widget" = "mypackage.cli:register"

One that cannot be loaded or registered is skipped with a one-line warning on standard error: a
broken third-party package must not take the ``drid`` command down with it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, TextIO

__all__ = ["COMMAND_GROUP", "VERBS", "add_verbs", "command_entry_points"]

#: The entry-point group of ``drid`` sub-commands.
COMMAND_GROUP = "drid.cli"
#: The verbs whose sub-commands come from the group, with their help text.
VERBS: dict[str, str] = {
    "train": "train a model or a policy",
    "eval": "evaluate a detector, a tracker, a policy or an anomaly model",
}


def command_entry_points() -> list[EntryPoint]:
    """The entry points of the ``drid.cli`` group, sorted by name."""
    return sorted(entry_points(group=COMMAND_GROUP), key=lambda ep: ep.name)


def add_verbs(sub: Any, found: Iterable[EntryPoint] | None = None, warn: TextIO | None = None) -> None:
    """Add one parser per verb of ``VERBS`` to ``sub`` and register each sub-command of ``found``
    (default: :func:`command_entry_points`) under its verb."""
    targets = {}
    for verb, text in VERBS.items():
        group = sub.add_parser(verb, help=text, description=text[0].upper() + text[1:] + ".")
        targets[verb] = group.add_subparsers(dest="target", metavar="WHAT", required=True)
    for ep in command_entry_points() if found is None else found:
        verb, _, what = ep.name.partition(".")
        try:
            if verb not in targets or not what:
                raise ValueError(f"entry-point names are VERB.WHAT with VERB one of {', '.join(VERBS)}")
            register: Callable[[Any], None] = ep.load()
            register(targets[verb])
        except Exception as exc:  # any failure of a plugin's code is reported, not fatal
            _warn(ep, exc, warn or sys.stderr)


def _warn(ep: EntryPoint, exc: BaseException, stream: TextIO) -> None:
    dist = getattr(ep, "dist", None)
    origin = f"{dist.name} {dist.version}, " if dist is not None else ""
    message = str(exc).splitlines()[0] if str(exc) else ""
    print(f"drid: warning: skipped command '{ep.name.replace('.', ' ', 1)}' ({origin}{ep.value}): {type(exc).__name__}: {message}",
          file=stream)
