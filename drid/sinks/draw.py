"""Drawing a frame's record onto its image: one place for every sink and demo that shows pictures.

``Annotator`` keeps the little memory drawing needs across frames (each track's trail); call
``annotate(record)`` in frame order and get a new BGR image (the frame's own pixels are never
touched). The pieces (``draw_detection``, ``draw_facts``, ``draw_banner``…) are plain functions
for demos that compose their own pictures.

What is drawn:

* boxes with ``label #track score`` (colour by track id, else by label), a velocity arrow;
* trails of tracked objects (their recent centres);
* polylines (lane lines) as thick lines, the lane between a left and a right line shaded;
* masks (``Detection.mask``) over their boxes: a segmentation tinted in the box's colour, a
  per-pixel score (an anomaly map) as a heat map, stronger where the score is higher;
* zones and counting lines given to the ``Annotator`` (the same ``{name, polygon}`` and
  ``{name, start, end}`` specs the ``relations`` interpreter takes): a zone is shaded while a
  scene object is in it (its ``zones`` attribute), a line shows its crossing counts (from the
  ``crossed_line`` events); the zones an object is in follow its caption;
* the scene's facts (and situations) in a panel at the top left, the frame's index and time at
  the top right;
* the decision as a banner across the bottom: the action and its rationale.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

import cv2
import numpy as np

from drid.detect.track import CARRIED_META
from drid.schemas import Decision, Detection, FrameRecord

__all__ = [
    "Annotator",
    "color_for",
    "draw_banner",
    "draw_detection",
    "draw_facts",
    "draw_polyline",
    "draw_lines",
    "draw_mask",
    "draw_zones",
    "draw_text",
    "font_scale",
]

_FONT = cv2.FONT_HERSHEY_SIMPLEX
# Distinct, saturated BGR colours (Tableau-like) for ids and labels.
_PALETTE = [
    (180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148),
    (75, 86, 140), (194, 119, 227), (34, 189, 188), (207, 190, 23), (0, 215, 255),
]
_LANE = (0, 220, 255)
_ACTION_COLOURS = {"stop": (40, 40, 200), "brake": (40, 40, 200), "alert": (0, 140, 255), "warn": (0, 140, 255), "slow": (0, 170, 230)}


def color_for(key: Any) -> tuple[int, int, int]:
    """A stable colour for a track id or a label (the same key always gets the same colour)."""
    if isinstance(key, int):
        return _PALETTE[key % len(_PALETTE)]
    digest = hashlib.md5(str(key).encode()).digest()
    return _PALETTE[digest[0] % len(_PALETTE)]


def font_scale(image: np.ndarray) -> float:
    """Text size that stays readable from 240p to 4K."""
    return float(np.clip(image.shape[0] / 700.0, 0.5, 1.6))


def draw_text(image: np.ndarray, text: str, origin: tuple[int, int], color: tuple[int, int, int], scale: float,
              background: tuple[int, int, int] | None = (0, 0, 0), thickness: int = 1) -> tuple[int, int]:
    """``text`` with its baseline-left corner at ``origin`` on a filled box; the text's width and height."""
    (w, h), base = cv2.getTextSize(text, _FONT, scale, thickness)
    x, y = int(origin[0]), int(origin[1])
    H, W = image.shape[:2]
    x = min(max(x, 0), max(W - w - 2, 0))
    y = min(max(y, h + 2), H - base - 1)
    if background is not None:
        cv2.rectangle(image, (x - 1, y - h - 2), (x + w + 1, y + base), background, cv2.FILLED)
    cv2.putText(image, text, (x, y), _FONT, scale, color, thickness, cv2.LINE_AA)
    return w, h + base


def _shade(image: np.ndarray, x1: int, y1: int, x2: int, y2: int, alpha: float = 0.55) -> None:
    """Darken a rectangle in place (a panel behind text)."""
    region = image[max(y1, 0):max(y2, 0), max(x1, 0):max(x2, 0)]
    if region.size:
        region[:] = (region * (1 - alpha)).astype(np.uint8)


