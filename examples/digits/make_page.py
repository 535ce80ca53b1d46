"""Compose a page of real handwritten digits that the bundled model never saw in training.

    python examples/digits/make_page.py [--digits 120] [--seed 0] [--out examples/digits/page.png]

The digits are scikit-learn's bundled scans (UCI optdigits), the 20% reserved from training by
``drid.demos.digits.digits_split``; the truth (label and ink box of each digit) goes beside the
page as ``page.truth.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2

from drid.demos.digits import load_digits, make_page, page_indices


def main() -> None:
    parser = argparse.ArgumentParser(description="Compose a page of unseen handwritten digits.")
    parser.add_argument("--digits", type=int, default=120, help="how many digits (at most 359)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--columns", type=int, default=12)
    parser.add_argument("--out", default=str(Path(__file__).with_name("page.png")))
    args = parser.parse_args()
    images, targets = load_digits()
    page, truth = make_page(page_indices(args.digits, seed=args.seed), images, targets, seed=args.seed, columns=args.columns)
    out = Path(args.out)
    cv2.imwrite(str(out), page)
    out.with_suffix(".truth.json").write_text(json.dumps(truth, indent=1), encoding="utf-8")
    print(f"wrote {out} ({page.shape[1]}x{page.shape[0]}, {len(truth)} digits) and {out.with_suffix('.truth.json').name}")


if __name__ == "__main__":
    main()
