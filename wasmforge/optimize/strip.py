"""Stripping debug info, names and producers by dropping custom sections by name.

Done here in Python rather than with binaryen's flags because it is exact and independent of the
optimiser: binaryen 108's ``--strip-debug`` also drops the name section (so "strip debug, keep names"
cannot be said with it), and stripping must also work when wasm-opt is off for a target. Every other
byte is copied unchanged, so the output is deterministic and the code is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass

from wasmforge.errors import UserError
from wasmforge.optimize.sizes import is_debug_section
from wasmforge.wasm.module import MAGIC, parse_module


@dataclass(frozen=True)
class StripPlan:
    """Which custom sections to drop."""

    debug: bool = False
    names: bool = False
    producers: bool = False

    @property
    def anything(self) -> bool:
        return self.debug or self.names or self.producers

    def drops(self, section_name: str) -> bool:
        if self.debug and is_debug_section(section_name):
            return True
        if self.names and section_name == "name":
            return True
        return self.producers and section_name == "producers"

    def describe(self) -> str:
        parts = [what for what, on in
                 (("debug", self.debug), ("names", self.names), ("producers", self.producers)) if on]
        return "strip " + (", ".join(parts) if parts else "nothing")


def strip_sections(data: bytes, plan: StripPlan, origin: str = "<module>") -> tuple[bytes, list[str]]:
    """The module without the custom sections ``plan`` drops, and the names of those dropped."""
    info = parse_module(data, origin)
    if info.kind != "module":
        msg = f"{origin}: is a {info.kind}; only core modules can be stripped"
        raise UserError(msg)
    kept = bytearray(data[: len(MAGIC) + 4])
    dropped: list[str] = []
    start = len(kept)  # sections are contiguous: each header starts where the last payload ended
    for section in info.sections:
        end = section.offset + section.size
        if section.custom and plan.drops(section.name):
            dropped.append(section.name)
        else:
            kept += data[start:end]
        start = end
    return bytes(kept), dropped
