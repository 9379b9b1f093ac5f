"""Loaders for the reference implementations our models are checked against (test-only deps).

* pytorchvideo 0.1.5 (SlowFast R50). Its ``pytorchvideo.models`` package imports
  ``torchvision.ops.RoIAlign`` (used only by detection heads, not by SlowFast R50). torchvision is
  deliberately not installed (a PyPI torchvision breaks beside this torch), so while importing we
  put a minimal stand-in ``torchvision.ops`` module into ``sys.modules`` and remove it right after;
  nothing in the SlowFast path touches it.
* torchvggish 0.2 (VGGish). Its package ``__init__`` imports ``soundfile`` (for WAV reading, not a
  declared dependency and unused here); when soundfile is absent we stand in for it the same way.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


@contextmanager
def _stand_in_modules(stubs: dict[str, types.ModuleType]) -> Iterator[None]:
    """Temporarily provide modules that are missing; real installed ones are left alone."""
    added = []
    for name, module in stubs.items():
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except ImportError:
            sys.modules[name] = module
            added.append(name)
    try:
        yield
    finally:
        for name in added:
            sys.modules.pop(name, None)


def _torchvision_stub() -> dict[str, types.ModuleType]:
    torchvision = types.ModuleType("torchvision")
    ops = types.ModuleType("torchvision.ops")

    class RoIAlign:  # placeholder for an import pytorchvideo's detection head makes; never called
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("torchvision stand-in used by the tests: RoIAlign is not available")

    ops.RoIAlign = RoIAlign  # type: ignore[attr-defined]
    torchvision.ops = ops  # type: ignore[attr-defined]
    return {"torchvision": torchvision, "torchvision.ops": ops}


@pytest.fixture(scope="session")
def pytorchvideo_slowfast_r50() -> Any:
    """pytorchvideo's ``slowfast_r50`` builder (random init when called with pretrained=False)."""
    pytest.importorskip("fvcore", reason="test-only dependency of pytorchvideo (requirements-dev.txt)")
    with _stand_in_modules(_torchvision_stub()):
        hub = pytest.importorskip(
            "pytorchvideo.models.hub.slowfast", reason="pytorchvideo is in requirements-dev.txt"
        )
    return hub.slowfast_r50


@pytest.fixture(scope="session")
def torchvggish_module() -> Any:
    """The ``torchvggish`` package (model builder ``torchvggish.torchvggish._vgg`` and ``vggish_input``)."""
    soundfile = types.ModuleType("soundfile")
    with _stand_in_modules({"soundfile": soundfile}):
        return pytest.importorskip("torchvggish", reason="torchvggish is in requirements-dev.txt")
