"""The model-bundle format, in one place: what ``drid train classifier`` writes, what the
``keras-classifier`` plugin reads and what the model-making scripts copy.

A *model bundle* is a ``.keras`` file with its label list beside it, one label per line, in the
order of the model's outputs (``digits.keras`` + ``digits.labels.txt``; a plain ``labels.txt`` in
the same folder also counts). An optional ``NAME.json`` beside it (written by ``drid train
classifier``) records how the training crops were made, so the plugin crops the same way unless
told otherwise, and ``NAME.card.md`` is its model card. Models that drid writes take RGB (or grey)
pixels in 0..255 and carry their own scaling as layers, so a bundle needs no Python code to be
used: it is loaded in Keras' safe mode, which refuses ``Lambda`` layers and other arbitrary code.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

from drid.errors import DridError

__all__ = [
    "BUNDLED_MODELS",
    "BUNDLED_PREFIX",
    "BUNDLE_SUFFIXES",
    "bundled_model_names",
    "check_keras_archive",
    "copy_bundle",
    "deflate",
    "labels_path_for",
    "load_keras_file",
    "read_labels",
    "read_metadata",
    "resolve_model_path",
]

#: Where the models that ship with drid live (``model: digits`` means ``drid/recognize/models/digits.keras``).
BUNDLED_MODELS = Path(__file__).resolve().parent / "models"

#: The files of a model bundle, written together by ``train_classifier`` and read by ``keras-classifier``.
BUNDLE_SUFFIXES = (".keras", ".labels.txt", ".json", ".card.md")


#: Prefix that names a bundled model explicitly: ``bundled:digits``.
BUNDLED_PREFIX = "bundled:"


def bundled_model_names() -> list[str]:
    """The names of the models that ship with drid (``digits``, ``street``, …)."""
    return sorted(p.stem for p in BUNDLED_MODELS.glob("*.keras"))


def resolve_model_path(model: str) -> Path:
    """A model file path, or the name of a bundled model (``digits`` or ``bundled:digits`` →
    ``drid/recognize/models/digits.keras``).

    A bare name (no folder, no suffix) that a bundled model has is that model, whatever the
    working directory holds: a ``digits/`` folder beside the user does not shadow it. Spell a
    local file with its suffix (``digits.keras``) or a folder (``./digits``) to use it instead."""
    name = model[len(BUNDLED_PREFIX):] if model.startswith(BUNDLED_PREFIX) else None
    if name is not None and (not name or any(ch in name for ch in "/\\.")):
        raise ValueError(f"'{model}': a bundled model is named by a bare word (bundled: {', '.join(bundled_model_names()) or 'none'})")
    bare = name is not None or (Path(model).suffix == "" and "/" not in model and "\\" not in model and not model.startswith("~"))
    if bare:
        bundled = BUNDLED_MODELS / f"{name if name is not None else model}.keras"
        if bundled.is_file():
            return bundled
        if name is not None or not Path(model).is_file():
            raise ValueError(f"no model file '{model}' and no bundled model of that name (bundled: {', '.join(bundled_model_names()) or 'none'})")
    path = Path(model).expanduser()
    if not path.is_file():
        raise ValueError(f"model file not found: '{path}'")
    if path.suffix != ".keras":
        raise ValueError(f"model file '{path}' is not a .keras file (save it with model.save('name.keras'))")
    return path


def labels_path_for(model_path: Path) -> Path | None:
    """The label file of a model: ``NAME.labels.txt`` beside it, else ``labels.txt`` in its folder."""
    for candidate in (model_path.with_suffix(".labels.txt"), model_path.parent / "labels.txt"):
        if candidate.is_file():
            return candidate
    return None


def missing_labels_message(model_path: Path) -> str:
    """What to say when a model has no label file beside it."""
    return (
        f"no label file for '{model_path}': expected '{model_path.with_suffix('.labels.txt').name}' "
        "or 'labels.txt' beside it (one label per line, in output order), or pass labels: PATH"
    )


def read_labels(path: Path) -> list[str]:
    """One label per line; blank lines and ``#`` comments ignored. Refuses duplicates."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DridError(f"cannot read label file '{path}': {exc.strerror or exc}") from None
    labels = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not labels:
        raise DridError(f"label file '{path}' has no labels")
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise DridError(f"label file '{path}' repeats {', '.join(dupes)}")
    return labels


def read_metadata(model_path: Path) -> dict[str, Any]:
    """The ``NAME.json`` written by ``drid train classifier`` (empty when there is none)."""
    meta = model_path.with_suffix(".json")
    if not meta.is_file():
        return {}
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DridError(f"cannot read model metadata '{meta}': {exc}") from None
    return data if isinstance(data, dict) else {}


def check_keras_archive(path: Path) -> None:
    """``DridError`` when ``path`` is not even a zip archive (checked before Keras loads: seconds)."""
    if not zipfile.is_zipfile(path):
        raise DridError(f"'{path}' is not a valid .keras model file (not a zip archive; corrupt or truncated?)")


def load_keras_file(path: Path) -> Any:
    """``keras.saving.load_model`` in safe mode, with drid's one-line errors."""
    check_keras_archive(path)
    import keras

    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        text = str(exc)
        if "Lambda" in text or "safe_mode" in text or "unsafe" in text.lower():
            raise DridError(
                f"refused '{path}': it contains a Lambda layer or other Python code, "
                "which drid does not run from model files (safe mode); rebuild the model from standard "
                "layers (scaling as a Rescaling layer), or load it yourself if you trust its author"
            ) from None
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        raise DridError(f"cannot load '{path}': {type(exc).__name__}: {first[:300]}") from None


def deflate(path: Path) -> None:
    """Re-pack a .keras archive with compression (Keras stores it uncompressed; the HDF5 weights
    shrink to about a quarter). Keras reads either."""
    tmp = path.with_suffix(".keras.tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    tmp.replace(path)


def copy_bundle(model_path: Path, target: Path, name: str) -> Path:
    """Copy the bundle of ``model_path`` (every ``BUNDLE_SUFFIXES`` file) into ``target`` as
    ``NAME.*``; returns the copied ``.keras`` file."""
    target.mkdir(parents=True, exist_ok=True)
    for suffix in BUNDLE_SUFFIXES:
        shutil.copy2(model_path.with_suffix(suffix), target / f"{name}{suffix}")
    return target / f"{name}.keras"
