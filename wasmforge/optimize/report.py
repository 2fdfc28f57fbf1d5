"""What an optimisation did: sizes before and after by category, features, steps; as JSON or a table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wasmforge.console import human_size
from wasmforge.optimize.features import FeatureSet
from wasmforge.optimize.sizes import CATEGORIES


@dataclass(frozen=True)
class Step:
    """One transforming step, validated after it ran."""

    name: str  # e.g. "strip debug, producers" or "wasm-opt -Oz"
    size_after: int
    detail: str = ""  # the command line, or what was dropped

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "size-after": self.size_after, "detail": self.detail}


@dataclass(frozen=True)
class OptimizeReport:
    label: str
    before: dict[str, int]
    after: dict[str, int]
    features: FeatureSet
    steps: tuple[Step, ...] = ()
    notes: tuple[str, ...] = field(default=())  # e.g. why wasm-opt was skipped

    @property
    def saved(self) -> int:
        return self.before["total"] - self.after["total"]

    @property
    def ratio(self) -> float:
        """after / before (1.0 for an empty input, which cannot happen for a valid module)."""
        return self.after["total"] / self.before["total"] if self.before["total"] else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "size-before": self.before["total"],
            "size-after": self.after["total"],
            "saved": self.saved,
            "ratio": round(self.ratio, 4),
            "sections-before": {k: self.before[k] for k in CATEGORIES},
            "sections-after": {k: self.after[k] for k in CATEGORIES},
            "features": self.features.as_dict(),
            "steps": [step.as_dict() for step in self.steps],
            "notes": list(self.notes),
        }


def _change(before: int, after: int) -> str:
    if before == after:
        return "="
    if before == 0:
        return f"+{human_size(after)}"
    return f"{(after - before) / before:+.1%}"


def size_table(report: OptimizeReport) -> tuple[list[str], list[list[str]]]:
    """Headers and rows for ``Console.table``: one row per non-empty category, then the total."""
    rows = [
        [category, human_size(report.before[category]), human_size(report.after[category]),
         _change(report.before[category], report.after[category])]
        for category in CATEGORIES
        if report.before[category] or report.after[category]
    ]
    rows.append(["total", human_size(report.before["total"]), human_size(report.after["total"]),
                 _change(report.before["total"], report.after["total"])])
    return ["section", "before", "after", "change"], rows
