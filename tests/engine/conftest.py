"""One private Ray instance per test module (Ray takes seconds to start)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    from acav.engine.ray_engine import LOCAL_OBJECT_STORE_BYTES

    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=LOCAL_OBJECT_STORE_BYTES,
        log_to_driver=False,
    )
    try:
        yield
    finally:
        ray.shutdown()
