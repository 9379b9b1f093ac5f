"""Restricted unpickling for ``.pkl`` shards, which are untrusted input (FORMATS.md).

Admits plain containers, numbers, strings, bytes and numpy arrays/scalars/dtypes. Any other
global (functions, classes, ``os.system`` ...) is refused with :class:`UnsafePickleError`.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

# (module, name) pairs a pickle may reference. numpy moved ``core`` to ``_core`` in 2.0;
# files written by either version must load.
_ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("builtins", "dict"),
        ("builtins", "list"),
        ("builtins", "tuple"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "int"),
        ("builtins", "float"),
        ("builtins", "complex"),
        ("builtins", "str"),
        ("builtins", "bytes"),
        ("builtins", "bytearray"),
        ("builtins", "bool"),
        ("builtins", "slice"),
        ("collections", "OrderedDict"),
        ("_codecs", "encode"),  # protocol-2 pickles of numpy arrays store bytes this way
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
    }
)


class UnsafePickleError(pickle.UnpicklingError):
    """Raised when a pickle references something outside the allowed set."""


class RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, source: str = "<bytes>", encoding: str = "ASCII") -> None:
        super().__init__(file, encoding=encoding)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"{self._source}: refusing to unpickle '{module}.{name}'. Shard pickles may only hold "
            "dicts, lists, numbers, strings and numpy arrays; this file is corrupt or not from acav."
        )


def safe_loads(data: bytes, source: str = "<bytes>") -> Any:
    return RestrictedUnpickler(io.BytesIO(data), source=source).load()


def safe_load(path: str | os.PathLike[str], encoding: str = "ASCII") -> Any:
    """Load a pickle file with the restricted unpickler; errors name the file.

    ``encoding`` is the unpickler's for Python 2 strings (``"bytes"`` for e.g. CIFAR-10's batches).
    """
    path = Path(path)
    with open(path, "rb") as handle:
        try:
            return RestrictedUnpickler(handle, source=str(path), encoding=encoding).load()
        except UnsafePickleError:
            raise
        except Exception as exc:  # truncated or garbage files raise many different types
            raise pickle.UnpicklingError(f"{path}: cannot read pickle ({type(exc).__name__}: {exc})") from exc
