"""``acav demo report``: how well the pipeline's selection found the clips whose audio matches the picture.

Reads ``output.csv`` (the selection), the clip shards' ``videos/shard-*.json`` (the candidate pool)
and ``ground_truth.json``. Precision is the fraction of selected clips cut from matching videos; the
base rate is that fraction among all candidate clips, i.e. what a random selection of the same size
gets on average; lift = precision / base rate. The p-value is the chance that a random selection
of the same size has at least as many matching clips (hypergeometric tail).
When stage 1's ``filtered.tsv`` / ``filtered.rejects.tsv`` exist, each metadata line's outcome is
compared with the intended one.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from acav.core.atomic import atomic_write_json
from acav.core.ids import YOUTUBE_ID_LENGTH
from acav.core.layout import DataLayout, list_shards
from acav.demo.generator import REPORT_JSON, DemoError
from acav.demo.ground_truth import GroundTruthError, load_ground_truth
from acav.demo.metadata import KEPT


def hypergeometric_tail(population: int, successes: int, draws: int, observed: int) -> float:
    """P(X >= observed) for X ~ Hypergeometric(population, successes, draws), computed in log space."""
    if draws <= 0 or observed <= 0:
        return 1.0

    def log_comb(n: int, k: int) -> float:
        return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)

    denominator = log_comb(population, draws)
    low = max(observed, draws - (population - successes))
    high = min(draws, successes)
    terms = [
        log_comb(successes, k) + log_comb(population - successes, draws - k) - denominator
        for k in range(low, high + 1)
    ]
    if not terms:
        return 0.0
    peak = max(terms)
    return min(1.0, math.exp(peak) * sum(math.exp(t - peak) for t in terms))


def _clip_id(youtube_id: object, filename: str) -> str:
    """The clip's video id: the given one, else the first 11 characters of ``{ID}_{START}.mp4``."""
    if isinstance(youtube_id, str) and youtube_id not in ("", "-1"):
        return youtube_id
    return filename[:YOUTUBE_ID_LENGTH]


def read_candidates(layout: DataLayout) -> dict[tuple[str, str], str]:
    """``{(shard_name, filename): youtube_id}`` for every clip listed in ``videos/shard-*.json``."""
    candidates: dict[tuple[str, str], str] = {}
    for path in list_shards(layout.videos_dir, ".json"):
        shard = path.name[: -len(".json")]
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DemoError(
                f"{path}: cannot read the clip list ({exc}); re-run stage 3 (clip_segmentation)"
            ) from exc
        if not isinstance(entries, list):
            raise DemoError(f"{path}: expected a JSON list of clips; re-run stage 3 (clip_segmentation)")
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("filename"), str):
                candidates[(shard, entry["filename"])] = _clip_id(entry.get("id"), entry["filename"])
    return candidates


def read_selection(path: Path) -> tuple[list[tuple[str, str, str]], int]:
    """``([(shard_name, filename, youtube_id), ...], unparsable_row_count)`` from output.csv."""
    selected: list[tuple[str, str, str]] = []
    bad = 0
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle):
            if not row:
                continue
            if len(row) != 4 or not row[1]:
                bad += 1
                continue
            selected.append((row[0], row[1], _clip_id(row[2], row[1])))
    return selected, bad


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def selection_report(layout: DataLayout, truth: dict[str, Any]) -> dict[str, Any]:
    if not layout.output_csv.is_file():
        raise DemoError(f"{layout.output_csv} not found: run the pipeline first: bash ./run.sh --demo")
    videos = truth["videos"]
    candidates = read_candidates(layout)
    if not candidates:
        raise DemoError(
            f"no clip shards (shard-*.json) in {layout.videos_dir}: run the pipeline first: "
            "bash ./run.sh --demo"
        )
    selected, bad_rows = read_selection(layout.output_csv)
    unique = list(dict.fromkeys(selected))

    def matching(youtube_id: str) -> bool | None:
        video = videos.get(youtube_id)
        return None if video is None else bool(video["matching"])

    pool_known = [vid for vid in candidates.values() if matching(vid) is not None]
    pool_matching = sum(1 for vid in pool_known if matching(vid))
    chosen_known = [vid for _, _, vid in unique if matching(vid) is not None]
    chosen_matching = sum(1 for vid in chosen_known if matching(vid))
    base_rate = _ratio(pool_matching, len(pool_known))
    precision = _ratio(chosen_matching, len(chosen_known))
    by_class: dict[int, dict[str, int]] = {}

    def class_stats(youtube_id: str) -> dict[str, int]:
        empty = {"candidates": 0, "selected": 0, "selected_matching": 0}
        return by_class.setdefault(int(videos[youtube_id]["visual_class"]), empty)

    for vid in pool_known:
        class_stats(vid)["candidates"] += 1
    for vid in chosen_known:
        class_stats(vid)["selected"] += 1
        class_stats(vid)["selected_matching"] += int(bool(matching(vid)))
    return {
        "candidate_clips": len(candidates),
        "candidate_matching": pool_matching,
        "base_rate": base_rate,
        "selected_clips": len(unique),
        "selected_matching": chosen_matching,
        "precision": precision,
        "lift": _ratio(precision, base_rate) if precision is not None and base_rate else None,
        "p_value_random": hypergeometric_tail(
            len(pool_known), pool_matching, len(chosen_known), chosen_matching
        ),
        "selected_videos": len({vid for _, _, vid in unique}),
        "candidate_videos": len(set(candidates.values())),
        "duplicate_rows": len(selected) - len(unique),
        "unparsable_rows": bad_rows,
        "not_in_candidates": sum(1 for shard, name, _ in unique if (shard, name) not in candidates),
        "unknown_videos": len(candidates) - len(pool_known) + len(unique) - len(chosen_known),
        "by_visual_class": {str(k): by_class[k] for k in sorted(by_class)},
    }


def mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """MI in nats between two label vectors (plug-in estimate from the contingency table)."""
    if len(a) == 0:
        return 0.0
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    joint = np.zeros((ia.max() + 1, ib.max() + 1))
    np.add.at(joint, (ia, ib), 1.0)
    joint /= len(a)
    outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
    nonzero = joint > 0
    return float((joint[nonzero] * np.log(joint[nonzero] / outer[nonzero])).sum())


def _assignment_columns(items: list[dict[str, Any]], key: str) -> list[tuple[str, str]]:
    first = items[0].get(key) or []
    return [(entry["model_key"], layer) for entry in first for layer in sorted(entry["array"])]


def _assignments(item: dict[str, Any], key: str, columns: list[tuple[str, str]]) -> list[int]:
    by_model = {entry["model_key"]: entry["array"] for entry in item[key]}
    return [int(by_model[model][layer]) for model, layer in columns]


def objective_report(layout: DataLayout, truth: dict[str, Any], subsets: int = 20) -> dict[str, Any] | None:
    """Mean audio-visual MI (every audio x visual clustering pair, nats) of the selection, of all
    matching clips, and of random subsets of the selection's size (all clips; matching clips only).

    It tells a weak optimiser (selection below same-size matching subsets) from features that do
    not separate the classes (matching subsets no better than random ones). Clips of all cluster
    shards are pooled (the demo has one partition). None when there are no cluster shards.
    """
    from acav.core.safe_pickle import safe_load

    items: list[dict[str, Any]] = []
    for path in list_shards(layout.clusters_dir, ".pkl"):
        items.extend(safe_load(path))
    if not items or not layout.output_csv.is_file():
        return None
    videos = truth["videos"]
    try:
        v_cols = _assignment_columns(items, "video_assignments")
        a_cols = _assignment_columns(items, "audio_assignments")
        visual = np.array([_assignments(it, "video_assignments", v_cols) for it in items])
        audio = np.array([_assignments(it, "audio_assignments", a_cols) for it in items])
    except (KeyError, TypeError, ValueError) as exc:
        raise DemoError(
            f"cluster shards in {layout.clusters_dir} do not have the expected structure ({exc})"
        ) from exc
    keys = [(it.get("shard_name", ""), it["filename"]) for it in items]
    matching = np.array(
        [bool(videos.get(_clip_id(None, name), {}).get("matching", False)) for _, name in keys]
    )
    position = {key: i for i, key in enumerate(keys)}
    selected, _ = read_selection(layout.output_csv)
    chosen = np.array(
        sorted({position[(shard, name)] for shard, name, _ in selected if (shard, name) in position})
    )

    def objective(index: np.ndarray) -> float:
        return float(
            np.mean(
                [
                    mutual_information(visual[index, i], audio[index, j])
                    for i in range(visual.shape[1])
                    for j in range(audio.shape[1])
                ]
            )
        )

    rng = np.random.default_rng(0)
    size = len(chosen)
    matching_index = np.flatnonzero(matching)
    out: dict[str, Any] = {
        "pairs": visual.shape[1] * audio.shape[1],
        "clips": len(items),
        "selected": objective(chosen) if size else None,
        "all_matching_clips": objective(matching_index) if len(matching_index) else None,
        "random_subsets": float(
            np.mean([objective(rng.choice(len(items), size, replace=False)) for _ in range(subsets)])
        )
        if size
        else None,
        "matching_subsets": None,
    }
    if size and len(matching_index) >= size:
        out["matching_subsets"] = float(
            np.mean([objective(rng.choice(matching_index, size, replace=False)) for _ in range(subsets)])
        )
    return out


def _read_reject_lines(path: Path) -> dict[int, str]:
    """``{line_number: reason}`` from ``filtered.rejects.tsv`` (LINE_NUMBER<TAB>ID<TAB>REASON)."""
    rejects: dict[int, str] = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for raw in handle:
            parts = raw.rstrip("\n").split("\t", 2)
            if parts and parts[0].strip().isdigit():
                rejects[int(parts[0])] = parts[2] if len(parts) > 2 else ""
    return rejects


