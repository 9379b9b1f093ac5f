"""The three clustering pairings."""

from __future__ import annotations

import pytest

from acav.subset_selection.pairings import Clustering, make_pairs, sort_clusterings
from acav.subset_selection.synthetic import make_clusterings


def test_combination_bipartite_diagonal_sets():
    cl = make_clusterings(5)  # video layer_0..4 then audio layer_0..4
    combination = make_pairs(cl, "combination")
    assert len(combination) == 45 and len(set(combination)) == 45
    assert all(i < j for i, j in combination)
    bipartite = make_pairs(cl, "bipartite")
    assert len(bipartite) == 25
    assert all({cl[i].modality, cl[j].modality} == {"video", "audio"} for i, j in bipartite)
    diagonal = make_pairs(cl, "diagonal")
    assert [(cl[i].layer, cl[j].layer) for i, j in diagonal] == [
        (f"layer_{d}", f"layer_{d}") for d in range(5)
    ]
    assert all(cl[i].modality != cl[j].modality for i, j in diagonal)


def test_diagonal_pairs_by_depth_not_name_and_natural_layer_order():
    cl = sort_clusterings(
        [
            Clustering("video", "v", "layer_10"),
            Clustering("video", "v", "layer_2"),
            Clustering("audio", "a", "conv1"),
            Clustering("audio", "a", "conv2"),
        ]
    )
    assert [c.layer for c in cl] == ["conv1", "conv2", "layer_2", "layer_10"]
    names = {(cl[i].layer, cl[j].layer) for i, j in make_pairs(cl, "diagonal")}
    assert names == {("conv1", "layer_2"), ("conv2", "layer_10")}


def test_pairing_errors():
    video_only = [Clustering("video", "v", f"layer_{i}") for i in range(3)]
    with pytest.raises(ValueError, match="bipartite"):
        make_pairs(video_only, "bipartite")
    with pytest.raises(ValueError, match="unknown pairing"):
        make_pairs(video_only, "random")
    assert make_pairs(video_only, "combination") == [(0, 1), (0, 2), (1, 2)]
