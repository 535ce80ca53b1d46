"""The messages that travel between stages.

Every message is a frozen pydantic model: a stage can hand the same instance to the next stage, a
sink and a test without anyone changing it underneath the others. Sequences are tuples for the
same reason (plugins may return lists; validation turns them into tuples), numpy arrays
(``Frame.image``, observations, feature vectors) are made read-only (``flags.writeable`` is
False: copy before drawing on one), and the metadata mappings (``meta``, ``info``, ``data``,
``attributes``) are :class:`FrozenMeta`, a ``dict`` that refuses changes.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, StrictFloat, StrictInt, StrictStr, field_validator

from drid.schemas._array import Array
from drid.schemas.geometry import BoundingBox, Point

__all__ = [
    "Action",
    "Decision",
    "Detection",
    "Event",
    "Frame",
    "FrozenMeta",
    "FrameRecord",
    "Image",
    "LabelScore",
    "Mask",
    "PluginFault",
    "Recognition",
    "Relation",
    "Scene",
    "SceneObject",
    "Transition",
    "Vector",
]

#: An ``H×W×3`` uint8 image in OpenCV's BGR channel order.
Image = Annotated[np.ndarray, Array(dtype="uint8", shape=(None, None, 3), pixels=True)]
#: A numeric array of any shape (observations, feature vectors); JSON as nested lists.
Vector = Annotated[np.ndarray, Array()]
#: An action: a discrete index, a named action ("STOP"), a scalar or a continuous vector.
Action = StrictInt | StrictFloat | StrictStr | tuple[float, ...]

#: A per-pixel map over a detection's box, at any resolution (sinks stretch it onto the box): bool or
#: uint8 for a segmentation (non-zero = the object), float in [0, 1] for a per-pixel score such as
#: an anomaly map. JSON Lines records show its shape only (like an image); base64 dumps carry it.
Mask = Annotated[np.ndarray, Array(shape=(None, None), pixels=True)]

Score = Annotated[float, Field(ge=0.0, le=1.0)]
Label = Annotated[str, Field(min_length=1)]


class FrozenMeta(dict[str, Any]):
    """A message's metadata: a ``dict`` (it serialises, compares and pickles as one) that refuses
    to change, so that what one stage put in a message is what the later ones see. Nested
    mappings are frozen too. Build a changed copy with ``{**meta, "key": value}``."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("message metadata is read-only: make a new message, e.g. frame.model_copy(update={'meta': {**frame.meta, 'key': 1}})")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMeta, (dict(self),))

    def copy(self) -> dict[str, Any]:
        """A plain, changeable ``dict`` with the same items."""
        return dict(self)


def _freeze(value: Any) -> Any:
    if isinstance(value, dict) and not isinstance(value, FrozenMeta):
        return FrozenMeta({k: _freeze(v) for k, v in value.items()})
    return value


def _read_only(array: np.ndarray | None) -> np.ndarray | None:
    """``array`` itself (no copy), made read-only: whoever made it hands it over with the
    message, and neither a later stage nor its maker can change it underneath the others."""
    if array is not None and array.flags.writeable:
        array.flags.writeable = False
    return array


Meta = Annotated[dict[str, JsonValue], AfterValidator(_freeze)]


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Frame(_Message):
    """One observation of the world: an image, a vector observation, or both.

    ``index`` counts frames from 0 within ``source``; ``timestamp`` is seconds since the source's
    start (the container's clock for videos, the step count over the env's frame rate for gym).
    """

    index: Annotated[int, Field(ge=0)]
    timestamp: Annotated[float, Field(allow_inf_nan=False)] = 0.0
    source: str = ""
    image: Image | None = None
    observation: Vector | None = None
    meta: Meta = Field(default_factory=FrozenMeta)

    _read_only = field_validator("image", "observation")(_read_only)

    @property
    def width(self) -> int:
        return 0 if self.image is None else int(self.image.shape[1])

    @property
    def height(self) -> int:
        return 0 if self.image is None else int(self.image.shape[0])


#: A named landmark's position ``(x, y)`` in frame pixels; finite (NaN/inf are refused).
_Keypoint = tuple[Annotated[float, Field(allow_inf_nan=False)], Annotated[float, Field(allow_inf_nan=False)]]


