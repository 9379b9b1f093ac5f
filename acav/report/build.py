"""Build the run report: one static HTML file, no script, every image inline, for a data directory.

Each part is built on its own from the files it needs; a part whose files are missing (a stage
that has not run) or unreadable says so in place, and the rest of the report is still written.
"""

from __future__ import annotations

import html
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from acav import __version__
from acav.core.atomic import atomic_write_text
from acav.core.layout import DataLayout
from acav.core.logs import get_logger
from acav.report import plots
from acav.report.config import ReportConfig
from acav.report.funnel import FunnelStage, _last_records, collect_funnel
from acav.report.media import ClipKey, ThumbnailCache

log = get_logger(__name__)

REPORT_HTML = "report.html"


@dataclass
class Section:
    key: str
    title: str
    body: str = ""  # HTML
    missing: str | None = None  # why the part could not be drawn


@dataclass
class ReportSummary:
    """What ``acav report`` wrote: the file, its parts and which of them had no data."""

    path: Path
    sections: list[str]
    missing: dict[str, str]
    images: int
    funnel: dict[str, int | None]
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def img(uri: str, alt: str, css: str = "") -> str:
    return f'<img src="{uri}" alt="{esc(alt)}" title="{esc(alt)}"{f" class={chr(34)}{css}{chr(34)}" if css else ""}>'


# --------------------------------------------------------------------------- funnel


def funnel_section(stages: list[FunnelStage]) -> Section:
    rows = []
    previous: FunnelStage | None = None
    for stage in stages:
        dropped = ""
        if stage.count is not None and previous is not None and previous.count is not None:
            if previous.unit == stage.unit or (previous.unit, stage.unit) == ("lines", "videos"):
                dropped = f"{previous.count - stage.count:,}"
        reasons = "".join(f"<li>{esc(k)}: {v:,}</li>" for k, v in stage.reasons.items())
        count = "missing" if stage.count is None else f"{stage.count:,}"
        rows.append(
            f'<tr data-stage="{esc(stage.key)}"><th>{esc(stage.label)}</th>'
            f'<td class="count" data-count="{"" if stage.count is None else stage.count}">{count}</td>'
            f"<td>{esc(stage.unit)}</td><td>{dropped}</td>"
            f"<td><ul>{reasons}</ul></td><td><code>{esc(stage.source)}</code></td></tr>"
        )
        if stage.count is not None:
            previous = stage
    table = (
        '<table class="funnel"><tr><th>stage</th><th>count</th><th>unit</th><th>dropped</th>'
        "<th>reasons</th><th>counted from</th></tr>" + "".join(rows) + "</table>"
    )
    chart = plots.funnel_chart([s.label for s in stages], [s.count for s in stages], [s.unit for s in stages])
    note = (
        "<p>Videos become clips at segmentation (up to three 10-second clips per video), so the "
        "clip rows are not a subset count of the video rows.</p>"
    )
    return Section("funnel", "Funnel of the run", table + note + img(chart, "funnel chart"))


# --------------------------------------------------------------------------- selection helpers


def read_selected(layout: DataLayout) -> list[ClipKey]:
    """``(shard, filename)`` of every output.csv row, in file order (= selection order)."""
    import csv

    keys: list[ClipKey] = []
    if not layout.output_csv.is_file():
        return keys
    with open(layout.output_csv, newline="", encoding="utf-8", errors="replace") as handle:
        for row in csv.reader(handle):
            if len(row) >= 2 and row[1]:
                keys.append((row[0], row[1]))
    return keys


def load_partitions(layout: DataLayout, limit: int | None = None) -> list[Any]:
    """The clustering partitions as subset selection reads them (its own loader)."""
    from acav.subset_selection.partitions import LoadReport, iter_partitions

    out = []
    for partition in iter_partitions(layout.clusters_dir, LoadReport()):
        out.append(partition)
        if limit is not None and len(out) >= limit:
            break
    return out


# --------------------------------------------------------------------------- shots


