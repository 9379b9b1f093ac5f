"""What people read: markdown tables (mean +- std over seeds), PNG plots and ``index.md``."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from acav.correspondence_retrieval.config import Experiment
from acav.correspondence_retrieval.runner import relevant_keys


def _stats(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def _cell(values: list[float], digits: int = 3) -> str:
    if not values:
        return ""
    mean, std = _stats(values)
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _ordered(values: list[str], preferred: list[str]) -> list[str]:
    seen = [v for v in preferred if v in values]
    return seen + sorted(set(values) - set(seen))


def precision_table(rows: list[dict[str, Any]], experiment: Experiment) -> str:
    """One table per data set: rows = settings, columns = methods, cells = precision mean ± std."""
    grouped: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    chance: dict[str, list[float]] = defaultdict(list)
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in rows:
        grouped[(r["dataset"], r["settings"], r["method"])].append(float(r["precision"]))
        chance[r["dataset"]].append(float(r["chance"]))
        times[(r["dataset"], r["method"])].append(float(r["method_cpu_s"]))
    datasets = _ordered(sorted({r["dataset"] for r in rows}), experiment.datasets)
    methods = _ordered(sorted({r["method"] for r in rows}), experiment.methods)
    out = [f"# {experiment.name}: {experiment.description}", "",
           "Precision (= recall = F1) at subset size = number of positives, mean ± std over seeds "
           f"({experiment.seeds} seeds). `chance` is the fraction of positives in the pool.", ""]  # fmt: skip
    for ds in datasets:
        labels = []
        for r in rows:
            if r["dataset"] == ds and r["settings"] not in labels:
                labels.append(r["settings"])
        cols = [m for m in methods if any((ds, lab, m) in grouped for lab in labels)]
        mine = [r for r in rows if r["dataset"] == ds]
        varies = len({(r["pool"], round(float(r["chance"]), 1)) for r in mine}) > 1
        if varies:  # a pool-size / positive-ratio sweep: pool and chance per row
            out += [f"## {ds}", ""]
        else:
            head = (
                f"pool {mine[0]['pool']}, positives {mine[0]['positives']}, chance {np.mean(chance[ds]):.3f}"
            )
            out += [f"## {ds} ({head})", ""]
        extra = ["pool", "chance"] if varies else []
        out.append("| settings | " + " | ".join(extra + cols) + " |")
        out.append("|---|" + "---|" * (len(cols) + len(extra)))
        for lab in labels:
            cells = [_cell(grouped.get((ds, lab, m), [])) for m in cols]
            if varies:
                at = [r for r in mine if r["settings"] == lab]
                pool_size = np.mean([float(r["pool"]) for r in at])
                cells = [f"{pool_size:.0f}", f"{np.mean([float(r['chance']) for r in at]):.3f}", *cells]
            out.append(f"| {lab} | " + " | ".join(cells) + " |")
        cpu = [f"{_stats(times[(ds, m)])[0]:.2f}" for m in cols]
        out.append("| CPU s / run | " + " | ".join([""] * len(extra) + cpu) + " |")
        out.append("")
    return "\n".join(out)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


MAX_CURVES = 16


def curve_plots(
    curves: dict[str, dict[str, list[float]]], directory: Path, experiment: Experiment
) -> list[Path]:
    """One PNG per data set: the mean precision curve of every (method, settings) over the selection.

    A method whose result does not depend on the grid (the same curve under every settings label,
    e.g. ``greedy`` in exp2) is drawn once.
    """
    groups: dict[str, dict[str, np.ndarray]] = defaultdict(dict)
    for key, per_seed in curves.items():
        ds, method, label = key.split("|", 2)
        seqs = [np.asarray(v) for v in per_seed.values() if v]
        if not seqs:
            continue
        width = min(len(s) for s in seqs)
        curve = np.mean([s[:width] for s in seqs], axis=0)
        if any(k.split(" ", 1)[0] == method and np.array_equal(c, curve) for k, c in groups[ds].items()):
            continue
        keys = {part.split("=", 1)[0] for part in label.split(",")}
        independent = label == "default" or not keys & set(relevant_keys(method))
        groups[ds][method if independent else f"{method} {label}"] = curve
    plt = _plt()
    paths = []
    for ds, lines in sorted(groups.items()):
        fig, ax = plt.subplots(figsize=(7.2, 4.6))
        ax.set_prop_cycle(color=plt.cm.tab20.colors)
        names = sorted(lines, key=lambda n: (_rank(n.split(" ", 1)[0], experiment.methods), n))
        for name in names[:MAX_CURVES]:
            curve = lines[name]
            ax.plot(
                np.linspace(0, 1, curve.size), curve, label=name, linewidth=2.2 if name == "ours" else 1.2
            )
        ax.set_xlabel("fraction of the subset selected (subset = number of positives)")
        ax.set_ylabel("precision of the selection so far")
        ax.set_ylim(0, 1.02)
        paths.append(_finish(plt, fig, ax, f"{experiment.name} {ds}", directory / f"curves_{ds}.png", 2))
    return paths


def _rank(method: str, preferred: list[str]) -> int:
    return preferred.index(method) if method in preferred else len(preferred)


def _finish(plt, fig, ax, title: str, path: Path, columns: int = 1) -> Path:  # noqa: ANN001 - matplotlib objects
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=columns)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:80]


def _setting_value(label: str, key: str) -> str | None:
    for part in label.split(","):
        if part.startswith(f"{key}="):
            return part.split("=", 1)[1]
    return None


def sweep_plots(rows: list[dict[str, Any]], directory: Path, experiment: Experiment) -> list[Path]:
    """exp2/exp3-style sweeps: precision (mean ± std) against the ``plot.x`` setting per data set."""
    x_key = experiment.plot.get("x")
    if not x_key:
        return []
    series_key = experiment.plot.get("series")
    plt = _plt()
    paths = []
    for ds in _ordered(sorted({r["dataset"] for r in rows}), experiment.datasets):
        data: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
        flat: dict[str, list[float]] = defaultdict(list)
        for r in rows:
            if r["dataset"] != ds:
                continue
            x = _setting_value(r["settings"], x_key)
            if x is None or x == "None":
                flat[r["method"]].append(float(r["precision"]))
                continue
            name = r["method"]
            if series_key and r["method"] == "ours":
                name = f"ours {series_key}={_setting_value(r['settings'], series_key)}"
            data[name][float(x)].append(float(r["precision"]))
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for name, points in sorted(data.items()):
            xs = sorted(points)
            if (
                name != "ours"
                and not name.startswith("ours ")
                and len({round(np.mean(points[x]), 6) for x in xs}) == 1
            ):
                ax.axhline(np.mean(points[xs[0]]), linestyle="--", linewidth=1, label=f"{name} (no {x_key})")
                continue
            mean = [np.mean(points[x]) for x in xs]
            std = [np.std(points[x], ddof=1) if len(points[x]) > 1 else 0 for x in xs]
            ax.errorbar(xs, mean, yerr=std, marker="o", capsize=3, label=name)
        ax.set_xscale("log", base=2)
        ax.set_xlabel(x_key)
        ax.set_ylabel("precision at subset size")
        paths.append(_finish(plt, fig, ax, f"{experiment.name} {ds}", directory / f"sweep_{ds}.png"))
    return paths


def write_reports(
    rows: list[dict[str, Any]], experiment: Experiment, directory: Path, extra: str = ""
) -> list[Path]:
    """``table.md`` (+ plots) for one experiment; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    curves_path = directory / "curves.json"
    curves = json.loads(curves_path.read_text()) if curves_path.exists() else {}
    table = precision_table(rows, experiment) if rows else f"# {experiment.name}\n\nno results\n"
    if extra:
        table += "\n" + extra
    (directory / "table.md").write_text(table + "\n")
    plots = curve_plots(curves, directory, experiment) + sweep_plots(rows, directory, experiment)
    return [directory / "table.md", *plots]


def write_index(root: Path) -> Path:
    """``index.md``: every experiment's table, CSV and plots under ``root``."""
    lines = ["# Correspondence retrieval results", "",
             "Produced by `bash correspondence_retrieval/code/run.sh`; see correspondence_retrieval/README.md.", ""]  # fmt: skip
    for directory in sorted(p for p in root.iterdir() if p.is_dir() and (p / "table.md").exists()):
        title = (directory / "table.md").read_text().splitlines()[0].lstrip("# ")
        lines += [f"## {title}", "", f"- [table]({directory.name}/table.md)"]
        if (directory / "results.csv").exists():
            lines.append(f"- [results.csv]({directory.name}/results.csv)")
        for png in sorted(directory.glob("*.png")):
            lines.append(f"- ![{png.stem}]({directory.name}/{png.name})")
        lines.append("")
    path = root / "index.md"
    path.write_text("\n".join(lines))
    return path
