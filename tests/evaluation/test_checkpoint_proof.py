"""The original release's checkpoint layout mapped onto our model, and the offline proof, scaled down."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from acav.evaluation.checkpoint import CheckpointError, load_original_checkpoint, map_original_state
from acav.evaluation.config import FULL, SMALL, ModelConfig
from acav.evaluation.linear import ProbeConfig
from acav.evaluation.models import AudioVisualModel
from acav.evaluation.proof import run_proof

from .conftest import write_export_shards
from .test_data_pretrain import TINY

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def original_layout(c: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of the original's Contrast model, from its builder rules
    (SlowFast-style names; widths: stage inputs w, 4w, 8w, 16w; outputs 4w..32w; inner w..8w)."""
    shapes: dict[str, tuple[int, ...]] = {}

    def bn(prefix: str, n: int) -> None:
        for name in BN:
            shapes[f"{prefix}.{name}"] = () if name == "num_batches_tracked" else (n,)

    w = c.visual_width
    shapes["visual_conv.s1.pathway0_stem.conv.weight"] = (w, 3, 5, 7, 7)
    bn("visual_conv.s1.pathway0_stem.bn", w)
    for s, blocks in enumerate(c.visual_blocks):
        dim_in, out, inner, kt = (w if s == 0 else 2 * w * 2**s), 4 * w * 2**s, w * 2**s, [1, 1, 3, 3][s]
        for i in range(blocks):
            p = f"visual_conv.s{s + 2}.pathway0_res{i}"
            cin = dim_in if i == 0 else out
            if i == 0:
                shapes[f"{p}.branch1.weight"] = (out, cin, 1, 1, 1)
                bn(f"{p}.branch1_bn", out)
            shapes[f"{p}.branch2.a.weight"] = (inner, cin, kt, 1, 1)
            bn(f"{p}.branch2.a_bn", inner)
            shapes[f"{p}.branch2.b.weight"] = (inner, inner, 1, 3, 3)
            bn(f"{p}.branch2.b_bn", inner)
            shapes[f"{p}.branch2.c.weight"] = (out, inner, 1, 1, 1)
            bn(f"{p}.branch2.c_bn", out)
    w = c.audio_width
    shapes["audio_conv.s1.stem.conv1.weight"] = (w, 1, 9, 1)
    bn("audio_conv.s1.stem.bn1", w)
    shapes["audio_conv.s1.stem.conv2.weight"] = (w, w, 1, 9)
    bn("audio_conv.s1.stem.bn2", w)
    for s, blocks in enumerate(c.audio_blocks):
        dim_in, out, inner = (w if s == 0 else 2 * w * 2**s), 4 * w * 2**s, w * 2**s
        for i in range(blocks):
            p = f"audio_conv.s{s + 2}.res{i}"
            cin = dim_in if i == 0 else out
            if i == 0:
                shapes[f"{p}.branch1.weight"] = (out, cin, 1, 1)
                bn(f"{p}.branch1_bn", out)
            shapes[f"{p}.branch2.a.weight"] = (inner, cin, 1, 1)
            bn(f"{p}.branch2.a_bn", inner)
            if s < 2:
                shapes[f"{p}.branch2.b1.weight"] = (inner, inner, 3, 1)
                bn(f"{p}.branch2.b1_bn", inner)
                shapes[f"{p}.branch2.b2.weight"] = (inner, inner, 1, 3)
                bn(f"{p}.branch2.b2_bn", inner)
            else:
                shapes[f"{p}.branch2.b.weight"] = (inner, inner, 3, 3)
                bn(f"{p}.branch2.b_bn", inner)
            shapes[f"{p}.branch2.c.weight"] = (out, inner, 1, 1)
            bn(f"{p}.branch2.c_bn", out)
    for modality, d in (("visual", 32 * c.visual_width), ("audio", 32 * c.audio_width)):
        shapes[f"{modality}_mlp.fc1.weight"] = (d, d)
        bn(f"{modality}_mlp.bn", d)
        shapes[f"{modality}_mlp.fc2.weight"] = (c.projection, d)
        shapes[f"{modality}_mlp.fc2.bias"] = (c.projection,)
    return shapes


