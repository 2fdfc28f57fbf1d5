"""``wasmforge wat2wasm``, ``wasm2wat`` and ``validate``: the WABT toolkit with clear errors.

Feature flags are accepted two ways: ``--enable simd --disable threads`` and WABT's own spellings
(``--enable-simd``, ``--disable-bulk-memory``, ``--enable-all``). Click cannot declare options whose
names are only known at run time, so the commands let unknown options through into their file list
and split them out again here; anything that is neither a file nor a known feature flag is an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wasmforge.commands._common import JsonFlag, command_console, existing_file
from wasmforge.errors import UserError

if TYPE_CHECKING:
    from wasmforge.console import Console
    from wasmforge.wasm.wabt import FeatureRequest

# Unknown options (the WABT-style feature flags) are passed on to the command in its file list.
_PASS_FEATURE_FLAGS = {"allow_extra_args": True, "ignore_unknown_options": True}

_FEATURES_HELP = "Also accepted: WABT spellings such as --enable-simd, --disable-bulk-memory, --enable-all."

EnableOption = Annotated[
    list[str] | None,
    typer.Option("--enable", metavar="FEATURE",
                 help=f"Enable a WebAssembly feature (repeatable; 'all' for every one). {_FEATURES_HELP}"),
]
DisableOption = Annotated[
    list[str] | None,
    typer.Option("--disable", metavar="FEATURE", help="Disable a WebAssembly feature (repeatable)."),
]


# Options of ``wasmforge`` itself, which click only accepts before the command name.
_GLOBAL_OPTIONS = frozenset({"-q", "--quiet", "-v", "--verbose", "--debug-traceback", "-V", "--version"})


def _split_arguments(tokens: list[str]) -> tuple[list[Path], list[str]]:
    """File arguments and option-looking arguments (feature flags, or mistakes to report)."""
    paths: list[Path] = []
    flags: list[str] = []
    for token in tokens:
        if token in _GLOBAL_OPTIONS:
            msg = f"{token} is an option of wasmforge itself, not of this command"
            raise UserError(msg, hint=f"put it before the command: wasmforge {token} <command> ...")
        if token.startswith("-") and token != "-":
            flags.append(token)
        else:
            paths.append(Path(token))
    return paths, flags


def _one_input(paths: list[Path], what: str) -> Path:
    if len(paths) != 1:
        msg = f"expected one {what}, got {len(paths)}" + (
            f": {' '.join(map(str, paths))}" if paths else ""
        )
        raise UserError(msg)
    return paths[0]


def _features(enable: list[str] | None, disable: list[str] | None, flags: list[str]) -> FeatureRequest:
    from wasmforge.wasm.wabt import feature_request

    return feature_request(enable or [], disable or [], flags)


def _refuse_input_as_output(source: Path, output: Path) -> None:
    from wasmforge.fsutil import refuse_overwriting_input

    refuse_overwriting_input(source, output, hint="pass -o with another file name")


def _fail_with_result(console: Console, base: dict[str, Any], error: UserError) -> UserError:
    """Report a failed conversion in the JSON result too, so that CI scripts get a JSON answer."""
    console.result({**base, "valid": False, "errors": [error.message]})
    return error


def _file_result(path: Path, data: bytes) -> dict[str, Any]:
    import hashlib

    return {"output": str(path), "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


# wat2wasm -----------------------------------------------------------------------------------------


def wat2wasm(
    ctx: typer.Context,
    arguments: Annotated[
        list[str], typer.Argument(metavar="IN.wat", help="WebAssembly text to compile.", show_default=False)
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="OUT.wasm",
                     help="Output file ('-' for stdout). Default: IN.wasm next to the input."),
    ] = None,
    debug_names: Annotated[
        bool, typer.Option("--debug-names", help="Keep the text's names in a 'name' section.")
    ] = False,
    enable: EnableOption = None,
    disable: DisableOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the default output file if it exists.")
    ] = False,
    json_flag: JsonFlag = False,
) -> None:
    """Compile WebAssembly text (.wat) to a binary module or component (.wasm)."""
    import sys

    from wasmforge.fsutil import atomic_write_bytes, refuse_overwrite
    from wasmforge.wasm.sniff import (
        FileKind,
        binary_in_text,
        is_component_text,
        kind_of_head,
        read_head,
    )
    from wasmforge.wasm.wabt import text_to_binary

    del ctx  # extra options arrive in ``arguments``
    console = command_console(json_flag)
    paths, flags = _split_arguments(arguments)
    source = existing_file(_one_input(paths, "input .wat file"), "WebAssembly text file")
    request = _features(enable, disable, flags)
    head = read_head(source)
    kind = kind_of_head(head)
    if kind is FileKind.BINARY:
        msg = f"{source}: is a WebAssembly binary, not text"
        raise UserError(msg, hint="wasmforge wasm2wat disassembles it; wasmforge inspect describes it")
    if kind is FileKind.OTHER:
        raise UserError(binary_in_text(source, head))

    to_stdout = output is not None and str(output) == "-"
    if to_stdout and console.json_mode:
        msg = "-o - (binary on stdout) cannot be combined with --json"
        raise UserError(msg)
    target = source.with_suffix(".wasm") if output is None else output
    if not to_stdout:
        if target.is_dir():
            msg = f"{target}: is a directory; -o takes a file name"
            raise UserError(msg)
        _refuse_input_as_output(source, target)
        if output is None:
            refuse_overwrite(target, force=force)

    base: dict[str, Any] = {"input": str(source)}
    try:
        if is_component_text(head):
            # WABT reads modules only. wasm-tools keeps the text's names always (no --debug-names)
            # and validates with its default features.
            from wasmforge.component.text import text_to_component

            _features_not_applied(source, request)
            data = text_to_component(source)
        else:
            data = text_to_binary(source, request, debug_names=debug_names)
    except UserError as error:
        raise _fail_with_result(console, base, error) from None
    if to_stdout:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    atomic_write_bytes(target, data)
    console.info(f"wrote {target} ({len(data)} bytes)")
    console.result({**base, **_file_result(target, data), "valid": True, "errors": []})


# wasm2wat -----------------------------------------------------------------------------------------


def wasm2wat(
    ctx: typer.Context,
    arguments: Annotated[
        list[str], typer.Argument(metavar="IN.wasm", show_default=False,
                                  help="Binary module or component to disassemble.")
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="OUT.wat", help="Output file. Default: stdout."),
    ] = None,
    fold_exprs: Annotated[
        bool, typer.Option("--fold-exprs", help="Write folded (nested) expressions.")
    ] = False,
    generate_names: Annotated[
        bool, typer.Option("--generate-names", help="Invent names for unnamed functions, types, ...")
    ] = False,
    enable: EnableOption = None,
    disable: DisableOption = None,
    json_flag: JsonFlag = False,
) -> None:
    """Disassemble a binary module or component (.wasm) to WebAssembly text."""
    import sys

    from wasmforge.fsutil import atomic_write_bytes
    from wasmforge.wasm.component import read_component_file
    from wasmforge.wasm.module import read_module_file
    from wasmforge.wasm.wabt import binary_to_text

    del ctx
    console = command_console(json_flag)
    paths, flags = _split_arguments(arguments)
    source = existing_file(_one_input(paths, "input .wasm file"), "WebAssembly binary")
    request = _features(enable, disable, flags)
    base: dict[str, Any] = {"input": str(source)}
    try:
        # The structural reader first: it explains a truncated or non-wasm file better than WABT.
        is_component = read_module_file(source).kind == "component"
        if is_component:
            read_component_file(source)  # ... and than wasm-tools
        if output is not None:
            _refuse_input_as_output(source, output)
        if is_component:
            # WABT reads core modules only; printing needs no feature flags (nothing is validated).
            from wasmforge.component.text import component_to_text

            text = component_to_text(source, fold_exprs=fold_exprs, generate_names=generate_names)
        else:
            text = binary_to_text(source, request, fold_exprs=fold_exprs,
                                  generate_names=generate_names)
    except UserError as error:
        raise _fail_with_result(console, base, error) from None

    encoded = text.encode("utf-8")
    if output is None:
        if console.json_mode:
            console.result({**base, "output": None, "size": len(encoded), "text": text,
                            "valid": True, "errors": []})
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
        return
    if output.is_dir():
        msg = f"{output}: is a directory; -o takes a file name"
        raise UserError(msg)
    atomic_write_bytes(output, encoded)
    console.info(f"wrote {output} ({len(encoded)} bytes)")
    console.result({**base, **_file_result(output, encoded), "valid": True, "errors": []})


# validate -----------------------------------------------------------------------------------------


def validate(
    ctx: typer.Context,
    arguments: Annotated[
        list[str], typer.Argument(metavar="FILE...", help=".wasm binaries or .wat text files.",
                                  show_default=False)
    ],
    enable: EnableOption = None,
    disable: DisableOption = None,
    json_flag: JsonFlag = False,
) -> None:
    """Check that modules and components are valid WebAssembly (exit 0 only if every file is)."""
    del ctx
    console = command_console(json_flag)
    paths, flags = _split_arguments(arguments)
    if not paths:
        msg = "expected at least one file to validate"
        raise UserError(msg)
    request = _features(enable, disable, flags)
    results: list[dict[str, Any]] = []
    for path in paths:
        problem = _first_problem(path, request)
        results.append({"path": str(path), "valid": problem is None,
                        "errors": [] if problem is None else [problem]})
        if problem is None:
            console.info(f"{path}: valid")
        else:
            console.error(problem, file=str(path))
    invalid = sum(1 for r in results if not r["valid"])
    console.result({"valid": invalid == 0, "files": results})
    if invalid:
        msg = f"{invalid} of {len(results)} file{'s' if len(results) > 1 else ''} invalid"
        raise UserError(msg)


def _first_problem(path: Path, request: FeatureRequest) -> str | None:
    """The first thing wrong with ``path`` as WebAssembly, on one line naming it; None if valid."""
    from wasmforge.wasm.component import parse_component
    from wasmforge.wasm.module import parse_module
    from wasmforge.wasm.sniff import FileKind, is_component_text, kind_of_head
    from wasmforge.wasm.wabt import validate_binary, validate_text

    try:
        existing_file(path)
        data = path.read_bytes()
        kind = kind_of_head(data[:4096])
        if kind is FileKind.TEXT and data:
            if is_component_text(data[:4096]):
                from wasmforge.component.text import text_problem

                _features_not_applied(path, request)
                return text_problem(path)
            return validate_text(path, request)
        # Structure first (a clear word for truncated or non-wasm files), then the full validator.
        if parse_module(data, str(path)).kind == "component":
            parse_component(data, str(path))
            _features_not_applied(path, request)
            return _validate_component(path)
        return validate_binary(path, request)
    except UserError as error:
        return error.message
    except OSError as error:
        return f"{path}: cannot read: {error.strerror}"


def _features_not_applied(path: Path, request: FeatureRequest) -> None:
    # Feature flags are WABT's; say so rather than let a component pass or fail unexpectedly.
    if not request.empty:
        from wasmforge.console import get_console

        get_console().warn(f"{path}: a component is checked with wasm-tools' default features; "
                           "--enable/--disable apply to core modules only")


def _validate_component(path: Path) -> str | None:
    # WABT does not know components; wasm-tools does (its default features: the component model
    # and the standardised proposals).
    from wasmforge.optimize.validate import standard_validation_error

    problem = standard_validation_error(path)
    return None if problem is None else f"{path}: {problem}"


def register(app: typer.Typer) -> None:
    app.command("wat2wasm", context_settings=_PASS_FEATURE_FLAGS)(wat2wasm)
    app.command("wasm2wat", context_settings=_PASS_FEATURE_FLAGS)(wasm2wat)
    app.command("validate", context_settings=_PASS_FEATURE_FLAGS)(validate)
