"""drid's message types: the contract between stages (see each class for its fields)."""

from drid.schemas._array import Array, decode_array, encode_array
from drid.schemas.geometry import BoundingBox, Point, boxes_to_array, iou_matrix
from drid.schemas.messages import (
    Action,
    Decision,
    Detection,
    Event,
    Frame,
    FrameRecord,
    Image,
    LabelScore,
    Mask,
    PluginFault,
    Recognition,
    Relation,
    Scene,
    SceneObject,
    Transition,
    Vector,
    build_objects,
)

#: Every message type, by name, in pipeline order: what ``drid schema`` prints.
MESSAGES = {
    cls.__name__: cls
    for cls in (
        Frame,
        BoundingBox,
        Detection,
        LabelScore,
        Recognition,
        SceneObject,
        Relation,
        Event,
        Scene,
        Decision,
        Transition,
        PluginFault,
        FrameRecord,
    )
}

__all__ = [
    "MESSAGES",
    "Action",
    "Array",
    "BoundingBox",
    "Decision",
    "Detection",
    "Event",
    "Frame",
    "FrameRecord",
    "Image",
    "LabelScore",
    "Mask",
    "PluginFault",
    "Point",
    "Recognition",
    "Relation",
    "Scene",
    "SceneObject",
    "Transition",
    "Vector",
    "boxes_to_array",
    "build_objects",
    "decode_array",
    "encode_array",
    "iou_matrix",
]
