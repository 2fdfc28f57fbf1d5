"""A small, strict reader of a WebAssembly component's binary: its top-level sections, the core
modules and components nested in it (each module read by ``module.py``), its ``producers`` and the
names the ``component-name`` section gives its core modules and components.

The WIT world (what the component imports and exports, by interface) is not read here: it takes
the whole type section machinery, and wasm-tools already has it (``wasmforge.component.world``).
Every read is bounds-checked like ``module.py``'s: a truncated or corrupt component is a
``MalformedModuleError`` that names the offset, never an IndexError.

Binary format: the Component Model's ``design/mvp/Binary.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wasmforge.errors import UserError
from wasmforge.wasm.module import (
    COMPONENT_VERSION,
    MAGIC,
    MalformedModuleError,
    ModuleInfo,
    Reader,
    Section,
    parse_module,
    read_producers,
    read_sections,
    section_sizes,
)

SECTION_NAMES = {
    0: "custom", 1: "core module", 2: "core instance", 3: "core type", 4: "component",
    5: "instance", 6: "alias", 7: "type", 8: "canon", 9: "start", 10: "import", 11: "export",
    12: "value",
}
_CORE_SORTS = frozenset({0x00, 0x01, 0x02, 0x03, 0x04, 0x10, 0x11, 0x12})
_CORE_MODULE_SORT = (0x00, 0x11)
_COMPONENT_SORT = (0x04,)
_SORTS = frozenset({0x01, 0x02, 0x03, 0x04, 0x05})


@dataclass(frozen=True)
class CoreModule:
    index: int  # in the component's core module index space
    offset: int  # of the module's first byte (its magic) in the file
    info: ModuleInfo
    name: str | None  # from the component-name section, else the module's own name section

    def as_dict(self) -> dict[str, Any]:
        info = self.info
        return {
            "index": self.index, "name": self.name, "offset": self.offset, "size": info.size,
            "imports": len(info.imports), "exports": len(info.exports),
            "functions": info.function_count,
            "producers": _producers_dict(info.producers),
        }


@dataclass
class ComponentInfo:
    size: int
    offset: int = 0  # of the component's first byte in the file (nested components)
    index: int | None = None  # in the enclosing component's component index space
    sections: list[Section] = field(default_factory=list)
    core_modules: list[CoreModule] = field(default_factory=list)
    components: list[ComponentInfo] = field(default_factory=list)
    producers: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    name: str | None = None  # the component-name section's own name

    def all_core_modules(self) -> list[CoreModule]:
        """Its core modules, then those of its nested components (depth first)."""
        found = list(self.core_modules)
        for inner in self.components:
            found += inner.all_core_modules()
        return found

    def section_sizes(self) -> dict[str, int]:
        return section_sizes(self.sections)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "component",
            "name": self.name,
            "index": self.index,
            "offset": self.offset,
            "size": self.size,
            "sections": [
                {"id": s.id, "name": s.name, "custom": s.custom, "offset": s.offset, "size": s.size}
                for s in self.sections
            ],
            "section_sizes": self.section_sizes(),
            "core_modules": [m.as_dict() for m in self.core_modules],
            "components": [c.as_dict() for c in self.components],
            "producers": _producers_dict(self.producers),
        }


def _producers_dict(producers: dict[str, list[tuple[str, str]]]) -> dict[str, Any]:
    return {k: [{"name": n, "version": v} for n, v in vals] for k, vals in producers.items()}


def read_component_file(path: Path) -> ComponentInfo:
    try:
        data = path.read_bytes()
    except OSError as error:
        msg = f"{path}: cannot read: {error.strerror}"
        raise UserError(msg) from None
    return parse_component(data, str(path))


def parse_component(
    data: bytes, origin: str = "<component>", *, base: int = 0, index: int | None = None
) -> ComponentInfo:
    """Read the structure of a binary component. ``base``: where ``data`` starts in its file;
    ``index``: a nested component's index in the enclosing one."""
    if len(data) < 8 or data[:4] != MAGIC:
        msg = f"{origin}: not a WebAssembly component (truncated or bad header at byte {base})"
        raise MalformedModuleError(msg)
    version = int.from_bytes(data[4:8], "little")
    if version != COMPONENT_VERSION:
        msg = f"{origin}: not a component of a known version (0x{version:08x} at byte {base})"
        raise MalformedModuleError(msg)
    info = ComponentInfo(size=len(data), offset=base, index=index)
    reader = Reader(data[8:], origin, base=base + 8)
    # Index spaces grow with definitions, imports, aliases and exports of their sort; the name
    # section names items by these indices.
    seen: dict[tuple[int, ...], int] = {_CORE_MODULE_SORT: 0, _COMPONENT_SORT: 0}
    names: dict[tuple[int, ...], dict[int, str]] = {}
    for section_id, offset, size, body in read_sections(reader, SECTION_NAMES, "component "):
        if section_id == 0:
            name = body.name()
            info.sections.append(Section(0, name, offset, size))
            _read_custom(name, body, info, names)
            continue
        info.sections.append(Section(section_id, SECTION_NAMES[section_id], offset, size))
        if section_id == 1:
            index = seen[_CORE_MODULE_SORT]
            module = parse_module(body.data, f"{origin}: core module {index}", base=offset)
            if module.kind != "module":
                msg = "a core module section holds a component"
                raise body.fail(msg, at=0)
            info.core_modules.append(CoreModule(index, offset, module,
                                                _own_module_name(body.data, module, offset)))
            seen[_CORE_MODULE_SORT] += 1
        elif section_id == 4:
            info.components.append(
                parse_component(body.data, origin, base=offset, index=seen[_COMPONENT_SORT]))
            seen[_COMPONENT_SORT] += 1
        elif section_id in (6, 10, 11):
            for sort in _SECTION_SORTS[section_id](body):
                seen[sort] = seen.get(sort, 0) + 1
            body.expect_end()
    # Names are given once every index is known (the name section usually comes last).
    module_names = names.get(_CORE_MODULE_SORT, {})
    info.core_modules = [
        CoreModule(m.index, m.offset, m.info, module_names.get(m.index, m.name))
        for m in info.core_modules
    ]
    component_names = names.get(_COMPONENT_SORT, {})
    for nested in info.components:
        if nested.index in component_names:
            nested.name = component_names[nested.index]
    return info


