"""A small, strict reader of the WebAssembly binary format: sections, imports, exports, memories,
start, and the custom sections that tell how a module was made (``name``, ``producers``,
``target_features``). It does not validate code; ``wasm-validate`` does that.

Every read is bounds-checked, so a truncated or corrupt file becomes a ``MalformedModuleError``
that says where, never an IndexError.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wasmforge.errors import UserError

MAGIC = b"\0asm"
# A component's preamble: version 0x0d 0x00 and layer 0x01 0x00, read as one little-endian u32.
COMPONENT_VERSION = 0x0001000D
SECTION_NAMES = {
    0: "custom", 1: "type", 2: "import", 3: "function", 4: "table", 5: "memory", 6: "global",
    7: "export", 8: "start", 9: "element", 10: "code", 11: "data", 12: "datacount", 13: "tag",
}
EXTERNAL_KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}
VALUE_TYPES = {
    0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128",
    0x70: "funcref", 0x6F: "externref",
}
WASI_MODULES = {"wasi_snapshot_preview1": "preview1", "wasi_unstable": "preview0"}


class MalformedModuleError(UserError):
    """The bytes are not a well-formed WebAssembly binary."""


@dataclass(frozen=True)
class Section:
    id: int
    name: str  # the section kind, or the custom section's own name
    offset: int
    size: int  # payload size in bytes, without the id and size header

    @property
    def custom(self) -> bool:
        return self.id == 0


@dataclass(frozen=True)
class Import:
    module: str
    name: str
    kind: str
    signature: str | None = None


@dataclass(frozen=True)
class Export:
    name: str
    kind: str
    index: int


@dataclass(frozen=True)
class Memory:
    minimum: int
    maximum: int | None
    shared: bool
    memory64: bool
    imported: bool


@dataclass
class ModuleInfo:
    size: int
    kind: str = "module"  # or "component"
    sections: list[Section] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    exports: list[Export] = field(default_factory=list)
    memories: list[Memory] = field(default_factory=list)
    start: int | None = None
    function_count: int = 0
    producers: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    target_features: list[str] = field(default_factory=list)
    has_names: bool = False

    @property
    def wasi_version(self) -> str | None:
        versions = {WASI_MODULES[i.module] for i in self.imports if i.module in WASI_MODULES}
        if "preview1" in versions:
            return "preview1"
        return next(iter(versions), None)

    @property
    def exec_model(self) -> str:
        """``command`` (exports _start), ``reactor`` (exports _initialize) or ``library``."""
        names = {e.name for e in self.exports if e.kind == "func"}
        if "_start" in names:
            return "command"
        if "_initialize" in names:
            return "reactor"
        return "library"

    def section_sizes(self) -> dict[str, int]:
        return section_sizes(self.sections)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "size": self.size,
            "sections": [
                {"id": s.id, "name": s.name, "custom": s.custom, "offset": s.offset, "size": s.size}
                for s in self.sections
            ],
            "imports": [
                {"module": i.module, "name": i.name, "kind": i.kind, "signature": i.signature}
                for i in self.imports
            ],
            "exports": [{"name": e.name, "kind": e.kind, "index": e.index} for e in self.exports],
            "memories": [
                {"minimum_pages": m.minimum, "maximum_pages": m.maximum, "shared": m.shared,
                 "memory64": m.memory64, "imported": m.imported}
                for m in self.memories
            ],
            "start_function": self.start,
            "has_start_export": self.exec_model == "command",
            "wasi": {"version": self.wasi_version, "exec_model": self.exec_model},
            "function_count": self.function_count,
            "producers": {k: [{"name": n, "version": v} for n, v in vals]
                          for k, vals in self.producers.items()},
            "target_features": self.target_features,
            "has_name_section": self.has_names,
        }


class Reader:
    def __init__(self, data: bytes, origin: str, base: int = 0, context: str = "") -> None:
        self.data = data
        self.pos = 0
        self.origin = origin
        self.base = base  # offset of data[0] in the file, for messages
        self.context = context  # e.g. "export section", so that a message says where it went wrong

    def fail(self, what: str, *, at: int | None = None) -> MalformedModuleError:
        where = self.base + (self.pos if at is None else at)
        context = f"{self.context}: " if self.context else ""
        return MalformedModuleError(f"{self.origin}: {context}{what} at byte {where}")

    @property
    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def byte(self) -> int:
        if self.pos >= len(self.data):
            msg = "unexpected end of data (truncated file?)"
            raise self.fail(msg)
        value = self.data[self.pos]
        self.pos += 1
        return value

    def bytes(self, count: int) -> bytes:
        if count < 0 or self.pos + count > len(self.data):
            msg = f"unexpected end of data (needed {count} bytes)"
            raise self.fail(msg)
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def u32(self) -> int:
        return self._uleb(32)

    def u64(self) -> int:
        return self._uleb(64)

    def _uleb(self, bits: int) -> int:
        # The spec bounds the encoding to ceil(bits / 7) bytes, and the unused high bits of the last
        # byte must be zero: anything else is a malformed integer, not a large one.
        start = self.pos
        result = shift = 0
        for _ in range(-(-bits // 7)):
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                if result >> bits:
                    msg = f"LEB128 integer too large for u{bits}"
                    raise self.fail(msg, at=start)
                return result
            shift += 7
        msg = f"LEB128 integer too long for u{bits}"
        raise self.fail(msg, at=start)

    def name(self) -> str:
        raw = self.bytes(self.u32())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            msg = "name is not valid UTF-8"
            raise self.fail(msg) from None

    def sub(self, size: int, context: str) -> Reader:
        start = self.pos
        if start + size > len(self.data):
            remaining = len(self.data) - start
            msg = f"{context} declares {size} bytes but only {remaining} remain (truncated file?)"
            raise self.fail(
                msg,
                at=start,
            )
        return Reader(self.bytes(size), self.origin, self.base + start, context)

    def expect_end(self) -> None:
        if not self.at_end:
            msg = f"{len(self.data) - self.pos} unexpected bytes at the end of the section"
            raise self.fail(msg)


def section_sizes(sections: Iterable[Section]) -> dict[str, int]:
    """Bytes by category: each standard section by name, custom ones as ``custom:<name>``."""
    sizes: dict[str, int] = {}
    for section in sections:
        key = f"custom:{section.name}" if section.custom else section.name
        sizes[key] = sizes.get(key, 0) + section.size
    return sizes


def read_sections(
    reader: Reader, names: Mapping[int, str], what: str = "",
) -> Iterator[tuple[int, int, int, Reader]]:
    """Each section of a module or component body: its id, the payload's file offset and size,
    and a reader of the payload alone. An id not in ``names`` is an error at its byte; ``what``
    ("component ") says whose sections they are in messages."""
    while not reader.at_end:
        section_start = reader.pos
        section_id = reader.byte()
        if section_id not in names:
            msg = f"unknown {what}section id {section_id}"
            raise reader.fail(msg, at=section_start)
        size = reader.u32()
        offset = reader.base + reader.pos
        yield section_id, offset, size, reader.sub(size, f"{what}{names[section_id]} section")


def read_module_file(path: Path) -> ModuleInfo:
    try:
        data = path.read_bytes()
    except OSError as error:
        msg = f"{path}: cannot read: {error.strerror}"
        raise UserError(msg) from None
    return parse_module(data, str(path))


def parse_module(data: bytes, origin: str = "<module>", *, base: int = 0) -> ModuleInfo:
    """Read the structure of a binary module (or the header of a component).

    ``base`` is where ``data`` starts in its file (a core module inside a component), so that an
    error names the file's offset.
    """
    if data[:4] == MAGIC and len(data) < 8:
        msg = f"{origin}: truncated header ({len(data)} bytes; a module starts with 8)"
        raise MalformedModuleError(msg)
    if len(data) < 8 or data[:4] != MAGIC:
        what = "empty file" if not data else "not a WebAssembly binary (bad magic number)"
        if data[:1] == b"(" or data.lstrip()[:1] in (b"(", b";"):
            what += "; it looks like WebAssembly text: use wat2wasm"
        msg = f"{origin}: {what}"
        raise MalformedModuleError(msg)
    version = int.from_bytes(data[4:8], "little")
    info = ModuleInfo(size=len(data))
    if version == COMPONENT_VERSION:
        info.kind = "component"
        return info
    if version != 1:
        msg = f"{origin}: unsupported binary version {version}"
        raise MalformedModuleError(msg)
    reader = Reader(data[8:], origin, base=base + 8)
    types: list[str | None] = []
    for section_id, offset, size, body in read_sections(reader, SECTION_NAMES):
        if section_id == 0:
            name = body.name()
            info.sections.append(Section(0, name, offset, size))
            _read_custom(name, body, info)
            continue
        info.sections.append(Section(section_id, SECTION_NAMES[section_id], offset, size))
        if section_id == 1:
            types = _read_types(body)
        elif section_id == 2:
            _read_imports(body, info, types)
        elif section_id == 3:
            count = body.u32()
            info.function_count += count
            for _ in range(count):
                body.u32()  # each function's type index
        elif section_id == 5:
            for _ in range(body.u32()):
                info.memories.append(_read_memory(body, imported=False))
        elif section_id == 7:
            for _ in range(body.u32()):
                name = body.name()
                kind_code = body.byte()
                if kind_code not in EXTERNAL_KINDS:
                    msg = f"unknown export kind 0x{kind_code:02x}"
                    raise body.fail(msg, at=body.pos - 1)
                info.exports.append(Export(name, EXTERNAL_KINDS[kind_code], body.u32()))
        elif section_id == 8:
            info.start = body.u32()
        if section_id in _FULLY_READ_SECTIONS:
            body.expect_end()
    return info


# Sections whose whole payload the reader walks, so leftover bytes mean a wrong section size.
_FULLY_READ_SECTIONS = frozenset({2, 3, 5, 7, 8})


def _read_types(body: Reader) -> list[str | None]:
    types: list[str | None] = []
    for _ in range(body.u32()):
        form = body.byte()
        if form != 0x60:
            # GC proposal types (rec groups, structs, arrays): their layout is not needed for a
            # listing, and a signature is not shown for them; stop reading further types.
            types.append(None)
            break
        params = [_value_type(body) for _ in range(body.u32())]
        results = [_value_type(body) for _ in range(body.u32())]
        types.append(f"({', '.join(params)}) -> ({', '.join(results)})")
    return types


def _value_type(body: Reader) -> str:
    code = body.byte()
    if code in (0x63, 0x64):  # (ref null? heaptype) from typed function references
        heap = body.u64()
        return f"ref {heap}"
    return VALUE_TYPES.get(code, f"0x{code:02x}")


def _read_imports(body: Reader, info: ModuleInfo, types: list[str | None]) -> None:
    for _ in range(body.u32()):
        module = body.name()
        name = body.name()
        kind_code = body.byte()
        kind = EXTERNAL_KINDS.get(kind_code)
        signature: str | None = None
        if kind == "func":
            index = body.u32()
            signature = types[index] if index < len(types) else None
        elif kind == "table":
            _value_type(body)
            _read_limits(body)
        elif kind == "memory":
            info.memories.append(_read_memory(body, imported=True))
        elif kind == "global":
            _value_type(body)
            body.byte()
        elif kind == "tag":
            body.byte()
            body.u32()
        else:
            msg = f"unknown import kind 0x{kind_code:02x}"
            raise body.fail(msg)
        info.imports.append(Import(module, name, kind, signature))


def _read_limits(body: Reader) -> tuple[int, int, int | None]:
    # flags: 0x01 has maximum, 0x02 shared (threads), 0x04 64-bit (memory64), 0x08 custom page size.
    flags = body.byte()
    if flags & ~0x0F:
        msg = f"unknown limits flags 0x{flags:02x}"
        raise body.fail(msg, at=body.pos - 1)
    minimum = body.u64()
    maximum = body.u64() if flags & 0x01 else None
    if flags & 0x08:
        body.u32()  # log2 of the page size
    return flags, minimum, maximum


def _read_memory(body: Reader, *, imported: bool) -> Memory:
    flags, minimum, maximum = _read_limits(body)
    return Memory(minimum, maximum, bool(flags & 0x02), bool(flags & 0x04), imported)


def read_producers(body: Reader) -> dict[str, list[tuple[str, str]]]:
    """A ``producers`` payload (the same in modules and components): field -> (name, version)."""
    producers: dict[str, list[tuple[str, str]]] = {}
    for _ in range(body.u32()):
        field_name = body.name()
        producers[field_name] = [(body.name(), body.name()) for _ in range(body.u32())]
    return producers


def _read_custom(name: str, body: Reader, info: ModuleInfo) -> None:
    # A malformed custom section does not make a module invalid (the spec says to ignore it),
    # so its content is read best effort.
    try:
        if name == "producers":
            info.producers = read_producers(body)
        elif name == "target_features":
            for _ in range(body.u32()):
                prefix = chr(body.byte())
                feature = body.name()
                if prefix in "+=":
                    info.target_features.append(feature)
        elif name == "name":
            info.has_names = True
    except MalformedModuleError:
        pass
