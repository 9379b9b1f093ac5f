"""PySlowFast's Caffe2 checkpoint ``SLOWFAST_8x8_R50.pkl`` (Kinetics-400), the weights the original
ACAV100M release extracted with, loaded into our :class:`SlowFastR50`.

The file is a Python 2 pickle (read with the latin1 encoding) of ``{"blobs": {name: ndarray}, ...}``
as Detectron/Caffe2 wrote it. Blob names follow the Caffe2 SlowFast naming, mapped here directly
onto our module tree (pytorchvideo's layout); a ``t_`` prefix marks the fast pathway:

==========================================  =================================================
Caffe2 blob                                 our parameter
==========================================  =================================================
``conv1_w``                                 ``blocks.0.multipathway_blocks.P.conv.weight``
``res_conv1_bn_{s,b,rm,riv}``               ``blocks.0.multipathway_blocks.P.norm.*``
``t_pool1_subsample_w`` / ``_bn_*``         ``blocks.0.multipathway_fusion.conv_fast_to_slow`` / ``norm``
``t_resS_I_branch2c_bn_subsample_w``/``_bn_*``  ``blocks.{S-1}.multipathway_fusion.*`` (S = 2, 3, 4)
``resS_I_branch1_w`` / ``_bn_*``            ``blocks.{S-1}.multipathway_blocks.P.res_blocks.I.branch1_conv`` / ``branch1_norm``
``resS_I_branch2{a,b,c}_w`` / ``_bn_*``     ``...res_blocks.I.branch2.conv_{a,b,c}`` / ``norm_{a,b,c}``
``pred_w``, ``pred_b``                      ``blocks.6.proj.weight``, ``.bias``
==========================================  =================================================

BatchNorm suffixes: ``s`` scale -> ``weight``, ``b`` -> ``bias``, ``rm`` -> ``running_mean``,
``riv`` -> ``running_var``. Optimizer state (blobs containing ``momentum``, ``lr``, ``model_iter``)
is skipped, as PySlowFast's own converter does; any other unknown blob is an error. The file is
read with the restricted unpickler (:mod:`acav.core.safe_pickle`): only containers, strings,
numbers and numpy arrays, so a checkpoint cannot run code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from acav.core.safe_pickle import UnsafePickleError, safe_load

CAFFE2_FILENAME = "SLOWFAST_8x8_R50.pkl"
OPTIMIZER_BLOBS = ("momentum", "lr", "model_iter")
_BN = {"s": "weight", "b": "bias", "rm": "running_mean", "riv": "running_var"}
_STEM_CONV = re.compile(r"conv1_w")
_STEM_BN = re.compile(r"res_conv1_bn_(s|b|rm|riv)")
_STEM_FUSION = re.compile(r"pool1_subsample_(?:(w)|bn_(s|b|rm|riv))")
_STAGE_FUSION = re.compile(r"res([2-4])_\d+_branch2c_bn_subsample_(?:(w)|bn_(s|b|rm|riv))")
_BLOCK = re.compile(r"res([2-5])_(\d+)_branch(1|2[abc])_(?:(w)|bn_(s|b|rm|riv))")
_HEAD = re.compile(r"pred_(w|b)")


class Caffe2CheckpointError(ValueError):
    """A Caffe2 checkpoint cannot be read or mapped; the message names the file and the blob."""


def _fusion_key(block: int, weight: str | None, bn: str | None) -> str:
    part = "conv_fast_to_slow.weight" if weight else f"norm.{_BN[bn or '']}"
    return f"blocks.{block}.multipathway_fusion.{part}"


def blob_to_key(blob: str) -> str | None:
    """Our parameter name for a Caffe2 blob; None for optimizer state. Raises for unknown blobs."""
    if any(word in blob for word in OPTIMIZER_BLOBS):
        return None
    fast = blob.startswith("t_")
    name = blob[2:] if fast else blob
    pathway = 1 if fast else 0
    if _STEM_CONV.fullmatch(name):
        return f"blocks.0.multipathway_blocks.{pathway}.conv.weight"
    if match := _STEM_BN.fullmatch(name):
        return f"blocks.0.multipathway_blocks.{pathway}.norm.{_BN[match[1]]}"
    if fast and (match := _STEM_FUSION.fullmatch(name)):
        return _fusion_key(0, match[1], match[2])
    if fast and (match := _STAGE_FUSION.fullmatch(name)):
        return _fusion_key(int(match[1]) - 1, match[2], match[3])
    if match := _BLOCK.fullmatch(name):
        stage, index, branch, weight, bn = match.groups()
        prefix = f"blocks.{int(stage) - 1}.multipathway_blocks.{pathway}.res_blocks.{int(index)}"
        if branch == "1":
            return f"{prefix}.branch1_conv.weight" if weight else f"{prefix}.branch1_norm.{_BN[bn]}"
        letter = branch[1]
        return (
            f"{prefix}.branch2.conv_{letter}.weight"
            if weight
            else f"{prefix}.branch2.norm_{letter}.{_BN[bn]}"
        )
    if not fast and (match := _HEAD.fullmatch(name)):
        return "blocks.6.proj." + ("weight" if match[1] == "w" else "bias")
    raise Caffe2CheckpointError(f"unknown Caffe2 SlowFast blob {blob!r}")


def read_caffe2_blobs(path: str | Path) -> dict[str, Any]:
    """The ``blobs`` dict of a Caffe2 checkpoint file, read safely (Python 2 pickles included)."""
    import numpy as np

    try:
        checkpoint = safe_load(path, encoding="latin1")
    except UnsafePickleError as exc:
        raise Caffe2CheckpointError(str(exc)) from exc
    except Exception as exc:
        raise Caffe2CheckpointError(f"{path}: cannot be read as a Caffe2 checkpoint ({exc})") from exc
    blobs = checkpoint.get("blobs") if isinstance(checkpoint, dict) else None
    if not isinstance(blobs, dict):
        raise Caffe2CheckpointError(f"{path}: no 'blobs' dict; not a Caffe2/Detectron checkpoint")
    for name, value in blobs.items():
        if not isinstance(name, str) or not isinstance(value, np.ndarray):
            raise Caffe2CheckpointError(f"{path}: blob {name!r} is not a named numpy array")
    return blobs


def caffe2_state_dict(path: str | Path) -> dict[str, Any]:
    """A state dict for :class:`SlowFastR50` from a Caffe2 checkpoint (strict loading then checks
    that every parameter is present with its shape)."""
    import torch

    state: dict[str, torch.Tensor] = {}
    for blob, array in read_caffe2_blobs(path).items():
        try:
            key = blob_to_key(blob)
        except Caffe2CheckpointError as exc:
            raise Caffe2CheckpointError(f"{path}: {exc}") from None
        if key is None:
            continue
        if key in state:
            raise Caffe2CheckpointError(f"{path}: two blobs map to {key} (second: {blob!r})")
        state[key] = torch.from_numpy(array.astype("float32", copy=True))
    # Caffe2 keeps no BatchNorm step counter; ours is unused at inference.
    for key in [k for k in state if k.endswith(".running_mean")]:
        state[key[: -len("running_mean")] + "num_batches_tracked"] = torch.tensor(0)
    return state
