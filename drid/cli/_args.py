"""argparse value types shared by the ``drid`` sub-commands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def positive_int(text: str) -> int:
    """argparse type of every count option of drid's commands: a whole number ≥ 1 (``1e5`` is
    accepted for large step counts)."""
    try:
        number = float(text)
        if not number.is_integer():
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    value = int(number)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def key_value(text: str) -> tuple[str, Any]:
    """argparse type of ``KEY=VALUE`` options (``--hp``, ``--param``): the value is read as YAML
    (``1e-3`` a float, ``true`` a bool, ``[64, 64]`` a list), or kept as text when it is not YAML."""
    from drid.errors import ConfigError
    from drid.pipeline.config import yaml_value

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got '{text[:60]}'")
    try:
        return key.strip(), yaml_value(raw)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(f"{key.strip()}: {exc}") from None


def json_object(text: str) -> dict[str, Any]:
    """argparse type of a JSON object option (``--env-kwargs '{"max_episode_steps": 200}'``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object, e.g. '{\"max_episode_steps\": 200}'")
    return value


def size(text: str) -> tuple[int, int]:
    """argparse type of an image size: ``32`` (square) or ``64x48`` (width x height), 4 to 1024 pixels."""
    try:
        if "x" in text.lower():
            w, h = (int(v) for v in text.lower().split("x"))
        else:
            w = h = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size like 32 or 64x48, got '{text}'") from None
    if not (4 <= w <= 1024 and 4 <= h <= 1024):
        raise argparse.ArgumentTypeError(f"size must be between 4 and 1024 pixels, got '{text}'")
    return w, h


def fraction(text: str) -> float:
    """argparse type of a share in [0, 1), e.g. ``0.15``."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.15, got '{text}'") from None
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {v}")
    return v


def _annotations() -> Path:
    """drid's bundled ground-truth folder, found without importing drid.eval (a second of imports)."""
    return Path(__file__).resolve().parents[1] / "eval" / "annotations"


#: File-name prefix of the bundled tracking ground truth (``tracks-packaged.json``).
TRACKS_PREFIX = "tracks-"


def bundled_groundtruth_names(tracks: bool = False) -> list[str]:
    """The names of the ground-truth files drid bundles (``drid/eval/annotations/``): detection
    truth (``packaged``, ``shared``, ``faces-video``, …) or, with ``tracks``, tracking truth
    (``tracks-packaged.json`` is the tracking truth named ``packaged``)."""
    stems = sorted(p.stem for p in _annotations().glob("*.json"))
    if tracks:
        return [s[len(TRACKS_PREFIX):] for s in stems if s.startswith(TRACKS_PREFIX)]
    return [s for s in stems if not s.startswith(TRACKS_PREFIX)]


def groundtruth_path(source: str, *, tracks: bool = False) -> Path:
    """The ground-truth file ``source`` names on the command line of ``drid eval detector`` or
    ``drid eval tracker``: a bare name that drid bundles (see :func:`bundled_groundtruth_names`) is
    the bundled file, whatever the working directory holds (as bundled model names); anything else
    is a path. ``ConfigError`` at ``groundtruth`` for a bare name that is neither."""
    from drid.errors import ConfigError

    bare = Path(source).suffix == "" and "/" not in source and "\\" not in source
    if bare and source in bundled_groundtruth_names(tracks):
        return _annotations() / f"{TRACKS_PREFIX + source if tracks else source}.json"
    path = Path(source).expanduser()
    if bare and not path.is_file():
        names = ", ".join(bundled_groundtruth_names(tracks)) or "none"
        raise ConfigError(f"no ground-truth file '{source}' and no bundled one of that name (bundled: {names})", path="groundtruth")
    return path
