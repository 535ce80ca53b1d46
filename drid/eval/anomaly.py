"""Anomaly-localization scores, as MVTec AD papers report them.

* **image AUROC** — area under the ROC curve of the image score (the peak of the anomaly map)
  separating defective from good images;
* **pixel AUROC** — the same over every pixel of every test image, defect pixels (from the
  ground-truth masks) against all others;
* **PRO** — the per-region overlap curve of Bergmann et al. (MVTec AD, 2021): at each threshold,
  the mean over ground-truth regions (connected components) of the share of each region's
  pixels above the threshold, against the false-positive rate on good pixels; its area up to a
  false-positive rate of 0.3, divided by 0.3. Unlike pixel AUROC it weighs a small scratch like a
  large stain.

All three are exact (no threshold grid): computed from the sorted scores, ties handled as one step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

__all__ = ["PRO_FPR_LIMIT", "AnomalyReport", "auroc", "evaluate_anomaly_model", "evaluate_maps", "pro_score", "read_mask", "roc_curve"]

#: The false-positive rate up to which PRO is integrated (MVTec AD's choice).
PRO_FPR_LIMIT = 0.3


def _area(y: np.ndarray, x: np.ndarray) -> float:
    """Trapezoid-rule area (``np.trapezoid`` from NumPy 2, ``np.trapz`` before)."""
    rule = getattr(np, "trapezoid", None) or getattr(np, "trapz")  # noqa: B009
    return float(rule(y, x))


def roc_curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rates, true-positive rates) of every threshold, from (0, 0) to (1, 1);
    tied scores make one step."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel().astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"a ROC curve needs both classes, got {n_pos} positive and {n_neg} negative")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # the last index of each run of equal scores
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    return np.r_[0.0, fp / n_neg], np.r_[0.0, tp / n_pos]


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half, as in the Mann–Whitney statistic)."""
    fpr, tpr = roc_curve(scores, labels)
    return _area(tpr, fpr)


def pro_score(maps: np.ndarray, masks: np.ndarray, fpr_limit: float = PRO_FPR_LIMIT) -> float:
    """The normalised area under the PRO curve up to ``fpr_limit`` (see the module docstring).
    ``maps`` and ``masks`` are ``N×H×W``; images without defects add only good pixels."""
    maps = np.asarray(maps, dtype=np.float64)
    masks = np.asarray(masks).astype(bool)
    if maps.shape != masks.shape:
        raise ValueError(f"maps {maps.shape} and masks {masks.shape} differ in shape")
    # Each defect pixel weighs 1 / (its region's size × the number of regions); each good pixel 1 / (good pixels).
    weight = np.zeros(maps.shape, dtype=np.float64)
    n_regions = 0
    regions = []
    for i, m in enumerate(masks):
        if m.any():
            n, labels = cv2.connectedComponents(m.astype(np.uint8), connectivity=8)
            regions.append((i, n - 1, labels))
            n_regions += n - 1
    if n_regions == 0:
        raise ValueError("PRO needs at least one defect region in the masks")
    for i, n, labels in regions:
        sizes = np.bincount(labels.ravel(), minlength=n + 1).astype(np.float64)
        w = np.where(labels > 0, 1.0 / (sizes[labels] * n_regions), 0.0)
        weight[i] = w
    good = ~masks
    n_good = int(good.sum())
    if n_good == 0:
        raise ValueError("PRO needs good pixels")
    s = maps.ravel()
    order = np.argsort(-s, kind="mergesort")
    s = s[order]
    pro_step = weight.ravel()[order]
    fpr_step = good.ravel()[order] / n_good
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    pro = np.r_[0.0, np.cumsum(pro_step)[last]]
    fpr = np.r_[0.0, np.cumsum(fpr_step)[last]]
    # Integrate up to the limit, interpolating the curve at it.
    k = int(np.searchsorted(fpr, fpr_limit, side="right"))
    if k < len(fpr):
        f0, f1, p0, p1 = fpr[k - 1], fpr[k], pro[k - 1], pro[k]
        p_at = p0 + (p1 - p0) * (fpr_limit - f0) / (f1 - f0) if f1 > f0 else p1
        fpr, pro = np.r_[fpr[:k], fpr_limit], np.r_[pro[:k], p_at]
    return _area(pro, fpr) / fpr_limit


