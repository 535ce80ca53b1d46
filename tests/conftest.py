"""Shared fixtures: real media shipped by packages, and ../shared/data when it is there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DRID_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared_file(relative: str) -> Path:
    """A file of ../shared/data; the test is skipped cleanly when it is absent."""
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"shared data not available: {relative}")
    return path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[object, str, str]:
    """``drid ARGS`` run in this process: its exit status, standard output and standard error."""
    from drid.cli import main

    code: object
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own exits (--help, --version, usage errors)
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="session")
def sample_photos() -> Path:
    from drid.demos.data import sample_photos

    return sample_photos()


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray cluster of 2 CPUs, started once for the tests that need one."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def _files_under(folder: Path) -> set[str]:
    return {str(Path(d, f)) for d, _, files in os.walk(folder) for f in files} if folder.is_dir() else set()


@pytest.fixture(autouse=True)
def _writes_nothing_into_the_checkout():
    """A test writes its outputs under tmp_path, never into the checkout's out/ (where `make demo`
    writes): the test that leaves a file there fails, named."""
    before = _files_under(ROOT / "out")
    yield
    left = sorted(_files_under(ROOT / "out") - before)
    assert not left, f"the test left files in the checkout: {left[:3]}"
