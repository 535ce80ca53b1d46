"""Builders of messages for tests, so no test file keeps its own copy."""

from __future__ import annotations

from typing import Any

from drid.schemas import BoundingBox, Detection, SceneObject

__all__ = ["box", "box_at", "detection", "scene_object"]


def box(x1: float, y1: float, x2: float, y2: float) -> BoundingBox:
    """A ``BoundingBox`` from its corners, in pixels."""
    return BoundingBox(x1=x1, y1=y1, x2=x2, y2=y2)


def box_at(x: float, y: float, w: float = 40, h: float = 100) -> BoundingBox:
    """A ``w × h`` box whose bottom-centre is at ``(x, y)`` (a person standing there)."""
    return BoundingBox(x1=x - w / 2, y1=y - h, x2=x + w / 2, y2=y)


def detection(b: BoundingBox | tuple[float, float, float, float], label: str = "object", score: float = 0.9, **fields: Any) -> Detection:
    """A ``Detection`` of ``b`` (a box or its corners); other fields (``track_id``…) by keyword."""
    return Detection(box=b if isinstance(b, BoundingBox) else box(*b), label=label, score=score, **fields)


def scene_object(
    oid: int, label: str, b: BoundingBox | tuple[float, float, float, float] = (0, 0, 10, 10), *, tracked: bool = True, score: float = 0.9, **attributes: Any
) -> SceneObject:
    """A ``SceneObject`` as the engine builds it for the interpret stage: detected as ``label``,
    from detection 0, with ``track_id = oid`` unless ``tracked=False``; extra keywords become
    its ``attributes``."""
    return SceneObject(
        id=oid, label=label, score=score, box=b if isinstance(b, BoundingBox) else box(*b),
        detected_as=label, detection=0, track_id=oid if tracked else None, attributes=attributes,
    )
