"""Multi-object tracking data: boxes with identities over frames and MOTChallenge text files.

Boxes with identities live in :class:`Tracks`, one row per box (column arrays). Frames are drid's
video frame numbers, counted from 0; MOTChallenge text files count from 1, and
:func:`read_mot` / :func:`write_mot` convert at the boundary.

A MOTChallenge line is ``frame,id,bb_left,bb_top,bb_width,bb_height,conf,x,y,z`` (a result) or
``frame,id,bb_left,bb_top,bb_width,bb_height,flag,class,visibility`` (ground truth, MOT16 and
later). In ground truth a ``flag`` of 0 marks a box to ignore, and so may a class given as a
distractor or a visibility below a minimum: a predicted box on an ignored one is neither a true
nor a false positive.

The scores of a tracker against such ground truth are in :mod:`drid.eval.mot_metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from drid.errors import ConfigError

__all__ = ["MOT_CLASSES", "Tracks", "read_mot", "write_mot"]

#: MOTChallenge class numbers (MOT16/17/20 ground truth) and the labels drid gives them.
MOT_CLASSES: dict[int, str] = {
    1: "pedestrian", 2: "person_on_vehicle", 3: "car", 4: "bicycle", 5: "motorbike", 6: "non_mot_vehicle",
    7: "static_person", 8: "distractor", 9: "occluder", 10: "occluder_on_ground", 11: "occluder_full", 12: "reflection", 13: "crowd",
}
_CLASS_NUMBERS = {name: number for number, name in MOT_CLASSES.items()} | {"person": 1}


class Tracks:
    """Boxes with identities: row ``i`` is box ``box[i]`` (``x1, y1, x2, y2`` in pixels) of
    identity ``id[i]`` in frame ``frame[i]`` (from 0), with a ``score``, a ``label``, an
    ``ignore`` flag (ground truth a tracker may find or miss without penalty) and a
    ``visibility`` (1 when unknown). An identity appears at most once per frame. Columns are
    numpy arrays (given as anything ``np.asarray`` reads); treat them as read-only."""

    COLUMNS = ("frame", "id", "box", "score", "label", "ignore", "visibility")

    def __init__(self, frame: ArrayLike, id: ArrayLike, box: ArrayLike, score: ArrayLike | None = None, label: ArrayLike | None = None,
                 ignore: ArrayLike | None = None, visibility: ArrayLike | None = None) -> None:
        self.frame: np.ndarray = np.asarray(frame, dtype=np.int64).reshape(-1)
        n = len(self.frame)
        self.id: np.ndarray = np.asarray(id, dtype=np.int64).reshape(-1)
        self.box: np.ndarray = np.asarray(box, dtype=np.float64).reshape(-1, 4)
        self.score: np.ndarray = np.ones(n) if score is None else np.asarray(score, dtype=np.float64).reshape(-1)
        self.label: np.ndarray = np.full(n, "", dtype=object) if label is None else np.asarray(label, dtype=object).reshape(-1)
        self.ignore: np.ndarray = np.zeros(n, dtype=bool) if ignore is None else np.asarray(ignore, dtype=bool).reshape(-1)
        self.visibility: np.ndarray = np.ones(n) if visibility is None else np.asarray(visibility, dtype=np.float64).reshape(-1)
        for name in self.COLUMNS[1:]:
            if len(getattr(self, name)) != n:
                raise ValueError(f"Tracks.{name} has {len(getattr(self, name))} rows, frame has {n}")
        if n and not np.all(np.isfinite(self.box)):
            raise ValueError("Tracks.box holds NaN or infinite coordinates")
        if n and np.any(self.box[:, 2:] < self.box[:, :2]):
            bad = int(np.flatnonzero(np.any(self.box[:, 2:] < self.box[:, :2], axis=1))[0])
            raise ValueError(f"box {self.box[bad].tolist()} of id {self.id[bad]} in frame {self.frame[bad]} has x2 < x1 or y2 < y1")
        if n:
            keys, counts = np.unique(np.stack([self.frame, self.id], axis=1), axis=0, return_counts=True)
            if counts.max() > 1:
                f, i = keys[int(np.argmax(counts))]
                raise ValueError(f"id {i} appears more than once in frame {f}")

    def __repr__(self) -> str:
        return f"Tracks({len(self)} boxes, {len(self.ids())} ids, frames {self.frame.min() if len(self) else '-'}..{self.frame.max() if len(self) else '-'})"

    @classmethod
    def empty(cls) -> Tracks:
        return cls(frame=np.zeros(0, dtype=np.int64), id=np.zeros(0, dtype=np.int64), box=np.zeros((0, 4)))

    @classmethod
    def concat(cls, parts: Sequence[Tracks]) -> Tracks:
        """The rows of every part, in order."""
        if not parts:
            return cls.empty()
        return cls(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in cls.COLUMNS})

    def __len__(self) -> int:
        return len(self.frame)

    def select(self, mask: np.ndarray) -> Tracks:
        """The rows where ``mask`` (booleans or indices) holds."""
        return Tracks(**{name: getattr(self, name)[mask] for name in self.COLUMNS})

    def ids(self) -> np.ndarray:
        return np.unique(self.id)

    def sorted(self) -> Tracks:
        """The rows ordered by frame, then id."""
        return self.select(np.lexsort((self.id, self.frame)))


# -- MOTChallenge text files --------------------------------------------------------------------


def read_mot(path: str | Path, *, groundtruth: bool = False, min_visibility: float = 0.0, distractors: Iterable[str | int] = ()) -> Tracks:
    """The boxes of a MOTChallenge text file (one ``frame,id,left,top,width,height,…`` per line,
    frames from 1; blank lines and lines starting with ``#`` are skipped).

    For ``groundtruth`` the 7th column is the flag (0: ignore the box), the 8th the class (read as
    its label, :data:`MOT_CLASSES`) and the 9th the visibility; boxes of a class in
    ``distractors`` (numbers or labels) or less visible than ``min_visibility`` are ignored too.
    For a result the 7th column is the score and the rest are not used. A malformed line is a
    ``ConfigError`` naming the file and the line."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError("MOT file not found", where=str(p))
    ignored = {_class_label(d) for d in distractors}
    rows: list[list[float]] = []
    lines: list[int] = []
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not a text file (expected MOTChallenge lines 'frame,id,left,top,width,height,...')", where=str(p)) from None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        rows.append(_mot_row(stripped, p, number))
        lines.append(number)
    width = 10
    table = np.array([r + [-1.0] * (width - len(r)) for r in rows], dtype=np.float64).reshape(-1, width)
    frame, ident, x, y, w, h, conf, klass, vis = (table[:, i] for i in range(9))
    labels = np.array([MOT_CLASSES.get(int(c), str(int(c))) if c >= 0 else "" for c in klass], dtype=object)
    if groundtruth:
        visibility = np.where(vis < 0, 1.0, vis)
        ignore = (conf == 0) | (visibility < min_visibility) | np.isin(labels, list(ignored))
        score = np.ones(len(frame))
    else:
        visibility, ignore, score = np.ones(len(frame)), np.zeros(len(frame), dtype=bool), conf
    try:
        return Tracks(frame=frame.astype(np.int64) - 1, id=ident.astype(np.int64), box=np.stack([x, y, x + w, y + h], axis=1),
                      score=score, label=labels, ignore=ignore, visibility=visibility)
    except ValueError as exc:
        if "more than once" in str(exc):
            keys = list(zip(frame.astype(int), ident.astype(int)))
            seen: dict[tuple[int, int], int] = {}
            for key, number in zip(keys, lines):
                if key in seen:
                    raise ConfigError(f"id {key[1]} appears twice in frame {key[0]} (also on line {seen[key]})", where=f"{p}:{number}") from None
                seen[key] = number
        raise ConfigError(str(exc), where=str(p)) from None


def _mot_row(line: str, path: Path, number: int) -> list[float]:
    parts = [s.strip() for s in line.split(",")]
    where = f"{path}:{number}"
    if len(parts) < 6 or len(parts) > 10:
        raise ConfigError(f"expected 6 to 10 comma-separated numbers (frame,id,bb_left,bb_top,bb_width,bb_height,conf,x,y,z), got {len(parts)}: "
                          f"'{line[:60]}'", where=where)
    try:
        values = [float(s) for s in parts]
    except ValueError:
        bad = next(s for s in parts if not _is_number(s))
        raise ConfigError(f"'{bad}' is not a number", where=where) from None
    if not all(math.isfinite(v) for v in values):
        raise ConfigError("NaN or infinite value", where=where)
    frame, ident, _, _, w, h = values[:6]
    if not frame.is_integer() or frame < 1:
        raise ConfigError(f"frame must be a whole number from 1, got {parts[0]}", where=where)
    if not ident.is_integer():
        raise ConfigError(f"id must be a whole number, got {parts[1]}", where=where)
    if w < 0 or h < 0:
        raise ConfigError(f"negative box size {parts[4]}x{parts[5]}", where=where)
    return values


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _class_label(value: str | int) -> str:
    return MOT_CLASSES.get(int(value), str(value)) if isinstance(value, int) or str(value).lstrip("-").isdigit() else str(value)


def _number(value: float) -> str:
    return np.format_float_positional(float(value), trim="-")


def write_mot(path: str | Path, tracks: Tracks, *, groundtruth: bool = False) -> Path:
    """Write ``tracks`` as a MOTChallenge text file, sorted by frame and id, frames from 1: a
    result (``…,score,-1,-1,-1``) or, for ``groundtruth``, ``…,flag,class,visibility`` with
    flag 0 for ignored boxes and the class number of the label (-1 when it has none). Numbers
    are written in their shortest exact form, so reading the file back gives the same boxes."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    t = tracks.sorted()
    out = []
    for i in range(len(t)):
        x1, y1, x2, y2 = t.box[i]
        head = f"{t.frame[i] + 1},{t.id[i]},{_number(x1)},{_number(y1)},{_number(x2 - x1)},{_number(y2 - y1)}"
        if groundtruth:
            label = str(t.label[i])
            klass = _CLASS_NUMBERS.get(label, int(label) if label.lstrip("-").isdigit() else -1)
            out.append(f"{head},{0 if t.ignore[i] else 1},{klass},{_number(t.visibility[i])}")
        else:
            out.append(f"{head},{_number(t.score[i])},-1,-1,-1")
    p.write_text("".join(line + "\n" for line in out), encoding="utf-8")
    return p
