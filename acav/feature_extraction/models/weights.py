"""Pretrained weights: the registry of canonical checkpoints, the local cache, checks and download.

Nothing here downloads implicitly: models load from a local file, and ``acav models download``
(or :func:`download`) is the one explicit way to fetch a file. Lookup order for a model's file:
an explicit path (the ``weights`` argument of the model builders; the CLI has no such flag), else
``<weights dir>/<filename>`` where the weights dir is
``--weights-dir``, else ``$ACAV_WEIGHTS_DIR``, else ``~/.cache/acav/weights``.

Checksums. A file is accepted only if its SHA-256 matches what we know:
* torchvggish's ``vggish-10086976.pth`` follows the torch.hub naming convention, where the part
  after the dash is the first 8 hex digits of the file's SHA-256; we check that prefix.
* For pytorchvideo's ``SLOWFAST_8x8_R50.pyth`` no published SHA-256 was available when this was
  written, so the full digest is unknown here and not invented: the file is accepted after its
  structure is checked (every expected tensor present with the right shape, strict loading), and
  its digest is logged so that it can be pinned with ``$ACAV_SLOWFAST_SHA256`` (or by filling in
  ``sha256`` below).
Files are read with ``torch.load(..., weights_only=True)``: a checkpoint cannot run code.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acav.core.atomic import atomic_path
from acav.core.logs import get_logger, progress

if TYPE_CHECKING:
    from torch import nn

log = get_logger(__name__)

WEIGHTS_DIR_ENV = "ACAV_WEIGHTS_DIR"
DEFAULT_WEIGHTS_DIR = Path("~/.cache/acav/weights")


class WeightsError(RuntimeError):
    """A weights file is missing, corrupt or of the wrong layout; the message says what to do."""


@dataclass(frozen=True)
class WeightSpec:
    name: str  # registry key, used by ``acav models download NAME``
    filename: str  # file name in the weights dir
    url: str  # canonical download location
    description: str
    sha256: str | None = None  # full hex digest, when known
    sha256_prefix: str | None = None  # known leading hex digits (torch.hub file-name convention)
    sha256_env: str | None = None  # environment variable that may pin the full digest
    state_dict_key: str | None = None  # checkpoint dict key that holds the state dict
    ignore_prefixes: tuple[str, ...] = ()  # checkpoint keys we do not use (e.g. PCA parameters)
    # Another checkpoint file of the same weights, used when ``filename`` is absent (SlowFast:
    # PySlowFast's Caffe2 ``SLOWFAST_8x8_R50.pkl``, what the original release used).
    caffe2_filename: str | None = None

    def expected_sha256(self) -> str | None:
        pinned = os.environ.get(self.sha256_env, "").strip().lower() if self.sha256_env else ""
        return pinned or self.sha256


WEIGHTS: dict[str, WeightSpec] = {
    "slowfast_r50": WeightSpec(
        name="slowfast_r50",
        filename="SLOWFAST_8x8_R50.pyth",
        url="https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics/SLOWFAST_8x8_R50.pyth",
        description="SlowFast 8x8 R50, Kinetics-400 (pytorchvideo model zoo, top-1 76.9)",
        sha256=None,  # not published; see the module docstring
        sha256_env="ACAV_SLOWFAST_SHA256",
        state_dict_key="model_state",
        caffe2_filename="SLOWFAST_8x8_R50.pkl",
    ),
    "vggish": WeightSpec(
        name="vggish",
        filename="vggish-10086976.pth",
        url="https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth",
        description="VGGish (AudioSet / YouTube-8M), torchvggish port of the TensorFlow release",
        sha256_prefix="10086976",
        sha256_env="ACAV_VGGISH_SHA256",
        ignore_prefixes=("pproc.",),
    ),
}


def get_spec(name: str) -> WeightSpec:
    try:
        return WEIGHTS[name]
    except KeyError:
        raise WeightsError(f"unknown weights {name!r}; known: {', '.join(WEIGHTS)}") from None


def weights_dir(override: str | Path | None = None) -> Path:
    """``override`` (``--weights-dir``), else ``$ACAV_WEIGHTS_DIR``, else ``~/.cache/acav/weights``."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get(WEIGHTS_DIR_ENV)
    return Path(env).expanduser() if env else DEFAULT_WEIGHTS_DIR.expanduser()


