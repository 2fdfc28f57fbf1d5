"""``wasmforge opt``: optimise, strip and validate any module, with a size report.

The output must be named with ``-o``: the command never rewrites its input by default. A file named
with ``-o`` is replaced (naming it is the request); writing over the input itself needs ``--force``.
Features are never named by the user: they are read from the module (see wasmforge.optimize).

wasm-opt runs where a build's optimise step runs: in the wasi-sdk image of a toolchain set (``--set``,
default debian-13: binaryen 120), the image WAT modules are optimised in, through the runner that
``--runner`` chooses as ``wasmforge build`` does (auto: docker when an engine answers, else the host's
wasm-opt, said loudly, never under ``CI=true``). The command has no project, so the set comes from
``--set`` alone. Only a scratch dir next to the output is mounted (writable): the optimiser copies
the input into it itself, and the result is renamed onto the output from it (atomically, on the same
file system). Nothing is started when wasm-opt has nothing to do (``-O0``).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from wasmforge.commands._common import (
    ForceFlag,
    JsonFlag,
    check_runner,
    command_console,
    existing_file,
    output_file,
    toolchain_set_named,
)
from wasmforge.errors import UserError
from wasmforge.kinds import KINDS

if TYPE_CHECKING:
    from wasmforge.config.model import OptLevel, WasmforgeConfig
    from wasmforge.optimize.invoke import ToolInvoker
    from wasmforge.runner.base import Runner
    from wasmforge.toolchain_sets import ToolchainSetName

OPT_LEVELS = ("0", "1", "2", "3", "4", "s", "z")
DEFAULT_LEVEL = "s"  # the built-in release profile's level
# The image whose binaryen optimises a module with no toolchain of its own: WAT's.
OPTIMIZER_IMAGE = KINDS["wat"].optimizer
_BINARYEN_VERSION = re.compile(r"\bversion\s+(\d+)")


def parse_level(raw: str) -> OptLevel:
    """``'3'`` -> 3, ``'z'`` -> ``'z'``; a one-line UserError for anything else."""
    value = raw.strip().removeprefix("O")
    if value not in OPT_LEVELS:
        msg = f"-O: unknown optimisation level {raw!r} (expected 0-4, s or z, e.g. -Oz)"
        raise UserError(msg)
    return cast("OptLevel", int(value) if value.isdigit() else value)


def parse_set(raw: str | None) -> ToolchainSetName:
    """The toolchain set ``--set`` names (default: the default set); a UserError for others."""
    from wasmforge.toolchain_sets import DEFAULT_SET

    return DEFAULT_SET if raw is None else toolchain_set_named(raw)


def runner_name(flag: str | None, env: Mapping[str, str]) -> str:
    """``--runner``, else ``WASMFORGE_RUNNER``, else auto: the order ``wasmforge build`` uses."""
    from wasmforge.config.resolve import runner_choice

    check_runner(flag)
    return runner_choice(flag, env, "auto")


@dataclass(frozen=True)
class WasmOptRun:
    """Which wasm-opt ran: its version line, and where (a set's image, or the host's)."""

    version: str | None  # "wasm-opt version 120", None if it did not say
    runner: str  # "docker" | "local"
    toolchain_set: str | None  # the set whose image ran it; None: the host's
    image: str | None

    @property
    def binaryen(self) -> str | None:
        found = _BINARYEN_VERSION.search(self.version or "")
        return found.group(1) if found else None

    def describe(self) -> str:
        version = self.version or "wasm-opt (version unknown)"
        if self.image is None:
            return f"{version}, on the host (not in a toolchain image)"
        return f"{version}, in {self.image} (the {self.toolchain_set} set's {OPTIMIZER_IMAGE} image)"

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "binaryen": self.binaryen, "runner": self.runner,
                "toolchain-set": self.toolchain_set, "image": self.image}


class _Optimiser:
    """The ToolInvoker ``wasmforge opt`` gives the pipeline: picks the runner (and starts its
    container) on the first tool call, so that a bad input, ``-O0`` or a skipped wasm-opt never
    needs an engine; all work happens in ``scratch`` (below the mounted scratch root)."""

    def __init__(self, name: str, toolchain_set: ToolchainSetName, scratch: Path) -> None:
        self.name = name
        self.toolchain_set = toolchain_set
        self.scratch = scratch
        self.runner: Runner | None = None
        self._invoke: ToolInvoker | None = None

    def __call__(self, argv: Sequence[str], cwd: Path) -> None:
        self._tools()(argv, cwd)

    def _tools(self) -> ToolInvoker:
        if self._invoke is None:
            from wasmforge.epoch import action_epoch
            from wasmforge.runner.select import select_runner

            root = self.scratch.parent  # the only host dir the container sees
            self.runner = select_runner(self.name, root, stand_in_config(self.toolchain_set),
                                        set(), doing="optimising")
            self._invoke = self.runner.invoker(OPTIMIZER_IMAGE, target="opt", scratch=self.scratch,
                                               epoch=action_epoch(os.environ))
        return self._invoke

    def report(self) -> WasmOptRun | None:
        """Which wasm-opt ran; None when no tool ran."""
        from wasmforge.optimize.invoke import tool_version
        from wasmforge.runner.docker import DockerRunner

        if self._invoke is None or self.runner is None:
            return None
        version = tool_version(self._invoke, "wasm-opt", self.scratch)
        if isinstance(self.runner, DockerRunner):
            image = self.runner.image(OPTIMIZER_IMAGE)
            return WasmOptRun(version, self.runner.name, image.toolchain_set, image.reference)
        return WasmOptRun(version, self.runner.name, None, None)

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close(wait=False)  # the engine removes the container while we finish


def stand_in_config(toolchain_set: ToolchainSetName) -> WasmforgeConfig:
    """A project for the runner, which reads only its ``[toolchains] set``: ``wasmforge opt`` has
    none of its own."""
    from wasmforge.config.model import WasmforgeConfig

    return WasmforgeConfig.model_validate({
        "project": {"name": "wasmforge-opt"}, "toolchains": {"set": toolchain_set},
        "targets": {"opt": {"kind": "wat", "source": "opt.wat"}}})


def opt(
    source: Annotated[Path, typer.Argument(metavar="IN.wasm", help="Module to optimise.",
                                           show_default=False)],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="OUT.wasm",
                     help="Where to write the result (required; replaced if it exists)."),
    ] = None,
    level: Annotated[
        str, typer.Option("--opt-level", "-O", metavar="LEVEL",
                          help="wasm-opt level: -O0..-O4, -Os or -Oz (0 = no passes).")
    ] = DEFAULT_LEVEL,
    strip_debug: Annotated[
        bool, typer.Option("--strip-debug", help="Drop DWARF (.debug_*) and source-map sections.")
    ] = False,
    strip_names: Annotated[
        bool, typer.Option("--strip-names", help="Drop the name section (function names).")
    ] = False,
    strip_producers: Annotated[
        bool, typer.Option("--strip-producers", help="Drop the producers section.")
    ] = False,
    passes: Annotated[
        list[str] | None,
        typer.Option("--pass", metavar="ARG",
                     help="Extra wasm-opt argument, repeatable: --pass=--converge."),
    ] = None,
    toolchain_set: Annotated[
        str | None,
        typer.Option("--set", metavar="debian-13|debian-12",
                     help="Toolchain set whose wasi-sdk image runs wasm-opt: debian-13 (binaryen "
                          "120, the default) or debian-12 (binaryen 108).", show_default=False),
    ] = None,
    runner: Annotated[
        str | None,
        typer.Option("--runner", metavar="auto|docker|local",
                     help="Where wasm-opt runs: the set's toolchain image, the host's, or auto "
                          "(docker if an engine answers, else the host's; default: "
                          "$WASMFORGE_RUNNER or auto).", show_default=False),
    ] = None,
    force: ForceFlag = False,
    json_flag: JsonFlag = False,
) -> None:
    """Optimise a module with wasm-opt (features detected from the module), strip, validate."""
    from wasmforge.config.resolve import Profile
    from wasmforge.console import human_size
    from wasmforge.optimize.pipeline import optimize_module
    from wasmforge.optimize.report import size_table
    from wasmforge.optimize.wasm_opt import passes_problem

    console = command_console(json_flag)
    chosen_runner = runner_name(runner, os.environ)
    chosen_set = parse_set(toolchain_set)
    source = existing_file(source, "WebAssembly module")
    output = output_file(source, output, force=force,
                         suggestion=f"wasmforge opt {source} -o {source.stem}.opt.wasm")
    problem = passes_problem(passes or ())
    if problem is not None:
        msg = f"--pass: {problem}"
        raise UserError(msg, hint="give each wasm-opt argument as --pass=ARG, e.g. --pass=--converge")
    profile = Profile(
        name="opt",
        opt_level=parse_level(level),
        debug_info=not strip_debug,
        wasm_opt=True,
        wasm_opt_passes=tuple(passes or ()),
        strip_debug=strip_debug,
        strip_names=strip_names,
        strip_producers=strip_producers,
    )
    # The scratch root sits next to the output: the container mounts it (and nothing else of the
    # host), and the result is renamed from it onto the output within one file system.
    output.parent.mkdir(parents=True, exist_ok=True)
    scratch_root = Path(tempfile.mkdtemp(prefix=".wasmforge-opt-", dir=output.parent)).resolve()
    optimiser = _Optimiser(chosen_runner, chosen_set, scratch_root / "opt")
    try:
        staged = optimiser.scratch / "output.wasm"
        report = optimize_module(source, staged, profile, invoke=optimiser, label=str(source))
        ran = optimiser.report()
        staged.replace(output)
    finally:
        optimiser.close()
        shutil.rmtree(scratch_root, ignore_errors=True)
    headers, rows = size_table(report)
    console.table(headers, rows, title=f"{source} -> {output}")
    for note in report.notes:
        console.info(f"note: {note}")
    if ran is not None:
        console.info(f"wasm-opt: {ran.describe()}")
    console.info(
        f"wrote {output}: {human_size(report.before['total'])} -> "
        f"{human_size(report.after['total'])} ({report.ratio:.1%} of the input); features: "
        f"{', '.join(report.features.enabled) or 'none beyond the MVP'}"
    )
    console.result({"input": str(source), "output": str(output), **report.as_dict(),
                    "wasm-opt": ran.as_dict() if ran is not None else None})


def register(app: typer.Typer) -> None:
    app.command("opt")(opt)
