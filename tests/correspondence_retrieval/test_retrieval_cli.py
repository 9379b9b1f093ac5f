"""The CI slice: exp1 on digits_flip, one seed, through ``acav retrieval``; values checked."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from acav.cli import main
from acav.core.config import ConfigError
from acav.correspondence_retrieval.config import EXPERIMENTS, load_experiment


def test_exp1_slice_on_flipped_digits(tmp_path):
    argv = ["retrieval", "--data-dir", str(tmp_path), "--experiment", "exp1", "--datasets", "digits_flip",
            "--seeds", "1", "--methods", "ours", "random", "cca", "pca_l1", "-q"]  # fmt: skip
    assert main(argv) == 0
    out = tmp_path / "correspondence_retrieval"
    with (out / "exp1" / "results.csv").open() as handle:
        rows = {r["method"]: r for r in csv.DictReader(handle)}
    assert set(rows) == {"ours", "random", "cca", "pca_l1"}
    ours, random = float(rows["ours"]["precision"]), float(rows["random"]["precision"])
    chance = float(rows["ours"]["chance"])
    assert int(rows["ours"]["pool"]) == 899  # 1,797 digits: the test half of every class
    assert 0.45 < chance < 0.55 and abs(random - chance) < 0.08
    assert ours > random + 0.08  # clustering + MI selection retrieves the twins
    assert float(rows["cca"]["precision"]) > 0.9  # a flip permutes the weight-free features: CCA's case
    assert float(rows["ours"]["objective"]) > 0
    curves = json.loads((out / "exp1" / "curves.json").read_text())
    curve = np.asarray(curves["digits_flip|ours|default"]["0"])
    assert curve.size == 50 and ((0 <= curve) & (curve <= 1)).all()
    assert curve[-1] == pytest.approx(ours, abs=1e-4)  # the curve ends at the precision at N
    table = (out / "exp1" / "table.md").read_text()
    assert "## digits_flip (pool 899" in table and "| settings | ours | random | cca | pca_l1 |" in table
    assert (out / "exp1" / "curves_digits_flip.png").stat().st_size > 1000
    assert "exp1/table.md" in (out / "index.md").read_text()
    # a re-run resumes: nothing is recomputed, the rows stay the same
    before = (out / "exp1" / "results.csv").read_text()
    assert main(argv) == 0
    assert (out / "exp1" / "results.csv").read_text() == before


def test_every_bundled_config_loads():
    for name in EXPERIMENTS:
        for quick in (False, True):
            experiment = load_experiment(name, quick)
            assert experiment.datasets and experiment.methods and experiment.entries()
    assert len(load_experiment("exp2").entries()) == 14
    assert [e["ncentroids"] for e in load_experiment("exp3").entries()] == [4, 8, 16, 32, 64, 128]


def test_config_errors_name_the_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets: [digits_flip]\nmethods: [ours]\nsettings: {batch: 3}\n")
    with pytest.raises(ConfigError, match="unknown settings"):
        load_experiment(str(bad))
    bad.write_text("datasets: [digits_flip]\nmethods: [ours]\ngrid: [{topk: 3, nope: 1}]\n")
    with pytest.raises(ConfigError, match="nope"):
        load_experiment(str(bad)).entries()
    with pytest.raises(ConfigError, match="no experiment config"):
        load_experiment("exp99")


def test_unknown_names_are_configuration_errors(tmp_path):
    base = ["retrieval", "--data-dir", str(tmp_path), "--experiment", "exp1", "--seeds", "1", "-q"]
    assert main([*base, "--datasets", "nope"]) == 2
    assert main([*base, "--datasets", "digits_flip", "--methods", "ours", "magic"]) == 2
    assert main(["retrieval", "--data-dir", str(tmp_path), "download", "--datasets", "kinetics", "-q"]) == 2
    assert not (tmp_path / "correspondence_retrieval" / "exp1").exists()
