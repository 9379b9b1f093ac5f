"""Benchmark: stage 3 as a whole (analysis, choice, final cutting), ours vs a faithful model of the original.

Original, as it ran (ACAV100M release): ffmpeg ``scdet`` over the full-resolution video, one
process per threshold try of the annealing, with the release's command line (no ``-an``: the audio
is decoded too); every candidate clip (the centre of each long-enough shot) cut ONCE with
``-c copy`` (the release's ffmpeg command, one process per clip); when there are more candidates than clips wanted, ffmpeg's ``signature`` filter
compares every pair of those candidate files (the release's ``diversity`` sampling); the chosen
candidates are the output clips (so the final cut is the candidate cut; the others are deleted).
The same run also times the choice of the release's run.py default, ``diversity_greedy``: shuffle
the candidates, cut the first, then per further clip cut the candidates one by one, compare each
with every kept clip, delete it, take the first without matches (else the fewest), cut it again.
It prints the whole stage against both (same scdet tries; the choice timed separately).
Ours: the stage's own ``process_video`` (probe, one PyAV decode at 64 px giving scdet scores and
fingerprints, annealing and diversity in memory, then the final cut of the chosen clips) with each
``--cut-mode``: ``copy`` (the original's cutting), ``smart`` (re-encodes only up to the first
keyframe), ``fast`` and ``accurate`` (re-encodes), with
``--threads`` decoder/ffmpeg threads per video (default 1: what each worker gets with
``acav segment --workers N --threads N``, the most videos per CPU-second; 0: FFmpeg's default, one
thread per core, as the release's ffmpeg processes ran).

Times are CPU seconds of this process plus its ffmpeg children (``getrusage``), so other load on a
shared machine does not count. For each video it prints both sets of cuts and chosen clip starts
(the choice is compared, not only the cuts), and for each of our cut modes the clips' quality
against the source: start error (which source frame the clip's first frame is, in frames) and PSNR
of the clip's frames against the source frames they should show (grey levels).

    python benchmarks/clip_segmentation.py              # 5 videos of 60-120 s, 320x240 (a few minutes)
    python benchmarks/clip_segmentation.py --scale 2    # each video twice as long
    python benchmarks/clip_segmentation.py --threads 0  # ours with FFmpeg's default threads
    python benchmarks/clip_segmentation.py --gop 50     # a keyframe every 2 s (as much web video)
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from clip_diversity import release_scdet  # noqa: E402  (the release's run_sbd: audio decoded too)

from acav.clip_segmentation.config import SegmentConfig  # noqa: E402
from acav.clip_segmentation.diversity import choose_diverse  # noqa: E402
from acav.clip_segmentation.runner import VideoTask, process_video, video_seed  # noqa: E402
from acav.clip_segmentation.signature import signature_matches  # noqa: E402
from acav.core.decode import read_video_frames  # noqa: E402
from acav.core.encode import encode_mp4  # noqa: E402
from acav.core.media import probe_media, run_ffmpeg  # noqa: E402

WIDTH, HEIGHT, FPS = 320, 240, 25.0
CLIP, WANTED, THRESHOLD, FACTOR = 10.0, 3, 10.0, 1.2

# Each video: scenes of (duration s, number of low-contrast sub-shots). Scenes differ strongly
# (new texture and tint: a clear cut); sub-shots of one scene differ by a brightness step of
# ~11 % scdet score, which fragments the scene at threshold 10 and forces annealing.
VIDEOS = {
    "bench_four_": [(12, 1), (15, 1), (11, 1), (22, 1)],
    "bench_six__": [(14, 1), (4, 1), (13, 1), (16, 1), (11, 1), (12, 1), (20, 1)],
    "bench_anneal": [(24, 3), (24, 3), (24, 3), (24, 3), (24, 3)],
    "bench_three": [(25, 1), (25, 1), (25, 1)],
    "bench_many_": [(10.5, 1), (12, 1), (13, 1), (9, 1), (15, 1), (14, 1), (26.5, 1)],
}


def _texture(rng: np.random.Generator, height: int, width: int, base: float) -> np.ndarray:
    """Smooth random colour texture (bilinear upsampling of a coarse random grid) around ``base``."""
    coarse = base + rng.uniform(-35, 35, size=(6, max(8, width // 40), 3)) + rng.uniform(-25, 25, size=3)
    rows = np.linspace(0, coarse.shape[0] - 1, height)
    cols = np.linspace(0, coarse.shape[1] - 1, width)
    r0 = np.floor(rows).astype(int).clip(0, coarse.shape[0] - 2)
    c0 = np.floor(cols).astype(int).clip(0, coarse.shape[1] - 2)
    fr, fc = (rows - r0)[:, None, None], (cols - c0)[None, :, None]
    top = coarse[r0][:, c0] * (1 - fc) + coarse[r0][:, c0 + 1] * fc
    bottom = coarse[r0 + 1][:, c0] * (1 - fc) + coarse[r0 + 1][:, c0 + 1] * fc
    return top * (1 - fr) + bottom * fr


# Scene brightness levels: neighbours differ by >= 60 grey levels, a clear cut (scdet score > 20).
BASES = [70.0, 150.0, 80.0, 170.0, 95.0, 180.0, 75.0]


def make_video(
    path: Path, scenes: list[tuple[float, int]], seed: int, scale: float, gop: int | None
) -> list[float]:
    """Write the video; return the true cut times (every scene and sub-shot boundary)."""
    rng = np.random.default_rng(seed)
    cuts, t = [], 0.0
    plan = []
    for index, (duration, parts) in enumerate(scenes):
        duration *= scale
        frames = int(round(duration * FPS))
        texture = _texture(rng, HEIGHT, WIDTH + frames, BASES[index % len(BASES)])
        part_len = frames // parts
        for p in range(parts):
            count = part_len if p < parts - 1 else frames - part_len * (parts - 1)
            plan.append((texture, 33.0 * (p % 2), p * part_len, count))
            if t > 0:
                cuts.append(round(t, 6))
            t += count / FPS

    def frames_iter():
        for texture, shift, offset, count in plan:
            for i in range(count):
                x = offset + i  # the texture pans 1 px per frame
                yield np.clip(texture[:, x : x + WIDTH] + shift, 0, 255).astype(np.uint8)

    total = sum(count for *_, count in plan) / FPS
    tone = (0.2 * np.sin(2 * np.pi * 330 * np.arange(int(total * 16000)) / 16000)).astype(np.float32)
    encode_mp4(
        path, frames_iter(), width=WIDTH, height=HEIGHT, fps=FPS, audio=tone, sample_rate=16000, gop=gop
    )
    return cuts


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and its finished children (the ffmpeg processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def release_cut(path: Path, out: Path, start: float) -> None:
    """The release's extract_clip: one ffmpeg process, every stream copied, times as hh:mm:ss.ffffff."""

    def hhmmss(seconds: float) -> str:
        return f"{int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}:{seconds % 3600 % 60:f}"

    run_ffmpeg(["-ss", hhmmss(start), "-i", str(path), "-t", hhmmss(CLIP), "-c", "copy", "-avoid_negative_ts", "1",
                "-reset_timestamps", "1", "-y", "-loglevel", "panic", "-map", "0", str(out)])  # fmt: skip