class Detection(_Message):
    """Something found in a frame: where (``box``, and ``polyline`` for line-like things such as
    lane markings), what (``label``), how sure (``score``); ``track_id`` and ``velocity`` (pixels/s)
    once a tracker followed it across frames. ``plugin`` names the detector; the engine fills it in.

    ``keypoints`` are named landmarks of the object in frame pixels, e.g. a face detector's
    ``{"left_eye": (x, y), "right_eye": …, "nose": …, "mouth_left": …, "mouth_right": …}``
    ("left"/"right" as seen in the image). Names are the detector's vocabulary; a point may lie
    outside ``box``. JSON: an object of ``[x, y]`` pairs.

    ``mask`` is a per-pixel map over ``box`` (see :data:`Mask`): a road segmentation, the shape of
    a defect, the anomaly score of each pixel. Row 0 is the box's top edge, column 0 its left edge;
    its resolution is the detector's (a 12×12 map over a 96×96 box is fine)."""

    box: BoundingBox
    score: Score = 1.0
    label: Label
    track_id: int | None = None
    polyline: tuple[Point, ...] | None = None
    velocity: tuple[float, float] | None = None
    keypoints: dict[Label, _Keypoint] | None = None
    mask: Mask | None = None
    plugin: str | None = None
    meta: Meta = Field(default_factory=FrozenMeta)

    @field_validator("mask")
    @classmethod
    def _mask_values(cls, mask: np.ndarray | None) -> np.ndarray | None:
        if mask is None:
            return None
        if mask.dtype.kind not in "buf" or mask.size == 0:
            raise ValueError(f"a mask is a non-empty bool, unsigned or float array, got {mask.dtype} of shape {mask.shape}")
        if mask.dtype.kind == "f":
            low, high = float(mask.min()), float(mask.max())
            if not (0.0 <= low and high <= 1.0):  # also refuses NaN (comparisons with NaN are False)
                raise ValueError(f"a float mask holds scores in [0, 1], got values from {low:g} to {high:g}")
        return _read_only(mask)


class LabelScore(_Message):
    label: Label
    score: Score


class Recognition(_Message):
    """What a detection is, by a recognizer: ``detection`` is its index in the frame's detections
    list; ``top_k`` holds the runners-up, best first. ``plugin`` is filled in by the engine."""

    detection: Annotated[int, Field(ge=0)]
    label: Label
    score: Score
    top_k: tuple[LabelScore, ...] = ()
    plugin: str | None = None


class SceneObject(_Message):
    """A detection joined with its best recognition, as the interpret stage sees it.

    ``id`` is the track id when the object is tracked, otherwise its detection index; ``label`` is
    the recognized label when there is one, else the detector's (kept in ``detected_as``)."""

    id: int
    label: Label
    score: Score
    box: BoundingBox
    detected_as: Label
    detection: Annotated[int, Field(ge=0)]
    track_id: int | None = None
    velocity: tuple[float, float] | None = None
    polyline: tuple[Point, ...] | None = None
    attributes: Meta = Field(default_factory=FrozenMeta)

    @classmethod
    def from_detection(cls, index: int, detection: Detection, recognition: Recognition | None = None) -> SceneObject:
        return cls(
            id=detection.track_id if detection.track_id is not None else index,
            label=recognition.label if recognition is not None else detection.label,
            score=recognition.score if recognition is not None else detection.score,
            box=detection.box,
            detected_as=detection.label,
            detection=index,
            track_id=detection.track_id,
            velocity=detection.velocity,
            polyline=detection.polyline,
        )


class Relation(_Message):
    """``subject`` *predicate* ``object`` between two scene objects (by ``SceneObject.id``),
    e.g. ``Relation(subject=3, predicate="left_of", object=1, confidence=0.9)``."""

    subject: int
    predicate: Label
    object: int
    confidence: Score = 1.0


class Event(_Message):
    """Something that happened at this frame: ``entered_zone``, ``crossed_line``, ``appeared``…"""

    name: Label
    objects: tuple[int, ...] = ()
    data: Meta = Field(default_factory=FrozenMeta)


