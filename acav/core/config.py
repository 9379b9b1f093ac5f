"""One configuration mechanism for every stage: dataclass defaults < YAML file section < CLI flags.

A stage declares its options once, as a dataclass whose fields carry ``help`` metadata::

    @dataclass
    class FilterConfig:
        min_duration: float = field(default=30.0, metadata={"help": "shortest video kept (s)"})

:func:`add_config_arguments` turns the fields into ``--min-duration`` flags, and
:func:`load_config` merges the defaults, the stage's section of ``--config FILE.yaml`` (or
``$ACAV_CONFIG``) and the flags the user actually gave. Unknown YAML keys and unknown section
names are errors that name the file, section and key, and a value of the wrong type (``2.5`` for
an integer option) is an error, never a silent truncation, so a typo never silently does nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import logging
import os
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

C = TypeVar("C")


class ConfigError(ValueError):
    pass


# The six stages in pipeline order (= their folder names = their YAML sections), and every
# section a config file may hold: the stage folder names plus the other commands' sections.
# A command that reads a section not listed here adds it (``load_config`` also accepts the section
# it is asked for), so a new command never trips over its own name.
STAGE_SECTIONS: tuple[str, ...] = (
    "metadata_filtering",
    "video_download",
    "clip_segmentation",
    "feature_extraction",
    "clustering",
    "subset_selection",
)
KNOWN_SECTIONS: tuple[str, ...] = (
    *STAGE_SECTIONS,
    "demo",
    "report",
    "evaluation",
    "correspondence_retrieval",
    "export",
    "rebuild",
)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _base_type(tp: Any) -> tuple[Any, bool]:
    """``(inner type, is_list)`` for annotations like ``int``, ``Optional[Path]``, ``list[str]``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _base_type(args[0]) if len(args) == 1 else (str, False)
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return (args[0] if args else str), True
    return tp, False


ALIAS_DEST = "_deprecated_alias__"
_log = logging.getLogger("acav.core.config")


