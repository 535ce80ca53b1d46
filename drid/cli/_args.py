"""argparse value types shared by the ``drid`` sub-commands."""

from __future__ import annotations

import argparse
import json
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
