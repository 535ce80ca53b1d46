"""Messages: validation, geometry, JSON schema and JSON round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError

from drid.schemas import (
    MESSAGES,
    BoundingBox,
    Decision,
    Detection,
    Frame,
    FrameRecord,
    Recognition,
    Relation,
    Scene,
    SceneObject,
    Transition,
    build_objects,
    iou_matrix,
)


def box(x1, y1, x2, y2):
    return BoundingBox(x1=x1, y1=y1, x2=x2, y2=y2)


def test_box_geometry():
    b = box(10, 20, 50, 100)
    assert (b.width, b.height, b.area, b.center) == (40, 80, 3200, (30, 60))
    assert BoundingBox.from_xywh(10, 20, 40, 80) == b
    assert BoundingBox.from_center(30, 60, 40, 80) == b
    assert b.contains_point((10, 20)) and not b.contains_point((51, 20))
    assert b.pad(0.5) == box(-10, -20, 70, 140)


def test_box_iou_exact_values():
    a, b = box(0, 0, 10, 10), box(5, 0, 15, 10)
    assert a.iou(b) == pytest.approx(50 / 150)
    assert a.iou(a) == 1.0
    assert a.iou(box(20, 20, 30, 30)) == 0.0
    assert box(0, 0, 0, 0).iou(box(0, 0, 0, 0)) == 0.0
    m = iou_matrix(np.array([a.as_xyxy(), b.as_xyxy()]), np.array([a.as_xyxy()]))
    assert m.shape == (2, 1) and m[1, 0] == pytest.approx(50 / 150)


def test_box_clip_and_order():
    assert box(-5, -5, 700, 500).clip(640, 480) == box(0, 0, 640, 480)
    assert box(700, 10, 800, 20).clip(640, 480).area == 0
    with pytest.raises(ValidationError, match="corners out of order"):
        box(10, 0, 5, 10)
    with pytest.raises(ValidationError):
        BoundingBox(x1=float("nan"), y1=0, x2=1, y2=1)


def test_frame_image_validated_by_shape_and_dtype():
    img = np.zeros((4, 6, 3), dtype=np.uint8)
    f = Frame(index=0, image=img)
    assert f.image is img  # no copy
    assert (f.width, f.height) == (6, 4)
    with pytest.raises(ValidationError, match=r"N×N×3 uint8 array, got shape \(4, 6\)"):
        Frame(index=0, image=np.zeros((4, 6), dtype=np.uint8))
    with pytest.raises(ValidationError, match="got dtype float64"):
        Frame(index=0, image=np.zeros((4, 6, 3)))
    with pytest.raises(ValidationError):
        Frame(index=-1)


def test_messages_are_frozen():
    d = Detection(box=box(0, 0, 1, 1), label="person")
    with pytest.raises(ValidationError):
        d.label = "car"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Detection(box=box(0, 0, 1, 1), label="person", score=1.5)
    with pytest.raises(ValidationError):
        Detection(box=box(0, 0, 1, 1), label="person", colour="red")  # type: ignore[call-arg]


@pytest.mark.parametrize("name", list(MESSAGES))
def test_every_message_has_a_json_schema(name):
    schema = MESSAGES[name].model_json_schema()
    json.dumps(schema)
    assert schema["type"] == "object" and schema["properties"]


def _full_record() -> FrameRecord:
    img = (np.arange(4 * 5 * 3) % 256).astype(np.uint8).reshape(4, 5, 3)
    frame = Frame(index=3, timestamp=0.1, source="cam", image=img, observation=np.array([0.5, -1.0], dtype=np.float32))
    det = Detection(box=box(0, 0, 2, 2), score=0.9, label="person", track_id=4, polyline=((0, 0), (1, 1)), velocity=(1.0, 0.0))
    rec = Recognition(detection=0, label="pedestrian", score=0.8)
    objects = build_objects([det], [rec])
    scene = Scene(objects=objects, relations=(Relation(subject=4, predicate="near", object=4),), facts=("a person",), features=np.array([1.0, 2.0]))
    decision = Decision(action="STOP", rationale="a person", confidence=0.7)
    transition = Transition(observation=np.zeros(2), action=1, reward=1.0, next_observation=np.ones(2), terminated=False, truncated=True)
    return FrameRecord(frame=frame, detections=[det], recognitions=[rec], scene=scene, decision=decision, transition=transition, timings_ms={"detect": 1.0})


def test_record_json_has_the_documented_keys_and_no_pixels():
    record = _full_record()
    data = json.loads(record.model_dump_json())
    assert {"frame", "detections", "recognitions", "scene", "decision"} <= set(data)
    assert data["frame"]["image"] == {"dtype": "|u1", "shape": [4, 5, 3]}
    assert data["frame"]["observation"] == [0.5, -1.0]
    assert data["scene"]["objects"][0]["label"] == "pedestrian"
    assert data["scene"]["objects"][0]["detected_as"] == "person"
    assert data["scene"]["objects"][0]["id"] == 4


def test_record_base64_round_trip_is_lossless():
    record = _full_record()
    text = record.model_dump_json(context={"arrays": "base64"})
    back = FrameRecord.model_validate_json(text)
    assert np.array_equal(back.frame.image, record.frame.image)
    assert back.frame.image.dtype == np.uint8
    assert np.array_equal(back.frame.observation, record.frame.observation)
    assert back.detections == record.detections
    assert back.decision == record.decision


def test_actions_from_numpy_become_plain_python():
    assert Decision(action=np.int64(1)).action == 1 and isinstance(Decision(action=np.int64(1)).action, int)
    assert Decision(action=np.array([0.5, -0.5], dtype=np.float32)).action == (0.5, -0.5)
    assert Decision(action="GO").action == "GO"


def test_scene_merge_by_object_id_without_repeats():
    a = SceneObject(id=1, label="car", score=1, box=box(0, 0, 1, 1), detected_as="car", detection=0)
    a2 = a.model_copy(update={"attributes": {"moving": True}})
    s1 = Scene(objects=(a,), relations=(Relation(subject=1, predicate="near", object=2),), facts=("x",), features=np.array([1.0]))
    s2 = Scene(objects=(a2,), relations=(Relation(subject=1, predicate="near", object=2),), facts=("x", "y"), situations=("busy",), features=np.array([2.0, 3.0]))
    merged = Scene.merge([s1, s2])
    assert merged.objects == (a2,)
    assert len(merged.relations) == 1
    assert merged.facts == ("x", "y") and merged.situations == ("busy",)
    assert merged.features.tolist() == [1.0, 2.0, 3.0]


def test_build_objects_keeps_the_best_recognition():
    dets = [Detection(box=box(0, 0, 1, 1), label="blob"), Detection(box=box(2, 2, 3, 3), label="blob", track_id=9)]
    recs = [Recognition(detection=0, label="cat", score=0.4), Recognition(detection=0, label="dog", score=0.6)]
    objs = build_objects(dets, recs)
    assert [o.label for o in objs] == ["dog", "blob"]
    assert [o.id for o in objs] == [0, 9]


# -- Detection.mask -------------------------------------------------------------------------------
def test_a_mask_is_carried_read_only_and_serialised_by_shape_only():
    mask = np.zeros((4, 6), dtype=bool)
    mask[1:3, 2:5] = True
    d = Detection(box=BoundingBox(x1=0, y1=0, x2=60, y2=40), label="road", mask=mask)
    assert d.mask is mask and not d.mask.flags.writeable
    dumped = d.model_dump(mode="json")["mask"]
    assert "4" in str(dumped) and "6" in str(dumped) and len(str(dumped)) < 200


@pytest.mark.parametrize("bad, why", [
    (np.array([[0.2, 1.5]], dtype=np.float32), r"in \[0, 1\]"),
    (np.array([[np.nan, 0.5]], dtype=np.float32), r"in \[0, 1\]"),
    (np.array([[-1, 2]], dtype=np.int8), "bool, unsigned or float"),
    (np.zeros((3, 3, 3), dtype=np.uint8), "N×N"),
])
def test_a_mask_refuses_what_it_cannot_mean(bad, why):
    with pytest.raises(ValidationError, match=why):
        Detection(box=BoundingBox(x1=0, y1=0, x2=10, y2=10), label="x", mask=bad)


def test_the_annotator_draws_a_score_mask_as_heat_where_the_score_is_high():
    from drid.schemas import Frame, FrameRecord
    from drid.sinks.draw import Annotator

    score = np.zeros((10, 10), dtype=np.float32)
    score[:, 5:] = 1.0  # the right half of the box is anomalous
    image = np.full((200, 200, 3), 128, dtype=np.uint8)
    d = Detection(box=BoundingBox(x1=40, y1=40, x2=160, y2=160), label="anomaly", mask=score)
    drawn = Annotator(facts=False, banner=False, info=False).annotate(FrameRecord(frame=Frame(index=0, image=image), detections=(d,)))
    left, right = drawn[80:150, 50:90].astype(int), drawn[80:150, 105:150].astype(int)
    assert np.abs(left - 128).max() <= 1 < np.abs(right - 128).mean()
