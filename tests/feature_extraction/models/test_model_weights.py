"""Weights: lookup order, checksum refusal, safe loading, random fallback, download over loopback."""

from __future__ import annotations

import hashlib
import http.server
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from acav.cli import main as acav_main
from acav.feature_extraction.models import weights as W
from acav.feature_extraction.models.slowfast import (
    SLOWFAST_LAYER_WIDTHS,
    SlowFastR50,
    build_slowfast,
    slowfast_preprocess,
)
from acav.feature_extraction.models.vggish import VGGish, build_vggish


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (W.WEIGHTS_DIR_ENV, "ACAV_SLOWFAST_SHA256", "ACAV_VGGISH_SHA256"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def acav_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog for the ``acav`` logger, which stops propagating once the CLI has set up logging."""
    logger = logging.getLogger("acav")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="acav"):
            yield caplog
    finally:
        logger.removeHandler(caplog.handler)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def vggish_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return VGGish().state_dict()


def _probe(model: VGGish) -> torch.Tensor:
    with torch.inference_mode():
        return model(torch.linspace(-3, 3, 2 * 96 * 64).reshape(2, 1, 96, 64))


def test_weights_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert W.weights_dir() == Path("~/.cache/acav/weights").expanduser()
    monkeypatch.setenv(W.WEIGHTS_DIR_ENV, str(tmp_path / "env"))
    assert W.weights_dir() == tmp_path / "env"
    assert W.weights_dir(tmp_path / "flag") == tmp_path / "flag"
    spec = W.get_spec("vggish")
    assert W.resolve_path(spec, None, tmp_path / "flag") == tmp_path / "flag" / "vggish-10086976.pth"
    (tmp_path / "dir").mkdir()
    assert W.resolve_path(spec, tmp_path / "dir") == tmp_path / "dir" / "vggish-10086976.pth"
    assert W.resolve_path(spec, tmp_path / "x.pth") == tmp_path / "x.pth"


def test_registry_has_canonical_urls() -> None:
    slowfast, vggish = W.get_spec("slowfast_r50"), W.get_spec("vggish")
    assert (
        slowfast.url == "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics/SLOWFAST_8x8_R50.pyth"
    )
    assert vggish.url.endswith("/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth")
    assert vggish.sha256_prefix == "10086976" and vggish.filename.endswith(f"-{vggish.sha256_prefix}.pth")
    with pytest.raises(W.WeightsError, match="unknown weights"):
        W.get_spec("resnet")


def test_wrong_checksum_is_refused_with_instructions(tmp_path: Path, vggish_state) -> None:
    # A real state dict under the canonical name, but not the canonical file: its SHA-256 does
    # not start with 10086976, so it must be refused even with allow_random.
    path = tmp_path / "vggish-10086976.pth"
    torch.save(vggish_state, path)
    assert not _sha(path).startswith("10086976")
    with pytest.raises(W.WeightsError) as info:
        build_vggish(None, allow_random=True, device="cpu", weights_dir=tmp_path)
    message = str(info.value)
    assert "does not start with 10086976" in message
    assert "acav models download vggish" in message and W.get_spec("vggish").url in message
    assert str(path) in message


def test_pinned_full_checksum_mismatch_is_refused(monkeypatch, tmp_path: Path, vggish_state) -> None:
    path = tmp_path / "vggish-10086976.pth"
    torch.save(vggish_state, path)
    monkeypatch.setenv("ACAV_VGGISH_SHA256", "0" * 64)
    with pytest.raises(W.WeightsError, match="does not match the expected 0000"):
        build_vggish(path, allow_random=False)


def test_loads_from_local_weights_dir(monkeypatch, tmp_path: Path, vggish_state) -> None:
    path = tmp_path / "vggish-10086976.pth"
    torch.save(vggish_state, path)
    monkeypatch.setenv("ACAV_VGGISH_SHA256", _sha(path))  # pin this fake file's digest
    monkeypatch.setenv(W.WEIGHTS_DIR_ENV, str(tmp_path))
    model = build_vggish(None, allow_random=False, device="cpu")
    expected = VGGish().eval()
    expected.load_state_dict(vggish_state)
    torch.testing.assert_close(_probe(model), _probe(expected), rtol=1e-5, atol=1e-7)  # channels-last build
    assert all(torch.equal(model.state_dict()[k], v) for k, v in vggish_state.items())
    assert not model.training and not any(p.requires_grad for p in model.parameters())


def test_slowfast_checkpoint_layout_and_unknown_digest_warning(tmp_path: Path, acav_log) -> None:
    """pytorchvideo's .pyth layout ({"model_state": ...}); no reference digest -> loads, digest logged."""
    torch.manual_seed(1)
    source = SlowFastR50().eval()
    path = tmp_path / "SLOWFAST_8x8_R50.pyth"
    torch.save({"model_state": source.state_dict(), "epoch": 196}, path)
    model = build_slowfast(
        None,
        allow_random=False,
        device="cpu",
        weights_dir=tmp_path,
        channels_last=False,
        fuse_batchnorm=False,
    )
    assert _sha(path) in acav_log.text and "ACAV_SLOWFAST_SHA256" in acav_log.text
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key

    # The default build (what the pipeline uses): BN folded, channels-last; same features.
    fast_model = build_slowfast(path, allow_random=False)
    assert not any(isinstance(m, torch.nn.BatchNorm3d) for m in fast_model.modules())
    frames = torch.randint(0, 256, (1, 32, 64, 64, 3), generator=torch.Generator().manual_seed(2))
    slow, fast = slowfast_preprocess(frames.to(torch.uint8), crop=64)
    with torch.inference_mode():
        expected = source.forward_pooled(slow, fast)
        got = fast_model.forward_pooled(slow, fast)
    assert [tuple(x.shape) for x in got] == [(1, w) for w in SLOWFAST_LAYER_WIDTHS]
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5 * float(b.abs().max()))