def how_to_get(spec: WeightSpec, directory: Path) -> str:
    """The instructions every weights error ends with."""
    return (
        f"Get it with `acav models download {spec.name} --weights-dir {directory}` on a machine with "
        f"internet, or download {spec.url} yourself and put it at {directory / spec.filename} "
        f"(or pass the directory that holds it with --weights-dir, or set ${WEIGHTS_DIR_ENV}). "
        "To run without pretrained weights (features are then meaningless), pass --allow-random-weights."
    )


def resolve_path(
    spec: WeightSpec, weights: str | Path | None = None, directory: str | Path | None = None
) -> Path:
    """Where ``spec``'s file should be: an explicit file, a directory holding it, or the weights dir."""
    if weights is not None:
        path = Path(weights).expanduser()
        return _file_in(spec, path) if path.is_dir() else path
    return _file_in(spec, weights_dir(directory))


def _file_in(spec: WeightSpec, directory: Path) -> Path:
    """``spec.filename`` in ``directory``, or its Caffe2 checkpoint when only that one is there."""
    main = directory / spec.filename
    if not main.exists() and spec.caffe2_filename and (directory / spec.caffe2_filename).is_file():
        log.info("%s not found; using the Caffe2 checkpoint %s", main, spec.caffe2_filename)
        return directory / spec.caffe2_filename
    return main


