"""PySlowFast's Caffe2 checkpoint ``SLOWFAST_8x8_R50.pkl`` loaded into our SlowFast.

The checkpoint is generated here in the format Detectron/PySlowFast wrote: a Python 2 pickle
(protocol 2, strings as ``BINSTRING``, so it is read with ``encoding="latin1"``) of
``{"blobs": {name: ndarray}}``. Blob names are stated below from the Caffe2 SlowFast naming
(facts of PySlowFast's ``c2_model_loading.py``: ``conv1_w``, ``res_conv1_bn_s``, ``t_`` for the fast
pathway, ``t_pool1_subsample`` and ``t_resS_I_branch2c_bn_subsample`` for the lateral fusions,
``resS_I_branch2a_w``, ``pred_w``; ``_bn_s/_b/_rm/_riv``), each paired with the module of our model
that plays that role, reached through the model's structure, not through our name mapping.
"""

from __future__ import annotations

import io
import pickle
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from acav.feature_extraction.models.slowfast import SlowFastR50, build_slowfast
from acav.feature_extraction.models.slowfast_caffe2 import blob_to_key, caffe2_state_dict
from acav.feature_extraction.models.weights import WeightsError

BN_SUFFIXES = {"s": "weight", "b": "bias", "rm": "running_mean", "riv": "running_var"}
DEPTHS = {2: 3, 3: 4, 4: 6, 5: 3}