def _sort(body: Reader) -> tuple[int, ...]:
    start = body.pos
    sort = body.byte()
    if sort == 0x00:
        core = body.byte()
        if core not in _CORE_SORTS:
            msg = f"unknown core sort 0x{core:02x}"
            raise body.fail(msg, at=start + 1)
        return (sort, core)
    if sort not in _SORTS:
        msg = f"unknown sort 0x{sort:02x}"
        raise body.fail(msg, at=start)
    return (sort,)


def _alias_sorts(body: Reader) -> list[tuple[int, ...]]:
    sorts: list[tuple[int, ...]] = []
    for _ in range(body.u32()):
        sorts.append(_sort(body))
        target = body.byte()
        if target in (0x00, 0x01):  # (core) export of an instance: index, name
            body.u32()
            body.name()
        elif target == 0x02:  # outer: count, index
            body.u32()
            body.u32()
        else:
            msg = f"unknown alias target 0x{target:02x}"
            raise body.fail(msg, at=body.pos - 1)
    return sorts


def _import_sorts(body: Reader) -> list[tuple[int, ...]]:
    sorts: list[tuple[int, ...]] = []
    for _ in range(body.u32()):
        _extern_name(body)
        sorts.append(_extern_type(body))
    return sorts


def _export_sorts(body: Reader) -> list[tuple[int, ...]]:
    # Every export adds an index to its sort's space (an alias of what it exports).
    sorts: list[tuple[int, ...]] = []
    for _ in range(body.u32()):
        _extern_name(body)
        sorts.append(_sort(body))
        body.u32()
        if _optional(body):
            _extern_type(body)
    return sorts


