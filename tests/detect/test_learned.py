"""drid's learned detector, the parts that need no training: targets and decoding, letterboxing,
the dataset readers, augmentation, the grouped split, the bundle's metadata checks."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from drid.detect.learned.data import Augment, Sample, fit_sample, frame_key, read_coco, read_yolo, render
from drid.detect.learned.encoding import decode, encode, letterbox
from drid.detect.learned.split import grouped_split
from drid.sources.media import package_file

SIZE = (320, 192)


def astronaut() -> np.ndarray:
    image = cv2.imread(str(package_file("skimage", "data", "astronaut.png")))
    assert image is not None
    return np.asarray(image)


def test_decode_of_encode_gives_the_boxes_back():
    boxes = np.array([[10, 20, 60, 150], [100, 50, 300, 180], [200, 10, 230, 40], [203, 12, 229, 38], [5.5, 7.25, 9.75, 11.5]], np.float32)
    classes = np.array([0, 1, 0, 1, 2])
    target = encode(boxes, classes, 3, SIZE)
    assert target.shape == (24, 40, 3 + 5)
    assert target[..., 7].sum() == 5  # one centre cell per box
    got, scores, cls = decode(target, 3, min_score=0.5)
    order = np.lexsort((got[:, 0], cls))
    want = np.lexsort((boxes[:, 0], classes))
    np.testing.assert_allclose(got[order], boxes[want], atol=1e-4)
    assert cls[order].tolist() == classes[want].tolist() and np.all(scores == 1.0)
    # a centre outside the input is not a target; empty input gives an empty target
    assert encode(np.array([[330, 10, 400, 50]]), [0], 1, SIZE)[..., 1 + 4].sum() == 0
    assert decode(encode(np.zeros((0, 4)), [], 1, SIZE), 1)[0].shape == (0, 4)


def test_letterbox_maps_boxes_both_ways():
    image = astronaut()[:, :, ::-1]  # 512×512
    canvas, lb = letterbox(image, SIZE)
    assert canvas.shape == (192, 320, 3) and lb.scale == pytest.approx(192 / 512)
    assert canvas[0, 0].tolist() == [114, 114, 114] and lb.dx == (320 - 192) // 2 and lb.dy == 0
    box = np.array([[178, 82, 264, 178]], np.float32)
    np.testing.assert_allclose(lb.to_image(lb.to_input(box)), box, atol=1e-3)


def test_render_places_the_sample_and_augmentation_moves_its_boxes():
    sample = fit_sample(astronaut(), np.array([[178, 82, 264, 178]]), [0], SIZE, "astronaut")
    plain, boxes, classes = render(sample, SIZE)
    canvas, lb = letterbox(astronaut()[:, :, ::-1], SIZE)
    assert np.abs(plain.astype(int) - canvas.astype(int)).max() <= 1
    np.testing.assert_allclose(boxes, lb.to_input(np.array([[178, 82, 264, 178]])), atol=0.5)
    flipped, fboxes, _ = render(sample, SIZE, np.random.default_rng(0), Augment(flip=True, scale=(1, 1), shift=0, brightness=0, contrast=0, saturation=0))
    mirrored = np.array_equal(flipped, plain[:, ::-1]) or np.array_equal(flipped, plain)
    assert mirrored
    if not np.array_equal(flipped, plain):
        np.testing.assert_allclose(fboxes[:, [2, 0]], 320 - boxes[:, [0, 2]], atol=0.5)
    # the face crop under strong zoom: whatever box survives lies inside the canvas and still frames the face
    for seed in range(5):
        image, b, c = render(sample, SIZE, np.random.default_rng(seed), Augment(scale=(1.5, 2.0)))
        assert image.shape == (192, 320, 3) and np.all(b >= 0) and np.all(b[:, 2] <= 320) and np.all(b[:, 3] <= 192)
        assert c.tolist() in ([], [0])


def test_ignored_boxes_render_as_class_minus_one():
    s = Sample(np.zeros((90, 160, 3), np.uint8), np.array([[10, 10, 50, 50], [60, 10, 90, 40]]), [0, 0], "x", ignore=[False, True])
    _, _, classes = render(s, (160, 96))
    assert classes.tolist() == [0, -1]


def test_coco_reader(tmp_path):
    cv2.imwrite(str(tmp_path / "frame_0007.png"), astronaut())
    coco = {"images": [{"id": 1, "file_name": "frame_0007.png", "width": 512, "height": 512}],
            "categories": [{"id": 3, "name": "face"}, {"id": 1, "name": "person"}],
            "annotations": [{"image_id": 1, "category_id": 3, "bbox": [178, 82, 86, 96]},
                            {"image_id": 1, "category_id": 1, "bbox": [20, 15, 350, 497], "iscrowd": 1}]}
    (tmp_path / "ann.json").write_text(json.dumps(coco))
    samples, classes = read_coco(tmp_path / "ann.json", SIZE)
    assert classes == ["person", "face"]  # category id order
    (s,) = samples
    assert s.classes.tolist() == [1, 0] and s.ignore.tolist() == [False, True]
    np.testing.assert_allclose(s.boxes[0], np.array([178, 82, 264, 178]) * 192 / 512, atol=1e-3)
    assert (s.source, s.frame) == ("frame_", 7)  # the trailing number makes it frame 7 of a video "frame_"
    only, names = read_coco(tmp_path / "ann.json", SIZE, classes=["face"])
    assert names == ["face"] and only[0].classes.tolist() == [0]
    (tmp_path / "bad.json").write_text(json.dumps({"images": []}))
    with pytest.raises(ValueError, match=r"bad.json: COCO file has no 'annotations' list"):
        read_coco(tmp_path / "bad.json", SIZE)


def test_yolo_reader(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.png"), astronaut())
    (tmp_path / "labels" / "a.txt").write_text(f"1 {221 / 512} {130 / 512} {86 / 512} {96 / 512}\n\n")
    (tmp_path / "data.yaml").write_text("names: {0: person, 1: face}\n")
    samples, classes = read_yolo(tmp_path, SIZE, label_map={"face": "head"})
    assert classes == ["person", "head"]
    np.testing.assert_allclose(samples[0].boxes[0], np.array([178, 82, 264, 178]) * 192 / 512, atol=1e-3)
    (tmp_path / "labels" / "a.txt").write_text("7 0.5 0.5 0.1\n")
    with pytest.raises(ValueError, match=r"a.txt:1: expected 'class cx cy w h' with class 0..1"):
        read_yolo(tmp_path, SIZE)
    with pytest.raises(ValueError, match="YOLO dataset folder not found"):
        read_yolo(tmp_path / "nope", SIZE)


def test_drid_groundtruth_as_samples():
    from drid.eval.groundtruth import bundled_groundtruth
    from drid.eval.samples import groundtruth_samples

    samples, classes = groundtruth_samples(bundled_groundtruth("packaged"), SIZE, classes=["face"])
    assert classes == ["face"] and len(samples) >= 2  # the stills annotated for faces (astronaut, cameraman), not the video frame
    assert sum(len(s.boxes) for s in samples) == 2
    clips, _ = groundtruth_samples(bundled_groundtruth("tracks-packaged"), SIZE, classes=["car"], frames=lambda video, f: f in (140, 160))
    assert [s.frame for s in clips] == [140, 160] and all(len(s.boxes) >= 2 for s in clips)


def test_frame_key():
    assert frame_key("clip/frame_000123.jpg") == ("clip/frame_", 123)
    assert frame_key("photo.png") == ("photo.png", None)


def test_grouped_split_never_straddles():
    rng = np.random.default_rng(1)
    samples = [Sample(np.zeros((4, 4, 3), np.uint8), np.zeros((0, 4)), [], source, int(f))
               for source in ("a.mp4", "b.mp4") for f in np.sort(rng.choice(2000, 600, replace=False))]
    samples += [Sample(np.zeros((4, 4, 3), np.uint8), np.zeros((0, 4)), [], f"still{i}.png") for i in range(10)]
    train, val = grouped_split(samples, 0.2, block=50, gap=10, seed=0)
    assert not set(train) & set(val) and len(val) > 0.1 * len(samples)
    for source in ("a.mp4", "b.mp4"):
        tf = np.array([samples[i].frame for i in train if samples[i].source == source])
        vf = np.array([samples[i].frame for i in val if samples[i].source == source])
        assert len(tf) and len(vf) and np.abs(tf[:, None] - vf[None, :]).min() > 10
    assert grouped_split(samples, 0.2, seed=0) == (train, val)  # seeded
    with pytest.raises(ValueError, match="validation fraction"):
        grouped_split(samples, 1.0)


def test_bundle_metadata_is_checked(tmp_path):
    from drid.detect.learned.backend import load_backend, read_detector_metadata

    model = tmp_path / "m.keras"
    model.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="has no 'm.json' beside it"):
        read_detector_metadata(model)
    (tmp_path / "m.json").write_text(json.dumps({"crops": {}}))
    with pytest.raises(ValueError, match="does not describe a drid detector .*keras-classifier"):
        load_backend(model)
    with pytest.raises(ValueError, match="no bundled detector of that name"):
        load_backend("no-such-detector")


def test_network_shape_and_bad_sizes():
    from drid.detect.learned.model import build_centernet

    model = build_centernet((160, 96), 2, width=0.5)
    assert model.output_shape == (None, 12, 20, 2 + 4)
    with pytest.raises(ValueError, match="multiples of 32"):
        build_centernet((100, 96), 1)


def test_train_detector_command_names_bad_input(capsys, tmp_path):
    from drid.cli import main

    assert main(["train", "detector", str(tmp_path / "nope.json")]) == 2
    assert "inputs[0]: annotation file or folder not found" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("x")
    assert main(["train", "detector", str(tmp_path / "notes.txt")]) == 2
    assert "is not annotated data" in capsys.readouterr().err
    assert main(["train", "detector", str(tmp_path / "notes.txt"), "--rounds", "2"]) == 2
    assert "--rounds needs --teacher" in capsys.readouterr().err
    assert main(["train", "detector", "--teacher", str(tmp_path / "t.yaml"), str(tmp_path / "notes.txt")]) == 2
    assert "teacher config not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "detector", "--size", "300x200", "x"])
    assert "multiples of 32" in capsys.readouterr().err
