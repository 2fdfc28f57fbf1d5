"""A component's WIT world: what it imports and exports, by interface name and version.

The one reader of ``wasm-tools component wit --json`` (the wit-component decoder that the
``oci-wasm`` crate of wkg and wash uses too): ``inspect`` shows every item with its kind, package
and version; the CNCF artifact's ``component`` field lists the names as oci-wasm writes them: an
interface from a package as ``ns:pkg/iface@version``, anything else (a function, an inline
interface, a type) by its own name, in the component's order.

A component binary does not say which world it was built for: the decoder always calls its world
``root:component/root``. The artifact's ``target`` is therefore only what the build knows
(:func:`target_world`), never guessed from the binary alone.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from wasmforge.errors import UserError
from wasmforge.optimize.validate import one_line_reason
from wasmforge.tools import run_tool, wasm_tools

# wit-component's decoder names the world of every component this (and a WIT package, which is
# also a component binary, something else: its own package name).
_DECODED_PACKAGE = "root:component"
_DECODED_WORLD = "root"
_INTERFACE_KEY = re.compile(r"^interface-(\d+)$")
_CLI_RUN = re.compile(r"^wasi:cli/run@(\S+)$")
_PACKAGE_LINE = re.compile(r"^package ([^\s;{]+);$", re.MULTILINE)


ItemKind = Literal["interface", "function", "type"]


@dataclass(frozen=True)
class WorldItem:
    name: str  # wasi:cli/run@0.2.12 for a package's interface; the world key otherwise
    kind: ItemKind
    package: str | None = None  # wasi:cli (an interface of a package only)
    version: str | None = None  # 0.2.12
    # oci-wasm leaves out an interface key whose interface belongs to no package.
    listed: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "package": self.package,
                "version": self.version}


@dataclass(frozen=True)
class ComponentWorld:
    """A component's imports and exports, in the component's order."""

    imports: tuple[WorldItem, ...]
    exports: tuple[WorldItem, ...]

    @property
    def import_names(self) -> tuple[str, ...]:
        """The imports as the Wasm OCI artifact config lists them."""
        return tuple(i.name for i in self.imports if i.listed)

    @property
    def export_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.exports if e.listed)

    def as_dict(self) -> dict[str, Any]:
        return {"imports": [i.as_dict() for i in self.imports],
                "exports": [e.as_dict() for e in self.exports]}


def component_world(source: Path | bytes, origin: str | None = None) -> ComponentWorld:
    """The world of a component (a file, or its bytes from ``origin``); a UserError for anything
    wasm-tools cannot decode as a component (a core module, a WIT package, damaged bytes)."""
    return world_from_json(_wit_json(source), origin or str(source))


def world_from_json(document: Mapping[str, Any], origin: str) -> ComponentWorld:
    """The world in what ``wasm-tools component wit --json`` printed for a component."""
    packages = _list(document, "packages", origin)
    worlds = _list(document, "worlds", origin)
    interfaces = _list(document, "interfaces", origin)
    world = _decoded_world(packages, worlds)
    if world is None:
        names = ", ".join(str(p.get("name")) for p in packages if isinstance(p, dict))
        msg = f"{origin}: a binary WIT package ({names}), not a component"
        raise UserError(msg)

    def items(key: str) -> tuple[WorldItem, ...]:
        return tuple(_item(k, v, interfaces, packages, origin)
                     for k, v in _items(world, key, origin))

    return ComponentWorld(imports=items("imports"), exports=items("exports"))


def target_world(
    world: ComponentWorld, *, built_world: str | None, adapter_kind: str | None,
    wit_dir: Path | None,
) -> str | None:
    """The world the build targeted, fully qualified (``ns:pkg/world@version``), or None.

    ``built_world`` is the world the build embedded (from the target's ``world``; a bare name is
    qualified with the package of ``wit_dir``). Without one, a component that wasmforge wrapped
    with the preview1 *command* adapter targets ``wasi:cli/command`` at the version of the
    ``wasi:cli/run`` it exports: the adapter imports nothing outside that world, and the core module
    could import nothing but preview1 (which the adapter provides).
    """
    if built_world:
        if ":" in built_world and "/" in built_world:
            return built_world
        if wit_dir is None:
            return None
        base, _, version = _wit_package(wit_dir).partition("@")
        return f"{base}/{built_world}" + (f"@{version}" if version else "")
    if adapter_kind == "command":
        runs = [m.group(1) for e in world.export_names if (m := _CLI_RUN.match(e))]
        if len(runs) == 1:
            return f"wasi:cli/command@{runs[0]}"
    return None


def _wit_package(wit_dir: Path) -> str:
    """The package a WIT directory declares (``ns:name@version``), as wasm-tools resolves it."""
    done = run_tool([wasm_tools(), "component", "wit", "--no-docs", wit_dir],
                    env={**os.environ, "RUST_LOG": "error"})
    if done.returncode != 0:
        msg = f"{wit_dir}: {one_line_reason(done.stderr.decode('utf-8', 'replace'))}"
        raise UserError(msg)
    # Text mode prints the top-level package with a `package X;` line (dependencies, if any,
    # follow as `package Y { ... }` blocks).
    found = _PACKAGE_LINE.search(done.stdout.decode("utf-8", "replace"))
    if found is None:
        msg = f"{wit_dir}: wasm-tools names no package for this WIT directory"
        raise UserError(msg)
    return found.group(1)


def _wit_json(source: Path | bytes) -> dict[str, Any]:
    # Bytes go on stdin: with no file named, `component wit` reads it.
    argv: list[str | Path] = [wasm_tools(), "component", "wit", "--json"]
    if isinstance(source, Path):
        origin, stdin = str(source), None
        argv.append(source)
    else:
        origin, stdin = "the component", source
    done = run_tool(argv, env={**os.environ, "RUST_LOG": "error"}, input_bytes=stdin)
    if done.returncode != 0:
        msg = f"{origin}: not a decodable component: " + one_line_reason(
            done.stderr.decode("utf-8", "replace"))
        raise UserError(msg)
    try:
        document = json.loads(done.stdout)
    except ValueError as error:
        msg = f"{origin}: wasm-tools component wit --json printed no JSON ({error})"
        raise UserError(msg) from None
    if not isinstance(document, dict):
        msg = f"{origin}: wasm-tools component wit --json printed {type(document).__name__}"
        raise UserError(msg)
    return document


def _list(document: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = document.get(key)
    if not isinstance(value, list):
        msg = f"{path}: wasm-tools component wit --json has no list {key!r}"
        raise UserError(msg)
    return value


def _items(world: Mapping[str, Any], key: str, path: str) -> list[tuple[str, Any]]:
    value = world.get(key)
    if not isinstance(value, dict):
        msg = f"{path}: the component's world has no {key} table"
        raise UserError(msg)
    return list(value.items())  # JSON object order is the component's order


def _decoded_world(packages: Sequence[Any], worlds: Sequence[Any]) -> dict[str, Any] | None:
    for package in packages:
        if isinstance(package, dict) and package.get("name") == _DECODED_PACKAGE:
            index = (package.get("worlds") or {}).get(_DECODED_WORLD)
            if isinstance(index, int) and 0 <= index < len(worlds):
                world = worlds[index]
                return world if isinstance(world, dict) else None
    return None


def _item(
    key: str, value: Any, interfaces: Sequence[Any], packages: Sequence[Any], path: str
) -> WorldItem:
    """One world key: a function or type by its name; an interface key (spelt ``interface-N``,
    N its index, which no WIT name can be: a kebab-case word never starts with a digit) as
    ``ns:pkg/iface@version``, or by its key when its interface belongs to no package (which
    oci-wasm leaves out: ``Resolve::id_of`` is None)."""
    if isinstance(value, dict) and "function" in value:
        return WorldItem(key, "function")
    if isinstance(value, dict) and "type" in value:
        return WorldItem(key, "type")
    match = _INTERFACE_KEY.match(key)
    if match is None:
        return WorldItem(key, "interface")  # an inline interface, known by its key
    index = int(match.group(1))
    interface = interfaces[index] if index < len(interfaces) else None
    referenced = value.get("interface") if isinstance(value, dict) else None
    if (not isinstance(interface, dict) or not isinstance(referenced, dict)
            or referenced.get("id") != index):
        msg = f"{path}: the component's world names interface {index}, which it does not define"
        raise UserError(msg)
    package_index = interface.get("package")
    name = interface.get("name")
    if not isinstance(package_index, int) or not isinstance(name, str):
        return WorldItem(key, "interface", listed=False)
    package = packages[package_index] if package_index < len(packages) else None
    package_name = package.get("name") if isinstance(package, dict) else None
    if not isinstance(package_name, str):
        msg = f"{path}: interface {name!r} belongs to package {package_index}, which is missing"
        raise UserError(msg)
    base, _, version = package_name.partition("@")
    return WorldItem(f"{base}/{name}" + (f"@{version}" if version else ""), "interface",
                     base, version or None)