class Scene(_Message):
    """The interpret stage's view of a frame: the objects, how they relate, what happened, the
    named ``situations`` a rule recognised, short English ``facts`` for people, and ``features``,
    a numeric vector for policies that learn."""

    objects: tuple[SceneObject, ...] = ()
    relations: tuple[Relation, ...] = ()
    events: tuple[Event, ...] = ()
    situations: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()
    features: Vector | None = None

    _read_only = field_validator("features")(_read_only)

    @classmethod
    def merge(cls, scenes: list[Scene], objects: tuple[SceneObject, ...] = ()) -> Scene:
        """Several interpreters' partial scenes as one: objects by id (a later interpreter's version
        of an object wins), relations, events, situations and facts concatenated without repeats,
        feature vectors concatenated in interpreter order."""
        if len(scenes) == 1:
            only = scenes[0]
            if not objects or objects == only.objects:
                return only
            if not only.objects:  # the common case: one interpreter that left objects to us
                return only.model_copy(update={"objects": tuple(objects)})
        elif not scenes:
            return cls(objects=tuple(objects))
        by_id: dict[int, SceneObject] = {o.id: o for o in objects}
        relations: dict[tuple[int, str, int], Relation] = {}
        events: list[Event] = []
        situations: dict[str, None] = {}
        facts: dict[str, None] = {}
        features: list[np.ndarray] = []
        for scene in scenes:
            for obj in scene.objects:
                by_id[obj.id] = obj
            for rel in scene.relations:
                relations[(rel.subject, rel.predicate, rel.object)] = rel
            events.extend(e for e in scene.events if e not in events)
            situations.update(dict.fromkeys(scene.situations))
            facts.update(dict.fromkeys(scene.facts))
            if scene.features is not None:
                features.append(np.asarray(scene.features, dtype=np.float64).ravel())
        return cls(
            objects=tuple(by_id.values()),
            relations=tuple(relations.values()),
            events=tuple(events),
            situations=tuple(situations),
            facts=tuple(facts),
            features=np.concatenate(features) if features else None,
        )


def _plain_action(value: Any) -> Any:
    """An action as plain Python: numpy scalars and arrays (what a network or
    ``env.action_space.sample()`` gives) become ``int``/``float``/tuples, so the ``Action`` union
    picks int for discrete and a tuple for continuous actions."""
    if isinstance(value, (np.generic, np.ndarray)):
        value = value.tolist()
    if isinstance(value, list):
        value = tuple(value)
    return value


class Decision(_Message):
    """What to do now: ``action`` (an env action or a named one), ``rationale`` in words naming the
    facts it used, optional ``confidence``; ``plugin`` is filled in by the engine."""

    action: Action
    rationale: str = ""
    confidence: Score | None = None
    plugin: str | None = None
    info: Meta = Field(default_factory=FrozenMeta)

    _plain_action = field_validator("action", mode="before")(_plain_action)


class Transition(_Message):
    """One step of a closed loop: the observation the decision saw, the action taken, what came
    back. ``terminated`` means the MDP ended (no bootstrapping); ``truncated`` means it was cut
    (time limit), so a learner must still bootstrap from ``next_observation``."""

    observation: Vector
    action: Action
    reward: float
    next_observation: Vector
    terminated: bool
    truncated: bool
    episode: Annotated[int, Field(ge=0)] = 0
    step: Annotated[int, Field(ge=0)] = 0
    env_index: Annotated[int, Field(ge=0)] = 0
    info: Meta = Field(default_factory=FrozenMeta)

    _plain_action = field_validator("action", mode="before")(_plain_action)
    _read_only = field_validator("observation", "next_observation")(_read_only)


class PluginFault(_Message):
    """A plugin error that the stage's ``continue`` policy let the frame survive."""

    stage: str
    plugin: str
    error: str
    message: str


class FrameRecord(_Message):
    """Everything the engine knows about one frame once it has passed every stage: the record a
    sink receives and the JSON Lines sink writes (without pixels)."""

    frame: Frame
    detections: tuple[Detection, ...] = ()
    recognitions: tuple[Recognition, ...] = ()
    scene: Scene | None = None
    decision: Decision | None = None
    transition: Transition | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)
    faults: tuple[PluginFault, ...] = ()

    def objects(self) -> tuple[SceneObject, ...]:
        """The scene objects: the scene's when interpretation ran, else built from the detections
        and their best recognitions."""
        if self.scene is not None and self.scene.objects:
            return self.scene.objects
        return build_objects(self.detections, self.recognitions)


def build_objects(detections: tuple[Detection, ...] | list[Detection], recognitions: tuple[Recognition, ...] | list[Recognition]) -> tuple[SceneObject, ...]:
    """Join detections with their best-scoring recognition (by detection index)."""
    best: dict[int, Recognition] = {}
    for rec in recognitions:
        held = best.get(rec.detection)
        if held is None or rec.score > held.score:
            best[rec.detection] = rec
    return tuple(SceneObject.from_detection(i, d, best.get(i)) for i, d in enumerate(detections))