def stage1_report(layout: DataLayout, truth: dict[str, Any]) -> dict[str, Any] | None:
    """Stage 1's outcome per metadata line against the intended one; None when stage 1 has not run."""
    if not layout.filtered_rejects_tsv.is_file() or not layout.filtered_tsv.is_file():
        return None
    rejects = _read_reject_lines(layout.filtered_rejects_tsv)
    with open(layout.filtered_tsv, "rb") as handle:
        kept_count = sum(1 for _ in handle)
    by_intended: dict[str, dict[str, Any]] = {}
    unexpected: list[dict[str, Any]] = []
    for entry in truth.get("metadata", []):
        line, intended = entry["line"], entry["intended"]
        actual = rejects.get(line)
        stats = by_intended.setdefault(intended, {"lines": 0, "kept": 0, "rejected": 0, "reasons": Counter()})
        stats["lines"] += 1
        if actual is None:
            stats["kept"] += 1
        else:
            stats["rejected"] += 1
            stats["reasons"][actual] += 1
        if (actual is None) != (intended == KEPT):
            unexpected.append(
                {
                    "line": line,
                    "id": entry.get("id", ""),
                    "intended": intended,
                    "actual": KEPT if actual is None else actual,
                    "note": entry.get("note", ""),
                }
            )
    lines = len(truth.get("metadata", []))
    for stats in by_intended.values():
        stats["reasons"] = dict(stats["reasons"].most_common())
    return {
        "lines": lines,
        "kept": kept_count,
        "rejected": len(rejects),
        "intended_kept": by_intended.get(KEPT, {}).get("lines", 0),
        "as_intended": lines - len(unexpected),
        "unexpected": unexpected,
        "by_intended": by_intended,
        "accounted_for": kept_count + len(rejects) == lines,
    }


def build_report(data_dir: str | os.PathLike[str]) -> dict[str, Any]:
    layout = DataLayout(data_dir)
    try:
        truth = load_ground_truth(layout.root)
    except GroundTruthError as exc:
        raise DemoError(str(exc)) from exc
    selection = selection_report(layout, truth)
    return {
        "data_dir": str(layout.root),
        "selection": selection,
        "objective": objective_report(layout, truth),
        "stage1": stage1_report(layout, truth),
        "ground_truth": truth.get("summary", {}),
    }


def _fmt(value: float | None, pattern: str = "{:.3f}") -> str:
    return "n/a" if value is None else pattern.format(value)


def format_report(report: dict[str, Any]) -> str:
    s = report["selection"]
    lines = [
        f"demo report for {report['data_dir']}",
        f"  candidate clips:  {s['candidate_clips']} from {s['candidate_videos']} videos "
        f"({s['candidate_matching']} matching; base rate {_fmt(s['base_rate'])})",
        f"  selected clips:   {s['selected_clips']} from {s['selected_videos']} videos "
        f"({s['selected_matching']} matching)",
        f"  precision:        {_fmt(s['precision'])}  vs base rate {_fmt(s['base_rate'])}  "
        f"-> lift {_fmt(s['lift'], '{:.2f}x')}  (p = {s['p_value_random']:.3g} for a random pick)",
    ]
    problems = {
        k: s[k] for k in ("duplicate_rows", "unparsable_rows", "not_in_candidates", "unknown_videos") if s[k]
    }
    if problems:
        lines.append("  warnings:         " + ", ".join(f"{k}={v}" for k, v in problems.items()))
    objective = report.get("objective")
    if objective is not None:
        lines.append(
            f"  audio-visual MI:  selected {_fmt(objective['selected'])}, same-size subsets of matching clips "
            f"{_fmt(objective['matching_subsets'])}, random same-size subsets {_fmt(objective['random_subsets'])} "
            f"(nats, mean over {objective['pairs']} clustering pairs)"
        )
    stage1 = report.get("stage1")
    if stage1 is None:
        lines.append("  stage 1:          no filtered.tsv / filtered.rejects.tsv to compare")
    else:
        lines.append(
            f"  stage 1:          {stage1['kept']} kept / {stage1['rejected']} rejected of {stage1['lines']} lines "
            f"(intended {stage1['intended_kept']} kept); {stage1['as_intended']}/{stage1['lines']} as intended"
        )
        for item in stage1["unexpected"][:10]:
            lines.append(
                f"    line {item['line']} ({item['id'] or 'no id'}): intended {item['intended']}, "
                f"got {item['actual']}"
            )
    return "\n".join(lines)


def write_report(data_dir: str | os.PathLike[str]) -> tuple[dict[str, Any], Path]:
    report = build_report(data_dir)
    path = Path(data_dir) / REPORT_JSON
    atomic_write_json(path, report)
    return report, path