def detection_caption(d: Detection, extra: str = "") -> str:
    """``label #id score``; a box the tracker carried while its detector did not run (``interval``)
    is marked ``~`` after its id: it was predicted, not measured."""
    parts = [d.label]
    if d.track_id is not None:
        parts.append(f"#{d.track_id}~" if d.meta.get(CARRIED_META) else f"#{d.track_id}")
    parts.append(f"{d.score:.2f}")
    if extra:
        parts.append(extra)
    return " ".join(parts)


def _free_spot(x: int, y: int, w: int, h: int, below: int, taken: list[tuple[int, int, int, int]]) -> tuple[int, int]:
    """A baseline origin near ``(x, y)`` for a ``w``×``h`` caption that overlaps no rectangle of
    ``taken``: the spot itself, else stacked upwards, else under the box (``below``)."""

    def clear(cx: int, cy: int) -> bool:
        return all(cx + w < a or cx > c or cy < b or cy - h > d for a, b, c, d in taken)

    for k in range(4):
        cy = y - k * (h + 3)
        if cy - h >= 0 and clear(x, cy):
            return x, cy
    for k in range(4):
        cy = below + h + 4 + k * (h + 3)
        if clear(x, cy):
            return x, cy
    return x, y


def _dashed_rectangle(image: np.ndarray, p1: tuple[int, int], p2: tuple[int, int], color: tuple[int, int, int], thickness: int) -> None:
    """A rectangle drawn in dashes (a predicted box, not a measured one)."""
    (x1, y1), (x2, y2) = p1, p2
    dash = max(4, 3 * thickness)
    for a, b in (((x1, y1), (x2, y1)), ((x2, y1), (x2, y2)), ((x2, y2), (x1, y2)), ((x1, y2), (x1, y1))):
        length = max(abs(b[0] - a[0]), abs(b[1] - a[1]))
        for start in range(0, length, 2 * dash):
            t0, t1 = start / max(length, 1), min(start + dash, length) / max(length, 1)
            q0 = (round(a[0] + (b[0] - a[0]) * t0), round(a[1] + (b[1] - a[1]) * t0))
            q1 = (round(a[0] + (b[0] - a[0]) * t1), round(a[1] + (b[1] - a[1]) * t1))
            cv2.line(image, q0, q1, color, thickness, cv2.LINE_AA)


def draw_detection(image: np.ndarray, d: Detection, caption: str | None = None, scale: float | None = None,
                   taken: list[tuple[int, int, int, int]] | None = None) -> None:
    """A detection's box (or polyline) with its caption; a velocity arrow for tracked objects.
    ``taken`` collects the captions already drawn on the image: this one is moved off them."""
    scale = font_scale(image) if scale is None else scale
    color = color_for(d.track_id) if d.track_id is not None else color_for(d.label)
    thickness = max(1, round(2 * scale))
    if d.polyline:
        draw_polyline(image, d.polyline, _LANE, thickness * 3)
        # Caption near the line's lowest point, on the inner side (lane lines meet at the horizon).
        x, y = max(d.polyline, key=lambda p: p[1])
        text = caption or detection_caption(d)
        (width, h), base = cv2.getTextSize(text, _FONT, scale * 0.8, 1)
        inward = 12 if x < image.shape[1] / 2 else -width - 12
        origin = (int(x) + inward, int(y) - 12)
        if taken is not None:
            origin = _free_spot(*origin, width, h + base, int(y), taken)
            taken.append((origin[0], origin[1] - h - base, origin[0] + width, origin[1]))
        draw_text(image, text, origin, (0, 0, 0), scale * 0.8, background=_LANE)
        return
    x1, y1, x2, y2 = (int(round(v)) for v in d.box.as_xyxy())
    if d.meta.get(CARRIED_META):
        _dashed_rectangle(image, (x1, y1), (x2, y2), color, thickness)
    else:
        cv2.rectangle(image, (x1, y1), (x2, y2), color, thickness, cv2.LINE_AA)
    for px, py in (d.keypoints or {}).values():
        cv2.circle(image, (int(round(px)), int(round(py))), max(2, thickness + 1), color, cv2.FILLED, cv2.LINE_AA)
    text = caption or detection_caption(d)
    origin = (x1, y1 - 4)
    if taken is not None:
        (w, h), base = cv2.getTextSize(text, _FONT, scale * 0.8, 1)
        origin = _free_spot(x1, y1 - 4, w, h + base, y2, taken)
        taken.append((origin[0], origin[1] - h - base, origin[0] + w, origin[1]))
    draw_text(image, text, origin, (255, 255, 255), scale * 0.8, background=color)
    if d.velocity is not None:
        cx, cy = d.box.center
        vx, vy = d.velocity
        # Where the centre will be in a quarter of a second.
        end = (int(cx + vx * 0.25), int(cy + vy * 0.25))
        if abs(end[0] - cx) + abs(end[1] - cy) >= 3:
            cv2.arrowedLine(image, (int(cx), int(cy)), end, color, thickness, cv2.LINE_AA, tipLength=0.25)