def original(path: Path, video_id: str, out: Path) -> dict:
    """scdet per threshold try; each candidate cut once (-c copy); signature per candidate pair.
    ``seconds``: CPU of the scdet tries, of the pairs choice (cuts included) and of the greedy one."""
    clock = cpu_seconds()
    duration = probe_media(path).duration
    threshold, tries, starts, cuts, used = THRESHOLD, 0, [], [], THRESHOLD
    while True:  # the release's loop: a try without cuts keeps the previous try's candidates
        tries += 1
        found = release_scdet(path, threshold)
        if found:
            edges = [0.0, *found]  # the shot after the last cut is not a candidate
            starts = [
                a + (b - a - CLIP) / 2
                for a, b in zip(edges[:-1], edges[1:], strict=True)
                if b - a >= CLIP - 1e-6
            ]
            cuts, used = found, threshold
        if len(starts) >= WANTED or threshold >= 100:
            break
        threshold = min(threshold * FACTOR, 100.0)
    starts = starts or [duration / 2 - CLIP / 2]
    detect = cpu_seconds() - clock
    greedy_dir = out / "greedy"
    greedy_dir.mkdir(exist_ok=True)
    clock = cpu_seconds()
    greedy, greedy_signatures = release_greedy_choice(path, video_id, starts, greedy_dir)
    greedy_s = cpu_seconds() - clock
    clock = cpu_seconds()
    files = [out / f"{video_id}_{k}.mp4" for k in range(len(starts))]
    for start, file in zip(starts, files, strict=True):
        release_cut(path, file, start)
    pairs = 0
    if len(starts) > WANTED:
        sim = np.eye(len(starts)) * 1e9
        for i, j in combinations(range(len(starts)), 2):
            sim[i, j] = sim[j, i] = signature_matches(files[i], files[j])  # a crash counts as no match
            pairs += 1
        picked = set(choose_diverse(sim, WANTED, random.Random(video_seed(0, video_id))))
        for k, file in enumerate(files):
            if k not in picked:
                file.unlink()
        starts = sorted(starts[k] for k in picked)
    return {
        "cuts": cuts,
        "threshold": used,
        "tries": tries,
        "starts": starts,
        "pairs": pairs,
        "greedy_starts": sorted(greedy),
        "greedy_signatures": greedy_signatures,
        "seconds": (detect, cpu_seconds() - clock, greedy_s),
    }


