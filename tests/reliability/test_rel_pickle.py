"""Hostile pickles: every constructor the restricted unpickler admits is bounded, and refusals are
reported per shard by the stages that read pickles."""

from __future__ import annotations

import pickle
import resource
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from acav.core.safe_pickle import UnsafePickleError, safe_load, safe_loads


def _call(module: str, name: str, *args_ops: bytes) -> bytes:
    """Protocol-2 pickle of ``module.name(*args)``; each arg is already-encoded opcodes."""
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"(" + b"".join(args_ops) + b"tR."


def _int(value: int) -> bytes:
    return b"J" + struct.pack("<i", value)  # BININT


def _long(value: int) -> bytes:
    data = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(data)]) + data  # LONG1


@pytest.mark.parametrize(
    ("module", "name", "args"),
    [
        ("builtins", "bytearray", [_long(2**31)]),
        ("builtins", "bytes", [_long(2**31)]),
        ("builtins", "bytearray", [_long(2**40)]),
    ],
)
def test_size_argument_is_bounded(module: str, name: str, args: list[bytes]) -> None:
    data = _call(module, name, *args)
    assert len(data) < 40  # a tiny file ...
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(UnsafePickleError, match=rf"{name}.*refus|refus.*{name}"):
        safe_loads(data, source="hostile.pkl")
    # ... must not make the process allocate gigabytes before refusing.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB


def test_list_of_huge_bytes_is_bounded() -> None:
    # list(bytes(10**9)) would be a billion ints.
    inner = _call("builtins", "bytes", _long(10**9))[2:-1]
    data = b"\x80\x02c" + b"builtins\nlist\n(" + inner + b"tR."
    with pytest.raises(UnsafePickleError):
        safe_loads(data)


def test_ndarray_shape_is_bounded() -> None:
    # ndarray.__new__ through _reconstruct allocates the given shape before any data arrives.
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        data = (
            b"\x80\x02c" + f"{module}\n_reconstruct\n".encode()
            + b"(cnumpy\nndarray\n"
            + b"(" + _long(10**11) + b"t"  # shape
            + b"U\x01b"  # dtype char
            + b"tR."
        )  # fmt: skip
        with pytest.raises(UnsafePickleError, match="bytes"):
            safe_loads(data)


def test_codecs_encode_only_latin1() -> None:
    data = b"\x80\x02c_codecs\nencode\n(X\x03\x00\x00\x00abcX\x04\x00\x00\x00zlibtR."
    with pytest.raises(UnsafePickleError, match="encod"):
        safe_loads(data)


def test_nesting_depth_is_bounded() -> None:
    # 5000 nested lists in 10 kB, written opcode by opcode (pickle.dumps would recurse).
    data = b"\x80\x04" + b"]" * 5000 + b"a" * 4999 + b"."
    with pytest.raises(UnsafePickleError, match="deep"):
        safe_loads(data)


def test_file_size_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACAV_PICKLE_MAX_BYTES", "1000")
    path = tmp_path / "shard-000000.pkl"
    path.write_bytes(pickle.dumps([np.zeros(1000, dtype=np.float32)]))
    with pytest.raises(UnsafePickleError, match="ACAV_PICKLE_MAX_BYTES"):
        safe_load(path)


def test_real_shards_still_load(tmp_path: Path) -> None:
    rows = [
        {
            "filename": f"abcdefghijk_{i:03d}.mp4",
            "video_features": [{"model_key": "k", "array": {"layer_0": np.arange(512, dtype=np.float32)}}],
            "blob": bytearray(b"x" * 100),
            "raw": bytes(16),
        }
        for i in range(50)
    ]
    for protocol in (2, 3, 4, 5):
        path = tmp_path / f"p{protocol}.pkl"
        path.write_bytes(pickle.dumps(rows, protocol=protocol))
        loaded = safe_load(path)
        assert len(loaded) == 50 and loaded[3]["raw"] == bytes(16)
        np.testing.assert_array_equal(loaded[7]["video_features"][0]["array"]["layer_0"], np.arange(512))


def test_stage6_reports_the_refused_shard(tmp_path: Path) -> None:
    from acav.cli import main
    from acav.core.layout import DataLayout
    from acav.subset_selection.synthetic import make_assignments, write_cluster_shards

    layout = DataLayout(tmp_path / "data")
    write_cluster_shards(layout, make_assignments(40, ncentroids=4, seed=3), 10)
    layout.cluster_shard("shard-000002").write_bytes(_call("builtins", "bytearray", _long(2**31)))
    assert main(["select", "--data-dir", str(layout.root), "--backend", "numpy", "-q"]) == 0
    import json

    problems = json.loads(layout.selection_log.read_text())["problems"]
    refused = [p for p in problems if p["where"].endswith("shard-000002.pkl")]
    assert len(refused) == 1 and "refusing" in refused[0]["reason"], problems
    assert "bytearray(2147483648)" in refused[0]["reason"]


def test_object_array_with_a_lying_shape_is_refused_not_a_crash(tmp_path: Path) -> None:
    # numpy's own __setstate__ segfaults on an object array whose list is shorter than its shape.
    class Lying:
        def __reduce__(self):
            return (
                np.arange(1).__reduce__()[0],
                (np.ndarray, (0,), b"b"),
                (1, (10**6,), np.dtype("O"), False, [1]),
            )

    path = tmp_path / "shard-000000.pkl"
    path.write_bytes(pickle.dumps([Lying()], protocol=2))
    code = (
        "import sys; from acav.core.safe_pickle import safe_load\n"
        "try:\n    safe_load(sys.argv[1])\nexcept Exception as exc:\n    print(type(exc).__name__, exc)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.startswith("UnsafePickleError") and "object" in done.stdout
