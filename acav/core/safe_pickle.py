"""Restricted unpickling for ``.pkl`` shards, which are untrusted input (FORMATS.md).

Admits plain containers, numbers, strings, bytes and numpy arrays/scalars/dtypes. Any other
global (functions, classes, ``os.system`` ...) is refused with :class:`UnsafePickleError`.

Every admitted constructor is bounded, so a small file cannot make the process allocate much more
than the file holds (``bytearray(2**31)`` is a 32-byte pickle):

* ``bytes``/``bytearray``/``list``/``tuple``/``set``/``frozenset``/``dict``/``OrderedDict``
  with arguments, and every numpy array, are charged against a per-file budget of the file's size
  plus :data:`ALLOCATION_SLACK` bytes;
* numpy arrays are never built by numpy's own ``__setstate__`` (which crashes on an object array
  whose shape disagrees with its data): :func:`_reconstruct` returns a placeholder that records the
  state, checks it (no object dtypes, data length = shape x item size) and builds the array from
  the bytes; placeholders are swapped for the arrays after loading;
* ``_codecs.encode`` only with the ``latin1`` codec (what numpy's protocol-2 pickles use);
* containers may nest at most :data:`MAX_DEPTH` deep;
* a file may be at most ``$ACAV_PICKLE_MAX_BYTES`` bytes (default :data:`DEFAULT_MAX_FILE_BYTES`).
"""

from __future__ import annotations

import _compat_pickle
import io
import os
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

MAX_DEPTH = 100
ALLOCATION_SLACK = 64 * 1024 * 1024
DEFAULT_MAX_FILE_BYTES = 16 * 1024**3
_POINTER = 8  # bytes charged per container element

_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")
_NUMERIC_MODULES = ("numpy.core.numeric", "numpy._core.numeric")

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
        *((module, name) for module in _NUMPY_MODULES for name in ("_reconstruct", "scalar")),
        *((module, "_frombuffer") for module in _NUMERIC_MODULES),
    }
)

_SIZED = {"bytes": bytes, "bytearray": bytearray}
_CONTAINERS = {
    "list": list,
    "tuple": tuple,
    "set": set,
    "frozenset": frozenset,
    "dict": dict,
    "OrderedDict": OrderedDict,
}


class UnsafePickleError(pickle.UnpicklingError):
    """Raised when a pickle references something outside the allowed set or exceeds a bound."""


def max_file_bytes() -> int:
    value = os.environ.get("ACAV_PICKLE_MAX_BYTES", "")
    return int(value) if value.strip().isdigit() else DEFAULT_MAX_FILE_BYTES


class _ArraySentinel:
    """Stands for ``numpy.ndarray`` inside a pickle: only valid as ``_reconstruct``'s first argument."""


class _ArrayPlaceholder:
    """What ``_reconstruct`` returns; BUILD hands it the array state, :meth:`build` makes the array."""

    __slots__ = ("loader", "state", "array")

    def __init__(self, loader: RestrictedUnpickler) -> None:
        self.loader = loader
        self.state: Any = None
        self.array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def build(self) -> np.ndarray:
        if self.array is None:
            self.array = self.loader.array_from_state(self.state)
        return self.array


