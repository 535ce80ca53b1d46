"""Image and video sources and the JSON Lines sink, on real photographs shipped by scikit-learn."""

from __future__ import annotations

import json
import os
import shutil

import cv2
import numpy as np
import pytest

from drid import Pipeline
from drid.errors import ConfigError, SourceError
from drid.sinks.jsonl import JsonlSink
from drid.sources.files import ImageSource, VideoSource
from drid.testing import CollectSink


@pytest.fixture(scope="module")
def clip(tmp_path_factory, sample_photos):
    """A 24-frame MP4 made from the two real photos (a slow pan across each), written by OpenCV."""
    path = tmp_path_factory.mktemp("video") / "pan.mp4"
    photos = [cv2.imread(str(p)) for p in sorted(sample_photos.glob("*.jpg"))]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 12.0, (320, 240))
    assert writer.isOpened()
    for i in range(24):
        photo = photos[i // 12]
        x = (i % 12) * 20
        writer.write(np.ascontiguousarray(photo[100:340, x : x + 320]))
    writer.release()
    return path


def run(source, **kw):
    sink = CollectSink()
    summary = Pipeline(source=source, sinks=[sink], **kw).run()
    return sink.records, summary


def test_image_folder_is_read_in_name_order(sample_photos):
    records, summary = run(ImageSource(path=str(sample_photos)))
    assert [r.frame.source.rsplit("/", 1)[-1] for r in records] == ["china.jpg", "flower.jpg"]
    assert records[0].frame.image.shape == (427, 640, 3) and records[0].frame.image.dtype == np.uint8
    assert [r.frame.timestamp for r in records] == [0.0, 1.0]
    # real content: the china photo is mostly sky-blue at the top, the flower photo is not
    assert records[0].frame.image[:40].mean(axis=(0, 1))[0] > records[0].frame.image[:40].mean(axis=(0, 1))[2]


def test_glob_and_repeat(sample_photos):
    records, _ = run(ImageSource(path=str(sample_photos / "fl*.jpg"), repeat=3))
    assert [r.frame.index for r in records] == [0, 1, 2]
    with pytest.raises(ConfigError, match=r"params.path: .*no file matches '.*/nothing\*.png'"):  # found before the run
        ImageSource(path=str(sample_photos / "nothing*.png"))


def test_undecodable_file_in_a_folder_is_counted_and_skipped(tmp_path, sample_photos):
    shutil.copy(sample_photos / "china.jpg", tmp_path / "a.jpg")
    (tmp_path / "b.jpg").write_bytes(b"not a jpeg at all")
    shutil.copy(sample_photos / "flower.jpg", tmp_path / "c.jpg")
    records, summary = run(ImageSource(path=str(tmp_path)))
    assert len(records) == 2 and summary.source_skips == {"undecodable image file": 1}
    assert "source skipped 1: undecodable image file" in summary.table()


def test_missing_or_corrupt_single_image_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match=r"params.path: .*no such file or folder: '.*missing.png'"):  # found before the run
        ImageSource(path=str(tmp_path / "missing.png"))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG garbage")
    with pytest.raises(SourceError, match=r"images: cannot decode '.*bad.png' \(not an image, or corrupt\)"):
        run(ImageSource(path=str(bad)))


