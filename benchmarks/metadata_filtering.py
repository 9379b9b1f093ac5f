"""Benchmark stage 1 (metadata filtering) on a generated metadata.tsv.

    python benchmarks/metadata_filtering.py                 # 200k lines, 1 and 2 workers
    python benchmarks/metadata_filtering.py --lines 1000000 --workers 1 2 4

Prints lines/s for each worker count (with and without the per-rule "alone" counts), the same
filter with the strongest simple keyword matcher we know (every phrase looked for with ``str.find``
in the line's space-joined tokens: one C-level substring search per phrase) measured in the same
run, and where the time goes per line. The generated file mixes languages, categories, durations,
keyword hits, URLs, rare tokens (cache misses) and malformed lines.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ACAV_PROGRESS", "0")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from acav.metadata_filtering.config import FilterConfig  # noqa: E402
from acav.metadata_filtering.keywords import Phrase  # noqa: E402
from acav.metadata_filtering.records import parse_line  # noqa: E402
from acav.metadata_filtering.rules import LineFilter, TextView  # noqa: E402
from acav.metadata_filtering.runner import filter_file  # noqa: E402

EN_WORDS = (
    "the a my our this that new old big small day night morning city street beach forest river lake "
    "mountain rain wind storm sea waves birds dog cat kids family friends trip travel walk drive ride "
    "train car bike boat plane market festival concert band drums guitar piano violin choir live "
    "performance cover song music sound ambience relaxing nature recording vlog episode part video "
    "clip footage camera drone view sunset sunrise snow summer winter spring autumn park garden "
    "kitchen cooking food dinner lunch breakfast party wedding birthday school game match football "
    "soccer basketball tennis race crowd cheering fireworks thunder waterfall engine machine factory "
    "workshop tools build making repair with and of in on at for to from by we i you they is was are "
    "were very really so much great amazing beautiful funny crazy best first last today yesterday"
).split()
LANG_SENTENCES = {
    "es": [
        "un paseo por la ciudad con mis amigos",
        "la lluvia cae sobre el mar esta noche",
        "concierto en vivo de la banda del pueblo",
        "cocinando la cena con mi familia",
    ],
    "pt": [
        "um passeio pela praia com a família",
        "chuva forte na cidade hoje à noite",
        "show ao vivo da banda na praça",
        "fazendo o almoço na cozinha da vovó",
    ],
    "ru": [
        "прогулка по городу с друзьями",
        "сильный дождь в лесу сегодня вечером",
        "живой концерт на площади",
        "готовим ужин всей семьёй",
    ],
    "ja": [
        "友達と街を散歩しました",
        "今夜は海に雨が降っています",
        "広場でのライブ演奏",
        "家族で夕食を作りました",
    ],
    "fr": [
        "une promenade en ville avec mes amis",
        "la pluie tombe sur la mer ce soir",
        "concert en direct sur la place du village",
        "nous préparons le dîner en famille",
    ],
    "de": [
        "ein spaziergang durch die stadt mit freunden",
        "starker regen im wald heute abend",
        "live konzert auf dem marktplatz",
        "wir kochen das abendessen mit der familie",
    ],
    "ko": [
        "친구들과 함께 도시를 산책했어요",
        "오늘 밤 바다에 비가 내립니다",
        "광장에서 열린 라이브 공연",
        "가족과 함께 저녁을 만들었어요",
    ],
    "it": [
        "una passeggiata in città con gli amici",
        "la pioggia cade sul mare stasera",
        "concerto dal vivo nella piazza del paese",
        "prepariamo la cena con la famiglia",
    ],
    "id": [
        "jalan jalan di kota bersama teman",
        "hujan deras di hutan malam ini",
        "konser langsung di alun alun",
        "memasak makan malam bersama keluarga",
    ],
    "tr": [
        "arkadaşlarla şehirde yürüyüş",
        "bu gece denize yağmur yağıyor",
        "meydanda canlı konser",
        "ailemle akşam yemeği hazırladık",
    ],
}
LANG_WEIGHTS = {
    "en": 55,
    "es": 6,
    "pt": 5,
    "ru": 5,
    "ja": 4,
    "fr": 4,
    "de": 4,
    "ko": 3,
    "it": 5,
    "id": 5,
    "tr": 4,
}
CATEGORIES = [
    "People & Blogs",
    "Entertainment",
    "Music",
    "Gaming",
    "Travel & Events",
    "Pets & Animals",
    "Sports",
    "Howto & Style",
    "Autos & Vehicles",
    "Science & Technology",
    "Education",
]
CATEGORY_WEIGHTS = [25, 15, 15, 8, 8, 6, 6, 6, 4, 4, 3]
HITS = [
    "minecraft",
    "fortnite",
    "call of duty",
    "league of legends",
    "taylor swift",
    "ed sheeran",
    "bts",
    "pokemon",
    "spongebob",
    "anime",
    "official video",
    "official music video",
    "how to",
    "tutorial",
    "step by step",
    "tips and tricks",
    "tutorials",
    "beginner's guide",
    "for beginners",
]


def _rare_token(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rng.randint(4, 9)))


def _english(rng: random.Random, n_words: int) -> str:
    words = []
    for _ in range(n_words):
        r = rng.random()
        if r < 0.05:
            words.append(_rare_token(rng))  # names, codes: tokenizer cache misses
        elif r < 0.08:
            words.append(rng.choice(EN_WORDS) + rng.choice([",", ".", "!", "?", ":"]))
        else:
            words.append(rng.choice(EN_WORDS))
    return " ".join(words)


def _text(rng: random.Random, language: str, n_words: int) -> str:
    if language == "en":
        return _english(rng, n_words)
    sentences = LANG_SENTENCES[language]
    out, count = [], 0
    while count < n_words:
        sentence = rng.choice(sentences)
        out.append(sentence + rng.choice([".", "!", ""]))
        count += len(sentence.split())
    return " ".join(out)


def generate_line(rng: random.Random, index: int) -> str:
    if rng.random() < 0.01:  # malformed lines of several kinds
        return rng.choice(
            [
                "",
                "no tab here",
                f"{index:011d}\t{{broken json",
                "short\t{}",
                f"{index:011d}\t[1, 2]",
                f'{index:011d}\t{{"LatestDAFeature": 5}}',
            ]
        )
    language = rng.choices(list(LANG_WEIGHTS), weights=list(LANG_WEIGHTS.values()))[0]
    title = _text(rng, language, rng.randint(3, 10))
    description = _text(rng, language, int(rng.expovariate(1 / 45)))
    if rng.random() < 0.3:
        description += f" https://www.example.com/{_rare_token(rng)} follow me on instagram"
    if rng.random() < 0.12:
        description = description + " " + rng.choice(HITS)  # keyword at the very end
    elif rng.random() < 0.05:
        title = rng.choice(HITS) + " " + title
    if rng.random() < 0.2:
        title = title.title()
    feature: dict[str, object] = {
        "Title": title,
        "Description": description,
        "YouTubeCategory": rng.choices(CATEGORIES, weights=CATEGORY_WEIGHTS)[0],
        "MediaVersionList": [{"Duration": str(rng.randint(5, 900)), "Width": 1280, "Height": 720}],
    }
    if rng.random() < 0.9:
        feature["VideoLength"] = str(int(rng.expovariate(1 / 300)) + 1)
    video_id = "".join(
        rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") for _ in range(11)
    )
    return video_id + "\t" + json.dumps({"LatestDAFeature": feature}, ensure_ascii=False)


def generate_file(path: Path, n_lines: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for i in range(n_lines):
            handle.write(generate_line(rng, i) + "\n")


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the worker processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_once(path: Path, out_dir: Path, config: FilterConfig, line_filter: LineFilter | None = None) -> dict:
    """Filter ``path``; adds ``lines_per_cpu_s`` (CPU time of all processes, so other load on the
    machine does not count; for workers > 1 it includes the workers' start-up)."""
    if config.workers == 1 and line_filter is None:
        line_filter = LineFilter(config)  # loaded outside the measurement
    cpu = _cpu_seconds()
    report = filter_file(
        path,
        out_dir / "filtered.tsv",
        out_dir / "filtered.rejects.tsv",
        out_dir / "filtered.report.json",
        config,
        line_filter=line_filter,
    )
    report["lines_per_cpu_s"] = report["total_lines"] / max(_cpu_seconds() - cpu, 1e-9)
    return report


class SubstringScan:
    """Baseline matcher: each phrase found with ``str.find`` in ``" tok1 tok2 ... "`` (C speed).

    Same answer as the index (first match in text order, longest at a position, earlier list on a
    tie) as long as no token holds a space: a match starts at a token boundary, so comparing
    character positions compares token positions.
    """

    def __init__(self, phrases: list[Phrase]) -> None:
        self._needles = [
            (" " + " ".join(p.tokens) + " ", -len(p.tokens), order, p) for order, p in enumerate(phrases)
        ]

    def find(self, tokens) -> Phrase | None:
        text = " " + " ".join(tokens) + " "
        best = None
        for needle, minus_k, order, phrase in self._needles:
            at = text.find(needle)
            if at >= 0 and (best is None or (at, minus_k, order) < best[0]):
                best = ((at, minus_k, order), phrase)
        return None if best is None else best[1]


def substring_filter(config: FilterConfig) -> LineFilter:
    """The same rules with every keyword index replaced by a per-phrase substring search."""
    line_filter = LineFilter(config)
    for rule in line_filter.rules:
        if hasattr(rule, "index"):
            rule.index = SubstringScan(rule.index.phrases())  # type: ignore[attr-defined]
    return line_filter


def profile(path: Path, config: FilterConfig, n: int) -> None:
    """Microseconds per line for each step, on the first ``n`` lines."""
    line_filter = LineFilter(config)
    with open(path, "rb") as handle:
        raws = [handle.readline() for _ in range(n)]
    t = time.process_time()
    records = [parse_line(r) for r in raws]
    times = {"parse JSON + fields": time.process_time() - t}
    records = [r for r in records if hasattr(r, "title")]
    views = [TextView(r, line_filter.tools) for r in records]
    t = time.process_time()
    for v in views:
        _ = v.text
    times["normalise text"] = time.process_time() - t
    t = time.process_time()
    for v in views:
        _ = v.tokens
    times["tokenize (cached NLTK)"] = time.process_time() - t
    for rule in line_filter.rules:
        t = time.process_time()
        for r, v in zip(records, views, strict=True):
            rule.check(r, v)
        times[f"rule {rule.name}"] = time.process_time() - t
    baseline = substring_filter(config)
    for rule in baseline.rules:
        if rule.name in ("keywords", "tutorial"):
            t = time.process_time()
            for r, v in zip(records, views, strict=True):
                rule.check(r, v)
            times[f"rule {rule.name} (substring scan)"] = time.process_time() - t
    print(f"\nper-line CPU cost on {n} lines ({len(records)} parseable), microseconds per line:")
    for name, seconds in times.items():
        print(f"  {name:<32}{1e6 * seconds / n:9.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--baseline-lines", type=int, default=50_000, help="lines for the substring baseline")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        data = tmp_dir / "metadata.tsv"
        t = time.perf_counter()
        generate_file(data, args.lines, args.seed)
        size_mb = data.stat().st_size / 1e6
        print(
            f"generated {args.lines} lines ({size_mb:.1f} MB) in {time.perf_counter() - t:.1f} s; cpus: {os.cpu_count()}"
        )

        profile(data, FilterConfig(), min(args.lines, 20_000))

        print(f"\n{'run':<44}{'lines/s':>10}{'lines/cpu-s':>13}{'kept':>9}{'wall s':>8}")
        results = {}
        outputs = {}
        for workers in args.workers:
            for each in (True, False):
                config = FilterConfig(workers=workers, report_each_rule=each)
                out_dir = tmp_dir / f"w{workers}-{each}"
                report = run_once(data, out_dir, config)
                label = f"index, workers={workers}, report_each_rule={each}"
                results[label] = report["lines_per_cpu_s"]
                outputs[label] = (out_dir / "filtered.tsv").read_bytes() + (
                    out_dir / "filtered.rejects.tsv"
                ).read_bytes()
                print(
                    f"{label:<44}{report['lines_per_s']:>10.0f}{report['lines_per_cpu_s']:>13.0f}"
                    f"{report['kept']:>9}{report['elapsed_s']:>8.1f}"
                )
        identical = len(set(outputs.values())) == 1
        print(f"outputs identical across worker counts and report modes: {identical}")

        # Substring-scan baseline on a prefix, against the index on the same prefix (whole stage).
        prefix = tmp_dir / "prefix.tsv"
        with open(data, "rb") as src, open(prefix, "wb") as dst:
            for _ in range(args.baseline_lines):
                dst.write(src.readline())
        config = FilterConfig(workers=1)
        fast = run_once(prefix, tmp_dir / "prefix-index", config)
        slow = run_once(prefix, tmp_dir / "prefix-scan", config, line_filter=substring_filter(config))
        same = (tmp_dir / "prefix-index" / "filtered.rejects.tsv").read_bytes() == (
            tmp_dir / "prefix-scan" / "filtered.rejects.tsv"
        ).read_bytes()
        print(f"\nbaseline on the first {args.baseline_lines} lines, workers=1, report_each_rule=True:")
        for name, r in (("substring scan", slow), ("precompiled index", fast)):
            print(f"  {name:<24}{r['lines_per_s']:>9.0f} lines/s {r['lines_per_cpu_s']:>9.0f} lines/cpu-s")
        print(
            f"  index / substring scan: {fast['lines_per_cpu_s'] / slow['lines_per_cpu_s']:.2f}x (per CPU second)"
        )
        print(f"  same rejects: {same}")
        target = results[f"index, workers={args.workers[0]}, report_each_rule=True"]
        verdict = "met" if target >= 5000 else "NOT met"
        print(
            f"\ntarget >= 5000 lines per CPU second (workers={args.workers[0]}, each rule): {verdict} ({target:.0f})"
        )
        return 0 if identical and same else 1


if __name__ == "__main__":
    sys.exit(main())
