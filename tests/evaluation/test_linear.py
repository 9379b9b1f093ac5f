"""Linear evaluation: scoring rules, the downstream loaders on tiny data in their usual layouts,
and a probe end to end on real clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from acav.core.encode import write_wav
from acav.evaluation.config import SMALL
from acav.evaluation.datasets import DatasetError, esc50, kinetics_sounds, ucf101
from acav.evaluation.linear import Item, ProbeConfig, linear_probe, topk_accuracy, video_scores
from acav.evaluation.models import AudioVisualModel

from .conftest import make_clip
from .test_data_pretrain import TINY


def test_scores_are_summed_per_video_and_topk_counts_per_video() -> None:
    head = torch.nn.Identity()
    # video 0: two views that disagree, the sum prefers class 2; video 1: one view, class 0
    features = torch.log(torch.tensor([[0.1, 0.3, 0.6], [0.2, 0.5, 0.3], [0.7, 0.2, 0.1]]))
    scores = video_scores(head, features, torch.tensor([0, 0, 1]), 2)
    torch.testing.assert_close(scores, torch.tensor([[0.3, 0.8, 0.9], [0.7, 0.2, 0.1]]))
    result = topk_accuracy(scores, torch.tensor([1, 0]), ks=(1, 2))
    assert result == {"top1": 0.5, "top2": 1.0}


def test_ucf101_layout_and_splits(tmp_path: Path) -> None:
    lists = tmp_path / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_text("1 ApplyLipstick\n2 Archery\n")
    for split in (1, 2, 3):
        (lists / f"trainlist{split:02d}.txt").write_text(
            f"ApplyLipstick/v_ApplyLipstick_g0{split}_c01.avi 1\nArchery/v_Archery_g0{split}_c01.avi 2\n"
        )
        (lists / f"testlist{split:02d}.txt").write_text("Archery/v_Archery_g07_c02.avi\n")
    train, test, classes = ucf101(tmp_path, 2)
    assert classes == ["ApplyLipstick", "Archery"]
    assert [(i.name, i.label) for i in train] == [
        ("ApplyLipstick/v_ApplyLipstick_g02_c01.avi", 0),
        ("Archery/v_Archery_g02_c01.avi", 1),
    ]
    assert test[0].label == 1 and test[0].source == tmp_path / "Archery/v_Archery_g07_c02.avi"
    with pytest.raises(ValueError, match="split"):
        ucf101(tmp_path, 4)


def test_esc50_folds_and_missing_layout(tmp_path: Path) -> None:
    audio = tmp_path / "audio"
    audio.mkdir()
    for name in ("1-100-A-0.wav", "2-101-A-1.wav", "1-102-B-1.wav", "5-103-A-0.wav"):
        write_wav(audio / name, np.zeros(800, np.float32), 16000)
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "esc50.csv").write_text("filename,fold,target,category\nx,1,0,dog\ny,2,1,rooster\n")
    train, test, classes = esc50(tmp_path, 1)
    assert classes == ["dog", "rooster"]
    assert sorted(i.name for i in test) == ["1-100-A-0.wav", "1-102-B-1.wav"]
    assert sorted((i.name, i.label) for i in train) == [("2-101-A-1.wav", 1), ("5-103-A-0.wav", 0)]
    with pytest.raises(DatasetError, match="audio"):
        esc50(tmp_path / "nowhere", 1)


def test_probe_separates_classes_on_kinetics_sounds_layout(tmp_path: Path) -> None:
    """Frozen random encoders still separate solid colours and distinct tones linearly."""
    for mode, count in (("train", 3), ("test", 2)):
        for c, name in enumerate(("red_thing", "blue_thing")):
            for i in range(count):
                (tmp_path / mode / name).mkdir(parents=True, exist_ok=True)
                make_clip(tmp_path / mode / name / f"{mode}{i}.mp4", c, 2 * c, seed=i + 10 * c)
    train, test, classes = kinetics_sounds(tmp_path)
    assert classes == ["blue_thing", "red_thing"] and len(train) == 6 and len(test) == 4
    torch.manual_seed(0)
    model = AudioVisualModel(TINY).eval()
    probe = ProbeConfig(epochs=300, batch_size=4, test_clips=2, test_crops=3, seed=0)
    for modality in ("visual", "audio", "both"):
        result = linear_probe(model, train, test, 2, modality, probe)
        assert result["top1"] == 1.0, modality
        assert result["test_videos"] == 4 and result["failures"] == []
    broken = [*test, Item(b"not a video", 0, "broken.mp4")]
    result = linear_probe(model, train, broken, 2, "visual", probe)
    assert result["test_videos"] == 4 and result["failures"][0]["item"] == "broken.mp4"


def test_audio_only_probe_on_wav_files(tmp_path: Path) -> None:
    items = []
    t = np.arange(32000) / 16000
    for i, freq in enumerate((300.0, 300.0, 300.0, 3000.0, 3000.0, 3000.0)):
        path = tmp_path / f"{i}.wav"
        write_wav(path, (0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * i).astype(np.float32), 16000)
        items.append(Item(path, int(freq > 1000), path.name))
    torch.manual_seed(0)
    model = AudioVisualModel(SMALL).eval()
    probe = ProbeConfig(epochs=300, batch_size=4, test_clips=2, seed=0)
    result = linear_probe(
        model, items[:2] + items[3:5], [items[2], items[5]], 2, "audio", probe, audio_only=True
    )
    assert result["top1"] == 1.0 and result["test_videos"] == 2
