"""Stage 2 (video download), whole process: ``acav download`` vs a model of the original's downloader.

Both run as subprocesses against a loopback HTTP server (127.0.0.1, the download tests' server,
``tests/video_download/vd_helpers.py``) serving generated videos; nothing reaches the internet.
Each process is measured by ``os.wait4``: CPU time (user + system, its ffmpeg children included),
peak RSS, wall time. The server runs in this process, so its CPU counts for neither side.

The original (sangho-vision/acav100m, ``video_download/code/run.py``), as the model here
reproduces it (facts only, written independently): youtube-dl used as a Python library, one
``YoutubeDL`` object for the whole list, options ``outtmpl = OUT/%(id)s.%(ext)s`` and
``merge_output_format = mp4`` and nothing else (so the library's default format choice, and no
HTTP retries: a library caller who does not set ``retries`` gets 0); ids one after another (no parallelism), an id skipped when ``OUT/{id}.mp4``
exists (the id: the URL's last 11 characters), a ``DownloadError`` printed and the loop going on;
a tqdm bar over the ids; no check of the downloaded file, no failure log. The model runs that
loop with yt-dlp's ``YoutubeDL`` (the ratios' baseline: the library ``acav download`` drives, so
the difference is what our stage adds around it) and, with ``--youtube-dl DIR``, also with
youtube-dl itself (2021.12.17, unmaintained, not a project dependency: install it apart with
``pip install --target DIR youtube_dl``).

The input: ``--videos`` good mp4 files (video + audio) plus five items that need handling: one
Matroska file (we remux it to mp4, the original keeps ``{id}.mkv``), an HTTP 404, an mp4 cut in
half, an HTML page served as ``video/mp4`` and an mp4 without audio (we refuse these three, the
original keeps them as ``{id}.mp4``). The variants run in interleaved rounds (the order rotates).

    nice python benchmarks/download_stage.py --videos 12 --seconds 10 --rounds 3 --youtube-dl DIR
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_original_model(library: str, input_path: Path, output_dir: Path) -> None:
    """The release's loop (see the module docstring) with ``library``: youtube_dl or yt_dlp."""
    import importlib

    from tqdm import tqdm

    ydl_module = importlib.import_module(library)

    urls: dict[str, str] = {}
    with open(input_path) as handle:
        for line in handle:
            url = line.split("\t")[0]
            urls[url[-11:]] = url
    output_dir.mkdir(parents=True, exist_ok=True)
    options = {"outtmpl": str(output_dir / "%(id)s.%(ext)s"), "merge_output_format": "mp4"}
    with ydl_module.YoutubeDL(options) as ydl:
        for video_id, url in tqdm(urls.items(), total=len(urls)):
            if (output_dir / f"{video_id}.mp4").is_file():
                continue
            try:
                ydl.download([url])
            except ydl_module.utils.DownloadError as exc:
                print(exc)


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "--original-model":
    # The child process of the baseline: imports only what the release's script imports.
    run_original_model(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
    sys.exit(0)

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests" / "video_download"))

from vd_helpers import LoopbackServer, Serve, Status, write_input  # noqa: E402

from acav.core.media import ffmpeg_binary, run_ffmpeg  # noqa: E402
from clip_segmentation import make_video  # noqa: E402

ACAV_DOWNLOAD = [sys.executable, "-m", "acav", "download"]
MODEL = "release model, yt-dlp"  # the baseline of the ratios
# Items beside the good mp4 files: id (11 characters) -> what the server does.
BAD_IDS = ("mkvformat01", "missing0404", "truncated01", "htmlpage001", "noaudio0001")


def make_media(directory: Path, count: int, seconds: float) -> dict[str, bytes]:
    """Generated files served by the loopback server: ``good{i}`` plus the five special kinds."""
    directory.mkdir(parents=True, exist_ok=True)
    distinct = min(count, 4)  # a few distinct videos, served under several ids
    media: dict[str, bytes] = {}
    for index in range(distinct):
        path = directory / f"good{index}.mp4"
        make_video(path, [(seconds, 1)], seed=100 + index, scale=1.0, gop=None)
        media[f"good{index}"] = path.read_bytes()
    source = directory / "good0.mp4"
    for name, args in (
        ("mkv", ["-c", "copy", "-f", "matroska"]),
        ("noaudio", ["-an", "-c", "copy", "-movflags", "+faststart", "-f", "mp4"]),
    ):
        out = directory / f"{name}.bin"
        run_ffmpeg(["-loglevel", "error", "-y", "-i", str(source), *args, str(out)])
        media[name] = out.read_bytes()
    media["truncated"] = media["good0"][: len(media["good0"]) // 2]  # index at the front (+faststart)
    media["html"] = b"<html><body>not a video</body></html>" * 40
    return media


def route_all(
    server: LoopbackServer, media: dict[str, bytes], count: int
) -> tuple[list[str], dict[str, bytes]]:
    """Route every id; return the input URLs (good ones first) and each good id's expected bytes."""
    urls, expected = [], {}
    distinct = sum(1 for key in media if key.startswith("good"))
    for index in range(count):
        video_id = f"goodvid{index:04d}"
        data = media[f"good{index % distinct}"]
        urls.append(server.route(video_id, Serve(data)))
        expected[video_id] = data
    urls.append(server.route("mkvformat01", Serve(media["mkv"], content_type="video/x-matroska")))
    urls.append(server.route("missing0404", Status(404)))
    urls.append(server.route("truncated01", Serve(media["truncated"])))
    urls.append(server.route("htmlpage001", Serve(media["html"])))
    urls.append(server.route("noaudio0001", Serve(media["noaudio"])))
    return urls, expected


def measured(command: list[str], env: dict[str, str], cwd: Path) -> dict[str, float]:
    """Run ``command``; CPU seconds (its children included), peak RSS MiB and wall seconds."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            errors.seek(0)
            raise SystemExit(f"{' '.join(command)} failed:\n{errors.read().decode(errors='replace')[-3000:]}")
    return {"cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024, "wall": wall}


def ffmpeg_on_path(directory: Path) -> str:
    """A PATH with ``ffmpeg`` (imageio-ffmpeg's binary) first: the original relied on an installed ffmpeg."""
    directory.mkdir(parents=True, exist_ok=True)
    link = directory / "ffmpeg"
    if not link.exists():
        link.symlink_to(ffmpeg_binary())
    return f"{directory}{os.pathsep}{os.environ.get('PATH', '')}"


def check_ours(output: Path, expected: dict[str, bytes]) -> dict[str, int]:
    """Every good id byte-identical, the mkv remuxed to mp4, nothing kept for the four bad items."""
    for video_id, data in expected.items():
        if (output / f"{video_id}.mp4").read_bytes() != data:
            raise SystemExit(f"ours: {video_id}.mp4 differs from the served file")
    if (output / "mkvformat01.mp4").read_bytes()[4:8] != b"ftyp":
        raise SystemExit("ours: mkvformat01.mp4 is not an mp4")
    kept = {p.stem for p in output.glob("*.mp4")}
    if kept != set(expected) | {"mkvformat01"}:
        raise SystemExit(f"ours kept unexpected files: {sorted(kept - set(expected))}")
    statuses: dict[str, int] = {}
    with open(output / "download.log.jsonl") as handle:
        for line in handle:
            record = json.loads(line)
            statuses[record["status"]] = statuses.get(record["status"], 0) + 1
    return {"kept": len(kept), "bad_kept": 0, **statuses}


def check_model(output: Path, expected: dict[str, bytes]) -> dict[str, int]:
    """Every good id byte-identical; what else the release's loop leaves behind.

    Files are found by id: youtube-dl names a download from an extension-less loopback URL
    ``{id}.unknown_video`` (on YouTube the format's extension is known); yt-dlp takes the
    extension from the Content-Type (``.mp4``, ``.mkv``).
    """
    kept = {p.stem: p for p in output.iterdir() if p.is_file()}
    for video_id, data in expected.items():
        if video_id not in kept or kept[video_id].read_bytes() != data:
            raise SystemExit(f"release model: {video_id} missing or different from the served file")
    bad = {"truncated01", "htmlpage001", "noaudio0001"} & set(kept)
    return {"kept": len(kept), "bad_kept": len(bad), "mkv_kept": int("mkvformat01" in kept)}


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def per_call(fn: Callable[[int], object], count: int) -> float:
    """CPU milliseconds per call of ``fn(i)`` (this process and its children)."""
    started = _cpu()
    for index in range(count):
        fn(index)
    return (_cpu() - started) / count * 1000


def youtubedl_reuse_cost(urls: list[str], work: Path, rounds: int = 2) -> tuple[float, float]:
    """Per good item: CPU ms with one ``YoutubeDL`` for the list (the release; ours: one per worker
    thread) and with a new one per item (ours before the reuse). The loopback server's own CPU is
    in both figures alike."""
    import yt_dlp

    def options(directory: Path) -> dict[str, object]:
        return {
            "outtmpl": str(directory / "%(id)s.%(ext)s"),
            "merge_output_format": "mp4",
            "quiet": True,
            "noprogress": True,
        }

    shared, fresh = [], []
    for index in range(rounds):
        directory = work / f"shared{index}"
        with yt_dlp.YoutubeDL(options(directory)) as ydl:
            shared.append(per_call(lambda i: ydl.download([urls[i]]), len(urls)))
        directory = work / f"fresh{index}"

        def one(i: int, directory: Path = directory) -> None:
            with yt_dlp.YoutubeDL(options(directory)) as ydl:
                ydl.download([urls[i]])

        fresh.append(per_call(one, len(urls)))
    return min(shared), min(fresh)


def breakdown(media_dir: Path, work: Path, count: int, env: dict[str, str]) -> dict[str, float]:
    """Where ours spends what the release does not: CPU ms of each extra step, measured alone."""
    from acav.video_download.remux import remux_to_mp4
    from acav.video_download.validate import is_mp4_container, validate_video

    good = media_dir / "good0.mp4"
    mkv = media_dir / "good0.mkv"
    shutil.copyfile(media_dir / "mkv.bin", mkv)
    validate_video(good)  # the first call pays PyAV's import
    imports = {
        name: min(measured([sys.executable, "-c", code], env, ROOT)["cpu"] for _ in range(3)) * 1000
        for name, code in (
            (
                "imports: ours",
                "import acav.cli, acav.video_download.runner, acav.video_download.ytdlp_backend, yt_dlp, av",
            ),
            ("imports: release", "import yt_dlp, tqdm"),
        )
    }
    return {
        **imports,
        "validate_video (probe + demux every packet)": per_call(lambda i: validate_video(good), count),
        "is_mp4_container": per_call(lambda i: is_mp4_container(good), count),
        "remux mkv -> mp4 (ffmpeg -c copy)": per_call(lambda i: remux_to_mp4(mkv, work / f"r{i}.mp4"), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=12, help="good mp4 items (plus 5 special ones)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each generated video")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4], help="acav download --workers")
    parser.add_argument(
        "--youtube-dl",
        metavar="DIR",
        help="also run the release model with youtube-dl itself, importable from DIR "
        "(e.g. pip install --target DIR youtube_dl; not a project dependency)",
    )
    parser.add_argument("--no-breakdown", action="store_true", help="skip the per-step CPU breakdown")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(
        prefix="bench-download-", dir=ROOT / "data" if (ROOT / "data").is_dir() else None
    ) as tmp:
        work = Path(tmp)
        media = make_media(work / "media", args.videos, args.seconds)
        env = {key: value for key, value in os.environ.items() if not key.lower().endswith("_proxy")}
        env.update(PYTHONPATH=str(ROOT), PATH=ffmpeg_on_path(work / "bin"), ACAV_PROGRESS="1")
        env.pop("DATA_DIR", None)
        with LoopbackServer() as server:
            urls, expected = route_all(server, media, args.videos)
            model = [sys.executable, str(Path(__file__).resolve()), "--original-model"]
            variants: list[tuple[str, list[str], Callable[..., dict[str, int]], dict[str, str]]] = [
                (f"ours --workers {w}", [*ACAV_DOWNLOAD, "--workers", str(w)], check_ours, env)
                for w in args.workers
            ]
            variants.append((MODEL, [*model, "yt_dlp"], check_model, env))
            if args.youtube_dl:
                path = f"{Path(args.youtube_dl).resolve()}{os.pathsep}{ROOT}"
                variants.append(
                    (
                        "release model, youtube-dl",
                        [*model, "youtube_dl"],
                        check_model,
                        {**env, "PYTHONPATH": path},
                    )
                )
            results: dict[str, list[dict[str, float]]] = {name: [] for name, *_ in variants}
            checks: dict[str, dict[str, int]] = {}
            for round_index in range(args.rounds):
                shift = round_index % len(variants)
                for name, command, check, variant_env in variants[shift:] + variants[:shift]:
                    data = work / f"run-{round_index}-{name.replace(' ', '_').replace(',', '')}"
                    output = data / "videos" / "raw"
                    data.mkdir(parents=True)
                    write_input(data / "filtered.tsv", urls)
                    if command[: len(ACAV_DOWNLOAD)] == ACAV_DOWNLOAD:
                        full = [*command, "--data-dir", str(data)]
                    else:
                        full = [*command, str(data / "filtered.tsv"), str(output)]
                    results[name].append(measured(full, variant_env, ROOT))
                    checks[name] = check(output, expected)
                    shutil.rmtree(data)
                    print(f"round {round_index + 1} {name}: {results[name][-1]}", flush=True)
            if not args.no_breakdown:
                good_urls = urls[: args.videos]
                shared, fresh = youtubedl_reuse_cost(good_urls, work / "reuse")
        steps = {} if args.no_breakdown else breakdown(work / "media", work, args.videos, env)

    items = args.videos + len(BAD_IDS)
    baseline = statistics.median(r["cpu"] for r in results[MODEL])
    print(
        f"\n{items} items ({args.videos} good {args.seconds:g} s mp4 + {len(BAD_IDS)} special), "
        f"{args.rounds} interleaved rounds, medians:"
    )
    print(
        f"{'variant':<26} {'CPU s':>7} {'CPU/item':>9} {'wall s':>7} {'RSS MiB':>8} {'vs model':>9}  outcome"
    )
    for name, runs in results.items():
        cpu = statistics.median(r["cpu"] for r in runs)
        wall = statistics.median(r["wall"] for r in runs)
        rss = max(r["rss"] for r in runs)
        print(
            f"{name:<26} {cpu:7.2f} {cpu / items * 1000:7.0f}ms {wall:7.2f} {rss:8.0f} {baseline / cpu:8.2f}x  {checks[name]}"
        )
    if args.no_breakdown:
        return
    print("\nBreakdown (CPU ms; per good item unless said):")
    print(f"  yt-dlp download, one YoutubeDL for the list (release; ours per thread) {shared:7.1f}")
    print(
        f"  yt-dlp download, a new YoutubeDL per item (ours before the reuse)      {fresh:7.1f}  (+{fresh - shared:.1f})"
    )
    for name, value in steps.items():
        unit = " per process" if name.startswith("imports") else " per file"
        print(f"  {name:<52} {value:7.1f}{unit}")


if __name__ == "__main__":
    main()