def test_missing_file_error_or_loud_random_fallback(tmp_path: Path, acav_log) -> None:
    with pytest.raises(W.WeightsError) as info:
        build_slowfast(None, allow_random=False, weights_dir=tmp_path)
    message = str(info.value)
    assert "not found" in message and str(tmp_path / "SLOWFAST_8x8_R50.pyth") in message
    assert f"acav models download slowfast_r50 --weights-dir {tmp_path}" in message
    assert W.get_spec("slowfast_r50").url in message and "--allow-random-weights" in message

    model = build_vggish(None, allow_random=True, weights_dir=tmp_path)
    assert "RANDOM WEIGHTS" in acav_log.text
    assert isinstance(model, VGGish) and not model.training
    # An explicitly named file that does not exist is an error even with allow_random.
    with pytest.raises(W.WeightsError, match="not found"):
        build_vggish(tmp_path / "typo.pth", allow_random=True)


def test_refuses_checkpoints_that_are_not_plain_tensors(monkeypatch, tmp_path: Path) -> None:
    # weights_only=True: a pickle that would construct an arbitrary object is refused.
    path = tmp_path / "evil.pth"
    torch.save({"features.0.weight": torch.zeros(1), "x": threading.Lock}, path)
    monkeypatch.setenv("ACAV_VGGISH_SHA256", _sha(path))
    with pytest.raises(W.WeightsError, match="cannot be read as a torch checkpoint"):
        build_vggish(path, allow_random=False)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint at all")
    monkeypatch.setenv("ACAV_VGGISH_SHA256", _sha(garbage))
    with pytest.raises(W.WeightsError, match="cannot be read"):
        build_vggish(garbage, allow_random=False)


def test_state_dict_that_does_not_fit_names_the_keys(monkeypatch, tmp_path: Path, vggish_state) -> None:
    broken = dict(vggish_state)
    del broken["embeddings.4.bias"]
    broken["embeddings.0.weight"] = torch.zeros(3, 3)
    broken["extra.weight"] = torch.zeros(1)
    broken["pproc.pca_means"] = torch.zeros(128, 1)  # PCA parameters are ignored, not an error
    path = tmp_path / "broken.pth"
    torch.save(broken, path)
    monkeypatch.setenv("ACAV_VGGISH_SHA256", _sha(path))
    with pytest.raises(W.WeightsError) as info:
        build_vggish(path, allow_random=False)
    message = str(info.value)
    assert "1 missing: embeddings.4.bias" in message
    assert "1 unexpected: extra.weight" in message
    assert "1 with other shapes: embeddings.0.weight" in message


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server serving ``tmp_path / "served"``."""
    root = tmp_path / "served"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):  # keep test output quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_download_checks_checksum_before_the_file_appears(monkeypatch, tmp_path: Path, file_server) -> None:
    base, root = file_server
    payload = b"pretend checkpoint bytes" * 1000
    (root / "v.pth").write_bytes(payload)
    target_dir = tmp_path / "weights"

    # Without a pinned digest the canonical prefix 10086976 applies: refused, nothing left behind.
    with pytest.raises(W.WeightsError, match="does not start with 10086976"):
        W.download("vggish", target_dir, url=f"{base}/v.pth")
    assert list(target_dir.iterdir()) == []

    monkeypatch.setenv("ACAV_VGGISH_SHA256", hashlib.sha256(payload).hexdigest())
    path = W.download("vggish", target_dir, url=f"{base}/v.pth")
    assert path == target_dir / "vggish-10086976.pth" and path.read_bytes() == payload
    assert [p.name for p in target_dir.iterdir()] == ["vggish-10086976.pth"]
    # Present and valid: kept, not fetched again (the server no longer has it).
    (root / "v.pth").unlink()
    assert W.download("vggish", target_dir, url=f"{base}/v.pth") == path


def test_models_cli_list_and_download(monkeypatch, tmp_path: Path, file_server, capsys) -> None:
    base, root = file_server
    payload = b"another fake file"
    (root / "v.pth").write_bytes(payload)
    target_dir = tmp_path / "w"
    assert acav_main(["models", "list", "--weights-dir", str(target_dir)]) == 0
    out = capsys.readouterr().out
    assert "slowfast_r50   missing" in out and "vggish         missing" in out
    assert W.get_spec("slowfast_r50").url in out

    assert (
        acav_main(
            ["models", "download", "vggish", "--weights-dir", str(target_dir), "--url", f"{base}/v.pth"]
        )
        == 1
    )
    assert not (target_dir / "vggish-10086976.pth").exists()  # refused: wrong checksum

    monkeypatch.setenv("ACAV_VGGISH_SHA256", hashlib.sha256(payload).hexdigest())
    assert (
        acav_main(
            ["models", "download", "vggish", "--weights-dir", str(target_dir), "--url", f"{base}/v.pth"]
        )
        == 0
    )
    assert (target_dir / "vggish-10086976.pth").read_bytes() == payload
    capsys.readouterr()
    assert acav_main(["models", "list", "--verify", "--weights-dir", str(target_dir)]) == 0
    assert "vggish         ok" in capsys.readouterr().out

    monkeypatch.delenv("ACAV_VGGISH_SHA256")
    assert acav_main(["models", "list", "--verify", "--weights-dir", str(target_dir)]) == 1
    assert "BAD CHECKSUM" in capsys.readouterr().out
    assert acav_main(["models", "download", "nonexistent", "--weights-dir", str(target_dir)]) == 2
