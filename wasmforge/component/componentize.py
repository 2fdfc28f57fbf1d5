"""Turning a core module into a WASI 0.2 component, with wasm-tools (a dependency of wasmforge).

    module ─► (wasm-tools component embed WIT --world W: the user's interfaces) ─►
    wasm-tools component new --adapt wasi_snapshot_preview1=ADAPTER ─► wasm-tools validate

Commands get the command adapter (the component exports ``wasi:cli/run``), reactors and libraries
the reactor adapter. A file that already is a component passes through, validated. The output is
a pure function of the module, the adapter, the WIT files and the wasm-tools version: the build
caches it under a key made of those.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from wasmforge.component.adapters import Adapter, AdapterKind, adapter
from wasmforge.errors import UserError
from wasmforge.fsutil import atomic_path
from wasmforge.optimize.validate import one_line_reason, standard_validation_error
from wasmforge.tools import run_tool, wasm_tools
from wasmforge.wasm.module import parse_module

PREVIEW1 = "wasi_snapshot_preview1"


class ComponentizeError(UserError):
    """wasm-tools refused the module (one line: its reason)."""


@dataclass(frozen=True)
class ComponentResult:
    output: Path
    adapter: Adapter | None  # None: the input already was a component
    world: str | None

    def as_dict(self) -> dict[str, object]:
        return {
            "output": str(self.output), "world": self.world,
            "adapter": None if self.adapter is None else {
                "kind": self.adapter.kind, "version": self.adapter.version,
                "sha256": self.adapter.sha256},
        }


def adapter_kind_for(module: bytes, origin: str) -> AdapterKind:
    """``command`` for a module exporting ``_start``, else ``reactor``."""
    return "command" if parse_module(module, origin).exec_model == "command" else "reactor"


def componentize(
    module: Path, output: Path, *, kind: AdapterKind | None = None, wit: Path | None = None,
    world: str | None = None, the_adapter: Adapter | None = None,
) -> ComponentResult:
    """Write the component of ``module`` to ``output`` (atomically)."""
    data = _read(module)
    info = parse_module(data, str(module))
    if (wit is None) != (world is None):
        msg = "--wit and --world go together: the WIT directory and the world in it to export"
        raise UserError(msg)
    if info.kind == "component":
        if wit is not None:
            msg = f"{module}: already a component; a WIT world is embedded in core modules only"
            raise UserError(msg)
        _validate(module)
        with atomic_path(output) as temporary:
            shutil.copyfile(module, temporary)
        return ComponentResult(output, None, None)
    chosen = the_adapter or adapter(kind or adapter_kind_for(data, str(module)))
    with tempfile.TemporaryDirectory(prefix="wasmforge-component-") as scratch:
        core = module
        if wit is not None and world is not None:
            core = Path(scratch) / "embedded.wasm"
            _wasm_tools(["component", "embed", wit, "--world", world, module, "-o", core],
                        module)
        made = Path(scratch) / "component.wasm"
        _wasm_tools(["component", "new", core, "--adapt", f"{PREVIEW1}={chosen.path}",
                     "-o", made], module)
        _validate(made)
        with atomic_path(output) as temporary:
            shutil.copyfile(made, temporary)
    return ComponentResult(output, chosen, world)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        msg = f"{path}: cannot read: {error.strerror}"
        raise UserError(msg) from None


def _validate(path: Path) -> None:
    reason = standard_validation_error(path)
    if reason is not None:
        msg = f"{path}: {reason}"
        raise ComponentizeError(msg)


def _wasm_tools(args: list[str | Path], origin: Path) -> None:
    done = run_tool([wasm_tools(), *args], env={**os.environ, "RUST_LOG": "error"})
    if done.returncode != 0:
        msg = f"{origin}: {one_line_reason(done.stderr.decode('utf-8', 'replace'))}"
        raise ComponentizeError(
            msg)
