"""Clips/s of the real extractors' architectures on CPU (random weights), against the references.

    python benchmarks/feature_models.py [--batch 2] [--repeats 2] [--audio-clips 8] [--threads N]

SlowFast 8x8 R50: a batch of ``--batch`` clips of 32 x 256 x 256 uint8 frames through
``slowfast_preprocess`` + ``forward_pooled`` (inference_mode, channels-last-3d), compared with
the same model in the default memory format and with pytorchvideo's ``slowfast_r50`` (its
``forward``, the same convolutions plus the head) when pytorchvideo is installed.
VGGish: ``--audio-clips`` clips of 10 s (16 kHz) through the log-mel front end + ``forward_pooled``,
compared with torchvggish's front end + model. Ratios > 1 mean ours is faster.

The variants compared with each other are timed interleaved (after one warm-up call each, round
``r`` runs every variant once, in turn), so that a change of load on a shared machine hits all
of them alike; the best round of each is kept.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
import types
from collections.abc import Callable

import numpy as np
import torch

from acav.feature_extraction.models.slowfast import (
    SLOWFAST_CROP,
    SLOWFAST_NUM_FRAMES,
    SlowFastR50,
    slowfast_preprocess,
)
from acav.feature_extraction.models.vggish import VGGish
from acav.feature_extraction.models.vggish_input import VGGISH_SAMPLE_RATE, waveform_to_examples


def best_times(variants: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best wall time of each variant over ``repeats`` interleaved rounds (after one warm-up each)."""
    for fn in variants.values():
        fn()  # warm-up (allocations, oneDNN primitive creation)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(values) for name, values in times.items()}


def import_pytorchvideo():
    """pytorchvideo's SlowFast builder, or None. Its package imports torchvision.ops.RoIAlign (unused by
    SlowFast); torchvision is not installed here, so a stand-in module is provided during the import."""
    added = []
    try:
        import torchvision  # noqa: F401
    except ImportError:
        stub, ops = types.ModuleType("torchvision"), types.ModuleType("torchvision.ops")
        ops.RoIAlign = object  # type: ignore[attr-defined]
        stub.ops = ops  # type: ignore[attr-defined]
        sys.modules.update({"torchvision": stub, "torchvision.ops": ops})
        added = ["torchvision", "torchvision.ops"]
    try:
        from pytorchvideo.models.hub.slowfast import slowfast_r50

        return slowfast_r50
    except ImportError:
        return None
    finally:
        for name in added:
            sys.modules.pop(name, None)


def import_torchvggish():
    added = []
    try:
        import soundfile  # noqa: F401
    except ImportError:
        sys.modules["soundfile"] = types.ModuleType("soundfile")
        added = ["soundfile"]
    try:
        import torchvggish

        return torchvggish
    except ImportError:
        return None
    finally:
        for name in added:
            sys.modules.pop(name, None)


