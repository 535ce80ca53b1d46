"""``drid demo image``: the engine end to end on real photographs, with no detector yet.

It reads scikit-learn's bundled photos (or PATH), passes them through an empty pipeline and writes
the JSON Lines records and the run summary: the smallest real run of the engine."""

from __future__ import annotations

from pathlib import Path

from drid.demos.data import sample_photos


def run_image_demo(path: str | None = None, out: Path = Path("out"), max_frames: int | None = None) -> int:
    from drid.demos.data import checked_input
    from drid.pipeline import Pipeline
    from drid.pipeline.report import run_pipeline

    target = out / "demo-image"
    if path is not None:
        path = checked_input(path, "image")
    pipe = Pipeline(
        name="demo-image",
        source=("images", {"path": str(path or sample_photos())}),
        sinks=[("jsonl", {"path": str(target / "records.jsonl")})],
        max_frames=max_frames,
    )
    status = run_pipeline(pipe, summary_json=str(target / "summary.json"))
    print(f"wrote {target / 'records.jsonl'} and {target / 'summary.json'}")
    return status
