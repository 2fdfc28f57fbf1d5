"""What ``wasmforge build`` tells a person (a table) and a machine (``--json``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from wasmforge.build.execute import BuildResult, TargetResult
from wasmforge.build.plan import HOST_TOOLCHAIN
from wasmforge.console import Console, human_size

HEADERS = ("target", "toolchain", "output", "size", "time")


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (shorter, clickable)."""
    try:
        return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)


def toolchain_label(result: TargetResult) -> str:
    plan = result.plan
    if plan.toolchain == HOST_TOOLCHAIN:
        return "wabt (host)"
    if result.toolchain_id:
        short = result.toolchain_id.removeprefix("sha256:")[:12]
        return f"{plan.toolchain} ({short})"
    return f"{plan.toolchain} (host)"


def summary_rows(result: BuildResult) -> list[list[str]]:
    return [
        [
            target.plan.name,
            toolchain_label(target),
            display_path(result.publish_dir / target.plan.main_module),
            human_size(target.main_size),
            f"{target.seconds:.1f}s",
        ]
        for target in result.targets
    ]


SIZE_HEADERS = ("target", "before", "after", "change", "code", "data", "names", "debug", "custom")
SIZE_CATEGORIES = ("code", "data", "names", "debug", "custom")


def size_report_rows(result: BuildResult) -> list[list[str]]:
    """Optimised targets: total size before and after, and each section category after."""
    rows = []
    for target in result.targets:
        report = target.optimize_report
        if report is None:
            continue
        before, after = report["size-before"], report["size-after"]
        sections = report["sections-after"]
        change = f"{(after - before) / before:+.1%}" if before else "="
        rows.append([target.plan.name, human_size(before), human_size(after), change,
                     *(human_size(sections[c]) for c in SIZE_CATEGORIES)])
    return rows


def print_summary(console: Console, result: BuildResult) -> None:
    console.table(HEADERS, summary_rows(result), title=f"built ({result.profile})")
    sizes = size_report_rows(result)
    if sizes:
        console.table(SIZE_HEADERS, sizes, title="size report (optimised, sections after)")
    if result.checked_reproducible:
        console.info("reproducible: two clean builds gave identical outputs")


def result_json(result: BuildResult) -> dict[str, Any]:
    return {
        "profile": result.profile,
        "runner": result.runner,
        "out_dir": str(result.publish_dir),
        "manifest": str(result.manifest) if result.manifest else None,
        "source_date_epoch": result.epoch,
        "reproducible": True if result.checked_reproducible else None,
        "targets": [
            {
                "name": t.plan.name,
                "kind": t.plan.kind,
                "toolchain": t.plan.toolchain,
                "toolchain_image_id": t.toolchain_id,
                "main_module": str(result.publish_dir / t.plan.main_module),
                "exec_model": t.exec_model,
                "js_glue": t.plan.js_glue,
                "files": [f.as_dict() for f in t.files],
                "seconds": round(t.seconds, 3),
                "optimize": t.optimize_report,
            }
            for t in result.targets
        ],
    }