def release_greedy_choice(
    path: Path, video_id: str, starts: list[float], out: Path
) -> tuple[list[float], int]:
    """The release's ``diversity_greedy`` (its run.py default), with its cuts: the chosen starts and
    the number of signature runs. Candidate files are named by start, as the release's were."""
    clips = list(starts)
    random.Random(video_seed(0, video_id)).shuffle(clips)

    def save(start: float) -> Path:
        file = out / f"{video_id}_{int(start):03d}.mp4"
        if not file.is_file():  # the release cut a clip only when its file was not there yet
            release_cut(path, file, start)
        return file

    if len(clips) <= WANTED:
        for start in clips:
            save(start)
        return clips, 0
    kept, others, runs = [clips[0]], clips[1:], 0
    kept_files = [save(clips[0])]
    for _ in range(WANTED - 1):
        lowest, pick = 1e10, 0
        for i, other in enumerate(others):
            file = save(other)
            total = 0
            for kept_file in kept_files:
                total += signature_matches(kept_file, file)
                runs += 1
            file.unlink()
            if total == 0:
                pick = i
                break
            if total < lowest:
                pick, lowest = i, total
        kept.append(others.pop(pick))
        kept_files.append(save(kept[-1]))
    return kept, runs


def ours(path: Path, video_id: str, out: Path, mode: str, threads: int) -> dict:
    """The stage's per-video work (everything but bundling shards) with ``--cut-mode mode``."""
    config = SegmentConfig(
        cut_mode=mode,
        threshold=THRESHOLD,
        threshold_factor=FACTOR,
        clip_length=CLIP,
        shot_rule="original",  # the same choices as the release: its shot rule, its last-shot drop
        keep_last_shot=False,
    )
    record = process_video(VideoTask(video_id, str(path), str(out), config, threads))
    if record["status"] != "ok":
        raise SystemExit(f"{video_id}: {record}")
    return {
        "cuts": record["cuts"],
        "threshold": record["threshold"],
        "tries": record["threshold_tries"],
        "starts": [c["start"] for c in record["clips"]],
        "files": [out / c["filename"] for c in record["clips"]],
    }