def caffe2_layout(model: SlowFastR50) -> Iterator[tuple[str, torch.Tensor]]:
    """(Caffe2 blob name, the tensor of our model in that role)."""

    def bn(prefix: str, norm: torch.nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
        for suffix, attr in BN_SUFFIXES.items():
            yield f"{prefix}_bn_{suffix}", getattr(norm, attr)

    for pathway, t in ((0, ""), (1, "t_")):
        stem = model.blocks[0].multipathway_blocks[pathway]
        yield f"{t}conv1_w", stem.conv.weight
        yield from bn(f"{t}res_conv1", stem.norm)
    fusion = model.blocks[0].multipathway_fusion
    yield "t_pool1_subsample_w", fusion.conv_fast_to_slow.weight
    yield from bn("t_pool1_subsample", fusion.norm)
    for stage, depth in DEPTHS.items():
        block = model.blocks[stage - 1]
        for pathway, t in ((0, ""), (1, "t_")):
            for i in range(depth):
                res = block.multipathway_blocks[pathway].res_blocks[i]
                if i == 0:
                    yield f"{t}res{stage}_0_branch1_w", res.branch1_conv.weight
                    yield from bn(f"{t}res{stage}_0_branch1", res.branch1_norm)
                for letter in "abc":
                    yield (
                        f"{t}res{stage}_{i}_branch2{letter}_w",
                        getattr(res.branch2, f"conv_{letter}").weight,
                    )
                    yield from bn(
                        f"{t}res{stage}_{i}_branch2{letter}", getattr(res.branch2, f"norm_{letter}")
                    )
        if stage < 5:
            fusion = block.multipathway_fusion
            yield f"t_res{stage}_{depth - 1}_branch2c_bn_subsample_w", fusion.conv_fast_to_slow.weight
            yield from bn(f"t_res{stage}_{depth - 1}_branch2c_bn_subsample", fusion.norm)
    yield "pred_w", model.blocks[6].proj.weight
    yield "pred_b", model.blocks[6].proj.bias


class Python2Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes bytes as Python 2 ``str`` (SHORT_BINSTRING / BINSTRING), as a Python 2 pickle has them."""

    dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]

    def save_py2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<I", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def python2_pickle(blobs: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(
        {b"blobs": {name.encode(): array for name, array in blobs.items()}}
    )
    return buffer.getvalue()


@pytest.fixture(scope="module")
def layout() -> list[tuple[str, tuple[int, ...]]]:
    return [(name, tuple(tensor.shape)) for name, tensor in caffe2_layout(SlowFastR50())]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, layout) -> tuple[Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    blobs = {name: rng.standard_normal(shape, dtype=np.float32) for name, shape in layout}
    for name in [n for n in blobs if n.endswith("_riv")]:
        blobs[name] = np.abs(blobs[name]) + 0.5  # variances are positive
    # Optimizer state as Caffe2 saves it beside the weights: skipped on loading.
    blobs["res2_0_branch2a_w_momentum"] = np.zeros(blobs["res2_0_branch2a_w"].shape, np.float32)
    blobs["lr"] = np.array([0.1], np.float32)
    blobs["model_iter"] = np.array([196000], np.int64)
    path = tmp_path_factory.mktemp("c2") / "SLOWFAST_8x8_R50.pkl"
    path.write_bytes(python2_pickle(blobs))
    return path, blobs


def test_layout_covers_every_parameter(layout) -> None:
    model = SlowFastR50()
    params = [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]
    assert len(layout) == len(params) == len({blob_to_key(name) for name, _ in layout})
    assert {blob_to_key(name) for name, _ in layout} == set(params)


def test_small_python2_pickle_maps_values_and_skips_optimizer_state(tmp_path: Path) -> None:
    blobs = {
        "conv1_w": np.arange(6, dtype=np.float32).reshape(1, 1, 1, 2, 3),
        "t_res3_3_branch2c_bn_subsample_bn_riv": np.array([0.5, 2.0], np.float32),
        "t_res2_1_branch2b_bn_s": np.array([-1.0, 1e-3], np.float32),
        "pred_b": np.linspace(0, 1, 4, dtype=np.float32),
        "res5_2_branch2c_w_momentum": np.ones(3, np.float32),
        "model_iter": np.array([7], np.int64),
    }
    path = tmp_path / "small.pkl"
    path.write_bytes(python2_pickle(blobs))
    state = caffe2_state_dict(path)
    expected = {
        "blocks.0.multipathway_blocks.0.conv.weight": blobs["conv1_w"],
        "blocks.2.multipathway_fusion.norm.running_var": blobs["t_res3_3_branch2c_bn_subsample_bn_riv"],
        "blocks.1.multipathway_blocks.1.res_blocks.1.branch2.norm_b.weight": blobs["t_res2_1_branch2b_bn_s"],
        "blocks.6.proj.bias": blobs["pred_b"],
    }
    assert set(state) == set(expected)
    for key, value in expected.items():
        assert state[key].dtype == torch.float32
        np.testing.assert_array_equal(state[key].numpy(), value)


@pytest.mark.slow  # writes and reads a full-size (136 MB) checkpoint
def test_python2_pickle_loads_into_our_model(checkpoint) -> None:
    path, blobs = checkpoint
    assert b"\x80\x02" == path.read_bytes()[:2] and b"T" in path.read_bytes()[:200]  # protocol 2, BINSTRING
    model = build_slowfast(path, allow_random=False, fuse_batchnorm=False, channels_last=False)
    for name, tensor in caffe2_layout(model):
        np.testing.assert_array_equal(tensor.detach().numpy(), blobs[name], err_msg=name)
    # Found in a weights directory holding only the Caffe2 file.
    again = build_slowfast(
        None, allow_random=False, weights_dir=path.parent, fuse_batchnorm=False, channels_last=False
    )
    np.testing.assert_array_equal(again.blocks[6].proj.weight.detach().numpy(), blobs["pred_w"])


@pytest.mark.slow  # two full-size checkpoints
def test_missing_or_unknown_blob_is_an_error(tmp_path: Path, layout) -> None:
    blobs = {name: np.zeros(shape, np.float32) for name, shape in layout}
    del blobs["t_res4_5_branch2c_bn_subsample_bn_s"]
    path = tmp_path / "missing.pkl"
    path.write_bytes(python2_pickle(blobs))
    with pytest.raises(WeightsError, match=r"1 missing: blocks\.3\.multipathway_fusion\.norm\.weight"):
        build_slowfast(path, allow_random=False)
    blobs = {name: np.zeros(shape, np.float32) for name, shape in layout}
    blobs["res6_0_branch2a_w"] = np.zeros((1,), np.float32)
    path.write_bytes(python2_pickle(blobs))
    with pytest.raises(WeightsError, match="unknown Caffe2 SlowFast blob 'res6_0_branch2a_w'"):
        build_slowfast(path, allow_random=False)


def test_a_checkpoint_that_runs_code_is_refused(tmp_path: Path) -> None:
    class Hostile:
        def __reduce__(self):
            import os

            return (os.system, ("echo owned",))

    path = tmp_path / "SLOWFAST_8x8_R50.pkl"
    path.write_bytes(pickle.dumps({"blobs": {"conv1_w": Hostile()}}, protocol=2))
    with pytest.raises(WeightsError, match="refusing to unpickle"):
        build_slowfast(path, allow_random=False)
