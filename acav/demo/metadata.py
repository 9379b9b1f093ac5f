"""Rows of the demo's ``metadata.tsv`` in the real input format, with the intended stage-1 outcome.

Kept rows describe the generated source videos (duration, title, description, category); rejected
rows each trip one stage-1 rule (``texts.REJECTED_TEXTS``), and a few lines are malformed. All rows
are shuffled together, as in a real metadata dump.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from acav.core.ids import watch_url
from acav.demo.plan import STREAM_METADATA, DemoConfig, VideoPlan, random_ids, rng_for
from acav.demo.texts import KEPT_TEXTS, REJECTED_TEXTS, Text

KEPT = "kept"

# Intended outcomes in stage-1 order (the first rule that rejects a row names its outcome), and
# the paper's rule each one belongs to.
RULES: dict[str, str] = {
    "malformed": "parse",
    "duration_short": "duration",
    "duration_long": "duration",
    "language": "language",
    "category_gaming": "category",
    "music_artist": "music_artist",
    "keyword_gaming": "keywords",
    "keyword_animation": "keywords",
    "keyword_official_video": "keywords",
    "tutorial": "tutorial",
}


@dataclass(frozen=True)
class MetadataRow:
    line: str  # the full line without its newline
    youtube_id: str  # the id the row refers to ("" when the line has none)
    intended: str  # KEPT or a key of RULES
    note: str = ""
    language: str = ""
    category: str = ""
    video_index: int | None = None  # index into the plan for kept rows


def metadata_json(text: Text, duration: int | None, video_length: bool = True) -> str:
    """The JSON field of a line (FORMATS.md section 1), laid out as the original's example lines:
    ``MediaVersionList`` (``[0].Duration``, seconds as a string) beside ``LatestDAFeature``, which
    holds the texts and ``VideoLength`` = duration + 1 (an empty string without ``video_length``)."""
    feature: dict[str, object] = {
        "Title": text.title,
        "Description": text.description,
        "YouTubeCategory": text.category,
    }
    if duration is not None:
        feature["VideoLength"] = str(duration + 1) if video_length else ""
    obj: dict[str, object] = {}
    if duration is not None:
        obj["MediaVersionList"] = [{"Duration": str(duration)}]
    obj["LatestDAFeature"] = feature
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


def _kept_text(position: int, order: np.ndarray) -> Text:
    """The ``position``-th kept text; repeats of a template get a number so titles stay unique."""
    base = KEPT_TEXTS[int(order[position % len(order)])]
    repeat = position // len(order)
    if not repeat:
        return base
    return Text(base.language, base.category, f"{base.title} ({repeat + 1})", base.description)


def _malformed_rows(rng: np.random.Generator, taken: set[str]) -> list[MetadataRow]:
    good_id = random_ids(rng, 1, taken)[0]
    body = metadata_json(
        Text("en", "People & Blogs", "A walk in the rain", "Rain on the old town square."), 60
    )
    return [
        MetadataRow(f"{good_id} {body}", "", "malformed", "no tab between id and JSON"),
        MetadataRow(
            f'{random_ids(rng, 1, taken)[0]}\t{{"LatestDAFeature": {{"Title": "Broken line',
            "",
            "malformed",
            "invalid JSON (truncated)",
        ),
        MetadataRow(f"abc123\t{body}", "", "malformed", "id of 6 characters instead of 11"),
        MetadataRow(f"../../etc/x\t{body}", "", "malformed", "hostile id that is a path"),
    ]


def build_rows(config: DemoConfig, plans: list[VideoPlan]) -> list[MetadataRow]:
    """All metadata rows, shuffled; one kept row per planned video, in any order."""
    rng = rng_for(config.seed, STREAM_METADATA)
    taken = {p.youtube_id for p in plans}
    order = rng.permutation(len(KEPT_TEXTS))
    use_url = np.zeros(len(plans), dtype=bool)
    use_url[rng.permutation(len(plans))[: int(round(config.url_fraction * len(plans)))]] = True
    rows: list[MetadataRow] = []
    for position, plan in enumerate(plans):
        text = _kept_text(position, order)
        # Every eighth kept row has an empty VideoLength: stage 1 must fall back to MediaVersionList.
        fallback = position % 8 == 3
        field = watch_url(plan.youtube_id) if use_url[position] else plan.youtube_id
        note = "empty VideoLength (duration from MediaVersionList)" if fallback else ""
        rows.append(
            MetadataRow(
                f"{field}\t{metadata_json(text, plan.duration, video_length=not fallback)}",
                plan.youtube_id,
                KEPT,
                note,
                text.language,
                text.category,
                plan.index,
            )
        )
    for rejected in REJECTED_TEXTS:
        youtube_id = random_ids(rng, 1, taken)[0]
        rows.append(
            MetadataRow(
                f"{youtube_id}\t{metadata_json(rejected.text, rejected.duration)}",
                youtube_id,
                rejected.rule,
                rejected.note,
                rejected.text.language,
                rejected.text.category,
            )
        )
    rows.extend(_malformed_rows(rng, taken))
    return [rows[i] for i in rng.permutation(len(rows))]


def metadata_tsv_bytes(rows: list[MetadataRow]) -> bytes:
    return "".join(row.line + "\n" for row in rows).encode("utf-8")
