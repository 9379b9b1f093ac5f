"""Downstream data sets in their usual local layouts, and a download command for them.

- UCF101 (visual): ``ROOT/UCF-101/<Class>/v_<Class>_gGG_cCC.avi`` and the official split lists in
  ``ROOT/ucfTrainTestlist/`` (``classInd.txt``, ``trainlist0N.txt``, ``testlist0N.txt``; the
  original's ``splits/`` folder name works too); splits 1-3.
- ESC-50 (audio): ``ROOT/audio/<fold>-<freesound id>-<take>-<target>.wav`` (the repository's
  layout; ``ROOT/meta/esc50.csv`` gives class names when present); fold N is the test set.
- Kinetics-Sounds (audio + visual): ``ROOT/train/<class>/*.mp4`` and ``ROOT/test/<class>/*.mp4``.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import urllib.request
import zipfile
from pathlib import Path

from acav.core.logs import get_logger
from acav.evaluation.linear import Item

log = get_logger(__name__)

DATASETS = ("ucf101", "esc50", "kinetics-sounds")
URLS = {
    "ucf101": [
        "https://www.crcv.ucf.edu/data/UCF101/UCF101.rar",
        "https://www.crcv.ucf.edu/data/UCF101/UCF101TrainTestSplits-RecognitionTask.zip",
    ],
    "esc50": ["https://github.com/karoldvl/ESC-50/archive/master.zip"],
}


class DatasetError(FileNotFoundError):
    """A data set directory does not have the expected layout; the message says what is missing."""


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise DatasetError(f"{path} not found ({what}); see acav evaluate download --help")
    return path


def ucf101(root: Path, split: int) -> tuple[list[Item], list[Item], list[str]]:
    if split not in (1, 2, 3):
        raise ValueError(f"UCF101 split must be 1, 2 or 3 (got {split})")
    lists = next(
        (root / d for d in ("ucfTrainTestlist", "splits") if (root / d).is_dir()), root / "ucfTrainTestlist"
    )
    videos = root / "UCF-101" if (root / "UCF-101").is_dir() else root
    classes = [
        line.split()[1]
        for line in _require(lists / "classInd.txt", "class list").read_text().splitlines()
        if line.strip()
    ]
    index = {name: i for i, name in enumerate(classes)}

    def read(name: str) -> list[Item]:
        items = []
        for line in _require(lists / name, "split list").read_text().splitlines():
            if line.strip():
                rel = line.split()[0]
                items.append(Item(videos / rel, index[rel.split("/")[0]], rel))
        return items

    return read(f"trainlist{split:02d}.txt"), read(f"testlist{split:02d}.txt"), classes


def esc50(root: Path, fold: int) -> tuple[list[Item], list[Item], list[str]]:
    if fold not in range(1, 6):
        raise ValueError(f"ESC-50 fold must be 1-5 (got {fold})")
    files = sorted(_require(root / "audio", "ESC-50 audio folder").glob("*.wav"))
    names: dict[int, str] = {}
    meta = root / "meta" / "esc50.csv"
    if meta.is_file():
        with open(meta, newline="") as handle:
            names = {int(r["target"]): r["category"] for r in csv.DictReader(handle)}
    train, test = [], []
    for path in files:
        parts = path.stem.split("-")
        item = Item(path, int(parts[-1]), path.name)
        (test if int(parts[0]) == fold else train).append(item)
    classes = [names.get(i, str(i)) for i in range(max((i.label for i in train + test), default=-1) + 1)]
    return train, test, classes


def kinetics_sounds(root: Path) -> tuple[list[Item], list[Item], list[str]]:
    classes = sorted(p.name for p in _require(root / "train", "train folder").iterdir() if p.is_dir())
    index = {name: i for i, name in enumerate(classes)}

    def read(mode: str) -> list[Item]:
        return [
            Item(p, index[p.parent.name], str(p.relative_to(root)))
            for p in sorted((root / mode).glob("*/*.mp4"))
            if p.parent.name in index
        ]

    return read("train"), read("test"), classes


def load_dataset(name: str, root: Path, split: int = 1) -> tuple[list[Item], list[Item], list[str]]:
    if name == "ucf101":
        return ucf101(root, split)
    if name == "esc50":
        return esc50(root, split)
    if name == "kinetics-sounds":
        return kinetics_sounds(root)
    raise ValueError(f"unknown data set {name!r} (known: {', '.join(DATASETS)})")


def download(name: str, root: Path) -> None:
    """Fetch and unpack a data set into ``root`` (needs internet; never called by the tests)."""
    if name == "kinetics-sounds":
        raise DatasetError(
            "Kinetics-Sounds is a list of YouTube clips of 32 Kinetics-400 classes, not a file to "
            "download: fetch the Kinetics-400 clips of those classes (e.g. with acav download) and place "
            f"them as {root}/train/<class>/*.mp4 and {root}/test/<class>/*.mp4"
        )
    root.mkdir(parents=True, exist_ok=True)
    for url in URLS[name]:
        target = root / url.rsplit("/", 1)[1]
        if not target.exists():
            log.info("downloading %s", url)
            with urllib.request.urlopen(url) as response, open(target.with_suffix(".part"), "wb") as out:  # noqa: S310
                shutil.copyfileobj(response, out)
            target.with_suffix(".part").rename(target)
        if target.suffix == ".zip":
            with zipfile.ZipFile(target) as archive:
                archive.extractall(root)
        elif target.suffix == ".rar":
            tool = shutil.which("unrar") or shutil.which("bsdtar")
            if tool is None:
                raise DatasetError(f"{target}: install unrar or bsdtar to unpack it, then re-run")
            args = (
                [tool, "x", "-o+", str(target), str(root)]
                if tool.endswith("unrar")
                else [tool, "-xf", str(target), "-C", str(root)]
            )
            subprocess.run(args, check=True)
    if name == "esc50" and (root / "ESC-50-master").is_dir():
        for sub in ("audio", "meta"):
            if not (root / sub).exists():
                (root / "ESC-50-master" / sub).rename(root / sub)
