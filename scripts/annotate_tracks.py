"""Helpers for annotating tracking ground truth by eye (drid/eval/annotations/tracks-*.json).

The method (docs/tracking-eval.md): look at keyframes every few frames with a pixel grid drawn
over them, write each object's box at each keyframe, let ``drid.eval.groundtruth`` interpolate
linearly in between, then draw the interpolated boxes on frames and look at them again.

    python scripts/annotate_tracks.py grid VIDEO FRAME [FRAME...] --out /tmp/grid [--scale 2] [--crop x1,y1,x2,y2]
    python scripts/annotate_tracks.py check GROUNDTRUTH --clip NAME --every 3 --out /tmp/check.png

``grid`` writes each frame with lines every 10 px (``--step``; labelled every 5th line) so coordinates can be read
off the picture; ``check`` writes a contact sheet of the clip's frames with the ground truth drawn
(colour by identity, dashed grey for ignored boxes) and the frame number.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from drid.eval.groundtruth import load_groundtruth, resolve_image
from drid.sources.media import media_path


def read_frame(video: str, number: int) -> np.ndarray:
    cap = cv2.VideoCapture(media_path(video))
    cap.set(cv2.CAP_PROP_POS_FRAMES, number)
    ok, image = cap.read()
    cap.release()
    if not ok:
        raise SystemExit(f"cannot read frame {number} of {video}")
    return image


def with_grid(image: np.ndarray, scale: float, crop: tuple[int, int, int, int] | None, step: int = 10) -> np.ndarray:
    x0, y0 = 0, 0
    if crop is not None:
        x0, y0, x1, y1 = crop
        image = image[y0:y1, x0:x1]
    big = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    h, w = image.shape[:2]
    for x in range((x0 // step + 1) * step - x0 if x0 % step else 0, w, step):
        major = (x + x0) % (5 * step) == 0
        cv2.line(big, (int(x * scale), 0), (int(x * scale), big.shape[0]), (0, 255, 255) if major else (0, 160, 160), 1)
        if major:
            cv2.putText(big, str(x + x0), (int(x * scale) + 2, 12), 0, 0.4, (0, 255, 255), 1)
    for y in range((y0 // step + 1) * step - y0 if y0 % step else 0, h, step):
        major = (y + y0) % (5 * step) == 0
        cv2.line(big, (0, int(y * scale)), (big.shape[1], int(y * scale)), (255, 0, 255) if major else (160, 0, 160), 1)
        if major:
            cv2.putText(big, str(y + y0), (2, int(y * scale) - 2), 0, 0.4, (255, 0, 255), 1)
    return big


def colour(ident: int) -> tuple[int, int, int]:
    palette = [(0, 0, 255), (0, 200, 0), (255, 0, 0), (0, 255, 255), (255, 0, 255), (255, 255, 0), (0, 128, 255), (128, 0, 255)]
    return palette[ident % len(palette)]


def check_sheet(gt_path: str, clip_name: str, every: int, width: int, only: list[int] | None = None, columns: int = 4) -> np.ndarray:
    gt, base = load_groundtruth(gt_path)
    clip = next((c for c in gt.tracking_clips() if c.title == clip_name), None)
    if clip is None:
        raise SystemExit(f"no clip {clip_name} in {gt_path}: {[c.title for c in gt.tracking_clips()]}")
    path = resolve_image(clip.video, base)
    if path is None:
        raise SystemExit(f"{clip.video} not available")
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, int(clip.frames[0]))
    tiles = []
    t = clip.truth
    for number in range(int(clip.frames[0]), int(clip.frames[-1]) + 1):
        ok, image = cap.read()
        if not ok:
            break
        if (only and number not in only) or (not only and (number - int(clip.frames[0])) % every):
            continue
        for i in np.flatnonzero(t.frame == number):
            x1, y1, x2, y2 = (int(round(v)) for v in t.box[i])
            c = (255, 255, 255) if t.ignore[i] else colour(int(t.id[i]))
            cv2.rectangle(image, (x1, y1), (x2, y2), c, 1 if t.ignore[i] else 2)
            cv2.putText(image, str(t.id[i]), (x1 + 2, y1 + 14), 0, 0.5, c, 2)
        cv2.putText(image, str(number), (5, 20), 0, 0.7, (0, 0, 255), 2)
        scale = width / image.shape[1]
        tiles.append(cv2.resize(image, None, fx=scale, fy=scale))
    cap.release()
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    return np.vstack([np.hstack(tiles[k:k + columns]) for k in range(0, len(tiles), columns)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grid", help="frames with a pixel grid, to read coordinates off")
    g.add_argument("video")
    g.add_argument("frames", type=int, nargs="+")
    g.add_argument("--out", default="/tmp/grid")
    g.add_argument("--scale", type=float, default=1.0)
    g.add_argument("--crop", help="x1,y1,x2,y2 of the region to show")
    g.add_argument("--step", type=int, default=10, help="grid spacing in frame pixels (labels every 5 lines)")
    c = sub.add_parser("check", help="a contact sheet of the clip with its ground truth drawn")
    c.add_argument("groundtruth")
    c.add_argument("--clip", required=True)
    c.add_argument("--every", type=int, default=3)
    c.add_argument("--width", type=int, default=400, help="width of each tile")
    c.add_argument("--frames", type=int, nargs="*", help="these frames only")
    c.add_argument("--columns", type=int, default=4)
    c.add_argument("--out", default="/tmp/check.png")
    args = parser.parse_args()
    if args.command == "grid":
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        crop = tuple(int(v) for v in args.crop.split(",")) if args.crop else None
        for number in args.frames:
            cv2.imwrite(str(out / f"{number:05d}.png"), with_grid(read_frame(args.video, number), args.scale, crop, args.step))  # type: ignore[arg-type]
        print(f"wrote {len(args.frames)} frame(s) to {out}")
    else:
        cv2.imwrite(args.out, check_sheet(args.groundtruth, args.clip, args.every, args.width, args.frames, args.columns))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
