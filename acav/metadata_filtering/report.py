"""Per-rule counts (the original's ``--test-each``): what each rule rejects alone and in sequence.

"in sequence": lines the rule rejects when the rules run in order (each line is counted once,
by the first rule that rejects it). "alone": lines the rule rejects when it is the only rule,
over every line that reached the rules (parseable lines). Lines rejected before the rules
(empty, too long, unparseable, bad id) are counted by reason code.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from acav.metadata_filtering.rules import LineResult, reason_code


@dataclass
class FilterReport:
    rule_names: list[str]
    each_rule: bool = True  # whether "alone" counts were computed
    total_lines: int = 0
    kept: int = 0
    parsed: int = 0
    before_rules: Counter[str] = field(default_factory=Counter)
    alone: list[int] = field(default_factory=list)
    in_sequence: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.alone:
            self.alone = [0] * len(self.rule_names)
        if not self.in_sequence:
            self.in_sequence = [0] * len(self.rule_names)

    @property
    def rejected(self) -> int:
        return self.total_lines - self.kept

    def add(self, result: LineResult) -> None:
        self.total_lines += 1
        if result.reason is None:
            self.kept += 1
        if not result.parsed:
            if result.reason is not None:
                self.before_rules[reason_code(result.reason)] += 1
            return
        self.parsed += 1
        if result.first_rule >= 0:
            self.in_sequence[result.first_rule] += 1
        for i in result.alone:
            self.alone[i] += 1

    def merge(self, other: FilterReport) -> None:
        self.total_lines += other.total_lines
        self.kept += other.kept
        self.parsed += other.parsed
        self.before_rules.update(other.before_rules)
        self.alone = [a + b for a, b in zip(self.alone, other.alone, strict=True)]
        self.in_sequence = [a + b for a, b in zip(self.in_sequence, other.in_sequence, strict=True)]

    def to_dict(self) -> dict[str, Any]:
        rules = []
        remaining = self.parsed
        for i, name in enumerate(self.rule_names):
            remaining -= self.in_sequence[i]
            rules.append(
                {
                    "rule": name,
                    "alone": self.alone[i] if self.each_rule else None,
                    "in_sequence": self.in_sequence[i],
                    "remaining_after": remaining,
                }
            )
        return {
            "total_lines": self.total_lines,
            "kept": self.kept,
            "rejected": self.rejected,
            "rejected_before_rules": dict(sorted(self.before_rules.items())),
            "parseable_lines": self.parsed,
            "rules": rules,
        }


def format_report(report: dict[str, Any]) -> str:
    """A small table for the terminal, from :meth:`FilterReport.to_dict` output."""
    total = max(report["total_lines"], 1)
    parsed = max(report["parseable_lines"], 1)
    lines = [
        f"lines: {report['total_lines']}  kept: {report['kept']} ({100 * report['kept'] / total:.1f}%)  "
        f"rejected: {report['rejected']}",
    ]
    for code, count in report["rejected_before_rules"].items():
        lines.append(f"  rejected before the rules, {code}: {count}")
    lines.append(f"parseable lines: {report['parseable_lines']}")
    lines.append(f"  {'rule':<14}{'alone':>14}{'in sequence':>14}{'remaining':>12}")
    for rule in report["rules"]:
        alone = "-" if rule["alone"] is None else f"{rule['alone']} ({100 * rule['alone'] / parsed:.0f}%)"
        lines.append(f"  {rule['rule']:<14}{alone:>14}{rule['in_sequence']:>14}{rule['remaining_after']:>12}")
    return "\n".join(lines)
