"""Our own torch implementations of the paper's extractors and their pretrained-weight handling.

* :mod:`.slowfast` - SlowFast 8x8 R50 (Kinetics-400): ``SlowFastR50``, ``slowfast_preprocess``,
  ``build_slowfast``.
* :mod:`.vggish` / :mod:`.vggish_input` - VGGish and its log-mel front end: ``VGGish``,
  ``waveform_to_examples``, ``build_vggish``.
* :mod:`.weights` - the checkpoint registry (URLs, checksums), cache dir, loading and download.

Importing this package is cheap: the submodules (and torch) load on first attribute access.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SLOWFAST_ALPHA": "slowfast",
    "SLOWFAST_CROP": "slowfast",
    "SLOWFAST_LAYER_WIDTHS": "slowfast",
    "SLOWFAST_NUM_FRAMES": "slowfast",
    "SlowFastR50": "slowfast",
    "build_slowfast": "slowfast",
    "slowfast_preprocess": "slowfast",
    "VGGISH_LAYER_WIDTHS": "vggish",
    "VGGish": "vggish",
    "build_vggish": "vggish",
    "VGGISH_SAMPLE_RATE": "vggish_input",
    "waveform_to_examples": "vggish_input",
    "WEIGHTS": "weights",
    "WeightsError": "weights",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