def deprecated(old: str, convert: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """Field metadata for an option's former name: ``metadata={"help": ..., **deprecated("num_workers")}``.

    The old name keeps working as a flag (``--num-workers``), a YAML key and an API keyword, with a
    warning naming the new one; ``convert`` maps an old value to the new meaning when it changed.
    """
    return {"aliases": {old: convert}}


def _aliases(cls: type) -> dict[str, tuple[str, Callable[[Any], Any] | None]]:
    """``{old name: (field name, converter)}`` of a config dataclass."""
    out = {}
    for fld in dataclasses.fields(cls):
        for old, convert in (fld.metadata.get("aliases") or {}).items():
            out[old] = (fld.name, convert)
    return out


_WARNED: set[str] = set()


def _from_alias(old: str, new: str, convert: Callable[[Any], Any] | None, value: Any, where: str) -> Any:
    if old not in _WARNED:
        _WARNED.add(old)
        _log.warning("%s: '%s' (--%s) is deprecated; use '%s' (--%s)", where, old, old.replace("_", "-"),
                     new, new.replace("_", "-"))  # fmt: skip
    return convert(value) if convert is not None else value


def add_config_arguments(
    parser: argparse.ArgumentParser, cls: type, skip: frozenset[str] = frozenset()
) -> None:
    """Add one flag per dataclass field (except those named in ``skip``, and hidden ones for
    deprecated names); defaults are suppressed so we can tell what was given."""
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group(f"{cls.__name__} options (also settable in the YAML config)")
    for fld in dataclasses.fields(cls):
        if fld.metadata.get("cli") is False or fld.name in skip:
            continue
        tp, is_list = _base_type(hints[fld.name])
        default = fld.default if fld.default is not dataclasses.MISSING else fld.default_factory()  # type: ignore[misc]
        help_text = fld.metadata.get("help", "")
        help_text = f"{help_text} (default: {default!r})" if help_text else f"default: {default!r}"
        kwargs: dict[str, Any] = {"dest": fld.name, "default": argparse.SUPPRESS, "help": help_text}
        if "choices" in fld.metadata:
            kwargs["choices"] = fld.metadata["choices"]
        names = [fld.name]
        for old in fld.metadata.get("aliases") or {}:
            names.append(old)
        for i, name in enumerate(names):
            if i:  # a deprecated spelling: hidden, stored apart so load_config can warn and convert
                kwargs = dict(kwargs, dest=ALIAS_DEST + name, help=argparse.SUPPRESS)
            if tp is bool and not is_list:
                group.add_argument(_flag(name), action=argparse.BooleanOptionalAction, **kwargs)
                continue
            kwargs["type"] = tp if tp in (int, float, str, Path) else str
            if is_list:
                kwargs["nargs"] = "*"
            group.add_argument(_flag(name), **kwargs)


def read_yaml_section(path: str | os.PathLike[str], section: str) -> dict[str, Any]:
    """The ``section`` mapping of the YAML file ``path`` (``{}`` when absent).

    Every top-level name must be a known section (:data:`KNOWN_SECTIONS` or ``section`` itself):
    a misspelt section would otherwise be ignored silently.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of stage sections at the top level")
    known = set(KNOWN_SECTIONS) | {section}
    for name in data:
        if str(name).replace("-", "_") not in known:
            close = difflib.get_close_matches(str(name), sorted(known), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(
                f"{path}: unknown section '{name}' ({hint}sections are: {', '.join(sorted(known))})"
            )
    values = data.get(section)
    if values is None:
        values = data.get(section.replace("_", "-")) or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: section '{section}' must be a mapping of option: value")
    return {str(k).replace("-", "_"): v for k, v in values.items()}


def _as_int(value: Any) -> int:
    """An int from an int, an integral float (``3.0``) or a numeric string; never truncates ``2.5``."""
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            return _as_int(float(text))
    raise TypeError(value)


def _coerce(value: Any, tp: Any, is_list: bool, where: str) -> Any:
    if value is None:
        return None
    try:
        if is_list:
            if isinstance(value, str):
                value = [value]
            return [_coerce(v, tp, False, where) for v in value]
        if tp is bool:
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered in ("1", "true", "yes", "on"):
                    return True
                if lowered in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if tp is int:
            return _as_int(value)
        if tp is float and isinstance(value, bool):
            raise TypeError(value)
        if tp in (float, str, Path):
            return tp(value)
        return value
    except (TypeError, ValueError) as exc:
        kind = "an integer (no fractional part)" if tp is int else getattr(tp, "__name__", str(tp))
        raise ConfigError(f"{where}: cannot use {value!r} as {kind}") from exc


def load_config(
    cls: type[C],
    section: str,
    args: argparse.Namespace | None = None,
    config_file: str | os.PathLike[str] | None = None,
    **overrides: Any,
) -> C:
    """Build ``cls`` from defaults, the YAML ``section`` and explicitly given CLI flags/overrides."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    aliases = _aliases(cls)
    values: dict[str, Any] = {}
    config_file = config_file or (getattr(args, "config", None) if args is not None else None)
    config_file = config_file or os.environ.get("ACAV_CONFIG") or None
    if config_file:
        for key, value in read_yaml_section(config_file, section).items():
            if key in aliases and key not in names:
                new, convert = aliases[key]
                tp, is_list = _base_type(hints[new])
                value = _from_alias(key, new, convert, value, f"{config_file}: {section}")
                values.setdefault(new, _coerce(value, tp, is_list, f"{config_file}: {section}.{key}"))
                continue
            if key not in names:
                raise ConfigError(
                    f"{config_file}: unknown option '{key}' in section '{section}' "
                    f"(known: {', '.join(sorted(names))})"
                )
            tp, is_list = _base_type(hints[key])
            values[key] = _coerce(value, tp, is_list, f"{config_file}: {section}.{key}")
    if args is not None:
        for old, (new, convert) in aliases.items():
            if hasattr(args, ALIAS_DEST + old) and not hasattr(args, new):
                values[new] = _from_alias(old, new, convert, getattr(args, ALIAS_DEST + old), "command line")
        for key in names:
            if hasattr(args, key):
                values[key] = getattr(args, key)
    for key, value in overrides.items():
        if key in aliases and key not in names:
            old = key
            key, convert = aliases[old]
            value = _from_alias(old, key, convert, value, cls.__name__)
        if key not in names:
            raise ConfigError(
                f"unknown option '{key}' for {cls.__name__} (known: {', '.join(sorted(names))})"
            )
        tp, is_list = _base_type(hints[key])
        values[key] = _coerce(value, tp, is_list, f"{section}.{key}")
    return cls(**values)


def config_to_dict(config: Any) -> dict[str, Any]:
    """JSON-friendly dict of a config (paths as strings), for reports and logs."""
    out = {}
    for key, value in dataclasses.asdict(config).items():
        out[key] = str(value) if isinstance(value, Path) else value
    return out
