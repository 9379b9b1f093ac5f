"""The report's figures, drawn with matplotlib (Agg, no display) and embedded as PNG data URIs."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

DPI = 80


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_uri(fig: Any) -> str:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def funnel_chart(labels: Sequence[str], counts: Sequence[int | None], units: Sequence[str]) -> str:
    """Horizontal bars, first stage on top; missing stages are left empty."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(labels) + 0.8))
    values = [c or 0 for c in counts]
    colours = ["#4c72b0" if u != "clips" else "#55a868" for u in units]
    y = np.arange(len(labels))[::-1]
    ax.barh(y, values, color=colours)
    ax.set_yticks(y, [f"{label} ({unit})" for label, unit in zip(labels, units, strict=True)])
    for yi, count in zip(y, counts, strict=True):
        ax.text(max(values or [0]) * 0.01, yi, "missing" if count is None else f"{count:,}", va="center")
    ax.set_xlabel("count")
    ax.set_title("funnel: videos (blue) and clips (green)")
    return figure_uri(fig)


def timelines(rows: Sequence[dict[str, Any]]) -> str:
    """One row per video: shots as alternating grey spans, clips as bars (selected ones green)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(rows) + 1.0))
    for i, row in enumerate(rows):
        y = len(rows) - 1 - i
        bounds = [0.0, *row["cuts"], row["duration"]]
        for j, (start, end) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            ax.broken_barh([(start, end - start)], (y - 0.4, 0.8), color="#d0d0d0" if j % 2 else "#e8e8e8")
        for clip in row["clips"]:
            colour = "#55a868" if clip["selected"] else "#4c72b0"
            ax.broken_barh([(clip["start"], clip["end"] - clip["start"])], (y - 0.25, 0.5), color=colour)
    ax.set_yticks(range(len(rows))[::-1], [row["id"] for row in rows], fontsize=8)
    ax.set_xlabel("seconds (grey: shots; bars: clips, green = selected)")
    ax.set_title("shots and clip placement")
    return figure_uri(fig)


def selection_curve(curves: Sequence[dict[str, Any]]) -> str:
    """Objective vs subset size: the selection's prefixes and random subsets of the same sizes."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for curve in curves:
        (line,) = ax.plot(curve["sizes"], curve["selected"], marker="o", label=f"{curve['name']}: selected")
        ax.plot(
            curve["sizes"],
            curve["random"],
            linestyle="--",
            color=line.get_color(),
            label=f"{curve['name']}: random subsets",
        )
    ax.set_xlabel("subset size (clips)")
    ax.set_ylabel("objective: mean MI over clustering pairs (nats)")
    ax.legend(fontsize=7)
    ax.set_title("selection curve")
    return figure_uri(fig)


def cooccurrence(table: np.ndarray, title: str, xlabel: str, ylabel: str) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(3.6, 3.2))
    image = ax.imshow(table, cmap="viridis", aspect="auto", interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_xlabel(xlabel, fontsize=7)
    ax.set_ylabel(ylabel, fontsize=7)
    ax.set_title(title, fontsize=8)
    return figure_uri(fig)
