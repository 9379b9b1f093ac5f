"""``acav report`` on a real tiny demo run: the file opens in headless Chromium with every part,
no console error, every image decoded, and funnel numbers equal to what the files hold; parts whose
files are missing say so; run.sh's stages report consistently (summaries on stdout, one no-GPU notice)."""

from __future__ import annotations

import csv
import json
import pickle
import shutil
import struct
import tarfile
from pathlib import Path

import pytest
from report_cdp import Browser, find_chromium, skip_reason

from acav.cli import main

PAGE_STATE = """(() => {
  const images = [...document.images].map(i => ({alt: i.alt, complete: i.complete, w: i.naturalWidth}));
  const funnel = {};
  for (const row of document.querySelectorAll('table.funnel tr[data-stage]')) {
    funnel[row.dataset.stage] = row.querySelector('td.count').textContent.trim();
  }
  const sections = [...document.querySelectorAll('section')].map(s => s.id);
  const missing = [...document.querySelectorAll('section')]
      .filter(s => s.querySelector('.missing')).map(s => s.id);
  const precision = document.getElementById('precision');
  return {images, funnel, sections, missing, scripts: document.scripts.length,
          external: [...document.querySelectorAll('[src]')].map(e => e.getAttribute('src'))
                    .filter(s => !s.startsWith('data:')),
          precision: precision ? precision.textContent : null};
})()"""


def _count_lines(path: Path) -> int:
    return len(path.read_bytes().splitlines())


def funnel_from_files(data: Path) -> dict[str, int]:
    """The funnel counted directly from the files (independently of acav.report)."""
    clips = sum(len(json.loads(p.read_text())) for p in (data / "videos").glob("shard-*.json"))
    features = 0
    for path in (data / "features").glob("shard-*.pkl"):
        with open(path, "rb") as handle:
            features += len(pickle.load(handle))  # our own freshly written test data
    with open(data / "output.csv", newline="") as handle:
        selected = sum(1 for row in csv.reader(handle) if row)
    return {
        "lines": _count_lines(data / "metadata.tsv"),
        "kept": _count_lines(data / "filtered.tsv"),
        "downloaded": len(list((data / "videos" / "raw").glob("*.mp4"))),
        "clips": clips,
        "features": features,
        "selected": selected,
    }


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


def test_run_sh_ends_with_the_report_and_stages_report_alike(demo_run) -> None:
    out, err = demo_run.proc.stdout, demo_run.proc.stderr
    assert "==> report" in err and (demo_run.data / "report.html").is_file()
    assert f"report: {demo_run.data / 'report.html'}" in out
    # every stage's end-of-run summary is on stdout (none on stderr)
    for marker in ("kept: ", "ok", "clip segmentation: ", "extract: ", "partition ", "wrote ", "precision"):
        assert marker in out, marker
    assert "log: " in out and "download.log.jsonl" in out  # the download summary (stderr before)
    assert "clip segmentation: " not in err and "download.log.jsonl\nsummary" not in err
    # one no-GPU notice for the whole run (extraction, clustering and selection all ask)
    assert err.count("No GPU is visible") == 1, err.count("No GPU is visible")
    # stderr is a pipe: progress comes as plain log lines, never carriage-return bar updates
    assert "\r" not in err
    assert "segment: " in err and " video (" in err


@pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")
def test_report_renders_in_headless_chromium(demo_run, tmp_path: Path) -> None:
    data = demo_run.data
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("metadata.tsv", "filtered.tsv", "filtered.rejects.tsv"):
        shutil.copy(data / name, partial / name)
    assert main(["report", "--data-dir", str(partial), "-q"]) == 0

    with Browser(find_chromium() or "chromium") as browser:
        page = browser.open(data / "report.html")
        state = page.evaluate(PAGE_STATE)
        shot = tmp_path / "report.png"
        browser.screenshot(page, shot)
        errors = page.console_errors()
        page_partial = browser.open(partial / "report.html")
        state_partial = page_partial.evaluate(PAGE_STATE)
        errors += page_partial.console_errors()

    assert errors == []
    width, height = _png_size(shot)
    assert width >= 800 and height > 2000  # the whole page, not a blank viewport
    assert state["scripts"] == 0 and state["external"] == []  # static, offline, assets inline
    assert len(state["images"]) >= 10
    broken = [i["alt"] for i in state["images"] if not i["complete"] or i["w"] <= 0]
    assert broken == []

    # the funnel shows exactly what the files hold
    expected = funnel_from_files(data)
    assert {k: int(v.replace(",", "")) for k, v in state["funnel"].items()} == expected
    assert expected["lines"] > expected["kept"] > 0 and expected["clips"] >= expected["selected"] > 0

    # all parts are there, none of them empty
    for part in ("funnel", "shots", "curve", "cooccurrence", "ground-truth"):
        assert part in state["sections"], part
    galleries = [s for s in state["sections"] if s.startswith("gallery-")]
    assert any(s.startswith("gallery-video/") for s in galleries)
    assert any(s.startswith("gallery-audio/") for s in galleries)
    assert state["missing"] == []
    demo = json.loads((data / "demo_report.json").read_text())
    assert float(state["precision"]) == pytest.approx(demo["selection"]["precision"], abs=1e-3)

    # a data directory where only stage 1 ran: the report still renders and says what is missing
    assert state_partial["funnel"]["lines"] == str(expected["lines"])
    assert state_partial["funnel"]["kept"] == str(expected["kept"])
    assert state_partial["funnel"]["clips"] == "missing" and state_partial["funnel"]["selected"] == "missing"
    assert {"shots", "curve", "cooccurrence", "galleries"} <= set(state_partial["missing"])
    assert all(i["complete"] and i["w"] > 0 for i in state_partial["images"])


def test_report_survives_missing_and_damaged_files(demo_run, tmp_path: Path, capsys) -> None:
    # an empty directory: every part says it is not available, and the file is written
    assert main(["report", "--data-dir", str(tmp_path / "empty")]) == 0
    page = (tmp_path / "empty" / "report.html").read_text()
    assert page.count('class="missing"') >= 4 and "metadata lines" in page
    out = capsys.readouterr().out
    assert "funnel: lines - -> kept -" in out

    # a copy of the run with a truncated video shard and a damaged cluster shard
    copy = tmp_path / "damaged"
    shutil.copytree(demo_run.data, copy, ignore=shutil.ignore_patterns("source_videos", "clips"))
    for tar_path in (copy / "videos").glob("shard-*.tar"):
        with tarfile.open(tar_path) as tar:
            first = tar.getmembers()[0]
        tar_path.write_bytes(tar_path.read_bytes()[: first.offset_data + 100])
    cluster = sorted((copy / "clusters").glob("shard-*.pkl"))[0]
    cluster.write_bytes(b"not a pickle")
    output = copy / "elsewhere" / "r.html"
    assert main(["report", "--data-dir", str(copy), "--output", str(output), "--sample-videos", "2"]) == 0
    text = output.read_text()
    assert 'data-stage="selected"' in text and "not available" in text