@dataclass
class AnomalyReport:
    """The scores of one model on one labelled test set."""

    name: str
    image_auroc: float
    pixel_auroc: float
    pro: float
    n_good: int
    n_defective: int
    per_kind: dict[str, dict[str, float]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "image_auroc": self.image_auroc, "pixel_auroc": self.pixel_auroc, "pro": self.pro,
                "n_good": self.n_good, "n_defective": self.n_defective, "per_kind": self.per_kind, **self.extra}

    def table(self) -> str:
        lines = [f"{self.name}: {self.n_good} good and {self.n_defective} defective images",
                 f"  {'defect':<16} {'image AUROC':>11} {'pixel AUROC':>11} {'PRO':>7} {'images':>6}",
                 f"  {'all':<16} {self.image_auroc:>11.3f} {self.pixel_auroc:>11.3f} {self.pro:>7.3f} {self.n_good + self.n_defective:>6}"]
        for kind, v in self.per_kind.items():
            lines.append(f"  {kind:<16} {v['image_auroc']:>11.3f} {v['pixel_auroc']:>11.3f} {v['pro']:>7.3f} {int(v['images']):>6}")
        at = self.extra.get("at_threshold")
        if at:
            lines.append(f"  at the calibrated threshold {at['threshold']:.4g}: {at['true_positive_rate']:.1%} of defective and "
                         f"{at['false_positive_rate']:.1%} of good images flagged")
        return "\n".join(lines)


def evaluate_maps(maps: np.ndarray, masks: np.ndarray, kinds: Sequence[str], *, name: str = "model",
                  image_scores: np.ndarray | None = None) -> AnomalyReport:
    """Score anomaly maps (``N×H×W``, higher = more anomalous) against ground-truth masks; a
    ``kinds`` entry of ``"good"`` marks a defect-free image. Image scores default to each map's
    peak. Per defect kind, the kind's images are scored against all good images."""
    maps = np.asarray(maps, dtype=np.float32)
    masks = np.asarray(masks).astype(bool)
    if maps.shape != masks.shape or len(kinds) != len(maps):
        raise ValueError(f"{len(kinds)} kinds, maps {maps.shape} and masks {masks.shape} do not match")
    kinds = list(kinds)
    good = np.array([k == "good" for k in kinds])
    scores = maps.reshape(len(maps), -1).max(axis=1) if image_scores is None else np.asarray(image_scores, dtype=np.float64)

    def score(sel: np.ndarray) -> dict[str, float]:
        return {"image_auroc": auroc(scores[sel], ~good[sel]), "pixel_auroc": auroc(maps[sel], masks[sel]),
                "pro": pro_score(maps[sel], masks[sel]), "images": float(sel.sum())}

    overall = score(np.ones(len(maps), bool))
    per_kind = {k: score(good | (np.array(kinds) == k)) for k in dict.fromkeys(kinds) if k != "good"}
    return AnomalyReport(name, overall["image_auroc"], overall["pixel_auroc"], overall["pro"], int(good.sum()), int((~good).sum()), per_kind)


def read_mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """A ground-truth mask file (any non-zero pixel is a defect), resized to ``shape`` (H, W) by nearest neighbour."""
    m = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if m is None:
        raise ValueError(f"cannot read mask '{path}'")
    if m.shape != shape:
        m = cv2.resize(m, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return m > 0


def evaluate_anomaly_model(model: Any, test: Any, *, name: str = "model") -> tuple[AnomalyReport, np.ndarray]:
    """Score an :class:`~drid.detect.anomaly.model.AnomalyModel` on a
    :class:`~drid.detect.anomaly.data.TestSet`, at the model's resolution (masks resized by nearest
    neighbour, as MVTec AD papers score at their input size). Returns the report and the raw maps."""
    maps = model.maps(test.images)
    size = maps.shape[1:]
    masks = np.stack([cv2.resize(m.astype(np.uint8), (size[1], size[0]), interpolation=cv2.INTER_NEAREST) > 0 for m in test.masks])
    report = evaluate_maps(maps, masks, test.kinds, name=name)
    if getattr(model, "threshold", None) is not None:
        flagged = maps.reshape(len(maps), -1).max(axis=1) >= model.threshold
        good = np.array([k == "good" for k in test.kinds])
        report.extra["at_threshold"] = {"threshold": float(model.threshold), "false_positive_rate": float(flagged[good].mean()),
                                        "true_positive_rate": float(flagged[~good].mean())}
    return report, maps
