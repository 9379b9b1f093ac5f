import os
import pickle
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from acav.core.atomic import atomic_write_pickle
from acav.core.safe_pickle import UnsafePickleError, safe_load, safe_loads


def test_round_trip_of_feature_shard_structure(tmp_path: Path) -> None:
    shard = [
        {
            "filename": "qpxektwhzra_292.mp4",
            "shard_name": "shard-000000",
            "shard_size": 1,
            "video_features": [
                {
                    "model_key": "layer_slow_fast",
                    "array": {"layer_0": np.arange(88, dtype=np.float32), "layer_1": np.float16(2.5)},
                }
            ],
            "audio_assignments": [{"array": {"layer_0": np.int64(7), "layer_1": 3}}],
            "tuple": (1, 2.0, None, True, b"x"),
            "ordered": OrderedDict(a=1),
        }
    ]
    path = tmp_path / "shard-000000.pkl"
    atomic_write_pickle(path, shard)
    loaded = safe_load(path)
    assert loaded[0]["filename"] == "qpxektwhzra_292.mp4"
    np.testing.assert_array_equal(loaded[0]["video_features"][0]["array"]["layer_0"], np.arange(88))
    assert loaded[0]["video_features"][0]["array"]["layer_0"].dtype == np.float32
    assert loaded[0]["audio_assignments"][0]["array"]["layer_0"] == 7
    assert loaded[0]["tuple"] == (1, 2.0, None, True, b"x")


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_numpy_arrays_load_at_every_protocol(protocol: int) -> None:
    data = pickle.dumps({"x": np.linspace(0, 1, 5), "y": np.int32(3)}, protocol=protocol)
    loaded = safe_loads(data)
    np.testing.assert_allclose(loaded["x"], np.linspace(0, 1, 5))
    assert loaded["y"] == 3


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_refuses_code_execution(tmp_path: Path) -> None:
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps([_Exploit()]))
    with pytest.raises(UnsafePickleError, match="posix.system|os.system"):
        safe_load(path)


def test_refuses_arbitrary_classes() -> None:
    with pytest.raises(UnsafePickleError, match="Path"):
        safe_loads(pickle.dumps(Path("/etc/passwd")))


def test_truncated_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.pkl"
    path.write_bytes(pickle.dumps({"a": list(range(100))})[:20])
    with pytest.raises(pickle.UnpicklingError, match="cut.pkl"):
        safe_load(path)


def test_depth_bound_without_arrays_shared_parts_and_cycles() -> None:
    # Shared sub-objects (pickle's memo) are checked once per level: 3**40 paths, 80 levels.
    shared: list = []
    for _ in range(40):
        shared = [shared, shared, {"k": shared}]
    loaded = safe_loads(pickle.dumps(shared))
    assert len(loaded) == 3 and loaded[0] is loaded[1]
    nested: list = []
    for _ in range(150):  # deeper than the bound, no numpy anywhere
        nested = [nested]
    with pytest.raises(UnsafePickleError, match="nested more than 100 deep"):
        safe_loads(pickle.dumps(nested))
    cycle: list = [1]
    cycle.append(cycle)
    with pytest.raises(UnsafePickleError, match="nested more than 100 deep"):
        safe_loads(pickle.dumps(cycle))
    # The same bound holds where arrays are present (the placeholder path).
    with pytest.raises(UnsafePickleError, match="nested more than 100 deep"):
        safe_loads(pickle.dumps([np.arange(3), nested]))


def test_many_arrays_of_one_dtype_keep_values_shapes_and_checks() -> None:
    # Protocol 5 stores each array as a bytearray + a memoized dtype: the fast path of _frombuffer.
    arrays = [np.arange(n, dtype=np.float32) * 0.5 for n in (1, 7, 352)]
    arrays += [np.arange(12, dtype=np.float64).reshape(3, 4), np.asfortranarray(np.ones((2, 5), np.float32))]
    arrays += [np.array([], dtype=np.float32), np.arange(4, dtype=np.uint8)]
    loaded = safe_loads(pickle.dumps(arrays, protocol=5))
    for got, want in zip(loaded, arrays, strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want)
        assert got.flags.writeable
    # a 1-D array whose bytes do not match its length is refused, also after a good one (dtype cached)
    lying = pickle.dumps([np.zeros(3, np.float32), _LyingArray()], protocol=5)
    with pytest.raises(pickle.UnpicklingError, match="does not match"):
        safe_loads(lying)


class _LyingArray:
    def __reduce__(self):
        try:
            from numpy._core.numeric import _frombuffer
        except ImportError:  # numpy < 2
            from numpy.core.numeric import _frombuffer
        return (_frombuffer, (bytearray(8), np.dtype(np.float32), (3,), "C"))
