"""``inspect`` of a component: its WIT world, the core modules inside it, producers and sizes.

The structure comes from wasmforge's own reader (``wasmforge.wasm.component``: fast, and a damaged
file is named with the offset), the world from wasm-tools (``wasmforge.component.world``), which is
only asked once the structure has been read.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wasmforge.component.world import component_world
from wasmforge.wasm.component import parse_component


def inspect_component(path: Path, data: bytes, source_format: str = "binary") -> dict[str, Any]:
    """Everything ``inspect`` reports about the component ``data`` (the binary of ``path``, or
    what its text assembles to)."""
    info = parse_component(data, str(path))
    world = component_world(data, str(path))
    return {
        "path": str(path), "format": source_format, **info.as_dict(),
        "world": world.as_dict(),
        "core_module_count": len(info.all_core_modules()),
    }


def show_component(report: Mapping[str, Any]) -> None:
    """The human view of an ``inspect_component`` report (stderr tables)."""
    from wasmforge.console import get_console

    console = get_console()
    world = report["world"]
    summary = [
        ("file", report["path"]),
        ("kind", "component" + (f" ({report['name']})" if report["name"] else "")),
        ("size", f"{report['size']} bytes"),
        ("imports", str(len(world["imports"]))),
        ("exports", str(len(world["exports"]))),
        ("core modules", str(report["core_module_count"])),
        ("components inside", str(_count_components(report))),
    ]
    console.table(["property", "value"], summary, title="component")
    for direction in ("imports", "exports"):
        if world[direction]:
            console.table(["name", "kind"], [(i["name"], i["kind"]) for i in world[direction]],
                          title=f"WIT world {direction}")
    modules = list(_modules(report))
    if modules:
        console.table(
            ["module", "name", "bytes", "imports", "exports", "functions"],
            [(where, m["name"] or "", str(m["size"]), str(m["imports"]), str(m["exports"]),
              str(m["functions"])) for where, m in modules],
            title="core modules",
        )
    producers = [(where, field, p["name"], p["version"])
                 for where, producers in _producers(report, modules)
                 for field, values in producers.items() for p in values]
    if producers:
        console.table(["of", "field", "name", "version"], producers, title="producers")
    console.table(["section", "bytes"],
                  [(name, str(size)) for name, size in report["section_sizes"].items()],
                  title="size by section")


def _modules(component: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(where, module report) for every core module: its index, ``component 1/0`` for module 0
    of nested component 1."""
    found: list[tuple[str, Any]] = [(f"{prefix}{m['index']}", m)
                                    for m in component["core_modules"]]
    for inner in component["components"]:
        found += _modules(inner, f"{prefix}component {inner['index']}/")
    return found


def _count_components(component: Mapping[str, Any]) -> int:
    return sum(1 + _count_components(inner) for inner in component["components"])


def _producers(
    report: Mapping[str, Any], modules: list[tuple[str, Any]]
) -> list[tuple[str, dict[str, Any]]]:
    return [("component", report["producers"]),
            *((f"module {where}", m["producers"]) for where, m in modules)]