def test_every_original_parameter_maps_onto_ours_with_its_shape_full_size() -> None:
    original = original_layout(FULL)
    mapped = map_original_state({k: torch.empty(0) for k in original})
    ours = {k: tuple(v.shape) for k, v in AudioVisualModel(FULL).state_dict().items()}
    assert set(mapped) == set(ours)
    renamed = dict(zip(original, mapped, strict=True))
    assert all(original[k] == ours[renamed[k]] for k in original)


def test_load_a_checkpoint_written_in_the_original_layout(tmp_path: Path) -> None:
    torch.manual_seed(0)
    state = {
        f"module.{k}" if i % 2 else k: (torch.tensor(5) if not shape else torch.randn(shape))
        for i, (k, shape) in enumerate(original_layout(SMALL).items())
    }
    path = tmp_path / "acav100m_checkpoint.pyth"
    torch.save({"epoch": 50, "state_dict": state, "optimizer": {}}, path)
    model = load_original_checkpoint(path, SMALL)
    ours = model.state_dict()
    torch.testing.assert_close(
        ours["visual.stem.conv.weight"], state["visual_conv.s1.pathway0_stem.conv.weight"]
    )
    plain = {k.removeprefix("module."): v for k, v in state.items()}
    for key, value in map_original_state(plain).items():
        torch.testing.assert_close(ours[key], value)
    bad = dict(state, **{"visual_conv.s9.weird.weight": torch.zeros(1)})
    torch.save({"state_dict": bad}, path)
    with pytest.raises(CheckpointError, match="s9.weird"):
        load_original_checkpoint(path, SMALL)
    del plain["audio_mlp.fc2.bias"]
    torch.save({"state_dict": plain}, path)
    with pytest.raises(CheckpointError, match="missing"):
        load_original_checkpoint(path, SMALL)
    assert load_original_checkpoint(path, SMALL, heads=False) is not None


def test_offline_proof_scaled_down(clip_bank, tmp_path: Path) -> None:
    pool = tmp_path / "pool"
    write_export_shards(pool / "export" / "curated", [(k, d) for k, d, *_ in clip_bank[:6]], per_shard=3)
    write_export_shards(pool / "export" / "random", [(k, d) for k, d, *_ in clip_bank[3:9]], per_shard=3)
    heldout = tmp_path / "heldout"
    (heldout / "videos").mkdir(parents=True)
    truth = {}
    with tarfile.open(heldout / "videos" / "shard-000000.tar", "w") as tar:
        for key, data, colour, tone in clip_bank:
            info = tarfile.TarInfo(f"{key}.mp4")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            truth[key.rsplit("_", 1)[0]] = {"visual_class": colour, "audio_class": tone}
    (heldout / "ground_truth.json").write_text(json.dumps({"videos": truth}))
    probe = ProbeConfig(epochs=5, batch_size=4, train_views=1, test_clips=1, test_crops=1)
    rows = run_proof(
        pool,
        heldout,
        tmp_path / "out",
        [0, 1],
        steps=2,
        batch_size=3,
        model_config=replace(TINY),
        probe=probe,
    )
    assert [(r["subset"], r["seed"]) for r in rows] == [
        (s, seed) for seed in (0, 1) for s in ("untrained", "curated", "random")
    ]
    with open(tmp_path / "out" / "results.csv") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == 6 and all(0.0 <= float(r["visual_top1"]) <= 1.0 for r in table)
    assert {r["test_clips"] for r in table} == {"6"}  # half of the 12 source videos
    assert {r["clips"] for r in table if r["subset"] != "untrained"} == {"6"}
    markdown = (tmp_path / "out" / "results.md").read_text()
    assert "| curated | 6 |" in markdown and "±" in markdown
    assert (tmp_path / "out" / "curated" / "seed1" / "checkpoints" / "step-0000002.pt").is_file()
