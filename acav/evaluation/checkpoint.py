"""Load the original ACAV100M release's pretrained checkpoint (``acav100m_checkpoint.pyth``).

Its file is a ``torch.save``d dict with ``state_dict`` (and ``epoch``, ``optimizer``), whose keys
follow the original's module names (SlowFast-style): ``visual_conv.s1.pathway0_stem.conv.weight``,
``visual_conv.s{2..5}.pathway0_res{i}.branch2.{a,b,c}[_bn]``, ``branch1[_bn]`` (projection
shortcut), ``audio_conv.s1.stem.{conv1,bn1,conv2,bn2}``, ``audio_conv.s{2..5}.res{i}.branch2.
{a,b1,b2,b,c}[_bn]``, and the heads ``visual_mlp`` / ``audio_mlp`` (``fc1``, ``bn``, ``fc2``).
:func:`map_original_key` renames them onto ours; everything else is refused by name.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from acav.evaluation.config import FULL, ModelConfig
from acav.evaluation.models import AudioVisualModel

ORIGINAL_URL = "https://drive.google.com/uc?export=download&id=1OxSj_jRmQpVjNmuyjhGdEcuogRCfo9Rk"

_BRANCH2 = {
    "a": "conv_a",
    "a_bn": "bn_a",
    "b": "conv_b",
    "b_bn": "bn_b",
    "c": "conv_c",
    "c_bn": "bn_c",
    "b1": "conv_bf",
    "b1_bn": "bn_bf",
    "b2": "conv_bt",
    "b2_bn": "bn_bt",
}
_AUDIO_STEM = {"conv1": "conv_f", "bn1": "bn_f", "conv2": "conv_t", "bn2": "bn_t"}
_PATTERNS = [
    (
        re.compile(r"^visual_conv\.s1\.pathway0_stem\.(conv|bn)\.(.+)$"),
        lambda m: f"visual.stem.{m[1]}.{m[2]}",
    ),
    (
        re.compile(r"^audio_conv\.s1\.stem\.(conv1|bn1|conv2|bn2)\.(.+)$"),
        lambda m: f"audio.stem.{_AUDIO_STEM[m[1]]}.{m[2]}",
    ),
    (
        re.compile(
            r"^(visual|audio)_conv\.s([2-5])\.(?:pathway0_)?res(\d+)\.branch2\.(a|a_bn|b|b_bn|c|c_bn|b1|b1_bn|b2|b2_bn)\.(.+)$"
        ),
        lambda m: f"{m[1]}.stages.{int(m[2]) - 2}.{m[3]}.{_BRANCH2[m[4]]}.{m[5]}",
    ),
    (
        re.compile(r"^(visual|audio)_conv\.s([2-5])\.(?:pathway0_)?res(\d+)\.(branch1|branch1_bn)\.(.+)$"),
        lambda m: f"{m[1]}.stages.{int(m[2]) - 2}.{m[3]}.{'proj' if m[4] == 'branch1' else 'proj_bn'}.{m[5]}",
    ),
    (re.compile(r"^(visual|audio)_mlp\.(fc1|bn|fc2)\.(.+)$"), lambda m: f"{m[1]}_head.{m[2]}.{m[3]}"),
]


class CheckpointError(ValueError):
    """The file is not a checkpoint of the original layout; the message names the first bad key."""


def map_original_key(key: str) -> str:
    key = key.removeprefix("module.")
    for pattern, rename in _PATTERNS:
        match = pattern.match(key)
        if match:
            return rename(match)
    raise CheckpointError(
        f"parameter {key!r} is not one of the original release's (visual_conv/audio_conv/..._mlp)"
    )


def map_original_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {map_original_key(k): v for k, v in state.items()}


def load_original_checkpoint(path: Path, config: ModelConfig = FULL, heads: bool = True) -> AudioVisualModel:
    """Our model with the original checkpoint's weights (strict: every encoder parameter must be
    present with its shape; heads too unless ``heads`` is False)."""
    raw = torch.load(path, map_location="cpu", weights_only=False)
    state = raw.get("state_dict", raw) if isinstance(raw, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: no state_dict inside")
    mapped = map_original_state(state)
    model = AudioVisualModel(config)
    ours = model.state_dict()
    wanted = {k for k in ours if heads or not k.split(".")[0].endswith("_head")}
    missing = sorted(wanted - set(mapped))
    if missing:
        raise CheckpointError(f"{path}: {len(missing)} parameters missing, e.g. {missing[0]}")
    for key, value in mapped.items():
        if key in ours and ours[key].shape != value.shape:
            raise CheckpointError(
                f"{path}: {key} has shape {tuple(value.shape)}, expected {tuple(ours[key].shape)}"
            )
    model.load_state_dict({k: v for k, v in mapped.items() if k in wanted}, strict=False)
    return model.eval()