def shots_section(layout: DataLayout, config: ReportConfig, selected: set[ClipKey]) -> Section:
    section = Section("shots", "Shots and clip placement")
    if not layout.segmentation_log.is_file():
        section.missing = f"no segmentation log ({layout.segmentation_log}): stage 3 has not run"
        return section
    records = [r for r in _last_records(layout.segmentation_log, "id").values() if r.get("status") == "ok"]
    if not records:
        section.missing = "no video was segmented successfully"
        return section
    selected_files = {name for _, name in selected}

    def rank(record: dict[str, Any]) -> tuple:
        chosen = any(c.get("filename") in selected_files for c in record.get("clips", []))
        return (not chosen, -len(record.get("cuts") or []), record["id"])

    rows = []
    for record in sorted(records, key=rank)[: config.sample_videos]:
        rows.append(
            {
                "id": record["id"],
                "duration": float(record.get("duration") or 0.0),
                "cuts": [float(c) for c in record.get("cuts") or []],
                "clips": [
                    {
                        "start": float(c["start"]),
                        "end": float(c["end"]),
                        "selected": c.get("filename") in selected_files,
                    }
                    for c in record.get("clips", [])
                ],
            }
        )
    if not rows:
        section.missing = "--sample-videos is 0"
        return section
    table = "".join(
        f"<tr><td><code>{esc(r['id'])}</code></td><td>{r['duration']:.1f}</td><td>{len(r['cuts']) + 1}</td>"
        f"<td>{len(r['clips'])}</td><td>{sum(c['selected'] for c in r['clips'])}</td></tr>"
        for r in rows
    )
    section.body = (
        f"<p>{len(rows)} of {len(records)} segmented videos (those with selected clips and the most shots first).</p>"
        + img(plots.timelines(rows), "shots and clips per video")
        + "<table><tr><th>video</th><th>seconds</th><th>shots</th><th>clips</th><th>selected</th></tr>"
        + table
        + "</table>"
    )
    return section


# --------------------------------------------------------------------------- galleries


def _gallery_clusterings(clusterings: list[Any], per_modality: int) -> list[int]:
    """Indices of the clusterings to show: per modality, the deepest layer of each model first."""
    chosen: list[int] = []
    for modality in ("video", "audio"):
        indices = [i for i, c in enumerate(clusterings) if c.modality == modality]
        by_model: dict[str, list[int]] = {}
        for i in indices:
            by_model.setdefault(clusterings[i].model_key, []).append(i)
        ordered = []
        depth = 0
        while len(ordered) < len(indices):
            for model_indices in by_model.values():
                if depth < len(model_indices):
                    ordered.append(model_indices[-1 - depth])
            depth += 1
        chosen.extend(ordered[:per_modality])
    return chosen


def gallery_sections(
    partition: Any, config: ReportConfig, thumbs: ThumbnailCache, selected: set[ClipKey]
) -> list[Section]:
    rng = np.random.default_rng(config.seed)
    keys = list(zip(partition.clip_shard, partition.clip_file, strict=True))
    plan: list[tuple[Any, list[tuple[int, int, list[int]]]]] = []
    for index in _gallery_clusterings(partition.clusterings, config.clusterings):
        labels = partition.labels[:, index].astype(np.int64)
        sizes = Counter(labels.tolist())
        clusters = []
        for cluster, size in sizes.most_common(config.max_clusters):
            members = np.flatnonzero(labels == cluster)
            chosen = sorted(rng.choice(members, min(config.thumbs_per_cluster, len(members)), replace=False))
            clusters.append((cluster, size, [int(i) for i in chosen]))
        plan.append((partition.clusterings[index], clusters))
    thumbs.load(keys[i] for _, clusters in plan for _, _, members in clusters for i in members)
    sections = []
    for clustering, clusters in plan:
        audio = clustering.modality == "audio"
        rows = []
        for cluster, size, members in clusters:
            cells = []
            for i in members:
                t = thumbs.get(keys[i])
                uri = t.spectrogram if audio else t.frame
                mark = " selected" if keys[i] in selected else ""
                label = f"{keys[i][1]}{' (selected)' if mark else ''}"
                cells.append(
                    f'<figure class="thumb{mark}">'
                    + (img(uri, label) if uri else '<span class="nothumb">no thumbnail</span>')
                    + f"<figcaption>{esc(keys[i][1])}</figcaption></figure>"
                )
            rows.append(
                f'<div class="cluster"><h4>cluster {cluster} ({size} clips)</h4>{"".join(cells)}</div>'
            )
        kind = "audio spectrograms" if audio else "middle frames"
        sections.append(
            Section(
                f"gallery-{clustering.name}",
                f"Clusters of {clustering.name} ({kind})",
                f"<p>Partition {esc(partition.name)}: the {len(clusters)} largest of "
                f"{len(set(partition.labels[:, partition.clusterings.index(clustering)].tolist()))} clusters; "
                "selected clips are framed in green.</p>" + "".join(rows),
            )
        )
    return sections