def sha256_of(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def check_digest(spec: WeightSpec, digest: str, where: str) -> bool:
    """Raise if ``digest`` contradicts what we know; return whether it was verified at all."""
    expected = spec.expected_sha256()
    if expected:
        if digest != expected:
            raise WeightsError(
                f"{where}: SHA-256 {digest} does not match the expected {expected} for {spec.name}; "
                "the file is corrupt, truncated or a different checkpoint. Delete it and download it again."
            )
        return True
    if spec.sha256_prefix:
        if not digest.startswith(spec.sha256_prefix):
            raise WeightsError(
                f"{where}: SHA-256 {digest} does not start with {spec.sha256_prefix} as the canonical "
                f"{spec.filename} does; the file is corrupt, truncated or a different checkpoint. "
                "Delete it and download it again."
            )
        return True
    return False


def verify_file(spec: WeightSpec, path: Path) -> str:
    """Check ``path`` exists and has the right checksum; returns its SHA-256."""
    if not path.is_file():
        raise WeightsError(
            f"weights file for {spec.name} not found at {path}. " + how_to_get(spec, path.parent)
        )
    digest = sha256_of(path)
    try:
        verified = check_digest(spec, digest, str(path))
    except WeightsError as exc:
        raise WeightsError(f"{exc} " + how_to_get(spec, path.parent)) from None
    if not verified:
        log.warning(
            "%s: no reference SHA-256 is known for %s, so only its structure is checked; its SHA-256 is %s "
            "(pin it with $%s to have it checked from now on)",
            path,
            spec.filename,
            digest,
            spec.sha256_env,
        )
    return digest


def extract_state_dict(spec: WeightSpec, checkpoint: Any, where: str) -> dict[str, Any]:
    """The tensor dict inside a checkpoint: pytorchvideo's ``{"model_state": ...}`` or a bare state dict."""
    import torch

    if isinstance(checkpoint, dict) and spec.state_dict_key and spec.state_dict_key in checkpoint:
        checkpoint = checkpoint[spec.state_dict_key]
    elif (
        isinstance(checkpoint, dict)
        and "state_dict" in checkpoint
        and isinstance(checkpoint["state_dict"], dict)
    ):
        checkpoint = checkpoint["state_dict"]
    if not isinstance(checkpoint, dict) or not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise WeightsError(
            f"{where}: not a state dict of tensors (expected a dict of tensors"
            + (f" or a dict with key {spec.state_dict_key!r}" if spec.state_dict_key else "")
            + ")"
        )
    # Checkpoints saved from DataParallel prefix every key with "module.".
    if checkpoint and all(k.startswith("module.") for k in checkpoint):
        checkpoint = {k[len("module.") :]: v for k, v in checkpoint.items()}
    return {k: v for k, v in checkpoint.items() if not k.startswith(spec.ignore_prefixes)}


def load_state_dict_file(spec: WeightSpec, path: Path) -> dict[str, Any]:
    """Verify and read ``path`` safely (``weights_only=True``) into a plain state dict."""
    import torch

    if spec.caffe2_filename and path.suffix == ".pkl":
        return _caffe2_state_dict(spec, path)
    verify_file(spec, path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated zip, a pickle with code, a non-torch file
        raise WeightsError(
            f"{path}: cannot be read as a torch checkpoint ({exc}). " + how_to_get(spec, path.parent)
        ) from exc
    return extract_state_dict(spec, checkpoint, str(path))


def _caffe2_state_dict(spec: WeightSpec, path: Path) -> dict[str, Any]:
    """A Caffe2 checkpoint (PySlowFast ``.pkl``) read safely and mapped onto our module names."""
    from acav.feature_extraction.models.slowfast_caffe2 import Caffe2CheckpointError, caffe2_state_dict

    if not path.is_file():
        raise WeightsError(
            f"weights file for {spec.name} not found at {path}. " + how_to_get(spec, path.parent)
        )
    log.info("%s: Caffe2 checkpoint, SHA-256 %s (structure checked by strict loading)", path, sha256_of(path))
    try:
        return caffe2_state_dict(path)
    except Caffe2CheckpointError as exc:
        raise WeightsError(f"{exc}. " + how_to_get(spec, path.parent)) from exc


def apply_state_dict(model: nn.Module, state: dict[str, Any], where: str) -> None:
    """Strict load with an error that lists what differs (missing, unexpected, wrong shapes)."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:

        def some(keys: list[str]) -> str:
            return ", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")

        problems = []
        if missing:
            problems.append(f"{len(missing)} missing: {some(missing)}")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected: {some(unexpected)}")
        if wrong:
            problems.append(f"{len(wrong)} with other shapes: {some(wrong)}")
        raise WeightsError(f"{where}: does not fit {type(model).__name__}: " + "; ".join(problems))
    model.load_state_dict(state, strict=True)


def warn_random(name: str) -> None:
    banner = "!" * 78
    log.warning(
        "\n%s\n!! %s: RANDOM WEIGHTS (--allow-random-weights). Its features are NOT the paper's and\n"
        "!! are useless for curation; use this only for tests, benchmarks and plumbing checks.\n%s",
        banner,
        name,
        banner,
    )


def load_model_weights(
    model: nn.Module,
    name: str,
    weights: str | Path | None,
    *,
    allow_random: bool,
    weights_dir: str | Path | None = None,
) -> Path | None:
    """Load ``name``'s pretrained weights into ``model``; returns the file used, or None if random."""
    spec = get_spec(name)
    path = resolve_path(spec, weights, weights_dir)
    # Random weights stand in only for a file looked up in the weights dir; a path the user named
    # explicitly must exist (a typo there should not silently give random features).
    if not path.exists() and allow_random and (weights is None or Path(weights).expanduser().is_dir()):
        warn_random(f"{name} (no weights at {path})")
        return None
    state = load_state_dict_file(spec, path)
    apply_state_dict(model, state, str(path))
    log.info("loaded %s weights from %s", name, path)
    return path


def download(
    name: str,
    directory: str | Path | None = None,
    *,
    force: bool = False,
    url: str | None = None,
    timeout: float = 60.0,
) -> Path:
    """Fetch ``name``'s checkpoint into the weights dir (atomic write, checksum checked before rename).

    An existing file that passes the checksum is kept unless ``force``. ``url`` overrides the
    canonical location (a mirror).
    """
    spec = get_spec(name)
    target = weights_dir(directory) / spec.filename
    if target.is_file() and not force:
        verify_file(spec, target)
        log.info("%s already present at %s", name, target)
        return target
    source = url or spec.url
    target.parent.mkdir(parents=True, exist_ok=True)
    request = urllib.request.Request(source, headers={"User-Agent": "acav-weights/1"})
    digest = hashlib.sha256()
    with atomic_path(target) as tmp:
        with urllib.request.urlopen(request, timeout=timeout) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with progress(total=total, desc=spec.filename, unit="B", unit_scale=True) as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
            if total is not None and out.tell() != total:
                raise WeightsError(f"{source}: got {out.tell()} bytes, expected {total}; try again")
        # Raising here removes the temporary file: a bad download never takes the real name.
        if not check_digest(spec, digest.hexdigest(), source):
            log.warning(
                "%s: no reference SHA-256 is known; downloaded file has SHA-256 %s",
                spec.filename,
                digest.hexdigest(),
            )
    log.info("downloaded %s to %s", name, target)
    return target
