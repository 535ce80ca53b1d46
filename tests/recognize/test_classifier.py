"""keras-classifier: batched inference equals per-crop inference, the bundled digits model reads a
page of handwriting it never saw, and bad model bundles are refused with clear one-line errors."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from drid.demos.digits import BLOB_PARAMS, load_digits, make_page, page_indices, score_page
from drid.detect.blobs import BlobDetector
from drid.errors import ConfigError, DridError
from drid.pipeline import Pipeline
from drid.recognize.bundle import BUNDLED_MODELS
from drid.recognize.classifier import ClassifierModel, KerasClassifier
from drid.recognize.crops import crop_box, fit_to_size
from drid.schemas import BoundingBox, Detection, Frame
from drid.testing import CollectSink, ListSource


@pytest.fixture(scope="module")
def page() -> tuple[Frame, list[dict]]:
    images, targets = load_digits()
    image, truth = make_page(page_indices(60, seed=1), images, targets, seed=1, columns=10)
    return Frame(index=0, source="page", image=image), truth


@pytest.fixture(scope="module")
def digits_plugin() -> KerasClassifier:
    plugin = KerasClassifier(model="digits", top_k=3)
    plugin.load()
    return plugin


def _detections(frame: Frame) -> list[Detection]:
    return BlobDetector(**BLOB_PARAMS, label="digit").drid_detect(frame)


def test_bundled_digits_model_reads_a_page_of_unseen_handwriting(page):
    frame, truth = page
    sink = CollectSink()
    pipe = Pipeline(source=ListSource([frame]), detect=[("blobs", {**BLOB_PARAMS, "label": "digit"})],
                    recognize=[("keras-classifier", {"model": "digits"})], sinks=[sink])
    pipe.run()
    record = sink.records[0]
    score = score_page(truth, list(record.detections), list(record.recognitions))
    assert score["found"] >= 58, score  # 60 digits on the page
    assert score["reading_accuracy"] >= 0.93, score  # the card reports 99.2% on a 120-digit page
    assert all(r.plugin == "keras-classifier" and len(r.top_k) == 3 for r in record.recognitions)
    assert all(r.top_k[0].label == r.label and r.top_k[0].score >= r.top_k[1].score for r in record.recognitions)


def test_batched_results_equal_per_crop_results(page, digits_plugin):
    frame, _ = page
    dets = _detections(frame)
    assert len(dets) >= 50
    batched = digits_plugin.classify(frame, dets)
    one_by_one = [digits_plugin.classify(frame, [d])[0] for d in dets]
    assert [r.detection for r in batched] == list(range(len(dets)))
    assert [r.label for r in batched] == [r.label for r in one_by_one]
    np.testing.assert_allclose([r.score for r in batched], [r.score for r in one_by_one], rtol=0, atol=1e-5)
    # ... and equal to Keras' own predict on the same crops.
    clf = digits_plugin.classifier
    crops = clf.prepare(frame.image, [d.box for d in dets], digits_plugin.padding, digits_plugin.aspect)
    reference = clf.model.predict(crops, verbose=0)
    np.testing.assert_allclose(clf.probabilities(crops, max_batch=7), reference, rtol=0, atol=1e-5)


def test_label_filter_and_min_score(page):
    frame, _ = page
    dets = _detections(frame)[:6]
    mixed = [d if i % 2 else d.model_copy(update={"label": "stamp"}) for i, d in enumerate(dets)]
    plugin = KerasClassifier(model="digits", only=["digit"])
    recs = plugin.classify(frame, mixed)
    assert sorted(r.detection for r in recs) == [1, 3, 5]
    assert KerasClassifier(model="digits", only=["nothing-like-this"]).classify(frame, mixed) == []
    picky = KerasClassifier(model="digits", min_score=1.0)
    assert all(r.score >= 1.0 for r in picky.classify(frame, dets))


def test_crop_box_pads_expands_and_repeats_edges():
    image = np.arange(20 * 30 * 3, dtype=np.uint8).reshape(20, 30, 3)
    crop = crop_box(image, BoundingBox(x1=10, y1=5, x2=20, y2=10), padding=0.0, aspect=1.0)
    assert crop.shape[:2] == (10, 10)
    corner = crop_box(image, BoundingBox(x1=0, y1=0, x2=4, y2=4), padding=0.5)
    assert corner.shape[:2] == (8, 8)
    assert (corner[0, 0] == image[0, 0]).all()  # outside the image: edge pixels repeated
    outside = crop_box(image, BoundingBox(x1=100, y1=100, x2=120, y2=110))
    assert outside.size > 0
    assert fit_to_size(crop, 7, 5, "letterbox").shape == (5, 7, 3)
    assert fit_to_size(crop, 7, 5, "stretch").shape == (5, 7, 3)


def _tiny_model(path: Path, *, with_lambda: bool = False, classes: int = 3) -> Path:
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Flatten()(inputs)
    if with_lambda:
        x = keras.layers.Lambda(lambda t: t * 2.0)(x)
    outputs = keras.layers.Dense(classes, activation="softmax")(x)
    keras.Model(inputs, outputs).save(path)
    return path


def test_a_model_with_a_lambda_layer_is_refused(tmp_path):
    path = _tiny_model(tmp_path / "sneaky.keras", with_lambda=True)
    (tmp_path / "sneaky.labels.txt").write_text("a\nb\nc\n")
    with pytest.raises(DridError, match=r"refused '.*sneaky\.keras': it contains a Lambda layer"):
        ClassifierModel.from_file(path)
    pipe = Pipeline(source=ListSource([]), recognize=[("keras-classifier", {"model": str(path)})])
    with pytest.raises(DridError, match="Lambda layer"):
        pipe.run()


def test_a_missing_label_file_is_refused_before_any_frame(tmp_path):
    path = _tiny_model(tmp_path / "nolabels.keras")
    with pytest.raises(ConfigError, match=r"recognize\[0\]\.params.*no label file for '.*nolabels\.keras': expected 'nolabels\.labels\.txt'"):
        Pipeline(source=ListSource([]), recognize=[("keras-classifier", {"model": str(path)})])
    (tmp_path / "nolabels.labels.txt").write_text("a\nb\n")  # two labels for three outputs
    with pytest.raises(DridError, match="has 3 outputs but its label file lists 2 labels"):
        ClassifierModel.from_file(path)


def test_corrupt_model_files_give_clear_errors(tmp_path):
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"this is not a model" * 10)
    (tmp_path / "junk.labels.txt").write_text("x\ny\n")
    with pytest.raises(DridError, match=r"'.*junk\.keras' is not a valid \.keras model file"):
        ClassifierModel.from_file(junk)
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes((BUNDLED_MODELS / "digits.keras").read_bytes()[:50_000])
    (tmp_path / "truncated.labels.txt").write_text("\n".join(str(i) for i in range(10)))
    with pytest.raises(DridError, match="not a valid .keras model file"):
        ClassifierModel.from_file(truncated)
    wrong = tmp_path / "wrong.keras"
    with zipfile.ZipFile(wrong, "w") as z:
        z.writestr("readme.txt", "a zip, but not a Keras model")
    (tmp_path / "wrong.labels.txt").write_text("x\ny\n")
    with pytest.raises(DridError, match=r"cannot load '.*wrong\.keras'"):
        ClassifierModel.from_file(wrong)


def test_parameter_errors_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="exactly one of 'model'"):
        Pipeline(source=ListSource([]), recognize=[("keras-classifier", {})])
    with pytest.raises(ConfigError, match="unknown architecture 'MobileNetV9'"):
        Pipeline(source=ListSource([]), recognize=[("keras-classifier", {"architecture": "MobileNetV9"})])
    with pytest.raises(ConfigError, match="no bundled model of that name"):
        Pipeline(source=ListSource([]), recognize=[("keras-classifier", {"model": "digitz"})])
    with pytest.raises(ConfigError, match="model file not found"):
        Pipeline(source=ListSource([]), recognize=[("keras-classifier", {"model": str(tmp_path / "gone.keras")})])


def test_a_classifier_built_in_python_is_checked_like_one_from_a_config():
    with pytest.raises(ConfigError) as in_python:
        KerasClassifier(model="digits", top_k=0)
    with pytest.raises(ConfigError) as in_config:
        Pipeline(source=ListSource([]), recognize=[("keras-classifier", {"model": "digits", "top_k": 0})])
    assert in_python.value.message == in_config.value.message
    assert "greater than or equal to 1 (got 0)" in in_python.value.message
    assert (in_python.value.path, in_config.value.path) == ("params.top_k", "recognize[0].params.top_k")
    with pytest.raises(ConfigError, match="unknown parameter.*did you mean 'top_k'"):
        KerasClassifier(model="digits", topk=2)


def test_imagenet_weights_offline_say_how_to_supply_them(tmp_path, monkeypatch):
    from urllib.error import URLError

    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise URLError("Name or service not known")

    monkeypatch.setattr(file_utils, "urlretrieve", offline)
    monkeypatch.setattr(file_utils.config, "keras_home", lambda: str(tmp_path))
    plugin = KerasClassifier(architecture="MobileNetV2")
    with pytest.raises(DridError, match=r"cannot get the ImageNet weights of MobileNetV2.*~/.keras/models.*weights: /path/to/weights\.h5"):
        plugin.load()


def test_logit_models_get_a_softmax_and_the_gpu_is_only_used_when_there(tmp_path):
    import keras

    inputs = keras.Input((8, 8, 3))
    outputs = keras.layers.Dense(3)(keras.layers.Flatten()(inputs))  # logits: no activation
    keras.Model(inputs, outputs).save(tmp_path / "logits.keras")
    (tmp_path / "logits.labels.txt").write_text("a\nb\nc\n")
    plugin = KerasClassifier(model=str(tmp_path / "logits.keras"), top_k=3)
    clf = plugin.load()
    assert clf.logits
    image = np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    recs = plugin.classify(Frame(index=0, image=image), [Detection(box=BoundingBox(x1=5, y1=5, x2=30, y2=20), label="x")])
    assert sum(s.score for s in recs[0].top_k) == pytest.approx(1.0, abs=1e-5)
    import tensorflow as tf

    if not tf.config.list_logical_devices("GPU"):
        with pytest.raises(DridError, match="device 'gpu' requested but TensorFlow sees no GPU"):
            KerasClassifier(model="digits", device="gpu").load()
    else:
        assert KerasClassifier(model="digits").load().device == "gpu"


def test_a_keras_applications_architecture_with_weights_from_a_file(tmp_path, sample_photos):
    import cv2
    import keras

    (tmp_path / "classes.txt").write_text("\n".join(f"class{i}" for i in range(1000)))
    (tmp_path / "broken.weights.h5").write_bytes(b"not hdf5")
    with pytest.raises(DridError, match=r"cannot load weights '.*broken\.weights\.h5' into MobileNetV2"):
        KerasClassifier(architecture="MobileNetV2", weights=str(tmp_path / "broken.weights.h5"), labels=str(tmp_path / "classes.txt")).load()
    # The same architecture with random weights stands in for a downloaded ImageNet file.
    keras.utils.set_random_seed(0)
    keras.applications.MobileNetV3Small(weights=None).save_weights(tmp_path / "mnv3.weights.h5")
    photo = cv2.imread(str(sample_photos / "china.jpg"))
    plugin = KerasClassifier(architecture="MobileNetV3Small", weights=str(tmp_path / "mnv3.weights.h5"), labels=str(tmp_path / "classes.txt"))
    clf = plugin.load()
    assert (clf.height, clf.width, clf.channels) == (224, 224, 3) and clf.preprocess is not None
    dets = [Detection(box=BoundingBox(x1=0, y1=0, x2=200, y2=150), label="thing"), Detection(box=BoundingBox(x1=300, y1=200, x2=420, y2=400), label="thing")]
    batched = plugin.classify(Frame(index=0, image=photo), dets)
    single = [plugin.classify(Frame(index=0, image=photo), [d])[0] for d in dets]
    assert [r.label for r in batched] == [r.label for r in single] and all(r.label.startswith("class") for r in batched)


def test_batch_call_serves_many_frames_in_one_batch_with_the_same_answers(page, digits_plugin):
    frame, _ = page
    dets = _detections(frame)
    calls = [{"frame": frame, "detections": dets[:5]}, {"frame": frame.model_copy(update={"index": 1}), "detections": []},
             {"frame": frame.model_copy(update={"index": 2}), "detections": dets[20:27]}]
    together = digits_plugin.batch_call("drid_recognize", calls)
    alone = [digits_plugin.drid_recognize(**c) for c in calls]
    assert [[(r.detection, r.label) for r in rs] for rs in together] == [[(r.detection, r.label) for r in rs] for rs in alone]
    assert [len(rs) for rs in together] == [5, 0, 7]
    np.testing.assert_allclose([r.score for rs in together for r in rs], [r.score for rs in alone for r in rs], atol=1e-5)
