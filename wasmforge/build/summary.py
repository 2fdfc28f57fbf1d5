"""What ``wasmforge build`` tells a machine (``--json``) and a person (tables on stderr).

The tables are drawn from the JSON report, so that a rebuild answered by the stamp (which keeps the
report of the build it stands for) prints what a full build prints. Imports only the standard
library and the console at run time: the no-op fast path uses it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wasmforge.console import Console, human_size

if TYPE_CHECKING:
    from wasmforge.build.execute import BuildResult, TargetResult

HEADERS = ("target", "toolchain", "output", "size", "time", "cache")
SIZE_HEADERS = ("target", "before", "after", "change", "code", "data", "names", "debug", "custom")
SIZE_CATEGORIES = ("code", "data", "names", "debug", "custom")
PACKAGE_HEADERS = ("target", "format", "manifest digest", "tar")


def result_json(result: BuildResult) -> dict[str, Any]:
    return {
        "profile": result.profile,
        "runner": result.runner,
        "out_dir": str(result.publish_dir),
        "manifest": str(result.manifest) if result.manifest else None,
        "source_date_epoch": result.epoch,
        "reproducible": True if result.checked_reproducible else None,
        "targets": [_target_json(result, t) for t in result.targets],
        "packages": [t.package.as_dict() for t in result.targets if t.package is not None],
    }


def _target_json(result: BuildResult, target: TargetResult) -> dict[str, Any]:
    from wasmforge.kinds import toolchain_label

    plan = target.plan
    return {
        "name": plan.name,
        "kind": plan.kind,
        "toolchain": toolchain_label(plan.kind),
        "toolchain_image_id": target.toolchain_id,
        "main_module": str(result.publish_dir / plan.main_module),
        "exec_model": target.exec_model,
        "js_glue": plan.js_glue,
        "files": [f.as_dict() for f in target.files],
        "seconds": round(target.seconds, 3),
        "from_cache": target.from_cache,
        "optimize": target.optimize_report,
    }


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (shorter, clickable)."""
    try:
        return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)


def toolchain_label(target: dict[str, Any]) -> str:
    if target["toolchain"] == "wabt":
        return "wabt (host)"
    image = target.get("toolchain_image_id")
    if image:
        return f"{target['toolchain']} ({str(image).removeprefix('sha256:')[:12]})"
    return f"{target['toolchain']} (host)"


def summary_rows(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    for target in report["targets"]:
        main = Path(target["main_module"])
        size = next((f["size"] for f in target["files"] if f["path"] == main.name), 0)
        rows.append([target["name"], toolchain_label(target), display_path(main),
                     human_size(size), f"{target['seconds']:.1f}s", target["from_cache"] or "-"])
    return rows


def size_report_rows(report: dict[str, Any]) -> list[list[str]]:
    """Optimised targets: total size before and after, and each section category after."""
    rows = []
    for target in report["targets"]:
        optimized = target.get("optimize")
        if not optimized:
            continue
        before, after = optimized["size-before"], optimized["size-after"]
        sections = optimized["sections-after"]
        change = f"{(after - before) / before:+.1%}" if before else "="
        rows.append([target["name"], human_size(before), human_size(after), change,
                     *(human_size(sections[c]) for c in SIZE_CATEGORIES)])
    return rows


def package_rows(packages: list[dict[str, Any]]) -> list[list[str]]:
    """One row per packaged format."""
    return [[package["name"], fmt["format"], fmt["digest"], fmt["tar"]]
            for package in packages for fmt in package["formats"]]


def print_summary(console: Console, report: dict[str, Any]) -> None:
    console.table(HEADERS, summary_rows(report), title=f"built ({report['profile']})")
    sizes = size_report_rows(report)
    if sizes:
        console.table(SIZE_HEADERS, sizes, title="size report (optimised, sections after)")
    if report.get("reproducible"):
        console.info("reproducible: two clean builds gave identical outputs")
    if report.get("packages"):
        console.table(PACKAGE_HEADERS, package_rows(report["packages"]), title="packaged")