# --------------------------------------------------------------------------- selection curve


def _pairing(layout: DataLayout) -> str:
    try:
        return json.loads(layout.selection_log.read_text(encoding="utf-8"))["config"]["pairing"]
    except (OSError, ValueError, KeyError, TypeError):
        return "combination"


def curve_section(
    layout: DataLayout, partitions: list[Any], selected_order: list[ClipKey], config: ReportConfig
) -> Section:
    from acav.subset_selection.mi import objective_of_subset
    from acav.subset_selection.pairings import make_pairs

    section = Section("curve", "Selection curve")
    if not selected_order:
        section.missing = f"no selection ({layout.output_csv}): stage 6 has not run"
        return section
    pairing = _pairing(layout)
    rng = np.random.default_rng(config.seed)
    curves = []
    rows = []
    for partition in partitions:
        position = {k: i for i, k in enumerate(zip(partition.clip_shard, partition.clip_file, strict=True))}
        order = np.array([position[k] for k in selected_order if k in position], dtype=np.int64)
        if order.size == 0:
            continue
        pairs = make_pairs(partition.clusterings, pairing)
        sizes = np.unique(np.linspace(1, order.size, config.curve_points).round().astype(int))
        chosen = [objective_of_subset(partition.labels, order[:s], pairs) for s in sizes]
        random = [
            float(
                np.mean(
                    [
                        objective_of_subset(
                            partition.labels, rng.choice(partition.size, s, replace=False), pairs
                        )
                        for _ in range(max(1, config.random_subsets))
                    ]
                )
            )
            for s in sizes
        ]
        curves.append({"name": partition.name, "sizes": sizes.tolist(), "selected": chosen, "random": random})
        rows.append(
            f"<tr><td>{esc(partition.name)}</td><td>{partition.size:,}</td><td>{order.size:,}</td>"
            f"<td>{chosen[-1]:.4f}</td><td>{random[-1]:.4f}</td></tr>"
        )
    if not curves:
        section.missing = "the selected clips are in none of the cluster partitions"
        return section
    section.body = (
        f"<p>Objective: mean mutual information over the '{esc(pairing)}' clustering pairs, for the first "
        "k selected clips (in selection order) and for random subsets of k clips.</p>"
        + img(plots.selection_curve(curves), "selection curve")
        + "<table><tr><th>partition</th><th>clips</th><th>selected</th><th>objective</th>"
        "<th>random subset</th></tr>" + "".join(rows) + "</table>"
    )
    return section


# --------------------------------------------------------------------------- co-occurrence


def cooccurrence_section(partition: Any, selected: set[ClipKey], config: ReportConfig) -> Section:
    from acav.subset_selection.mi import mutual_information
    from acav.subset_selection.pairings import make_pairs

    section = Section("cooccurrence", "Cluster co-occurrence of the selected clips")
    try:
        pairs = make_pairs(partition.clusterings, "diagonal")
    except ValueError as exc:
        section.missing = str(exc)
        return section
    keys = zip(partition.clip_shard, partition.clip_file, strict=True)
    mask = np.array([k in selected for k in keys])
    if not mask.any():
        section.missing = "no selected clip in this partition"
        return section
    figures = []
    for i, j in pairs[::-1][: config.pairs]:
        video, audio = sorted((i, j), key=lambda k: partition.clusterings[k].modality != "video")
        v_name, a_name = partition.clusterings[video].name, partition.clusterings[audio].name
        for subset, what in ((mask, "selected"), (np.ones_like(mask), "all clips")):
            v = partition.labels[subset, video].astype(np.int64)
            a = partition.labels[subset, audio].astype(np.int64)
            table = np.zeros((partition.ncentroids, partition.ncentroids))
            np.add.at(table, (v, a), 1)
            mi = mutual_information(v, a)
            figures.append(
                img(
                    plots.cooccurrence(table, f"{what}: MI {mi:.3f} nats", a_name, v_name),
                    f"co-occurrence {v_name} x {a_name} ({what})",
                    "plot-small",
                )
            )
    section.body = (
        f"<p>Partition {esc(partition.name)}: clips counted per (visual cluster, audio cluster) for "
        "video/audio clustering pairs of the same depth, selected clips next to all clips. A selection "
        "with corresponding sound and picture concentrates in few cells.</p>" + "".join(figures)
    )
    return section


