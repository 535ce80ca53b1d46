"""Interpretation speed: scenes/s with 5, 50 and 200 objects per frame, the vectorised spatial
relations against a naive pure-Python pairwise loop computing the same relations (checked equal
on every scene), measured in the same run on the same scenes.

Two rows per size:
  * ``relations pass``: the spatial relations alone (numpy pass vs the Python loop), both ending
    in the same list of (subject, predicate, object, confidence) tuples;
  * ``relations plugin``: the whole ``relations`` interpreter per frame (track memory, zones, a
    counting line, approach, facts, features, ``Relation`` messages) with ``naive: false`` vs
    ``naive: true``, so the shared costs are counted on both sides.

The plugin itself uses the Python loop below 8 objects (numpy's per-call overhead loses there),
so its 5-object row compares the same code on both sides.

Scenes: people-sized and car-sized boxes scattered over a 1920×1080 frame (seeded), each tracked
object moving a few pixels per frame. Target (issue 5): ≥ 10× at 200 objects.

    python benchmarks/interpret.py [--frames N] [--repeats R]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from drid.interpret.interpreters import RelationsInterpreter
from drid.interpret.relations import SpatialParams, spatial_relations, spatial_relations_naive
from drid.schemas import BoundingBox, SceneObject

WIDTH, HEIGHT = 1920, 1080


def make_frames(n_objects: int, n_frames: int, seed: int = 0) -> list[list[SceneObject]]:
    rng = np.random.default_rng(seed)
    is_car = rng.random(n_objects) < 0.4
    size = np.where(is_car[:, None], rng.uniform([90, 45], [160, 80], (n_objects, 2)), rng.uniform([25, 60], [45, 120], (n_objects, 2)))
    pos = rng.uniform([0, 0], [WIDTH - 160, HEIGHT - 120], (n_objects, 2))
    vel = rng.normal(0, 4, (n_objects, 2))
    frames = []
    for _ in range(n_frames):
        pos = np.clip(pos + vel, 0, [WIDTH - 160, HEIGHT - 120])
        frames.append([
            SceneObject(
                id=i + 1, label="car" if is_car[i] else "person", score=0.9,
                box=BoundingBox(x1=float(pos[i, 0]), y1=float(pos[i, 1]), x2=float(pos[i, 0] + size[i, 0]), y2=float(pos[i, 1] + size[i, 1])),
                detected_as="car" if is_car[i] else "person", detection=i, track_id=i + 1,
            )
            for i in range(n_objects)
        ])
    return frames


def best_rate(fn, items, repeats: int) -> float:
    """Items per second of the fastest of ``repeats`` passes over ``items``."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for it in items:
            fn(it)
        best = min(best, time.perf_counter() - t0)
    return len(items) / best


def plugin_rate(frames: list[list[SceneObject]], naive: bool, repeats: int) -> tuple[float, list]:
    params = {
        "zones": [{"name": "middle", "polygon": [[480, 270], [1440, 270], [1440, 810], [480, 810]]}],
        "lines": [{"name": "centre", "start": [960, 0], "end": [960, 1080]}],
        "temporal": {"min_frames": 2},
        "naive": naive,
    }
    best, scenes = float("inf"), []
    for _ in range(repeats):
        interp = RelationsInterpreter(**params)
        out = []
        t0 = time.perf_counter()
        for k, objs in enumerate(frames):
            out.append(interp.interpret(k / 25, objs))
        best = min(best, time.perf_counter() - t0)
        scenes = out
    return len(frames) / best, scenes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=40, help="scenes per size (default 40)")
    parser.add_argument("--repeats", type=int, default=3, help="passes; the fastest counts (default 3)")
    args = parser.parse_args()
    params = SpatialParams()
    print(f"{'objects':>7} {'what':<17} {'relations':>9} {'vectorised/s':>13} {'naive/s':>9} {'ratio':>7}")
    for n in (5, 50, 200):
        frames = make_frames(n, args.frames)
        boxes = [np.array([o.box.as_xyxy() for o in objs]) for objs in frames]
        lists = [b.tolist() for b in boxes]
        for b, lst in zip(boxes, lists):
            fast, slow = spatial_relations(b, params).tuples(), spatial_relations_naive(lst, params)
            if [r[:3] for r in fast] != [r[:3] for r in slow] or not np.allclose([r[3] for r in fast], [r[3] for r in slow]):
                raise SystemExit(f"MISMATCH at {n} objects: the vectorised and naive relations differ")
        count = np.mean([len(spatial_relations(b, params)) for b in boxes])
        vec = best_rate(lambda b: spatial_relations(b, params).tuples(), boxes, args.repeats)
        nai = best_rate(lambda lst: spatial_relations_naive(lst, params), lists, max(1, args.repeats - 1))
        print(f"{n:>7} {'relations pass':<17} {count:>9.0f} {vec:>13.0f} {nai:>9.0f} {vec / nai:>6.1f}×")
        prate, pscenes = plugin_rate(frames, naive=False, repeats=args.repeats)
        nrate, nscenes = plugin_rate(frames, naive=True, repeats=max(1, args.repeats - 1))
        same = all(
            [(r.subject, r.predicate, r.object) for r in a.relations] == [(r.subject, r.predicate, r.object) for r in b.relations] and a.events == b.events
            for a, b in zip(pscenes, nscenes)
        )
        if not same:
            raise SystemExit(f"MISMATCH at {n} objects: the plugin's scenes differ between naive and vectorised")
        rels = np.mean([len(s.relations) for s in pscenes])
        print(f"{n:>7} {'relations plugin':<17} {rels:>9.0f} {prate:>13.0f} {nrate:>9.0f} {prate / nrate:>6.1f}×")
    print("relations: mean per scene; rates: scenes/s (best pass); both sides give identical relations (checked)")


if __name__ == "__main__":
    main()
