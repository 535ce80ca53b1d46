"""Numpy arrays as pydantic fields.

``Array(dtype=..., shape=...)`` placed in ``Annotated[np.ndarray, ...]`` gives a field that

* validates an ``np.ndarray`` (no copy), a nested list, or the base64 form below, against the
  declared dtype (cast only when it is safe) and shape (``None`` = any length on that axis);
* serializes to JSON as a nested list for small arrays, as a short description without the data
  for pixel arrays (``pixels=False``: an image in every JSON Lines record would be absurd), or as
  ``{"dtype", "shape", "base64"}`` for any array when the dump is given
  ``context={"arrays": "base64"}``;
* publishes a JSON schema, so ``model_json_schema()`` works on every message.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

__all__ = ["Array", "encode_array", "decode_array"]


def encode_array(array: np.ndarray) -> dict[str, Any]:
    """The lossless JSON form of ``array``: dtype, shape and the C-ordered bytes in base64."""
    data = np.ascontiguousarray(array)
    return {
        "dtype": data.dtype.str,
        "shape": list(data.shape),
        "base64": base64.b64encode(data.tobytes()).decode("ascii"),
    }


def decode_array(payload: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`encode_array`."""
    try:
        raw = base64.b64decode(payload["base64"], validate=True)
        return np.frombuffer(raw, dtype=np.dtype(payload["dtype"])).reshape(payload["shape"]).copy()
    except (KeyError, TypeError, ValueError) as exc:
        raise PydanticCustomError("array_base64", "invalid base64 array: {reason}", {"reason": str(exc)}) from exc


@dataclass(frozen=True)
class Array:
    """Constraints of a numpy field: dtype, shape pattern, and whether it holds pixels."""

    dtype: str | None = None
    shape: tuple[int | None, ...] | None = None
    pixels: bool = False

    def describe(self) -> str:
        dims = "any shape" if self.shape is None else "×".join("N" if d is None else str(d) for d in self.shape)
        return f"{dims} {self.dtype or 'any dtype'} array"

    # -- validation -------------------------------------------------------------------------
    def _check(self, value: Any) -> np.ndarray:
        if isinstance(value, dict) and "base64" in value:
            value = decode_array(value)
        if not isinstance(value, np.ndarray):
            try:
                value = np.asarray(value, dtype=self.dtype)
            except (TypeError, ValueError) as exc:
                raise PydanticCustomError(
                    "array_type", "expected {expected}, got {got}", {"expected": self.describe(), "got": type(value).__name__}
                ) from exc
        if self.dtype is not None and value.dtype != np.dtype(self.dtype):
            if not np.can_cast(value.dtype, self.dtype, casting="same_kind") or (
                np.dtype(self.dtype).kind in "ui" and value.dtype.kind == "f"
            ):
                raise PydanticCustomError(
                    "array_dtype", "expected {expected}, got dtype {got}", {"expected": self.describe(), "got": str(value.dtype)}
                )
            value = value.astype(self.dtype)
        if self.shape is not None:
            if value.ndim != len(self.shape) or any(
                want is not None and want != got for want, got in zip(self.shape, value.shape)
            ):
                raise PydanticCustomError(
                    "array_shape", "expected {expected}, got shape {got}", {"expected": self.describe(), "got": str(value.shape)}
                )
        return value

    # -- serialization ----------------------------------------------------------------------
    def _serialize(self, value: np.ndarray, info: core_schema.SerializationInfo) -> Any:
        if info.mode != "json":
            return value
        context = info.context or {}
        if context.get("arrays") == "base64":
            return encode_array(value)
        if self.pixels:
            return {"dtype": value.dtype.str, "shape": list(value.shape)}
        return value.tolist()

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self._check,
            serialization=core_schema.plain_serializer_function_ser_schema(self._serialize, info_arg=True),
        )

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        described = {
            "type": "object",
            "description": f"{self.describe()} in base64 form (dump context arrays='base64')",
            "properties": {
                "dtype": {"type": "string"},
                "shape": {"type": "array", "items": {"type": "integer"}},
                "base64": {"type": "string", "contentEncoding": "base64"},
            },
            "required": ["dtype", "shape"],
        }
        if self.pixels:
            return described
        return {"anyOf": [{"type": "array", "description": f"{self.describe()} as nested lists"}, described]}