class RestrictedUnpickler(pickle.Unpickler):
    def __init__(
        self, file: Any, source: str = "<bytes>", size: int | None = None, encoding: str = "ASCII"
    ) -> None:
        # encoding="latin1" reads Python 2 pickles (Caffe2/Detectron checkpoints): their str
        # values, numpy array data included, become latin1 str, which array_from_state accepts.
        super().__init__(file, encoding=encoding)
        self._source = source
        self._budget = (size if size is not None else max_file_bytes()) + ALLOCATION_SLACK
        self.made_placeholders = False  # any array placeholder or ndarray sentinel handed out
        self._dtypes: dict[np.dtype, np.dtype] = {}  # dtypes already checked in this file

    def refuse(self, what: str) -> UnsafePickleError:
        return UnsafePickleError(
            f"{self._source}: refusing to unpickle: {what}. Shard pickles may only hold dicts, lists, "
            "numbers, strings and numpy arrays of the file's size; this file is corrupt or hostile."
        )

    def charge(self, nbytes: int, what: str) -> None:
        self._budget -= max(0, int(nbytes))
        if self._budget < 0:
            raise self.refuse(f"{what} would allocate more bytes than the file holds")

    def find_class(self, module: str, name: str) -> Any:
        # Protocol-2 pickles name Python 2 modules (``__builtin__.bytearray``): map them as pickle does.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        if (module, name) not in _ALLOWED_GLOBALS:
            raise UnsafePickleError(
                f"{self._source}: refusing to unpickle '{module}.{name}'. Shard pickles may only hold "
                "dicts, lists, numbers, strings and numpy arrays; this file is corrupt or not from acav."
            )
        return self._bounded(module, name)

    def _bounded(self, module: str, name: str) -> Any:
        if module == "builtins" and name in _SIZED:
            return self._sized(name)
        if name in _CONTAINERS:
            return self._container(name)
        if (module, name) == ("_codecs", "encode"):
            return self._encode
        if (module, name) == ("numpy", "ndarray"):
            self.made_placeholders = True
            return _ArraySentinel
        if name == "_reconstruct":
            return self._reconstruct
        if name == "_frombuffer":
            return self._frombuffer
        if name == "scalar":
            return self._scalar
        if (module, name) == ("numpy", "dtype"):
            return self._dtype
        return super().find_class(module, name)

    def _sized(self, name: str) -> Any:
        kind = _SIZED[name]

        def make(*args: Any) -> Any:
            if args and isinstance(args[0], int) and not isinstance(args[0], bool):
                self.charge(args[0], f"{name}({args[0]})")
                return kind(args[0])
            result = kind(*args)
            self.charge(len(result), name)
            return result

        return make

    def _container(self, name: str) -> Any:
        kind = _CONTAINERS[name]

        def make(*args: Any, **kwargs: Any) -> Any:
            if args and not hasattr(args[0], "__len__"):
                raise self.refuse(f"{name}() of a {type(args[0]).__name__}")
            if args:
                self.charge(_POINTER * len(args[0]), f"{name}() of {len(args[0])} items")
            return kind(*args, **kwargs)

        return make

    def _encode(self, obj: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
            raise self.refuse(f"_codecs.encode with encoding {encoding!r} (only latin1 strings)")
        return obj.encode("latin1", errors if errors in ("strict",) else "strict")

    def _dtype(self, *args: Any) -> np.dtype:
        dtype = np.dtype(*args)
        if dtype.hasobject:
            raise self.refuse(f"numpy dtype {dtype} (object arrays)")
        return dtype

    def _scalar(self, dtype: Any, *args: Any) -> Any:
        dtype = self._checked_dtype(dtype)
        return super().find_class(_NUMPY_MODULES[0], "scalar")(dtype, *args)

    def _checked_dtype(self, value: Any) -> np.dtype:
        if isinstance(value, bytes):
            value = value.decode("latin1")
        dtype = value if isinstance(value, np.dtype) else np.dtype(value)
        if dtype.hasobject:
            raise self.refuse(f"numpy dtype {dtype} (object arrays)")
        return dtype

    def _shape_bytes(self, shape: Any, dtype: np.dtype) -> int:
        if isinstance(shape, int):
            shape = (shape,)
        if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise self.refuse(f"numpy array shape {shape!r}")
        count = 1
        for n in shape:
            count *= n
        return count * dtype.itemsize

    def _reconstruct(self, subtype: Any, shape: Any, dtype: Any) -> _ArrayPlaceholder:
        if subtype is not _ArraySentinel:
            raise self.refuse(f"_reconstruct of {subtype!r}")
        self.charge(self._shape_bytes(shape, self._checked_dtype(dtype)), f"numpy array of shape {shape!r}")
        self.made_placeholders = True
        return _ArrayPlaceholder(self)

    def _frombuffer(self, buffer: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
        # Called once per array (feature shards: 10 per clip), so the common case is kept short: a
        # bytearray (protocol 5 in-band data) of a dtype already checked in this file (pickle
        # memoizes it) and a 1-D shape. The array uses the bytearray the unpickler made for it, as
        # numpy's own _frombuffer does.
        checked = self._dtypes.get(dtype) if isinstance(dtype, np.dtype) else None
        if (
            checked is not None
            and type(buffer) is bytearray
            and type(shape) is tuple
            and len(shape) == 1
            and type(shape[0]) is int
            and len(buffer) == shape[0] * checked.itemsize
        ):
            self.charge(len(buffer), "numpy array")
            return np.frombuffer(buffer, dtype=checked)
        dtype_in = dtype
        dtype = self._checked_dtype(dtype)
        if isinstance(dtype_in, np.dtype):
            self._dtypes[dtype_in] = dtype
        size = self._shape_bytes(shape, dtype)
        if (
            not isinstance(buffer, bytes | bytearray | pickle.PickleBuffer)
            or memoryview(buffer).nbytes != size
        ):
            raise self.refuse(f"numpy buffer that does not match shape {shape!r} x {dtype}")
        self.charge(size, f"numpy array of shape {shape!r}")
        array = np.frombuffer(bytearray(buffer), dtype=dtype)
        return array.reshape(shape, order="F" if order == "F" else "C")

    def array_from_state(self, state: Any) -> np.ndarray:
        """Build an array from ``ndarray.__setstate__``'s state, checking every part of it."""
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise self.refuse("numpy array state of an unknown form")
        shape, dtype, fortran, data = state[-4:]
        dtype = self._checked_dtype(dtype)
        size = self._shape_bytes(shape, dtype)
        if isinstance(data, str):
            data = data.encode("latin1")
        if not isinstance(data, bytes | bytearray) or len(data) != size:
            raise self.refuse(f"numpy array data that does not match shape {shape!r} x {dtype}")
        array = np.frombuffer(bytearray(data), dtype=dtype)
        return array.reshape(shape, order="F" if fortran else "C")

    def load(self) -> Any:
        return _finish(super().load(), self)


_NESTING = frozenset({list, dict, tuple, set, frozenset, OrderedDict})


def _check_depth(root: Any, loader: RestrictedUnpickler) -> None:
    """Refuse containers nested more than :data:`MAX_DEPTH` deep, level by level.

    The fast path of :func:`_finish` for pickles without numpy arrays (e.g. cluster shards: ~7
    containers per clip): one list comprehension per level instead of a Python step per object,
    which made loading 8x slower than plain pickle. Objects shared by several parents (pickle's
    memo) are visited once per level; a cycle never ends its levels and is refused as too deep.
    """
    level = [root] if type(root) in _NESTING else []
    for _ in range(MAX_DEPTH + 1):
        if not level:
            return
        children = [
            value
            for obj in level
            for value in (obj.values() if isinstance(obj, dict) else obj)
            if type(value) in _NESTING
        ]
        level = list({id(value): value for value in children}.values())
    if level:
        raise loader.refuse(f"containers nested more than {MAX_DEPTH} deep")


def _finish(root: Any, loader: RestrictedUnpickler) -> Any:
    """Swap array placeholders for arrays and enforce :data:`MAX_DEPTH` (iteratively: no recursion)."""
    if isinstance(root, _ArrayPlaceholder):
        return root.build()
    if not loader.made_placeholders:
        _check_depth(root, loader)
        return root
    stack: list[tuple[Any, int]] = [(root, 0)]
    seen: set[int] = set()
    rebuilt_tuples = False
    while stack:
        obj, depth = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if depth > MAX_DEPTH:
            raise loader.refuse(f"containers nested more than {MAX_DEPTH} deep")
        if isinstance(obj, dict):
            for key, value in obj.items():
                if isinstance(key, _ArrayPlaceholder) or isinstance(
                    value, _ArrayPlaceholder | _ArraySentinel
                ):
                    if isinstance(key, _ArrayPlaceholder):
                        raise loader.refuse("a numpy array as a dict key")
                    if isinstance(value, _ArraySentinel):
                        raise loader.refuse("the bare numpy.ndarray type")
                    obj[key] = value.build()
                elif isinstance(value, list | dict | tuple | set | frozenset):
                    stack.append((value, depth + 1))
        elif isinstance(obj, list):
            for i, value in enumerate(obj):
                if isinstance(value, _ArraySentinel):
                    raise loader.refuse("the bare numpy.ndarray type")
                if isinstance(value, _ArrayPlaceholder):
                    obj[i] = value.build()
                elif isinstance(value, list | dict | tuple | set | frozenset):
                    stack.append((value, depth + 1))
        elif isinstance(obj, tuple | set | frozenset):
            for value in obj:
                if isinstance(value, _ArraySentinel):
                    raise loader.refuse("the bare numpy.ndarray type")
                if isinstance(value, _ArrayPlaceholder):
                    if not isinstance(obj, tuple):
                        raise loader.refuse("a numpy array inside a set")
                    rebuilt_tuples = True
                elif isinstance(value, list | dict | tuple | set | frozenset):
                    stack.append((value, depth + 1))
    if rebuilt_tuples:  # rare: arrays inside tuples (tuples are immutable, so rebuild them)
        return _rebuild(root)
    return root


def _rebuild(obj: Any) -> Any:
    # Depth is already bounded by _finish, so recursion is safe here.
    if isinstance(obj, _ArrayPlaceholder):
        return obj.build()
    if isinstance(obj, tuple):
        return tuple(_rebuild(v) for v in obj)
    if isinstance(obj, list):
        obj[:] = [_rebuild(v) for v in obj]
    elif isinstance(obj, dict):
        for key in list(obj):
            obj[key] = _rebuild(obj[key])
    return obj


def safe_loads(data: bytes, source: str = "<bytes>") -> Any:
    return RestrictedUnpickler(io.BytesIO(data), source=source, size=len(data)).load()


def safe_load(path: str | os.PathLike[str], encoding: str = "ASCII") -> Any:
    """Load a pickle file with the restricted unpickler; errors name the file.

    ``encoding`` is the unpickler's for Python 2 pickles, as ``pickle.load``'s argument of that name:
    ``"latin1"`` for Caffe2/Detectron checkpoints, ``"bytes"`` for e.g. CIFAR-10's batches.
    """
    path = Path(path)
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        limit = max_file_bytes()
        if size > limit:
            raise UnsafePickleError(
                f"{path}: {size} bytes is more than the {limit} bytes a shard pickle may have "
                "(raise ACAV_PICKLE_MAX_BYTES if the file is trusted)"
            )
        try:
            return RestrictedUnpickler(handle, source=str(path), size=size, encoding=encoding).load()
        except UnsafePickleError:
            raise
        except Exception as exc:  # truncated or garbage files raise many different types
            raise pickle.UnpicklingError(f"{path}: cannot read pickle ({type(exc).__name__}: {exc})") from exc
