"""``wasmforge inspect``: what is inside a module (sections, imports, exports, memories, WASI kind)
or a component (its WIT world, core modules, producers).

The command first decides what kind of thing it was given: a WebAssembly module or component
(binary, or text that is compiled in memory first), an OCI layout or a registry reference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from wasmforge.commands._common import JsonFlag, command_console
from wasmforge.errors import UserError

MODULE_SUFFIXES = (".wasm", ".wat", ".wast")


def is_module_file(path: Path) -> bool:
    """A WebAssembly module on disk: a binary module, or a file named .wat/.wast."""
    from wasmforge.wasm.sniff import is_wasm_file

    return is_wasm_file(path) or (path.is_file() and path.suffix.lower() in MODULE_SUFFIXES)


def inspect_wasm(path: Path) -> dict[str, Any]:
    """Everything ``inspect`` reports about one module or component, as a JSON-ready dict."""
    from wasmforge.wasm.module import parse_module
    from wasmforge.wasm.sniff import FileKind, is_component_text, kind_of_head, read_head
    from wasmforge.wasm.wabt import text_to_binary

    head = read_head(path)
    if kind_of_head(head) is FileKind.TEXT and head:
        # WebAssembly text: describe what it compiles to (names kept, nothing written).
        source_format = "text"
        if is_component_text(head):
            from wasmforge.component.text import text_to_component

            data = text_to_component(path)
        else:
            data = text_to_binary(path, debug_names=True)
    else:
        data = path.read_bytes()
        source_format = "binary"
    info = parse_module(data, str(path))
    if info.kind == "component":
        from wasmforge.component.inspect import inspect_component

        return inspect_component(path, data, source_format)
    return {"path": str(path), "format": source_format, **info.as_dict(),
            "section_sizes": info.section_sizes()}


def inspect_target(target: str) -> dict[str, Any]:
    """Dispatch on what ``target`` is; each kind of target has its own ``inspect_*`` function."""
    path = Path(target)
    if is_module_file(path):
        return inspect_wasm(path)
    from wasmforge.oci.inspect import inspect_oci, looks_like_oci_target

    if looks_like_oci_target(target):  # an OCI layout (dir or tar) or a registry reference
        return inspect_oci(target)
    if not path.exists():
        msg = f"{target}: no such file"
        raise UserError(msg)
    if path.is_dir():
        msg = f"{target}: is a directory, not a WebAssembly module"
        raise UserError(msg)
    msg = f"{target}: not a WebAssembly module (no \\0asm magic and not named .wasm/.wat)"
    raise UserError(msg)


def _show(report: dict[str, Any]) -> None:
    from wasmforge.console import get_console

    console = get_console()
    if "layers" in report:  # from inspect_oci
        from wasmforge.oci.inspect import show_oci

        show_oci(report)
        return
    if report["kind"] == "component":  # from inspect_component
        from wasmforge.component.inspect import show_component

        show_component(report)
        return
    wasi = report["wasi"]
    summary = [
        ("file", report["path"]),
        ("kind", report["kind"]),
        ("size", f"{report['size']} bytes"),
    ]
    start = report["start_function"]
    summary += [
        ("functions", str(report["function_count"])),
        ("start function", "none" if start is None else f"func {start}"),
        ("exec model", wasi["exec_model"] + (" (exports _start)" if report["has_start_export"] else "")),
        ("WASI", wasi["version"] or "none"),
        ("name section", "yes" if report["has_name_section"] else "no"),
    ]
    console.table(["property", "value"], summary, title="module")
    console.table(
        ["section", "bytes"],
        [(name, str(size)) for name, size in report["section_sizes"].items()],
        title="size by section",
    )
    if report["imports"]:
        console.table(
            ["module", "name", "kind", "signature"],
            [(i["module"], i["name"], i["kind"], i["signature"] or "") for i in report["imports"]],
            title="imports",
        )
    if report["exports"]:
        console.table(
            ["name", "kind", "index"],
            [(e["name"], e["kind"], str(e["index"])) for e in report["exports"]],
            title="exports",
        )
    if report["memories"]:
        console.table(
            ["min pages", "max pages", "shared", "memory64", "imported"],
            [
                (str(m["minimum_pages"]),
                 "none" if m["maximum_pages"] is None else str(m["maximum_pages"]),
                 _yes(m["shared"]), _yes(m["memory64"]), _yes(m["imported"]))
                for m in report["memories"]
            ],
            title="memories",
        )
    if report["producers"]:
        console.table(
            ["field", "name", "version"],
            [(field, p["name"], p["version"]) for field, values in report["producers"].items()
             for p in values],
            title="producers",
        )
    if report["target_features"]:
        console.table(["feature"], [(f,) for f in report["target_features"]], title="target features")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def inspect(
    target: Annotated[str, typer.Argument(
        metavar="FILE", help="A .wasm module or component (or .wat text).")],
    json_flag: JsonFlag = False,
) -> None:
    """Describe a WebAssembly module (sections, imports, exports, memories, WASI kind, producers)
    or component (WIT world, core modules, producers, sizes)."""
    console = command_console(json_flag)
    report = inspect_target(target)
    if console.json_mode:
        console.result(report)
    else:
        _show(report)


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect)