def bench_slowfast(batch: int, repeats: int, crop: int) -> None:
    torch.manual_seed(0)
    frames = torch.randint(0, 256, (batch, SLOWFAST_NUM_FRAMES, crop, crop, 3), dtype=torch.uint8)
    contiguous = SlowFastR50().eval()
    channels_last = copy.deepcopy(contiguous).to(memory_format=torch.channels_last_3d)
    fused = copy.deepcopy(channels_last)
    fused.fuse_batchnorm()  # what build_slowfast() returns: BN folded, channels-last-3d

    def runner(model: SlowFastR50, make_contiguous: bool) -> Callable[[], None]:
        def run() -> None:
            with torch.inference_mode():
                slow, fast = slowfast_preprocess(frames, crop=crop)
                if make_contiguous:
                    slow, fast = slow.contiguous(), fast.contiguous()
                model.forward_pooled(slow, fast)

        return run

    variants = {
        "ours": runner(fused, False),
        "channels_last": runner(channels_last, False),
        "contiguous": runner(contiguous, True),
    }
    builder = import_pytorchvideo()
    if builder is not None:
        reference = builder(pretrained=False).eval()

        def run_reference() -> None:
            with torch.no_grad():
                slow, fast = slowfast_preprocess(frames, crop=crop)
                reference([slow.contiguous(), fast.contiguous()])

        variants["reference"] = run_reference
    best = best_times(variants, repeats)
    t_ours, t_cl, t_contig = best["ours"], best["channels_last"], best["contiguous"]
    print(f"SlowFast 8x8 R50, {batch} clips of {SLOWFAST_NUM_FRAMES}x{crop}x{crop}, random weights, CPU:")
    print(
        f"  ours (BN folded, channels_last_3d) {batch / t_ours:7.3f} clips/s  ({t_ours / batch:.2f} s/clip)"
    )
    print(f"  ours (channels_last_3d)            {batch / t_cl:7.3f} clips/s  ours/this {t_cl / t_ours:.2f}x")
    print(
        f"  ours (contiguous NCTHW)            {batch / t_contig:7.3f} clips/s  ours/this {t_contig / t_ours:.2f}x"
    )
    if builder is None:
        print("  pytorchvideo not installed: no reference timing")
        return
    t_ref = best["reference"]
    print(
        f"  pytorchvideo slowfast_r50          {batch / t_ref:7.3f} clips/s  ours/this {t_ref / t_ours:.2f}x"
    )


def bench_vggish(clips: int, repeats: int) -> None:
    rng = np.random.default_rng(0)
    waves = [(0.1 * rng.standard_normal(10 * VGGISH_SAMPLE_RATE)).astype(np.float32) for _ in range(clips)]
    torch.manual_seed(0)
    ours = VGGish().eval().to(memory_format=torch.channels_last)  # as build_vggish() returns it

    def run_ours() -> None:
        examples = np.concatenate([waveform_to_examples(w) for w in waves])
        with torch.inference_mode():
            ours.forward_pooled(torch.from_numpy(examples)[:, None])

    variants = {"front": lambda: [waveform_to_examples(w) for w in waves], "ours": run_ours}
    module = import_torchvggish()
    if module is not None:
        reference = module.torchvggish._vgg(postprocess=False).eval()

        def ref_front() -> list:
            return [
                module.vggish_input.waveform_to_examples(w, VGGISH_SAMPLE_RATE, return_tensor=False)
                for w in waves
            ]

        def run_reference() -> None:
            examples = np.concatenate(ref_front())
            with torch.no_grad():
                reference(torch.from_numpy(examples).float()[:, None])

        variants.update({"ref_front": ref_front, "reference": run_reference})
    best = best_times(variants, repeats)
    t_front, t_ours = best["front"], best["ours"]
    print(f"VGGish, {clips} clips of 10 s (10 examples each), random weights, CPU:")
    print(
        f"  ours front end + model         {clips / t_ours:7.2f} clips/s  (front end alone {clips / t_front:.1f} clips/s)"
    )
    if module is None:
        print("  torchvggish not installed: no reference timing")
        return

    t_ref_front, t_ref = best["ref_front"], best["reference"]
    print(
        f"  torchvggish front end + model  {clips / t_ref:7.2f} clips/s  ratio ours/ref {t_ref / t_ours:.2f}x"
    )
    print(
        f"  front end alone: torchvggish {clips / t_ref_front:.1f} clips/s, ratio ours/ref {t_ref_front / t_front:.2f}x"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=2, help="SlowFast clips per batch (default 2)")
    parser.add_argument("--crop", type=int, default=SLOWFAST_CROP, help="SlowFast frame size (default 256)")
    parser.add_argument("--audio-clips", type=int, default=8, help="VGGish clips of 10 s (default 8)")
    parser.add_argument(
        "--repeats", type=int, default=2, help="timed repeats after one warm-up; best is kept"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--skip", choices=("slowfast", "vggish"), action="append", default=[])
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if "vggish" not in args.skip:
        bench_vggish(args.audio_clips, args.repeats)
    if "slowfast" not in args.skip:
        bench_slowfast(args.batch, args.repeats, args.crop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