def draw_polyline(image: np.ndarray, points: Sequence[tuple[float, float]], color: tuple[int, int, int], thickness: int) -> None:
    pts = np.round(np.asarray(points, dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(image, [pts], False, color, thickness, cv2.LINE_AA)


def draw_lane_area(image: np.ndarray, detections: Iterable[Detection], alpha: float = 0.25) -> None:
    """Shade the lane between a ``lane-left`` and a ``lane-right`` polyline."""
    sides = {d.label: d.polyline for d in detections if d.polyline and d.label in ("lane-left", "lane-right")}
    if len(sides) < 2:
        return
    polygon = np.round(np.array([*sides["lane-left"], *reversed(sides["lane-right"])])).astype(np.int32)
    overlay = image.copy()
    cv2.fillPoly(overlay, [polygon], (60, 180, 60))
    cv2.addWeighted(overlay, alpha, image, 1 - alpha, 0, dst=image)


def draw_mask(image: np.ndarray, d: Detection, alpha: float = 0.5) -> None:
    """Blend ``d.mask`` onto its box: a segmentation (bool/uint) tinted in the detection's colour,
    a float score map through the JET colour map with each pixel's weight its score."""
    if d.mask is None:
        return
    h, w = image.shape[:2]
    x1, y1 = max(0, int(np.floor(d.box.x1))), max(0, int(np.floor(d.box.y1)))
    x2, y2 = min(w, int(np.ceil(d.box.x2))), min(h, int(np.ceil(d.box.y2)))
    if x2 <= x1 or y2 <= y1:
        return
    region = image[y1:y2, x1:x2]
    size = (x2 - x1, y2 - y1)
    if d.mask.dtype.kind == "f":
        score = cv2.resize(np.asarray(d.mask, dtype=np.float32), size, interpolation=cv2.INTER_LINEAR)
        heat = cv2.applyColorMap(np.clip(score * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
        weight = (alpha * np.clip(score, 0, 1))[..., None]
        region[:] = np.round(region * (1 - weight) + heat * weight).astype(np.uint8)
        return
    inside = cv2.resize((np.asarray(d.mask) > 0).astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    color = np.array(color_for(d.track_id if d.track_id is not None else d.label), dtype=np.float32)
    region[inside] = np.round(region[inside] * (1 - alpha) + color * alpha).astype(np.uint8)


def draw_trail(image: np.ndarray, points: Sequence[tuple[float, float]], color: tuple[int, int, int], thickness: int) -> None:
    """A fading polyline through a track's recent centres (oldest thinnest)."""
    n = len(points)
    for i in range(1, n):
        w = max(1, round(thickness * i / n))
        p, q = points[i - 1], points[i]
        cv2.line(image, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), color, w, cv2.LINE_AA)


def draw_zones(image: np.ndarray, zones: Sequence[dict[str, Any]], occupied: Iterable[str] = (), scale: float | None = None) -> None:
    """Polygon zones (``{name, polygon: [[x, y], ...]}``) outlined and named; the occupied ones shaded."""
    scale = font_scale(image) if scale is None else scale
    busy = set(occupied)
    for zone in zones:
        pts = np.round(np.asarray(zone["polygon"], dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2)
        colour = (0, 140, 255) if zone["name"] in busy else (255, 200, 0)
        if zone["name"] in busy:
            overlay = image.copy()
            cv2.fillPoly(overlay, [pts], colour)
            cv2.addWeighted(overlay, 0.2, image, 0.8, 0, dst=image)
        cv2.polylines(image, [pts], True, colour, max(1, round(2 * scale)), cv2.LINE_AA)
        top = pts[np.argmin(pts[:, 0, 1]), 0]
        draw_text(image, str(zone["name"]), (int(top[0]) + 4, int(top[1]) + int(18 * scale)), (0, 0, 0), scale * 0.7, background=colour)


def draw_lines(image: np.ndarray, lines: Sequence[dict[str, Any]], counts: dict[str, dict[str, int]] | None = None, scale: float | None = None) -> None:
    """Counting lines (``{name, start: [x, y], end: [x, y]}``) with their crossing counts."""
    scale = font_scale(image) if scale is None else scale
    for line in lines:
        a = tuple(int(round(v)) for v in line["start"])
        b = tuple(int(round(v)) for v in line["end"])
        cv2.line(image, a, b, (255, 0, 255), max(1, round(2 * scale)), cv2.LINE_AA)
        tally = (counts or {}).get(line["name"], {})
        text = str(line["name"]) + ("  " + "  ".join(f"{d} {n}" for d, n in sorted(tally.items())) if tally else "")
        draw_text(image, text, (a[0] + 4, a[1] - 6), (255, 255, 255), scale * 0.7, background=(140, 0, 140))


def draw_facts(image: np.ndarray, lines: Sequence[str], scale: float | None = None, max_lines: int = 8) -> None:
    """A shaded panel of short text lines at the top left."""
    if not lines:
        return
    scale = font_scale(image) if scale is None else scale
    shown = list(lines[:max_lines]) + ([f"... {len(lines) - max_lines} more"] if len(lines) > max_lines else [])
    s = scale * 0.7
    line_h = cv2.getTextSize("Ag", _FONT, s, 1)[0][1] + 8
    width = min(image.shape[1] - 4, 12 + max(cv2.getTextSize(t, _FONT, s, 1)[0][0] for t in shown))
    _shade(image, 0, 0, width, 6 + line_h * len(shown))
    for i, text in enumerate(shown):
        cv2.putText(image, text, (6, 4 + line_h * (i + 1) - 6), _FONT, s, (255, 255, 255), 1, cv2.LINE_AA)


def draw_banner(image: np.ndarray, decision: Decision | None, scale: float | None = None) -> None:
    """The decision across the bottom: ``ACTION — rationale`` on a bar coloured by the action."""
    if decision is None:
        return
    scale = font_scale(image) if scale is None else scale
    action = decision.action if not isinstance(decision.action, tuple) else "(" + ", ".join(f"{a:.2f}" for a in decision.action) + ")"
    text = f"{action}"
    if decision.confidence is not None:
        text += f" ({decision.confidence:.2f})"
    if decision.rationale:
        # A rationale that starts with the action ("STOP (rule): ...") replaces it rather than repeat it.
        text = decision.rationale if decision.confidence is None and decision.rationale.startswith(str(action)) else f"{text} - {decision.rationale}"
    s = scale * 0.8
    color = _ACTION_COLOURS.get(str(action).lower(), (60, 120, 40))
    (_, th), base = cv2.getTextSize(text, _FONT, s, 1)
    h, w = image.shape[:2]
    bar = th + base + 12
    overlay = image.copy()
    cv2.rectangle(overlay, (0, h - bar), (w, h), color, cv2.FILLED)
    cv2.addWeighted(overlay, 0.75, image, 0.25, 0, dst=image)
    # Cut long rationales to the width.
    while len(text) > 4 and cv2.getTextSize(text, _FONT, s, 1)[0][0] > w - 12:
        text = text[:-2]
    cv2.putText(image, text, (6, h - base - 6), _FONT, s, (255, 255, 255), 1, cv2.LINE_AA)


def _names(value: Any) -> Sequence[Any]:
    """A list attribute (``zones`` of an object) as a sequence; anything else as none."""
    return value if isinstance(value, (list, tuple)) else ()


class Annotator:
    """Draws records in frame order, remembering each track's trail.

    ``trail`` is how many past centres a trail shows (0: none); a track unseen for ``trail``
    frames is forgotten."""

    def __init__(self, trail: int = 30, facts: bool = True, banner: bool = True, info: bool = True,
                 zones: Sequence[dict[str, Any]] = (), lines: Sequence[dict[str, Any]] = ()) -> None:
        self.zones = [dict(z) for z in zones]
        self.lines = [dict(ln) for ln in lines]
        self.trail = trail
        self.facts = facts
        self.banner = banner
        self.info = info
        self._trails: dict[int, deque[tuple[float, float]]] = {}
        self._last_seen: dict[int, int] = {}
        self._count = 0
        self._crossings: dict[str, dict[str, int]] = {}

    def reset(self) -> None:
        self._trails.clear()
        self._last_seen.clear()
        self._count = 0
        self._crossings = {}

    def observe(self, record: FrameRecord) -> None:
        """Remember the record's tracks and line crossings without drawing (for frames not shown)."""
        if record.scene is not None:
            for event in record.scene.events:
                if event.name == "crossed_line" and "line" in event.data:
                    tally = self._crossings.setdefault(str(event.data["line"]), {})
                    direction = str(event.data.get("direction", "crossed"))
                    count = event.data.get("count")
                    tally[direction] = int(count) if isinstance(count, int) else tally.get(direction, 0) + 1
        if not self.trail:
            return
        self._count += 1
        for d in record.detections:
            if d.track_id is None or d.polyline:
                continue
            self._trails.setdefault(d.track_id, deque(maxlen=self.trail)).append(d.box.center)
            self._last_seen[d.track_id] = self._count
        for tid in [t for t, seen in self._last_seen.items() if self._count - seen > self.trail]:
            del self._trails[tid], self._last_seen[tid]

    def annotate(self, record: FrameRecord) -> np.ndarray:
        """A new image: ``record.frame.image`` with everything the record says drawn on it."""
        frame = record.frame
        if frame.image is None:
            raise ValueError(f"frame {frame.index} of '{frame.source}' has no image to draw on")
        image = frame.image.copy()
        scale = font_scale(image)
        self.observe(record)
        draw_lane_area(image, record.detections)
        for d in record.detections:
            draw_mask(image, d)
        if self.zones:
            occupied = {z for o in record.objects() for z in _names(o.attributes.get("zones")) if isinstance(z, str)}
            draw_zones(image, self.zones, occupied, scale)
        if self.lines:
            draw_lines(image, self.lines, self._crossings, scale)
        if self.trail:
            for tid, points in self._trails.items():
                if self._last_seen.get(tid) == self._count and len(points) > 1:
                    draw_trail(image, list(points), color_for(tid), max(1, round(3 * scale)))
        captions = self._captions(record)
        taken: list[tuple[int, int, int, int]] = []
        for i, d in enumerate(record.detections):
            draw_detection(image, d, captions.get(i), scale, taken)
        if self.facts and record.scene is not None:
            draw_facts(image, [*(f"[{s}]" for s in record.scene.situations), *record.scene.facts], scale)
        if self.info:
            draw_text(image, f"frame {frame.index}  {frame.timestamp:.2f} s", (image.shape[1], int(22 * scale) + 4), (255, 255, 255), scale * 0.7)
        if self.banner:
            draw_banner(image, record.decision, scale)
        return image

    @staticmethod
    def _captions(record: FrameRecord) -> dict[int, str]:
        """Per detection index: its caption with the recognized label and the scene's attributes."""
        objects = record.objects()
        out: dict[int, str] = {}
        for obj in objects:
            if obj.detection >= len(record.detections):
                continue
            d = record.detections[obj.detection]
            extra = []
            if obj.label != d.label:
                extra.append(f"-> {obj.label} {obj.score:.2f}")
            zones = obj.attributes.get("zones") if obj.attributes else None
            if zones and isinstance(zones, list):
                extra.append("@" + ",".join(str(z) for z in zones))
            if extra:
                out[obj.detection] = detection_caption(d, " ".join(extra))
        return out