def test_grey_images_become_bgr(tmp_path, sample_photos):
    grey = cv2.imread(str(sample_photos / "china.jpg"), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    records, _ = run(ImageSource(path=str(tmp_path / "grey.png")))
    img = records[0].frame.image
    assert img.shape == (427, 640, 3) and np.array_equal(img[:, :, 0], img[:, :, 2])


def test_video_frames_timestamps_and_length(clip):
    src = VideoSource(path=str(clip))
    assert len(src.drid_frames()) == 24
    records, summary = run(src)
    assert len(records) == 24 and summary.balanced
    assert records[0].frame.image.shape == (240, 320, 3)
    stamps = [r.frame.timestamp for r in records]
    assert stamps[0] == pytest.approx(0.0) and stamps[12] == pytest.approx(1.0, abs=1e-3)
    # the content changes where the clip switches photos
    diff = [np.abs(records[i + 1].frame.image.astype(int) - records[i].frame.image.astype(int)).mean() for i in range(23)]
    assert int(np.argmax(diff)) == 11


def test_video_stride_start_stop(clip):
    src = VideoSource(path=str(clip), start=4, stop=16, stride=3)
    assert len(src.drid_frames()) == 4
    records, _ = run(src)
    assert [r.frame.meta["position"] for r in records] == [4, 7, 10, 13]
    assert [r.frame.index for r in records] == [0, 1, 2, 3]


def test_video_errors(tmp_path, clip):
    with pytest.raises(ConfigError, match=r"params.path: .*no such file or folder: '.*nope.mp4'"):
        VideoSource(path=str(tmp_path / "nope.mp4"))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(SourceError, match=r"video: (cannot open '.*junk.mp4'|'.*junk.mp4' has no decodable frames)"):
        run(VideoSource(path=str(junk)))


def test_truncated_video_yields_what_decodes(tmp_path, clip):
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    try:
        records, summary = run(VideoSource(path=str(cut)))
    except SourceError as exc:  # the container index may be lost with the tail: a clear error then
        assert "cut.mp4" in str(exc)
    else:
        assert len(records) < 24 and summary.balanced


def test_jsonl_sink_writes_one_valid_object_per_frame(tmp_path, clip):
    out = tmp_path / "deep" / "run.jsonl"
    Pipeline(source=VideoSource(path=str(clip)), sinks=[JsonlSink(path=str(out))], max_frames=10).run()
    lines = out.read_text().splitlines()
    assert len(lines) == 10
    first = json.loads(lines[0])
    assert first["frame"]["index"] == 0 and first["frame"]["image"] == {"dtype": "|u1", "shape": [240, 320, 3]}
    assert {"frame", "detections", "recognitions", "scene", "decision"} <= set(first)


def test_jsonl_base64_keeps_pixels(tmp_path, sample_photos):
    from drid.schemas import FrameRecord

    out = tmp_path / "px.jsonl"
    Pipeline(source=ImageSource(path=str(sample_photos / "china.jpg")), sinks=[JsonlSink(path=str(out), arrays="base64")]).run()
    record = FrameRecord.model_validate_json(out.read_text().splitlines()[0])
    assert np.array_equal(record.frame.image, cv2.imread(str(sample_photos / "china.jpg")))


def test_jsonl_after_an_interrupted_run_is_complete(tmp_path, clip):
    from drid import hookimpl

    class StopAt:
        @hookimpl
        def drid_detect(self, frame):
            if frame.index == 7:
                raise KeyboardInterrupt
            return []

    out = tmp_path / "int.jsonl"
    sink = JsonlSink(path=str(out))
    summary = Pipeline(source=VideoSource(path=str(clip)), detect=[StopAt()], sinks=[sink]).run()
    assert summary.interrupted and sink._file is None
    lines = out.read_text().splitlines()
    assert len(lines) == 7 and all(json.loads(line)["frame"]["index"] == i for i, line in enumerate(lines))


def test_unwritable_jsonl_path_is_a_clear_error(tmp_path):
    from drid.errors import DridError
    from drid.testing import SyntheticSource

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DridError, match=r"jsonl: cannot write '.*file/run.jsonl'"):
        Pipeline(source=SyntheticSource(n=1), sinks=[JsonlSink(path=str(blocker / "run.jsonl"))]).run()


def test_a_float_image_in_0_to_1_is_not_black(tmp_path):
    cv2.imwrite(str(tmp_path / "half.tiff"), np.full((8, 8, 3), 0.5, np.float32))
    records, _ = run(ImageSource(path=str(tmp_path / "half.tiff")))
    assert (records[0].frame.image == 128).all()


def test_a_named_pipe_is_refused_before_the_run(tmp_path):
    fifo = tmp_path / "image.png"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file or folder"):
        ImageSource(path=str(fifo))


def test_a_relative_path_in_a_config_file_is_read_from_its_folder(tmp_path, sample_photos, monkeypatch):
    folder = tmp_path / "project"
    folder.mkdir()
    cv2.imwrite(str(folder / "shot.png"), cv2.imread(str(sample_photos / "china.jpg")))
    (folder / "pipe.yaml").write_text("source: {plugin: images, params: {path: shot.png}}\n")
    monkeypatch.chdir(tmp_path)  # not the config's folder
    records = list(Pipeline.from_config(folder / "pipe.yaml"))
    assert len(records) == 1 and records[0].frame.source.endswith("shot.png")
