"""The report of a training run: the confusion matrix and learning curves as images, and the
model card (provenance, split, metrics, how to reproduce) written beside the bundle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["model_card", "plot_confusion", "plot_curves"]


def plot_confusion(matrix: np.ndarray, classes: list[str], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(classes)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 + 0.6 * n), max(4.2, 1.4 + 0.55 * n)), dpi=110)
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), classes, rotation=45, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    top = matrix.max() if matrix.size else 0
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=8, color="white" if matrix[i, j] > top / 2 else "black")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_curves(
    history: dict[str, list[float]],
    path: Path,
    best_epoch: int,
    title: str = "learning curves",
    *,
    metrics: tuple[tuple[str, str, str], ...] = (("accuracy", "-", "accuracy"), ("val_accuracy", "--", "val accuracy")),
    metric_name: str = "accuracy",
    log_loss: bool = False,
    x_label: str = "epoch",
) -> None:
    """Learning curves beside each other: the loss (training and validation) and a metric per
    epoch (``metrics``: history key, line style, legend), the kept epoch marked. Used by the
    classifier's and the detector's training."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=110)
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    kept = "kept" if x_label == "epoch" else "kept (moving average)"
    for key, style in (("loss", "-"), ("val_loss", "--")):
        if key in history:
            a1.plot(epochs, history[key], style, label=key.replace("_", " "))
    for key, style, label in metrics:
        if key in history:
            a2.plot(epochs, history[key], style, label=label)
    for ax, name in ((a1, "loss"), (a2, metric_name)):
        ax.axvline(best_epoch, color="grey", lw=0.8, ls=":", label=f"{kept} ({x_label.split(' ')[0]} {best_epoch})")
        ax.set_xlabel(x_label)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if log_loss:
        a1.set_yscale("log")
    a2.set_ylim(0, 1.02)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _training_section(meta: dict[str, Any]) -> tuple[str, str]:
    """The card's "Training" section and the sentence on epochs, for how the model learnt."""
    t = meta.get("training") or {}
    method = t.get("method", "supervised")
    if "steps" not in t:
        return (f"\n## Training\n\n- Method: {method} (labelled images only: {t['labelled']} for training)\n" if t else "",
                f"epochs run {meta['epochs_run']}, weights kept from epoch {meta['best_epoch']} (early stopping on validation loss)")
    s = t["steps"]
    lines = [f"- Method: **{method}**" + (" + AC-GAN samples" if "acgan" in t else ""),
             f"- Labelled training images: {t['labelled']}; unlabelled images: {t['unlabelled']}"
             + (f" (`{t['unlabelled_folder']}`)" if t.get("unlabelled_folder") else "")]
    if method == "fixmatch":
        lines.append(f"- FixMatch: {s['steps']} steps ({s['supervised_steps']} supervised first), labelled batch {s['batch_size']}, "
                     f"{s['unlabelled_ratio']}× as many unlabelled, confidence threshold {s['threshold']}, unlabelled loss weight "
                     f"{s['unlabelled_weight']}, AdamW {s['learning_rate']} (cosine decay, weight decay {s['weight_decay']}), "
                     f"weights averaged (EMA {s['ema']})")
    else:
        lines.append(f"- {s['steps']} steps, labelled batch {s['batch_size']}, AdamW {s['learning_rate']} (cosine decay), weights averaged (EMA {s['ema']})")
    start = t.get("supervised_start")
    if start:
        lines.append(f"- Supervised start (after {start['steps']} steps, before the unlabelled loss): validation accuracy "
                     f"{start['validation_accuracy']:.4f}; final: {meta['validation_accuracy']:.4f}")
    g = t.get("acgan")
    if g:
        kept = ", ".join(f"{k}: {v}" for k, v in g["kept_per_class"].items())
        lines.append(f"- AC-GAN (arXiv 1610.09585): {g['steps']} steps on {g['trained_on']['labelled']} labelled + "
                     f"{g['trained_on']['unlabelled']} unlabelled images; samples kept when its class head gives their class "
                     f"≥ {g['keep']} ({g['pass_rate']:.1%} passed); kept per class: {kept}; they fill "
                     f"{s['synthetic_share']:.0%} of every labelled batch. Samples: `{g['samples_png']}`")
    return "\n## Training\n\n" + "\n".join(lines) + "\n", f"{meta['epochs_run']} evaluations; the moving-average weights at the end are kept (no early stopping)"


def model_card(meta: dict[str, Any], model_path: Path, split_name: str) -> str:
    rows = "\n".join(f"| {c} | {v['precision']:.3f} | {v['recall']:.3f} | {v['support']} |" for c, v in meta["per_class"].items())
    labels = meta["labels"]
    cm_lines = "\n".join(f"    {labels[i]:>12} " + " ".join(f"{n:5d}" for n in row) for i, row in enumerate(meta["confusion"]))
    head = "    " + " " * 13 + " ".join(f"{lab[:5]:>5}" for lab in labels)
    counts = ", ".join(f"{k}: {v}" for k, v in meta["data"]["counts"].items())
    harvest = meta["data"].get("harvest") or {}
    harvest_text = ("\n- Harvest record: `" + json.dumps(harvest, sort_keys=True)[:600] + "`") if harvest else ""
    size_kb = model_path.stat().st_size / 1024
    training, epochs = _training_section(meta)
    return f"""# Model card: {meta['name']}

- Created: {meta['created']} (UTC)
- File: `{model_path.name}` ({size_kb:.0f} KB), labels `{model_path.with_suffix('.labels.txt').name}`, loads with `keras-classifier` (`model: path/to/{model_path.name}`)
- Architecture: {meta['architecture']}, {meta['parameters']:,} parameters; input {meta['input']['width']}×{meta['input']['height']}×{meta['input']['channels']} ({meta['input']['pixels']}; scaling is inside the model)
- Crops: padding {meta['crops']['padding']} per side, aspect '{meta['crops']['aspect']}' (the plugin uses these unless told otherwise)

## Data

- Folder: `{meta['data']['folder']}`, classes: {counts}
- Provenance: {meta['data']['provenance'] or 'not stated (pass --provenance)'}{harvest_text}
- Split (seed {meta['seed']}, per class, by {meta['split_by']}): train {meta['split']['train']}, validation {meta['split']['validation']}, test {meta['split']['test']}
{training}
## Results

- **{split_name.capitalize()} accuracy: {meta['test_accuracy']:.4f}** (n={sum(v['support'] for v in meta['per_class'].values())}), measured on the saved file as the plugin loads it
- Validation accuracy: {meta['validation_accuracy']:.4f}; {epochs}

| class | precision | recall | support |
|---|---|---|---|
{rows}

Confusion matrix ({split_name}; rows true, columns predicted):

{head}
{cm_lines}

## Reproduce

    {meta['command'] or '(trained through the Python API)'}
"""