def clip_quality(source: Path, clip: Path, start: float) -> tuple[int, float, int]:
    """(start error in frames, PSNR in dB of the clip's grey frames of the window against the
    source's, frames shown past the window's end)."""
    lead = 60 / FPS  # look for the first frame up to 60 frames either side
    src = read_video_frames(source, pix_fmt="gray", start=max(0.0, start - lead), end=start + CLIP + lead)
    got = read_video_frames(clip, pix_fmt="gray")
    first = int(np.searchsorted(src.times, start - 1e-6))
    near = range(len(src.times))
    match = min(near, key=lambda i: float(np.mean((src.frames[i].astype(np.float64) - got.frames[0]) ** 2)))
    window = int(np.sum((src.times >= start - 1e-6) & (src.times < start + CLIP - 1e-6)))
    count = min(len(got.frames), len(src.frames) - first, window)
    diff = src.frames[first : first + count].astype(np.float64) - got.frames[:count]
    mse = float(np.mean(diff**2))
    return match - first, (99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)), len(got.frames) - window


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every shot duration")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep the generated videos here")
    parser.add_argument(
        "--gop", type=int, default=None, help="keyframe interval of the videos (default x264's 250)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="ours: decoder and ffmpeg threads per video (0: FFmpeg's default)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="acav-bench-seg-") as tmp_name:
        work = args.work_dir or Path(tmp_name)
        work.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        videos = {}
        for seed, (video_id, scenes) in enumerate(VIDEOS.items()):
            path = work / f"{video_id}.mp4"
            videos[video_id] = (path, make_video(path, scenes, seed, args.scale, args.gop))
        total_s = sum(probe_media(p).duration for p, _ in videos.values())
        print(
            f"generated {len(videos)} videos, {total_s:.0f} s of {WIDTH}x{HEIGHT} @ {FPS:g} fps "
            f"in {time.perf_counter() - began:.1f} s"
        )

        modes = ("copy", "smart", "fast", "accurate")
        t_orig = t_greedy = 0.0
        t_ours = dict.fromkeys(modes, 0.0)
        agree_cuts = agree_choice = True
        quality: dict[str, list[tuple[int, float, int]]] = {m: [] for m in modes}
        sizes: dict[str, int] = dict.fromkeys(modes, 0)
        for video_id, (path, truth) in videos.items():
            out = work / "original"
            out.mkdir(exist_ok=True)
            a = original(path, video_id, out)
            detect, pairs_s, greedy_s = a["seconds"]
            t_a, t_g = detect + pairs_s, detect + greedy_s
            t_orig += t_a
            t_greedy += t_g
            results, spent = {}, {}
            for mode in modes:
                out = work / mode
                out.mkdir(exist_ok=True)
                clock = cpu_seconds()
                results[mode] = ours(path, video_id, out, mode, args.threads)
                spent[mode] = cpu_seconds() - clock
                t_ours[mode] += spent[mode]
                for file, start in zip(results[mode]["files"], results[mode]["starts"], strict=True):
                    quality[mode].append(clip_quality(path, file, start))
                    sizes[mode] += file.stat().st_size
            b = results["accurate"]
            same = (
                len(a["cuts"]) == len(b["cuts"])
                and np.allclose(a["cuts"], b["cuts"], atol=1e-3)
                and a["tries"] == b["tries"]
            )
            chosen_same = len(a["starts"]) == len(b["starts"]) and np.allclose(
                a["starts"], b["starts"], atol=1.01 / FPS
            )
            agree_cuts &= same
            agree_choice &= chosen_same
            truth_final = [c for c in truth if any(abs(c - x) < 0.05 for x in b["cuts"])]
            print(
                f"\n{video_id}: original {t_a:.2f} s CPU ({a['tries']} scdet runs, {len(a['starts'])} clips, "
                f"{a['pairs']} signature pairs; scdet tries {detect:.2f} s); ours "
                + ", ".join(f"{m} {spent[m]:.2f} s ({t_a / spent[m]:.1f}x)" for m in modes)
            )
            print(
                f"  release greedy (run.py default): {t_g:.2f} s ({a['greedy_signatures']} signature runs) "
                f"-> ours copy {t_g / spent['copy']:.1f}x; it keeps {[round(s, 2) for s in a['greedy_starts']]}"
            )
            print(f"  true cuts        : {truth}")
            print(f"  original cuts    : {[round(c, 3) for c in a['cuts']]} @ threshold {a['threshold']:.2f}")
            print(
                f"  our cuts         : {[round(c, 3) for c in b['cuts']]} @ threshold {b['threshold']:.2f}"
                f" -> {'SAME' if same else 'DIFFERENT'}; {len(truth_final)} of them true cuts"
            )
            print(
                f"  chosen clip starts: original {[round(s, 2) for s in a['starts']]}, "
                f"ours {[round(s, 2) for s in b['starts']]} -> {'SAME' if chosen_same else 'DIFFERENT'}"
            )
        print(f"\nwhole stage (all {len(videos)} videos), CPU seconds incl. ffmpeg processes:")
        print(f"  original model (scdet per try, -c copy cuts, signature pairs): {t_orig:.2f} s")
        print(f"  release greedy choice (run.py's default; same scdet tries)   : {t_greedy:.2f} s")
        print(f"  ours: {args.threads or 'FFmpeg default'} thread(s) per video")
        for mode in modes:
            errors = [abs(e) for e, _, _ in quality[mode]]
            psnr = [q for _, q, _ in quality[mode]]
            extra = max(x for _, _, x in quality[mode])
            print(
                f"  ours --cut-mode {mode:<8}: {t_ours[mode]:6.2f} s -> {t_orig / t_ours[mode]:4.1f}x "
                f"({t_greedy / t_ours[mode]:.1f}x the greedy); "
                f"clips {sizes[mode] / 1e6:.1f} MB; start error max {max(errors)} frames; "
                f"up to {extra} frames past the end; "
                f"PSNR vs source min {min(psnr):.1f} dB, mean {np.mean(psnr):.1f} dB"
            )
        print(
            f"cuts {'identical for every video' if agree_cuts else 'DIFFER'}; "
            f"chosen clips {'identical for every video' if agree_choice else 'DIFFER for some videos'} (target >= 5x)"
        )
    return 0 if agree_cuts else 1


if __name__ == "__main__":
    sys.exit(main())