_SECTION_SORTS = {6: _alias_sorts, 10: _import_sorts, 11: _export_sorts}


def _extern_name(body: Reader) -> str:
    # nameattributes: 0x00 or 0x01 name (the same, a wart of the format); 0x02 name + attributes.
    form = body.byte()
    if form not in (0x00, 0x01, 0x02):
        msg = f"unknown import/export name form 0x{form:02x}"
        raise body.fail(msg, at=body.pos - 1)
    name = body.name()
    if form == 0x02:
        for _ in range(body.u32()):
            attribute = body.byte()
            if attribute not in (0x00, 0x01, 0x02):  # implements, version suffix, external id
                msg = f"unknown name attribute 0x{attribute:02x}"
                raise body.fail(msg, at=body.pos - 1)
            body.name()
    return name


def _extern_type(body: Reader) -> tuple[int, ...]:
    """Read an externtype; returns its sort (as ``_sort`` spells sorts)."""
    start = body.pos
    kind = body.byte()
    if kind == 0x00:
        core = body.byte()
        if core != 0x11:
            msg = f"unknown core extern type 0x{core:02x}"
            raise body.fail(msg, at=start + 1)
        body.u32()
        return _CORE_MODULE_SORT
    if kind in (0x01, 0x04, 0x05):  # func, component, instance: a type index
        body.u32()
    elif kind in (0x02, 0x03):  # value bound, type bound: (eq index) or a value type / resource
        bound = body.byte()
        if bound == 0x00 or (bound == 0x01 and kind == 0x02):
            body.u32()  # an index, or a value type (a primitive's one-byte code, or a type index)
        elif bound != 0x01:
            msg = f"unknown bound 0x{bound:02x}"
            raise body.fail(msg, at=body.pos - 1)
    else:
        msg = f"unknown extern type 0x{kind:02x}"
        raise body.fail(msg, at=start)
    return (kind,)  # 0x01-0x05 (func, value, type, component, instance) are also the sorts' codes


def _optional(body: Reader) -> bool:
    flag = body.byte()
    if flag not in (0x00, 0x01):
        msg = f"expected 0x00 or 0x01 (an optional's tag), got 0x{flag:02x}"
        raise body.fail(msg, at=body.pos - 1)
    return flag == 0x01


def _read_custom(
    name: str, body: Reader, info: ComponentInfo, names: dict[tuple[int, ...], dict[int, str]]
) -> None:
    # Like a module's custom sections, these are informative: a malformed one is ignored, as
    # engines ignore it.
    try:
        if name == "producers":
            info.producers = read_producers(body)
        elif name == "component-name":
            info.name = _component_names(body, names)
    except MalformedModuleError:
        pass


def _component_names(body: Reader, names: dict[tuple[int, ...], dict[int, str]]) -> str | None:
    """The component's own name; fills ``names`` (sort -> index -> name) from a component-name
    section."""
    own: str | None = None
    while not body.at_end:
        subsection = body.byte()
        payload = body.sub(body.u32(), "component-name subsection")
        if subsection == 0:
            own = payload.name()
        elif subsection == 1:
            sort_names = names.setdefault(_sort(payload), {})
            for _ in range(payload.u32()):
                index = payload.u32()
                sort_names[index] = payload.name()
    return own


def _own_module_name(data: bytes, module: ModuleInfo, base: int) -> str | None:
    """The module name subsection (id 0) of a core module's ``name`` section, if it has one."""
    for section in module.sections:
        if not (section.custom and section.name == "name"):
            continue
        start = section.offset - base  # section offsets are the file's; ``data`` starts at base
        body = Reader(data[start : start + section.size], "name section")
        try:
            body.name()  # the section's own name, "name"
            while not body.at_end:
                subsection = body.byte()
                payload = body.sub(body.u32(), "name subsection")
                if subsection == 0:
                    return payload.name()
        except MalformedModuleError:
            return None  # informative only, like every custom section
    return None
