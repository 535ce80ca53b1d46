"""Detect and read the digits of a page with drid, score the reading against the truth, draw it.

    python examples/digits/run.py [PAGE.png]     (default: examples/digits/page.png; make it first)

Writes ``out/digits/page.annotated.png`` (green: read right, red: wrong).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2

from drid import Pipeline
from drid.demos.digits import draw, score_page

HERE = Path(__file__).parent


def main() -> int:
    page = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "page.png"
    if not page.is_file():
        print(f"no page at {page}: run python {HERE / 'make_page.py'} first", file=sys.stderr)
        return 2
    pipe = Pipeline.from_config(HERE / "pipeline.yaml", [f"source.params.path={page}"])
    with pipe:
        record = next(iter(pipe.records()))
    detections, recognitions = list(record.detections), list(record.recognitions)
    print(" ".join(r.label for r in recognitions))
    truth_file = page.with_suffix(".truth.json")
    truth = json.loads(truth_file.read_text()) if truth_file.is_file() else None
    if truth is not None:
        s = score_page(truth, detections, recognitions)
        print(f"{s['digits']} digits, {s['found']} found, {s['read_correctly']} read correctly ({s['reading_accuracy']:.1%})")
    out = Path("out/digits")
    out.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out / "page.annotated.png"), draw(record.frame.image, detections, recognitions, truth))
    print(f"wrote {out / 'page.annotated.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
