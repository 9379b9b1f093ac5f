"""SlowFast input: the original release's frame sampling (linspace(0, N-1, 32), first and last frame
included) and crop (top/left 256x256 after the short side is scaled to 256) as options.

Facts from the original (sangho-vision/acav100m, feature_extraction/code/data/video.py and
models/utils_slowfast/process_data.py): ``torch.linspace(0, frames - 1, 32).long()``, then
PySlowFast's ``spatial_sampling`` with ``spatial_idx=0`` (min/max scale and crop 256): short side
to 256, crop offset 0 along the long side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from acav.core.config import ConfigError
from acav.core.decode import endpoint_indices
from acav.core.encode import encode_mp4
from acav.feature_extraction.base import ExtractorOptions, VisualInput
from acav.feature_extraction.dataset import sample_frames
from acav.feature_extraction.options import ExtractionConfig
from acav.feature_extraction.slowfast_extractor import SlowFastExtractor


def original_indices(frames: int, wanted: int = 32) -> list[int]:
    """The original's temporal sampling, written from its facts (float32 linspace, truncated)."""
    return torch.linspace(0, frames - 1, wanted, dtype=torch.float32).to(torch.int64).tolist()


def test_endpoint_indices_equal_the_originals_for_every_length() -> None:
    for frames in range(1, 601):
        assert endpoint_indices(frames, 32).tolist() == original_indices(frames), frames


def test_endpoint_indices_values() -> None:
    assert endpoint_indices(32, 32).tolist() == list(range(32))
    assert endpoint_indices(63, 32).tolist() == list(range(0, 63, 2))  # step exactly 2
    assert endpoint_indices(94, 32).tolist() == list(range(0, 94, 3))
    ten = endpoint_indices(10, 32).tolist()  # fewer frames than wanted: repeats, ends included
    assert ten[0] == 0 and ten[-1] == 9 and sorted(ten) == ten and set(ten) == set(range(10))
    # 250 frames (10 s at 25 fps): first and last frame, where midpoints give 3 and 246.
    spread = endpoint_indices(250, 32)
    assert (spread[0], spread[-1]) == (0, 249)
    assert VisualInput(num_frames=32).frame_indices(250)[[0, -1]].tolist() == [3, 246]


@pytest.fixture
def counting_clip(make_video) -> bytes:
    """40 frames whose grey level encodes the frame index (6 * i)."""
    shots = [(0.04, (6 * i, 6 * i, 6 * i)) for i in range(40)]
    return make_video("count.mp4", shots=shots, size=(64, 48), fps=25.0).read_bytes()


def test_linspace_sampling_decodes_first_and_last_frame(counting_clip: bytes) -> None:
    frames = sample_frames(counting_clip, VisualInput(num_frames=8, size=(16, 16), sampling="linspace"))
    numbers = np.round(np.median(frames.reshape(8, -1), axis=1) / 6).astype(int)
    assert numbers.tolist() == original_indices(40, 8) == [0, 5, 11, 16, 22, 27, 33, 39]


def _banded_clip(tmp_path: Path, width: int, height: int) -> bytes:
    """Grey frames with a red band along the start of the long side (left, or top when portrait)."""
    frame = np.full((height, width, 3), 128, dtype=np.uint8)
    if width >= height:
        frame[:, : width // 8] = (255, 0, 0)
    else:
        frame[: height // 8] = (255, 0, 0)
    path = encode_mp4(tmp_path / "band.mp4", [frame] * 5, width=width, height=height, fps=25.0)
    return path.read_bytes()


@pytest.mark.parametrize(("width", "height"), [(320, 240), (240, 320)])
def test_start_crop_is_top_left_centre_crop_is_not(tmp_path: Path, width: int, height: int) -> None:
    data = _banded_clip(tmp_path, width, height)
    spec = {"num_frames": 2, "short_side": 256, "crop": 256}
    start = sample_frames(data, VisualInput(**spec, crop_position="start"))
    centre = sample_frames(data, VisualInput(**spec))
    assert start.shape == centre.shape == (2, 256, 256, 3)
    # The band is 1/8 of the long side: 42 px of the scaled 342 px; look at its first 30 px.
    band = (slice(None), slice(None), slice(0, 30)) if width >= height else (slice(None), slice(0, 30))
    red_start = start[band][..., 0].mean() - start[band][..., 2].mean()
    red_centre = centre[band][..., 0].mean() - centre[band][..., 2].mean()
    assert red_start > 200  # red (255, 0, 0) after compression
    assert abs(red_centre) < 20  # grey: the centre crop starts at (342 - 256) // 2 = 43 px


def test_slowfast_extractor_input_follows_the_options() -> None:
    default = SlowFastExtractor(ExtractorOptions()).input_spec()
    assert (default.sampling, default.crop_position) == ("linspace", "center")
    assert (default.num_frames, default.short_side, default.crop) == (32, 256, 256)
    original = SlowFastExtractor(
        ExtractorOptions(extra={"slowfast_sampling": "linspace", "slowfast_crop": "start"})
    ).input_spec()
    assert original.crop_position == "start"
    assert original.frame_indices(300).tolist() == original_indices(300)
    midpoint = SlowFastExtractor(ExtractorOptions(extra={"slowfast_sampling": "midpoint"})).input_spec()
    assert midpoint.frame_indices(320).tolist() == list(range(5, 320, 10))


def test_config_checks_the_choices() -> None:
    assert (ExtractionConfig().slowfast_sampling, ExtractionConfig().slowfast_crop) == ("linspace", "center")
    with pytest.raises(ConfigError, match="slowfast_crop"):
        ExtractionConfig(slowfast_crop="left")
    with pytest.raises(ValueError, match="sampling"):
        VisualInput(num_frames=4, sampling="random")
