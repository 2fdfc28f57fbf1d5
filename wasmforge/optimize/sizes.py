"""Where the bytes of a module go, by the categories a size report shows.

Categories: ``code`` (the code section), ``data`` (data and data-count sections), ``names`` (the
``name`` custom section), ``debug`` (DWARF ``.debug_*`` sections and source-map / external debug
info pointers), ``custom`` (every other custom section: producers, target_features, ...) and
``other`` (types, imports, exports, tables, ... and the 8-byte preamble). Each section counts with
its header (id, size, custom name), so that the categories always add up to the file size.
"""

from __future__ import annotations

from pathlib import Path

from wasmforge.errors import UserError
from wasmforge.wasm.module import Section, parse_module

CATEGORIES = ("code", "data", "names", "debug", "custom", "other")
# Custom sections that only exist to debug a module; they go with DWARF when debug info is stripped.
DEBUG_POINTER_SECTIONS = frozenset({"sourceMappingURL", "external_debug_info"})


def is_debug_section(name: str) -> bool:
    return name.startswith(".debug_") or name in DEBUG_POINTER_SECTIONS


def section_category(section: Section) -> str:
    if section.custom:
        if section.name == "name":
            return "names"
        if is_debug_section(section.name):
            return "debug"
        return "custom"
    if section.name == "code":
        return "code"
    if section.name in ("data", "datacount"):
        return "data"
    return "other"


def breakdown_of(data: bytes, origin: str = "<module>") -> dict[str, int]:
    """``{"total": n, "code": n, "data": n, "names": n, "debug": n, "custom": n, "other": n}``."""
    info = parse_module(data, origin)
    sizes = dict.fromkeys(CATEGORIES, 0)
    start = 8  # sections are contiguous: each header starts where the previous payload ended
    for section in info.sections:
        end = section.offset + section.size
        sizes[section_category(section)] += end - start
        start = end
    sizes["other"] += len(data) - sum(sizes.values())  # the preamble (and a component's body)
    return {"total": len(data), **sizes}


def size_breakdown(path: Path) -> dict[str, int]:
    """The size report of one module file, for the build summary and ``--json``."""
    try:
        data = path.read_bytes()
    except OSError as error:
        msg = f"{path}: cannot read: {error.strerror}"
        raise UserError(msg) from None
    return breakdown_of(data, str(path))
