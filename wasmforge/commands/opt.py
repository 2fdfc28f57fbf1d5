"""``wasmforge opt``: optimise, strip and validate any module, with a size report.

The output must be named with ``-o``: the command never rewrites its input by default. A file named
with ``-o`` is replaced (naming it is the request); writing over the input itself needs ``--force``.
Features are never named by the user: they are read from the module (see wasmforge.optimize).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from wasmforge.commands._common import (
    ForceFlag,
    JsonFlag,
    command_console,
    existing_file,
    output_file,
)
from wasmforge.errors import UserError

if TYPE_CHECKING:
    from wasmforge.config.model import OptLevel

OPT_LEVELS = ("0", "1", "2", "3", "4", "s", "z")
DEFAULT_LEVEL = "s"  # the built-in release profile's level


def parse_level(raw: str) -> OptLevel:
    """``'3'`` -> 3, ``'z'`` -> ``'z'``; a one-line UserError for anything else."""
    value = raw.strip().removeprefix("O")
    if value not in OPT_LEVELS:
        msg = f"-O: unknown optimisation level {raw!r} (expected 0-4, s or z, e.g. -Oz)"
        raise UserError(msg)
    return cast("OptLevel", int(value) if value.isdigit() else value)


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
    force: ForceFlag = False,
    json_flag: JsonFlag = False,
) -> None:
    """Optimise a module with wasm-opt (features detected from the module), strip, validate."""
    from wasmforge.config.resolve import Profile
    from wasmforge.console import human_size
    from wasmforge.optimize.pipeline import host_invoker, optimize_module
    from wasmforge.optimize.report import size_table
    from wasmforge.optimize.wasm_opt import passes_problem

    console = command_console(json_flag)
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
    report = optimize_module(source, output, profile, invoke=host_invoker(), label=str(source))
    headers, rows = size_table(report)
    console.table(headers, rows, title=f"{source} -> {output}")
    for note in report.notes:
        console.info(f"note: {note}")
    console.info(
        f"wrote {output}: {human_size(report.before['total'])} -> "
        f"{human_size(report.after['total'])} ({report.ratio:.1%} of the input); features: "
        f"{', '.join(report.features.enabled) or 'none beyond the MVP'}"
    )
    console.result({"input": str(source), "output": str(output), **report.as_dict()})


def register(app: typer.Typer) -> None:
    app.command("opt")(opt)
