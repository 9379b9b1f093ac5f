import logging

import pytest
import torch

from acav.core import device as device_mod
from acav.core.device import choose_device, visible_devices
from acav.core.records import JsonlWriter, read_jsonl


def test_cpu_is_always_available() -> None:
    assert choose_device("cpu") == torch.device("cpu")


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback")
def test_auto_and_cuda_fall_back_to_cpu_and_say_so_once() -> None:
    device_mod._warn_cpu_fallback.cache_clear()
    handler = _ListHandler()
    logger = logging.getLogger("acav.core.device")
    logger.addHandler(handler)
    try:
        assert choose_device("auto") == torch.device("cpu")
        assert choose_device("auto") == torch.device("cpu")
        assert visible_devices("cuda") == [torch.device("cpu")]
    finally:
        logger.removeHandler(handler)
    assert len(handler.messages) == 2  # one per distinct reason, not one per call
    assert "CUDA_VISIBLE_DEVICES" in handler.messages[0]
    assert "--device cuda" in handler.messages[1]


def test_unknown_device_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown device"):
        choose_device("tpu")


def test_jsonl_records_survive_a_torn_line(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    with JsonlWriter(path) as log:
        log.write({"id": "a", "status": "ok"})
        log.write({"id": "b", "status": "failed", "error": "ünïcode"})
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"id": "c", "sta')  # interrupted writer
    assert [r["id"] for r in read_jsonl(path)] == ["a", "b"]
    with pytest.raises(ValueError, match="log.jsonl:3"):
        list(read_jsonl(path, skip_bad=False))


def test_appending_after_a_torn_line_keeps_the_new_record(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b", "sta')  # killed mid-write
    with JsonlWriter(path) as log:
        log.write({"id": "c"})
    assert [r["id"] for r in read_jsonl(path)] == ["a", "c"]
    with JsonlWriter(path) as log:  # a clean file gets no blank line
        log.write({"id": "d"})
    assert path.read_text().endswith('{"id": "c"}\n{"id": "d"}\n')
