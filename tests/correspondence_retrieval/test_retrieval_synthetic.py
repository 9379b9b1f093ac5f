"""Offline audio views and the synthetic-assignment runs (exp4 / sweep), with values checked."""

from __future__ import annotations

import numpy as np
import pytest

from acav.correspondence_retrieval.audio_views import (
    DTMF,
    audio_layers,
    dtmf_waves,
    espeak_binary,
    speech_waves,
)
from acav.correspondence_retrieval.synthetic import synthetic_rows


def test_synthetic_rows_one_partition_and_shards_beat_chance():
    rows = synthetic_rows(
        "t", {"clips": 4000, "ncentroids": 8, "positive_rate": 0.5, "shards": [1, 4], "seeds": 1}
    )
    assert [r["settings"] for r in rows] == [
        "clips=4000,ncentroids=8,positive_rate=0.5,shards=1",
        "clips=4000,ncentroids=8,positive_rate=0.5,shards=4",
    ]
    for row in rows:
        assert row["pool"] == 4000 and abs(row["chance"] - 0.5) < 0.05
        assert row["precision"] > row["chance"] + 0.15


def test_dtmf_waves_carry_their_digit_tones():
    waves = dtmf_waves(7, 3, seed=0)
    assert len(waves) == 3 and all(w.dtype == np.float32 and w.size >= 16000 for w in waves)
    spectrum = np.abs(np.fft.rfft(waves[0]))
    freqs = np.fft.rfftfreq(waves[0].size, 1 / 16000)
    peak = freqs[np.argmax(spectrum)]
    assert min(abs(peak - f * d) for f in DTMF[7] for d in (0.97, 1.0, 1.03)) < 60
    layers = audio_layers(waves)
    assert [x.shape for x in layers] == [(3, 64), (3, 35), (3, 45), (3, 40), (3, 52)]


@pytest.mark.skipif(espeak_binary() is None, reason="espeak-ng is not installed (apt-get install espeak-ng)")
def test_speech_waves_differ_between_digits_and_voices():
    one = speech_waves(1, 2, seed=0)
    seven = speech_waves(7, 2, seed=0)
    assert all(w.size >= 16000 and np.abs(w).max() > 0.05 for w in one + seven)
    assert not np.allclose(one[0][:8000], seven[0][:8000])
