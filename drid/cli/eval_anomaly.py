"""``drid eval anomaly``: image AUROC, pixel AUROC and PRO of an anomaly model on labelled test
images (the command line of :func:`drid.eval.anomaly.evaluate_anomaly_model`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from drid.errors import ConfigError


def register(subparsers: Any) -> None:
    """Add ``drid eval anomaly``."""
    p = subparsers.add_parser(
        "anomaly",
        help="image AUROC, pixel AUROC and PRO of an anomaly model",
        description="Score an anomaly model (written by drid train anomaly) on labelled test images, as MVTec AD papers do: "
                    "image AUROC (the map's peak separating defective from good images), pixel AUROC and PRO (per-region overlap up "
                    "to a 0.3 false-positive rate), overall and per defect kind. DATA is an MVTec AD category folder "
                    "(test/good, test/<defect>, ground_truth/<defect>/*_mask.png) or texture:NAME (drid's generated texture set).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  drid eval anomaly out/models/brick.keras texture:brick --show out/eval-brick\n"
               "  drid eval anomaly out/models/carpet.keras path/to/mvtec/carpet --json",
    )
    p.add_argument("model", help="NAME.keras written by drid train anomaly (NAME.json beside it)")
    p.add_argument("data", help="MVTec AD category folder, or texture:NAME")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--show", metavar="DIR", help="write each test image beside its heat map and true defect outline into DIR")
    p.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from drid.detect.anomaly.data import TEXTURE_PREFIX

    model_path = Path(args.model).expanduser()
    if not model_path.with_suffix(".json").is_file():
        raise ConfigError(f"'{model_path}' is not an anomaly model (no '{model_path.with_suffix('.json').name}' beside it; "
                          "write one with drid train anomaly)", path="model")
    if not args.data.startswith(TEXTURE_PREFIX) and not (Path(args.data) / "test").is_dir():
        raise ConfigError(f"'{args.data}' is not an MVTec AD category folder (no test/ folder in it) nor texture:NAME", path="data")
    from drid.detect.anomaly.data import load_mvtec_test
    from drid.detect.anomaly.model import AnomalyModel
    from drid.eval.anomaly import evaluate_anomaly_model

    try:
        model = AnomalyModel.load(model_path)
    except ValueError as exc:
        raise ConfigError(str(exc), path="model") from None
    try:
        test = load_mvtec_test(args.data)
    except ValueError as exc:
        raise ConfigError(str(exc), path="data") from None
    report, maps = evaluate_anomaly_model(model, test, name=f"{model_path.stem} on {args.data}")
    if args.show:
        from drid.detect.anomaly.show import outcome_image

        folder = Path(args.show)
        folder.mkdir(parents=True, exist_ok=True)
        for i, (image, mask, name) in enumerate(zip(test.images, test.masks, test.names)):
            import cv2

            cv2.imwrite(str(folder / f"{i:03d}_{name.replace('/', '_').rsplit('.', 1)[0]}.png"), outcome_image(image, maps[i], mask, model.threshold))
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.table())
    return 0
