"""Feature shard records and files (FORMATS.md section 4).

A feature shard ``features/shard-NNNNNN.pkl`` is a pickled list with one dict per clip::

    {"filename", "shard_name", "shard_size",
     "video_features": [{"model_key", "extractor_name", "dataset", "array": {"layer_0": ndarray, ...}}],
     "audio_features": [...]}

Arrays are 1-D, float32 or float16. Files are written atomically, so a reader or a resumed run
sees either no file or the complete one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from acav.core.atomic import atomic_write_pickle
from acav.feature_extraction.base import Extractor

STORAGE_DTYPES = {"float32": np.float32, "float16": np.float16}


def storage_dtype(name: str) -> type[np.floating]:
    try:
        return STORAGE_DTYPES[name]
    except KeyError:
        raise ValueError(f"unknown feature dtype {name!r}; use one of {', '.join(STORAGE_DTYPES)}") from None


def model_entry(extractor: Extractor, layers: Sequence[np.ndarray], dtype: str = "float32") -> dict[str, Any]:
    """``{"model_key", "extractor_name", "dataset", "array": {"layer_i": 1-D ndarray}}`` for one clip."""
    np_dtype = storage_dtype(dtype)
    if len(layers) != len(extractor.layer_widths):
        raise ValueError(f"{extractor.key}: got {len(layers)} layers, expected {len(extractor.layer_widths)}")
    array = {}
    for name, values, width in zip(extractor.layer_names, layers, extractor.layer_widths, strict=True):
        vec = np.asarray(values, dtype=np.float32).reshape(-1)
        if vec.shape[0] != width:
            raise ValueError(f"{extractor.key}: {name} has width {vec.shape[0]}, expected {width}")
        # np.array (not a view) so each clip pickles only its own vector, not the batch buffer.
        array[name] = np.array(vec, dtype=np_dtype)
    return {**extractor.describe(), "array": array}


def clip_record(
    filename: str,
    shard_name: str,
    shard_size: int,
    video_features: list[dict[str, Any]],
    audio_features: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "filename": filename,
        "shard_name": shard_name,
        "shard_size": int(shard_size),
        "video_features": video_features,
        "audio_features": audio_features,
    }


def write_feature_shard(path: str | Path, records: list[dict[str, Any]]) -> None:
    atomic_write_pickle(path, records)
