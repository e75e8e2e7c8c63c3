"""PNG figures: confusion matrices (classification) and alignment heat maps (attention).

matplotlib runs on the Agg backend: no display is needed, and figures are
written to a temporary name and renamed.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from s2s.io import atomic_path  # noqa: E402


def _as_2d(matrix) -> np.ndarray:
    """A float numpy matrix from numpy or torch input (detached, on the CPU)."""
    if hasattr(matrix, "detach"):
        matrix = matrix.detach().float().cpu().numpy()
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"expected a 2-D matrix, got shape {m.shape}")
    return m


def _save(fig, path) -> None:
    with atomic_path(Path(path)) as tmp:
        # The temporary name has no .png suffix, so the format is given explicitly.
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def plot_confusion(confusion, labels: list[str], path, normalize: bool = True, title: str | None = None) -> None:
    """Confusion-matrix heat map (rows: reference, columns: prediction) written to ``path`` as PNG.

    With ``normalize`` the colours are row-normalised (recall per class) and
    the cells still print the raw counts, which keeps rare classes visible.
    """
    m = _as_2d(confusion)
    rows = m.sum(axis=1, keepdims=True)
    shade = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0) if normalize else m
    n = len(labels)
    size = min(4 + 0.45 * n, 30)
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(shade, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if n <= 100:  # names stay legible; ImageNet's 1000 classes get a plain heat map
        ax.set_xticks(range(n), labels, rotation=90)
        ax.set_yticks(range(n), labels)
    ax.set_xlabel("hypothesis")
    ax.set_ylabel("reference")
    if n <= 40:  # numbers in cells only while they stay legible
        for i in range(n):
            for j in range(n):
                if m[i, j]:
                    ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=8,
                            color="white" if shade[i, j] > 0.5 * (shade.max() or 1) else "black")
    ax.set_title(title or "confusion matrix" + (" (row-normalised)" if normalize else ""))
    _save(fig, path)


def plot_alignment(matrix, path, title: str | None = None, xlabel: str = "decoder step",
                   ylabel: str = "encoder step") -> None:
    """Heat map of a 2-D matrix (numpy or torch) written to ``path`` as PNG.

    Row 0 is drawn at the bottom, as attention plots usually are: pass a
    Tacotron attention of shape (decoder steps, encoder steps) transposed,
    i.e. (encoder steps, decoder steps), to get encoder steps on the y axis.
    """
    m = _as_2d(matrix)
    fig, ax = plt.subplots(figsize=(8, 5))
    im = ax.imshow(m, aspect="auto", origin="lower", interpolation="none", cmap="viridis")
    fig.colorbar(im, ax=ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    _save(fig, path)