# --------------------------------------------------------------------------- ground truth


def ground_truth_section(layout: DataLayout, thumbs: ThumbnailCache, config: ReportConfig) -> Section | None:
    """Precision against the demo's ground truth (acav.demo.report) and the wrongly chosen clips."""
    from acav.demo.ground_truth import GROUND_TRUTH_JSON

    if not (layout.root / GROUND_TRUTH_JSON).is_file():
        return None  # not a demo: no such part
    from acav.demo.generator import DemoError
    from acav.demo.report import _clip_id, build_report, format_report, read_selection

    section = Section("ground-truth", "Against the ground truth (demo)")
    try:
        report = build_report(layout.root)
    except DemoError as exc:
        section.missing = str(exc)
        return section
    s = report["selection"]
    truth = json.loads((layout.root / GROUND_TRUTH_JSON).read_text(encoding="utf-8"))
    videos = truth.get("videos", {})
    selected, _ = read_selection(layout.output_csv)
    wrong = [
        (shard, name, vid)
        for shard, name, vid in selected
        if vid in videos and not videos[vid].get("matching", False)
    ]
    shown = wrong[: config.max_wrong_clips]
    thumbs.load((shard, name) for shard, name, _ in shown)
    rows = []
    for shard, name, vid in shown:
        t = thumbs.get((shard, name))
        video = videos[vid]
        rows.append(
            f"<tr><td><code>{esc(name)}</code></td>"
            f"<td>{img(t.frame, name) if t.frame else 'no thumbnail'}</td>"
            f"<td>{img(t.spectrogram, name + ' spectrogram') if t.spectrogram else 'no thumbnail'}</td>"
            f"<td>{esc(video.get('visual_class_name', video.get('visual_class')))}</td>"
            f"<td>{esc(video.get('audio_class_name', video.get('audio_class')))}</td></tr>"
        )
    precision = "n/a" if s["precision"] is None else f"{s['precision']:.3f}"
    base = "n/a" if s["base_rate"] is None else f"{s['base_rate']:.3f}"
    section.body = (
        f'<p class="headline">precision <b id="precision">{precision}</b> vs base rate {base} '
        f"({s['selected_matching']} of {s['selected_clips']} selected clips come from videos whose sound "
        f"matches the picture).</p><pre>{esc(format_report(report))}</pre>"
        f"<h3>Wrongly chosen clips ({len(wrong)}; {len(shown)} shown)</h3>"
        + (
            "<table><tr><th>clip</th><th>frame</th><th>sound</th><th>visual class</th><th>audio class</th></tr>"
            + "".join(rows)
            + "</table>"
            if rows
            else "<p>none</p>"
        )
    )
    section.body += f"<!-- clip ids: {esc(', '.join(_clip_id(v, n) for _, n, v in shown))} -->"
    return section


# --------------------------------------------------------------------------- page

CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ddd;padding:.25em .5em;
vertical-align:top;text-align:left;font-size:.9em}ul{margin:0;padding-left:1.1em}
.missing{color:#8a5a00;background:#fff6e0;padding:.5em;border-left:4px solid #e0a000}
.cluster{margin:.4em 0}.cluster h4{margin:.2em 0;font-size:.9em}
figure.thumb{display:inline-block;margin:2px;text-align:center;border:2px solid transparent}
figure.thumb.selected{border-color:#2a9d46}figure.thumb figcaption{font-size:.65em;color:#666}
.plot-small{max-width:32%}img{max-width:100%}nav a{margin-right:.8em}
"""


def render_page(layout: DataLayout, sections: list[Section], seconds: float) -> str:
    nav = "".join(f'<a href="#{esc(s.key)}">{esc(s.title)}</a>' for s in sections)
    parts = []
    for s in sections:
        body = f'<p class="missing">not available: {esc(s.missing)}</p>' if s.missing else s.body
        parts.append(f'<section id="{esc(s.key)}"><h2>{esc(s.title)}</h2>{body}</section>')
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>acav run report: {esc(layout.root.name or layout.root)}</title>"
        f"<style>{CSS}</style></head><body>"
        f"<h1>acav run report</h1><p>data directory <code>{esc(layout.root)}</code>; "
        f"written {stamp} by acav {esc(__version__)} in {seconds:.1f} s.</p>"
        f"<nav>{nav}</nav>{''.join(parts)}</body></html>\n"
    )


def _guarded(key: str, title: str, build: Callable[[], Section | list[Section] | None]) -> list[Section]:
    """Run one part's builder; an unexpected error becomes a 'not available' note, not a crash."""
    try:
        result = build()
    except Exception as exc:  # the report must still be written with the other parts
        log.warning("report part '%s' failed: %s: %s", title, type(exc).__name__, exc)
        return [Section(key, title, missing=f"could not be built ({type(exc).__name__}: {exc})")]
    if result is None:
        return []
    return result if isinstance(result, list) else [result]


def build_report(
    data_dir: str | os.PathLike[str], config: ReportConfig | None = None
) -> tuple[str, ReportSummary]:
    """The report's HTML and its summary (nothing written)."""
    config = config or ReportConfig()
    began = time.monotonic()
    layout = DataLayout(data_dir)
    thumbs = ThumbnailCache(layout)
    stages = collect_funnel(layout)
    selected_order = read_selected(layout)
    selected = set(selected_order)
    sections = _guarded("funnel", "Funnel of the run", lambda: funnel_section(stages))
    sections += _guarded("shots", "Shots and clip placement", lambda: shots_section(layout, config, selected))
    partitions: list[Any] = []
    try:
        partitions = load_partitions(layout, limit=config.partitions)
    except Exception as exc:
        log.warning("cannot read the cluster shards: %s", exc)
    if partitions:
        first = partitions[0]
        sections += _guarded(
            "galleries", "Cluster galleries", lambda: gallery_sections(first, config, thumbs, selected)
        )
        sections += _guarded(
            "curve", "Selection curve", lambda: curve_section(layout, partitions, selected_order, config)
        )
        sections += _guarded(
            "cooccurrence",
            "Cluster co-occurrence of the selected clips",
            lambda: cooccurrence_section(first, selected, config),
        )
    else:
        why = f"no cluster shards in {layout.clusters_dir}: stage 5 has not run"
        sections += [
            Section("galleries", "Cluster galleries", missing=why),
            Section("curve", "Selection curve", missing=why),
            Section("cooccurrence", "Cluster co-occurrence of the selected clips", missing=why),
        ]
    sections += _guarded(
        "ground-truth",
        "Against the ground truth (demo)",
        lambda: ground_truth_section(layout, thumbs, config),
    )
    seconds = time.monotonic() - began
    page = render_page(layout, sections, seconds)
    summary = ReportSummary(
        path=Path(config.output) if config.output else layout.root / REPORT_HTML,
        sections=[s.key for s in sections],
        missing={s.key: s.missing for s in sections if s.missing},
        images=page.count("<img "),
        funnel={s.key: s.count for s in stages},
        seconds=round(seconds, 3),
    )
    return page, summary


def write_report(data_dir: str | os.PathLike[str], config: ReportConfig | None = None) -> ReportSummary:
    """Build the report and write it (atomically) to ``config.output`` or ``DATA_DIR/report.html``."""
    page, summary = build_report(data_dir, config)
    summary.path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(summary.path, page)
    return summary


def format_summary(summary: ReportSummary) -> str:
    funnel = " -> ".join(f"{k} {'-' if v is None else v}" for k, v in summary.funnel.items())
    lines = [
        f"report: {summary.path} ({len(summary.sections)} parts, {summary.images} images, {summary.seconds:.1f} s)",
        f"  funnel: {funnel}",
    ]
    for key, why in summary.missing.items():
        lines.append(f"  not available: {key}: {why}")
    return "\n".join(lines)
