"""Which pairs of clusterings the objective averages over (the paper's three pairings)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

PAIRINGS = ("combination", "bipartite", "diagonal")


@dataclass(frozen=True, order=True)
class Clustering:
    """One clustering: a (model, layer) of one modality, e.g. ``("video", "layer_slow_fast", "layer_2")``."""

    modality: str
    model_key: str
    layer: str

    @property
    def name(self) -> str:
        return f"{self.modality}/{self.model_key}/{self.layer}"


def _natural(text: str) -> tuple:
    # "layer_10" after "layer_2": compare digit runs as numbers.
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def sort_clusterings(clusterings: list[Clustering]) -> list[Clustering]:
    """Canonical order: by model key, then layer in natural order (the original sorted (model, layer))."""
    return sorted(clusterings, key=lambda c: (c.model_key, _natural(c.layer), c.modality))


def make_pairs(clusterings: list[Clustering], pairing: str) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, into ``clusterings`` for ``pairing``.

    - ``combination``: every pair of clusterings (``D (D - 1) / 2``; 45 for 10 clusterings).
    - ``bipartite``: every video clustering with every audio clustering (25 for 5 + 5).
    - ``diagonal``: video and audio clusterings at the same depth, i.e. the i-th layer of each video
      model with the i-th layer of each audio model (5 for 5 + 5).
    """
    pairing = pairing.lower()
    if pairing not in PAIRINGS:
        raise ValueError(f"unknown pairing {pairing!r}; choose one of {', '.join(PAIRINGS)}")
    if pairing == "combination":
        pairs = list(itertools.combinations(range(len(clusterings)), 2))
    else:
        video = [i for i, c in enumerate(clusterings) if c.modality == "video"]
        audio = [i for i, c in enumerate(clusterings) if c.modality == "audio"]
        if pairing == "bipartite":
            pairs = [tuple(sorted(p)) for p in itertools.product(video, audio)]
        else:
            depth = _depths(clusterings)
            pairs = [tuple(sorted((v, a))) for v in video for a in audio if depth[v] == depth[a]]
    if not pairs:
        names = ", ".join(c.name for c in clusterings) or "none"
        raise ValueError(
            f"pairing '{pairing}' gives no clustering pairs for the clusterings found ({names}); "
            "bipartite and diagonal need both video and audio assignments"
        )
    return sorted(pairs)  # type: ignore[arg-type]


def _depths(clusterings: list[Clustering]) -> list[int]:
    """Position of each clustering's layer among its own model's layers (natural order)."""
    layers: dict[tuple[str, str], list[str]] = {}
    for c in clusterings:
        layers.setdefault((c.modality, c.model_key), []).append(c.layer)
    for key in layers:
        layers[key] = sorted(set(layers[key]), key=_natural)
    return [layers[(c.modality, c.model_key)].index(c.layer) for c in clusterings]
