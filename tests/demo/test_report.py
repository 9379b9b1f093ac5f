"""``acav demo report`` on a hand-made selection, clip shards, ground truth and stage-1 outputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from acav.cli import main
from acav.demo.generator import DemoError
from acav.demo.report import build_report, format_report, hypergeometric_tail

# Five videos: three matching (M...), two not (N...). Ids are 11 characters.
VIDEOS = {
    "Maaaaaaaaa1": (0, 0, True),
    "Mbbbbbbbbb2": (1, 1, True),
    "Mccccccccc3": (2, 2, True),
    "Nddddddddd4": (0, 2, False),
    "Neeeeeeeee5": (1, 0, False),
}


def _clip(youtube_id: str, start: int, padded: bool = False) -> dict:
    # Stage 3 names clips {id}_{start:03d}.mp4 (as the original); older runs wrote {id}_{start}.mp4.
    name = f"{youtube_id}_{start:03d}.mp4" if padded else f"{youtube_id}_{start}.mp4"
    return {"filename": name, "id": youtube_id, "segment": [start + 0.5, start + 10.5]}


def _write_demo(root: Path) -> None:
    videos = {
        vid: {"visual_class": v, "audio_class": a, "matching": m, "duration": 60.0, "cuts": []}
        for vid, (v, a, m) in VIDEOS.items()
    }
    metadata = [
        {"line": 1, "id": "Maaaaaaaaa1", "intended": "kept"},
        {"line": 2, "id": "Xxxxxxxxxx1", "intended": "duration_short", "note": "29 s"},
        {"line": 3, "id": "Mbbbbbbbbb2", "intended": "kept"},
        {"line": 4, "id": "", "intended": "malformed"},
        {"line": 5, "id": "Xxxxxxxxxx2", "intended": "tutorial"},
    ]
    (root / "ground_truth.json").write_text(
        json.dumps({"videos": videos, "metadata": metadata, "summary": {}})
    )
    (root / "videos").mkdir()
    # 10 candidate clips: 6 from matching videos, 4 from the others.
    shard0 = [
        _clip("Maaaaaaaaa1", 0),
        _clip("Maaaaaaaaa1", 20),
        _clip("Mbbbbbbbbb2", 5),
        _clip("Nddddddddd4", 0),
        _clip("Nddddddddd4", 30),
    ]
    shard1 = [  # the current, zero-padded names
        _clip("Mbbbbbbbbb2", 40, padded=True),
        _clip("Mccccccccc3", 0, padded=True),
        _clip("Mccccccccc3", 12, padded=True),
        _clip("Neeeeeeeee5", 3, padded=True),
        _clip("Neeeeeeeee5", 33, padded=True),
    ]
    (root / "videos" / "shard-000000.json").write_text(json.dumps(shard0))
    (root / "videos" / "shard-000001.json").write_text(json.dumps(shard1))
    (root / "videos" / "shard-000001.json.tmp-abc").write_text("[not a shard]")  # ignored
    # Four selected clips: three matching. One row has no metadata (-1): its id comes from the name.
    (root / "output.csv").write_text(
        'shard-000000,Maaaaaaaaa1_0.mp4,Maaaaaaaaa1,"[0.5, 10.5]"\n'
        'shard-000001,Mccccccccc3_012.mp4,-1,"[-1.0, -1.0]"\n'
        'shard-000001,Mbbbbbbbbb2_040.mp4,Mbbbbbbbbb2,"[40.5, 50.5]"\n'
        'shard-000000,Nddddddddd4_30.mp4,Nddddddddd4,"[30.5, 40.5]"\n'
    )


def test_precision_base_rate_lift_and_p_value(tmp_path: Path):
    _write_demo(tmp_path)
    s = build_report(tmp_path)["selection"]
    assert (s["candidate_clips"], s["candidate_matching"], s["candidate_videos"]) == (10, 6, 5)
    assert (s["selected_clips"], s["selected_matching"], s["selected_videos"]) == (4, 3, 4)
    assert s["base_rate"] == pytest.approx(0.6)
    assert s["precision"] == pytest.approx(0.75)
    assert s["lift"] == pytest.approx(1.25)
    # P(X >= 3), X ~ Hypergeometric(10, 6, 4) = (C(6,3) C(4,1) + C(6,4)) / C(10,4) = 95 / 210.
    assert s["p_value_random"] == pytest.approx(95 / 210)
    assert s["by_visual_class"]["0"] == {"candidates": 4, "selected": 2, "selected_matching": 1}
    assert s["by_visual_class"]["2"] == {"candidates": 2, "selected": 1, "selected_matching": 1}
    assert s["not_in_candidates"] == s["unknown_videos"] == s["duplicate_rows"] == 0


def test_duplicates_unknown_and_unparsable_rows_are_counted(tmp_path: Path):
    _write_demo(tmp_path)
    with open(tmp_path / "output.csv", "a") as handle:
        handle.write('shard-000000,Maaaaaaaaa1_0.mp4,Maaaaaaaaa1,"[0.5, 10.5]"\n')  # duplicate
        handle.write('shard-000003,Zzzzzzzzzz9_0.mp4,Zzzzzzzzzz9,"[0.5, 10.5]"\n')  # unknown clip and video
        handle.write("garbage line\n")
    s = build_report(tmp_path)["selection"]
    assert s["duplicate_rows"] == 1 and s["unparsable_rows"] == 1
    assert s["not_in_candidates"] == 1 and s["unknown_videos"] == 1
    assert s["selected_clips"] == 5 and s["precision"] == pytest.approx(0.75)  # unknown video excluded
    assert "warnings" in format_report(build_report(tmp_path))


def test_stage1_outcomes_are_compared_with_the_intended_ones(tmp_path: Path):
    _write_demo(tmp_path)
    assert build_report(tmp_path)["stage1"] is None
    # Stage 1 kept lines 1 and 5 (5 should have been rejected as a tutorial) and rejected 2, 3, 4.
    (tmp_path / "filtered.tsv").write_text("line1\nline5\n")
    (tmp_path / "filtered.rejects.tsv").write_text(
        "2\tXxxxxxxxxx1\tduration: 29.0 s < 30 s\n3\tMbbbbbbbbb2\tlanguage: it\n4\t\tparse: no TAB\n"
    )
    stage1 = build_report(tmp_path)["stage1"]
    assert (stage1["lines"], stage1["kept"], stage1["rejected"], stage1["intended_kept"]) == (5, 2, 3, 2)
    assert stage1["as_intended"] == 3 and stage1["accounted_for"] is True
    assert [(u["line"], u["intended"], u["actual"]) for u in stage1["unexpected"]] == [
        (3, "kept", "language: it"),
        (5, "tutorial", "kept"),
    ]
    assert stage1["by_intended"]["duration_short"] == {
        "lines": 1,
        "kept": 0,
        "rejected": 1,
        "reasons": {"duration: 29.0 s < 30 s": 1},
    }
    text = format_report(build_report(tmp_path))
    assert "3/5 as intended" in text and "line 5" in text


def test_missing_output_says_to_run_the_pipeline(tmp_path: Path, capsys):
    _write_demo(tmp_path)
    (tmp_path / "output.csv").unlink()
    with pytest.raises(DemoError, match=r"run the pipeline first: bash \./run\.sh --demo"):
        build_report(tmp_path)
    assert main(["demo", "report", "--data-dir", str(tmp_path)]) == 1
    assert "run the pipeline first" in capsys.readouterr().err
    assert not (tmp_path / "demo_report.json").exists()


def test_missing_ground_truth_says_to_generate(tmp_path: Path):
    with pytest.raises(DemoError, match="acav demo generate"):
        build_report(tmp_path)


def test_cli_prints_and_writes_the_report(tmp_path: Path, capsys):
    _write_demo(tmp_path)
    assert main(["demo", "report", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "precision:        0.750" in out and "lift 1.25x" in out
    written = json.loads((tmp_path / "demo_report.json").read_text())
    assert written["selection"]["lift"] == pytest.approx(1.25)


def test_hypergeometric_tail_against_direct_sums():
    def direct(population, successes, draws, observed):
        total = math.comb(population, draws)
        return (
            sum(
                math.comb(successes, k) * math.comb(population - successes, draws - k)
                for k in range(observed, min(draws, successes) + 1)
            )
            / total
        )

    for args in [(10, 6, 4, 3), (50, 25, 10, 8), (100, 50, 30, 15), (40, 10, 5, 0), (30, 20, 25, 20)]:
        assert hypergeometric_tail(*args) == pytest.approx(direct(*args), rel=1e-9)
    assert hypergeometric_tail(10, 3, 4, 4) == 0.0


def _cluster_item(shard: str, filename: str, visual: list[int], audio: list[int]) -> dict:
    return {
        "filename": filename,
        "shard_name": shard,
        "shard_size": 10,
        "video_assignments": [
            {
                "model_key": "v",
                "extractor_name": "V",
                "dataset": "none",
                "array": {f"layer_{i}": c for i, c in enumerate(visual)},
            }
        ],
        "audio_assignments": [
            {
                "model_key": "a",
                "extractor_name": "A",
                "dataset": "none",
                "array": {f"layer_{i}": c for i, c in enumerate(audio)},
            }
        ],
    }


def test_objective_diagnostic_from_cluster_shards(tmp_path: Path):
    import pickle

    from acav.demo.report import mutual_information

    _write_demo(tmp_path)
    assert build_report(tmp_path)["objective"] is None  # no cluster shards yet
    # Two visual and one audio clustering: matching clips agree (cluster = class), others do not.
    items = []
    for shard in ("shard-000000", "shard-000001"):
        for clip in json.loads((tmp_path / "videos" / f"{shard}.json").read_text()):
            v, a, _ = VIDEOS[clip["id"]]
            items.append(_cluster_item(shard, clip["filename"], [v, v], [a]))
    (tmp_path / "clusters").mkdir()
    with open(tmp_path / "clusters" / "shard-000000.pkl", "wb") as handle:
        pickle.dump(items, handle)
    objective = build_report(tmp_path)["objective"]
    assert objective["pairs"] == 2 and objective["clips"] == 10
    # Selected: classes (v, a) = (0,0), (2,2), (1,1), (0,2): MI = H(V) + H(A) - H(V, A), all in nats.
    expected = mutual_information(np.array([0, 2, 1, 0]), np.array([0, 2, 1, 2]))
    assert expected == pytest.approx(1.5 * math.log(2) + (1.5 * math.log(2)) - 2 * math.log(2))
    assert objective["selected"] == pytest.approx(expected)
    # All 6 matching clips: visual = audio, classes 0, 0, 1, 1, 2, 2 -> MI = H = log 3.
    assert objective["all_matching_clips"] == pytest.approx(math.log(3))
    assert objective["matching_subsets"] > objective["random_subsets"]
    assert "audio-visual MI" in format_report(build_report(tmp_path))


def test_mutual_information_values():
    from acav.demo.report import mutual_information

    assert mutual_information(np.array([0, 0, 1, 1]), np.array([5, 5, 7, 7])) == pytest.approx(math.log(2))
    assert mutual_information(np.array([0, 1, 0, 1]), np.array([0, 0, 1, 1])) == pytest.approx(0.0)
    assert mutual_information(np.array([], dtype=int), np.array([], dtype=int)) == 0.0
