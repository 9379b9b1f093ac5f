"""The SlowFast and VGGish extractor wrappers with random weights (no weights download)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fe_helpers import SAMPLE_RATE, tone

pytest.importorskip("acav.feature_extraction.models.slowfast")
pytest.importorskip("acav.feature_extraction.models.vggish")

from acav.feature_extraction.base import ClipError, ExtractorOptions, create_extractor  # noqa: E402

RANDOM = ExtractorOptions(allow_random_weights=True)


def test_vggish_wrapper_widths_and_per_clip_mean():
    torch.manual_seed(0)
    extractor = create_extractor("vggish", RANDOM, "audio")
    assert extractor.input_spec().sample_rate == 16000
    extractor.load("cpu")
    long = extractor.prepare(tone(3.0, 440.0))
    short = extractor.prepare(tone(1.0, 880.0))
    assert long.shape == (3, 96, 64) and short.shape == (1, 96, 64)
    layers = extractor.forward([long, short])
    assert [layer.shape for layer in layers] == [(2, w) for w in (64, 128, 256, 512, 128)]
    assert all(layer.dtype == np.float32 for layer in layers)
    # Each clip's feature is the mean over its own examples.
    with torch.inference_mode():
        per_example = extractor._model.forward_pooled(torch.from_numpy(long).unsqueeze(1))
    for layer, direct in zip(layers, per_example, strict=True):
        np.testing.assert_allclose(layer[0], direct.mean(dim=0).numpy(), rtol=1e-4, atol=1e-5)
    # Deterministic, and a batch does not change a clip's result.
    alone = extractor.forward([short])
    for a, b in zip(alone, layers, strict=True):
        np.testing.assert_allclose(a[0], b[1], rtol=1e-4, atol=1e-5)
    with pytest.raises(ClipError, match="too short"):
        extractor.prepare(np.zeros(SAMPLE_RATE // 2, np.float32))


def test_slowfast_wrapper_widths():
    torch.manual_seed(0)
    extractor = create_extractor("slowfast_r50", RANDOM, "visual")
    spec = extractor.input_spec()
    assert (spec.num_frames, spec.short_side, spec.crop) == (32, 256, 256)
    extractor.load("cpu")
    frames = np.random.default_rng(0).integers(0, 256, size=(32, 256, 256, 3), dtype=np.uint8)
    layers = extractor.forward([extractor.prepare(frames)])
    assert [layer.shape for layer in layers] == [(1, w) for w in (88, 352, 704, 1408, 2304)]
    assert all(layer.dtype == np.float32 and np.isfinite(layer).all() for layer in layers)
    with pytest.raises(ClipError):
        extractor.prepare(frames[:, :128])


def test_models_refuse_to_run_without_weights_unless_allowed(tmp_path, monkeypatch):
    monkeypatch.setenv("ACAV_WEIGHTS_DIR", str(tmp_path))
    extractor = create_extractor("vggish", ExtractorOptions(weights_dir=tmp_path), "audio")
    with pytest.raises(Exception, match="allow-random-weights"):
        extractor.load("cpu")


@pytest.mark.slow
def test_real_extractors_end_to_end_with_random_weights(tmp_path, clip_bytes):
    from fe_helpers import write_shard

    from acav.core.layout import DataLayout
    from acav.core.safe_pickle import safe_load
    from acav.feature_extraction.options import ExtractionConfig
    from acav.feature_extraction.runner import run_extraction

    videos = DataLayout(tmp_path).videos_dir
    write_shard(
        videos,
        0,
        [
            ("realrealrea_0.mp4", clip_bytes(seconds=2.0)),
            ("shortshorts_1.mp4", clip_bytes(seconds=2.0, colour=(0, 0, 250))),
        ],
    )
    config = ExtractionConfig(allow_random_weights=True, num_workers=0, batch_size=2, device="cpu")
    summary = run_extraction(config, DataLayout(tmp_path))
    assert summary.clips_written == 2
    (record, _) = safe_load(tmp_path / "features" / "shard-000000.pkl")
    video, audio = record["video_features"][0], record["audio_features"][0]
    assert (video["model_key"], video["extractor_name"], video["dataset"]) == (
        "layer_slow_fast",
        "SLOWFAST_8x8_R50",
        "kinetics-400",
    )
    assert (audio["model_key"], audio["extractor_name"], audio["dataset"]) == (
        "layer_vggish",
        "VGGish",
        "YouTube-8M",
    )
    assert [video["array"][f"layer_{i}"].shape[0] for i in range(5)] == [88, 352, 704, 1408, 2304]
    assert [audio["array"][f"layer_{i}"].shape[0] for i in range(5)] == [64, 128, 256, 512, 128]


def test_missing_weights_stop_the_run_before_any_work(tmp_path, monkeypatch, capsys):
    from fe_helpers import write_shard

    from acav.cli import main

    monkeypatch.delenv("ACAV_WEIGHTS_DIR", raising=False)
    data = tmp_path / "data"
    write_shard(data / "videos", 0, [("nothingness_0.mp4", b"not decoded")])
    empty = tmp_path / "weights"
    empty.mkdir()
    rc = main(["extract", "--data-dir", str(data), "--weights-dir", str(empty), "--num-workers", "0"])
    assert rc == 2
    assert not (data / "features" / "shard-000000.pkl").exists()
    extractor = create_extractor("slowfast_r50", ExtractorOptions(weights_dir=empty), "visual")
    with pytest.raises(Exception, match=r"SLOWFAST_8x8_R50.pyth.*acav models download"):
        extractor.check_ready()
    create_extractor(
        "slowfast_r50", ExtractorOptions(weights_dir=empty, allow_random_weights=True)
    ).check_ready()
