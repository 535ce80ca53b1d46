"""Synthetic defects with known masks, drawn onto real images: scratches, holes, stains and
pasted foreign texture — the four kinds of damage that MVTec AD's texture categories show
(``scratch``/``cut``, ``hole``/``poke``, ``color``/``oil``/``glue``, ``thread``/``metal_contamination``).

Each defect is built from the image's own statistics so it is neither trivially bright nor
invisible: a scratch is a thin curved line some standard deviations lighter or darker than the
texture around it, a hole a dark pit with a shaded rim, a stain an irregular soft-edged blob that
darkens or tints, a foreign patch another texture pasted inside an irregular outline. Sizes are
those of MVTec's texture defects relative to the image (about 0.3 % to 6 % of its area).
The mask is the set of pixels the defect changed visibly (its blending weight ≥ 0.5)."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["DEFECT_KINDS", "add_defect", "blob_mask"]

#: The defect kinds, in the order the texture sets use.
DEFECT_KINDS = ("scratch", "hole", "stain", "foreign")


def blob_mask(shape: tuple[int, int], center: tuple[float, float], radius: float, rng: np.random.Generator, roughness: float = 0.45) -> np.ndarray:
    """An irregular blob (float weights in [0, 1], soft edge) of about ``radius`` pixels around
    ``center``: an ellipse whose boundary is pushed in and out by smooth noise."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    ratio = rng.uniform(0.5, 1.0)
    dx, dy = xx - center[0], yy - center[1]
    u = (dx * np.cos(angle) + dy * np.sin(angle)) / radius
    v = (-dx * np.sin(angle) + dy * np.cos(angle)) / (radius * ratio)
    smooth = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), max(radius / 3, 1.0))
    noise = smooth / (float(np.abs(smooth).max()) + 1e-6)
    level = 1.0 - np.sqrt(u * u + v * v) + roughness * noise
    edge = max(radius * 0.15, 0.8)
    return np.clip(level * radius / edge + 0.5, 0.0, 1.0)


def _place(shape: tuple[int, int], radius: float, rng: np.random.Generator) -> tuple[float, float]:
    h, w = shape
    margin = min(radius, min(h, w) / 4)
    return float(rng.uniform(margin, w - margin)), float(rng.uniform(margin, h - margin))


def _scratch(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    length = rng.uniform(0.25, 0.6) * min(h, w)
    cx, cy = _place((h, w), length / 2, rng)
    angle = rng.uniform(0, np.pi)
    p0 = np.array([cx - np.cos(angle) * length / 2, cy - np.sin(angle) * length / 2])
    p2 = np.array([cx + np.cos(angle) * length / 2, cy + np.sin(angle) * length / 2])
    bend = rng.normal(0, length * 0.15, 2)
    p1 = (p0 + p2) / 2 + bend
    t = np.linspace(0, 1, 64)[:, None]
    curve = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2
    scale = 8
    canvas = np.zeros((h * scale, w * scale), np.uint8)
    thickness = max(1, int(round(rng.uniform(1.0, 2.5) * scale)))
    cv2.polylines(canvas, [np.round(curve * scale).astype(np.int32)], False, 255, thickness, cv2.LINE_AA)
    return cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def add_defect(image: np.ndarray, kind: str, rng: np.random.Generator, *, foreign: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (``uint8``, grey or BGR) with one defect of ``kind`` added, and its bool mask.
    ``foreign`` is the texture pasted by a ``"foreign"`` defect (same shape as ``image``; default:
    the image itself flipped and rotated, which is still foreign in orientation)."""
    if kind not in DEFECT_KINDS:
        raise ValueError(f"unknown defect kind '{kind}' (known: {', '.join(DEFECT_KINDS)})")
    img = image.astype(np.float32)
    h, w = img.shape[:2]
    mean, std = float(img.mean()), float(img.std()) + 1.0
    expand = (lambda a: a[..., None]) if img.ndim == 3 else (lambda a: a)
    if kind == "scratch":
        weight = _scratch(img, rng)
        sign = rng.choice([-1.0, 1.0])
        target = np.clip(mean + sign * rng.uniform(2.0, 3.0) * std, 0, 255)
        out = img * (1 - expand(weight)) + target * expand(weight)
    elif kind == "hole":
        radius = rng.uniform(0.04, 0.1) * min(h, w)
        center = _place((h, w), radius, rng)
        weight = blob_mask((h, w), center, radius, rng, roughness=0.2)
        # A pit: dark inside, a lit rim on one side and a shadow on the other.
        depth = cv2.GaussianBlur(weight, (0, 0), radius / 4)
        gy, gx = np.gradient(depth)
        light = rng.uniform(0, 2 * np.pi)
        shade = (gx * np.cos(light) + gy * np.sin(light)) * radius * 80.0
        floor = rng.uniform(0.1, 0.3) * mean + rng.normal(0, std * 0.2, (h, w)).astype(np.float32)
        out = img * (1 - expand(weight)) + expand(floor * weight) + expand(shade)
    elif kind == "stain":
        radius = rng.uniform(0.08, 0.18) * min(h, w)
        weight = blob_mask((h, w), _place((h, w), radius, rng), radius, rng) * rng.uniform(0.8, 1.0)
        factor = rng.uniform(0.45, 0.65) if rng.random() < 0.7 else rng.uniform(1.4, 1.7)  # mostly darker (oil, dirt), sometimes bleached
        stained = np.clip(img * factor, 0, 255)
        if img.ndim == 3:
            stained = stained * rng.uniform(0.7, 1.3, 3).astype(np.float32)
        out = img * (1 - expand(weight)) + stained * expand(weight)
    else:
        radius = rng.uniform(0.1, 0.2) * min(h, w)
        weight = blob_mask((h, w), _place((h, w), radius, rng), radius, rng)
        patch = np.rot90(image[::-1], 1).astype(np.float32) if foreign is None else foreign.astype(np.float32)
        if patch.shape != img.shape:
            raise ValueError(f"the foreign texture has shape {patch.shape}, the image {img.shape}")
        # Matched in brightness to the image so the defect is the texture, not a level change.
        patch = (patch - patch.mean()) / (patch.std() + 1.0) * std + mean
        out = img * (1 - expand(weight)) + patch * expand(weight)
    mask = weight >= 0.5
    if not mask.any():  # a defect always has at least its strongest pixel
        mask = weight >= weight.max() * 0.5
    return np.clip(np.round(out), 0, 255).astype(np.uint8), mask
