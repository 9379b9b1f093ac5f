"""``demo_av``: the offline demo's clips through stages 1-4, the Kinetics-Sounds stand-in.

The demo is generated with every video's sound matching its picture (``--match-fraction 1``), so
each clip is an aligned audio-visual pair; the benchmark's sample-level derangement then breaks a
random half of them. Clips are cut and featurised by the pipeline itself (``acav filter``,
``download --source-dir``, ``segment``, ``extract`` with the weight-free extractors), in a work
directory under the cache, and read back with the Kinetics-Sounds loader (stage 4 shards plus a
``labels.csv`` of the clip's visual class). 10 centroids, as the demo run uses (it has 6 classes).
"""

from __future__ import annotations

import json
from pathlib import Path

from acav.core.logs import get_logger
from acav.correspondence_retrieval.sources import Source

log = get_logger(__name__)
DEMO_CENTROIDS = 10


def _stage(argv: list[str]) -> None:
    from acav.cli import main

    code = main(argv)
    if code != 0:
        raise RuntimeError(f"acav {' '.join(argv)} failed with exit status {code}")


def demo_source(cache_dir: Path | None, videos: int = 160) -> Source:
    import tempfile

    from acav.correspondence_retrieval.loaders import load_kinetics_sounds

    base = Path(cache_dir) if cache_dir is not None else Path(tempfile.mkdtemp(prefix="acav-demo-av-"))
    work = base / f"demo_av_{videos}"
    work.mkdir(parents=True, exist_ok=True)
    d = str(work)
    log.info(
        "demo_av: generating %d demo videos and running stages 1-4 in %s (a few minutes, once)", videos, work
    )
    _stage(
        ["demo", "generate", "--data-dir", d, "--match-fraction", "1.0", "--num-videos", str(videos), "-q"]
    )
    _stage(["filter", "--data-dir", d, "-q"])
    _stage(["download", "--data-dir", d, "--source-dir", str(work / "source_videos"), "-q"])
    _stage(["segment", "--data-dir", d, "-q"])
    _stage(
        [
            "extract",
            "--data-dir",
            d,
            "--visual-extractor",
            "basic_visual",
            "--audio-extractor",
            "basic_audio",
            "-q",
        ]
    )
    truth = json.loads((work / "ground_truth.json").read_text())["videos"]
    features = work / "features"
    lines = ["filename,label"]
    for shard in sorted((work / "videos").glob("shard-*.json")):
        for entry in json.loads(shard.read_text()):
            video = truth.get(str(entry.get("filename", ""))[:11])
            if video is not None:
                lines.append(f"{entry['filename']},{video['visual_class_name']}")
    (features / "labels.csv").write_text("\n".join(lines) + "\n")
    source = load_kinetics_sounds(features)
    source.name = "demo_av"
    source.ncentroids = DEMO_CENTROIDS
    return source
