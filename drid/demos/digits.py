"""``drid demo digits``: find handwritten digits on a page and read them.

The page is composed from real handwriting: scikit-learn's bundled digits (1,797 8×8 scans of
digits written by 43 people, UCI "optdigits"), the ones the bundled ``digits`` model never saw
in training (:func:`digits_split`). The ``blobs`` detector finds the marks, ``keras-classifier``
with the bundled ``digits`` model reads them, and the demo compares its reading with the truth.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

#: Fraction of the sklearn digits kept away from training; the page is drawn from them.
PAGE_FRACTION = 0.2
#: Crop settings shared by training and the pipeline (the model's NAME.json records them too).
CROP_PADDING = 0.15
#: The blobs detector's settings for pages made here (and for rendering training crops).
BLOB_PARAMS: dict[str, Any] = {"merge": 2, "min_area": 30}


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits: ``(N×8×8 float in 0..16, N labels)``."""
    from sklearn.datasets import load_digits as sk_load

    d = sk_load()
    return d.images, d.target


def digits_split(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the digits used for training (and its own validation/test split) and of the
    digits reserved for pages, by a fixed-seed permutation."""
    order = np.random.default_rng(seed).permutation(n)
    n_page = int(round(n * PAGE_FRACTION))
    return np.sort(order[n_page:]), np.sort(order[:n_page])


def render_digit(values: np.ndarray, scale: int = 4, paper: int = 245, ink: int = 30) -> np.ndarray:
    """An 8×8 digit (0..16 ink) as a grey ``8·scale`` square of dark ink on light paper, smoothly
    enlarged as a scanner would see a bigger version of the same stroke."""
    level = np.clip(values / 16.0, 0.0, 1.0).astype(np.float32)
    big = cv2.resize(level, (8 * scale, 8 * scale), interpolation=cv2.INTER_CUBIC)
    big = np.clip(big, 0.0, 1.0)
    return np.round(paper - big * (paper - ink)).astype(np.uint8)


def make_page(indices: np.ndarray, images: np.ndarray, targets: np.ndarray, *, seed: int = 0, columns: int = 12,
              cell: int = 56) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """A BGR page with the given digits in a jittered grid on slightly uneven paper, and the truth
    (``{"label", "box": [x1, y1, x2, y2], "index"}`` per digit, boxes around the ink)."""
    rng = np.random.default_rng(seed)
    rows = -(-len(indices) // columns)
    margin = 24
    h, w = rows * cell + 2 * margin, columns * cell + 2 * margin
    yy, xx = np.mgrid[0:h, 0:w]
    paper = 238 + 8 * np.sin(xx / 97.0) * np.cos(yy / 131.0) + rng.normal(0, 2.0, (h, w))
    page = paper.astype(np.float32)
    truth: list[dict[str, Any]] = []
    for k, idx in enumerate(indices):
        r, c = divmod(k, columns)
        scale = int(rng.integers(3, 6))
        glyph = render_digit(images[idx], scale=scale, paper=255, ink=int(rng.integers(20, 70))).astype(np.float32)
        size = glyph.shape[0]
        # Jittered inside its cell, but at least 8 px from the neighbours' cells: one blob per digit.
        x0 = margin + c * cell + 4 + int(rng.integers(0, cell - size - 8 + 1))
        y0 = margin + r * cell + 4 + int(rng.integers(0, cell - size - 8 + 1))
        region = page[y0:y0 + size, x0:x0 + size]
        page[y0:y0 + size, x0:x0 + size] = np.minimum(region, region * glyph / 255.0)
        ys, xs = np.nonzero(glyph < 200)
        box = [int(x0 + xs.min()), int(y0 + ys.min()), int(x0 + xs.max() + 1), int(y0 + ys.max() + 1)] if len(xs) else [x0, y0, x0 + size, y0 + size]
        truth.append({"label": str(int(targets[idx])), "box": box, "index": int(idx)})
    grey = np.clip(page, 0, 255).astype(np.uint8)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), truth


def score_page(truth: list[dict[str, Any]], detections: list[Any], recognitions: list[Any]) -> dict[str, Any]:
    """Match detections to true digits (IoU ≥ 0.5, greedy) and count correct readings."""
    from drid.schemas import iou_matrix

    best = {r.detection: r for r in recognitions}
    t_boxes = np.array([t["box"] for t in truth], dtype=np.float64).reshape(-1, 4)
    d_boxes = np.array([d.box.as_xyxy() for d in detections], dtype=np.float64).reshape(-1, 4)
    iou = iou_matrix(t_boxes, d_boxes) if len(t_boxes) and len(d_boxes) else np.zeros((len(t_boxes), len(d_boxes)))
    found = correct = 0
    used: set[int] = set()
    for i in np.argsort(-iou.max(axis=1) if iou.size else np.zeros(len(t_boxes))):
        if not iou.size:
            break
        j = int(np.argmax(np.where([k in used for k in range(len(d_boxes))], -1, iou[i])))
        if iou[i, j] < 0.5 or j in used:
            continue
        used.add(j)
        found += 1
        if j in best and best[j].label == truth[i]["label"]:
            correct += 1
    n = len(truth)
    return {"digits": n, "detections": len(detections), "found": found, "read_correctly": correct,
            "detection_recall": found / n if n else 0.0, "reading_accuracy": correct / n if n else 0.0,
            "accuracy_of_found": correct / found if found else 0.0}


def draw(page: np.ndarray, detections: list[Any], recognitions: list[Any], truth: list[dict[str, Any]] | None = None) -> np.ndarray:
    """The page with each detection's box and reading (green: right, red: wrong, blue: no truth)."""
    from drid.schemas import iou_matrix

    canvas = page.copy()
    best = {r.detection: r for r in recognitions}
    t_boxes = np.array([t["box"] for t in truth or []], dtype=np.float64).reshape(-1, 4)
    for j, det in enumerate(detections):
        b = det.box
        rec = best.get(j)
        color = (200, 120, 0)
        if truth and len(t_boxes):
            i = int(np.argmax(iou_matrix(np.array([b.as_xyxy()]), t_boxes)[0]))
            if rec is not None:
                color = (0, 160, 0) if rec.label == truth[i]["label"] else (0, 0, 220)
        cv2.rectangle(canvas, (int(b.x1), int(b.y1)), (int(b.x2), int(b.y2)), color, 1)
        if rec is not None:
            cv2.putText(canvas, rec.label, (int(b.x2) + 1, int(b.y1) + 9), cv2.FONT_HERSHEY_SIMPLEX, 0.35, color, 1, cv2.LINE_AA)
    return canvas


def page_indices(n_digits: int = 120, seed: int = 0) -> np.ndarray:
    """The first ``n_digits`` of the reserved digits, shuffled with ``seed``."""
    images, _ = load_digits()
    _, reserved = digits_split(len(images))
    return np.random.default_rng(seed).permutation(reserved)[:n_digits]


def run_digits_demo(path: str | None = None, out: Path = Path("out"), max_frames: int | None = None) -> int:
    """Compose a page from unseen digits (or read PATH), detect and recognize, score, draw."""
    from drid.pipeline import Pipeline

    target = out / "demo-digits"
    target.mkdir(parents=True, exist_ok=True)
    truth: list[dict[str, Any]] | None = None
    if path is None:
        images, targets = load_digits()
        page, truth = make_page(page_indices(), images, targets)
        page_path = target / "page.png"
        cv2.imwrite(str(page_path), page)
        (target / "page.truth.json").write_text(json.dumps(truth), encoding="utf-8")
    else:
        from drid.demos.data import checked_input

        page_path = Path(checked_input(path, "digits"))
    pipe = Pipeline(
        name="demo-digits",
        source=("images", {"path": str(page_path)}),
        detect=[("blobs", {**BLOB_PARAMS, "label": "digit"})],
        recognize=[("keras-classifier", {"model": "digits", "top_k": 3})],
        sinks=[("jsonl", {"path": str(target / "records.jsonl")})],
        max_frames=max_frames,
    )
    records = []
    with pipe:
        records = list(pipe.records())
    status = 0 if pipe.summary.error is None else 1
    print(pipe.summary.table())
    for rec in records:
        frame_image = rec.frame.image
        assert frame_image is not None
        annotated = draw(frame_image, list(rec.detections), list(rec.recognitions), truth)
        cv2.imwrite(str(target / "page.annotated.png"), annotated)
        if truth is not None:
            score = score_page(truth, list(rec.detections), list(rec.recognitions))
            (target / "score.json").write_text(json.dumps(score, indent=2), encoding="utf-8")
            print(f"{score['digits']} digits on the page, {score['found']} found by 'blobs', {score['read_correctly']} read correctly "
                  f"({score['reading_accuracy']:.1%} of all, {score['accuracy_of_found']:.1%} of those found)")
        reading = " ".join(r.label for r in sorted(rec.recognitions, key=lambda r: r.detection))
        print(f"read: {reading[:200]}{'…' if len(reading) > 200 else ''}")
    print(f"wrote {target / 'page.annotated.png'} and {target / 'records.jsonl'}")
    return status
