"""The ``wasmforge`` command line: global options, command registration, and the only exit point.

Start-up time matters (``wasmforge --version`` and ``wat2wasm`` run in tight loops in CI scripts), so
this module imports nothing heavy: each command imports what it needs when it runs.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from typing import Annotated, NoReturn

import typer

from wasmforge import __version__
from wasmforge.console import Console, get_console, set_console
from wasmforge.errors import ExitCode, Terminated, WasmforgeError

app = typer.Typer(
    name="wasmforge",
    help="Build C, C++, Rust, Emscripten and WAT into reproducible WebAssembly, ready to ship.",
    no_args_is_help=True,
    add_completion=False,
    # Tracebacks with locals could print registry credentials in CI logs.
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_debug = False


def _version_callback(value: bool) -> None:
    if value:
        print(f"wasmforge {__version__}")
        raise typer.Exit(0)


@app.callback()
def _global_options(
    version: Annotated[
        bool,
        typer.Option("--version", "-V", help="Print the version and exit.",
                     callback=_version_callback, is_eager=True),
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Machine-readable result on stdout.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show commands as they run.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
    debug: Annotated[
        bool, typer.Option("--debug-traceback", "--debug",
                           help="Show Python tracebacks for errors (before the command: "
                                "'wasmforge --debug build'; 'build --debug' is the debug profile).")
    ] = False,
) -> None:
    global _debug
    del version  # handled by its eager callback
    _debug = debug
    set_console(Console(json_mode=json_output, verbose=verbose, quiet=quiet))


def register_commands(args: Sequence[str] = ()) -> None:
    """Add the command that ``args`` names to ``app``, or every command when none is named."""
    import importlib

    from wasmforge.commands import COMMAND_MODULES

    named = next((a for a in args if not a.startswith("-")), None)
    if named in COMMAND_MODULES:
        modules = [COMMAND_MODULES[named]]
    else:  # help, a usage error, or an unknown command: show them all
        modules = list(dict.fromkeys(COMMAND_MODULES.values()))
    for module in modules:
        importlib.import_module(module).register(app)


_stopped_by: int | None = None
_args: list[str] = []


def invocation_args() -> list[str]:
    """The command line this run was given (without the program name)."""
    return list(_args)


def _on_stop_signal(signum: int, frame: object) -> None:
    """Ctrl-C and SIGTERM both unwind as KeyboardInterrupt, which every runner cleans up after."""
    global _stopped_by
    del frame
    _stopped_by = signum
    raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt


def _interrupted() -> NoReturn:
    """Report the interrupt and end now. Cleanup has run (with deadlines); a worker thread still
    waiting on a frozen engine must not hold the exit up, so the process ends without joining it."""
    code = ExitCode.TERMINATED if _stopped_by == signal.SIGTERM else ExitCode.INTERRUPTED
    try:
        _fail("terminated" if code == ExitCode.TERMINATED else "interrupted", None, code)
    except SystemExit:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _fail(message: str, hint: str | None, code: ExitCode) -> NoReturn:
    """Report a failure (one line, plus a hint) and exit with its code."""
    console = get_console()
    console.error(message, hint=hint)
    if not console.result_printed:  # with --json, stdout holds one JSON document, whatever happens
        console.result({"error": {"message": message, "hint": hint, "exit_code": int(code)}})
    _exit(code)


def _exit(code: int) -> NoReturn:
    sys.stdout.flush()
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console-script entry point: runs the app and maps every failure to a documented exit code."""
    global _args
    args = list(sys.argv[1:] if argv is None else argv)
    _args = args
    register_commands(args)
    signal.signal(signal.SIGINT, _on_stop_signal)
    signal.signal(signal.SIGTERM, _on_stop_signal)
    try:
        # Without standalone mode, click returns (not raises) the code of a typer.Exit raised in a
        # command; ``wasmforge run`` passes the module's exit code that way.
        returned = app(args=args, prog_name="wasmforge", standalone_mode=False)
    except WasmforgeError as error:
        if _debug:
            import traceback

            traceback.print_exc()
        _fail(error.message, error.hint, error.exit_code)
    except typer.Exit as done:
        _exit(done.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        _interrupted()
    except typer.TyperException as usage:
        show = getattr(usage, "show", None)
        if callable(show):
            show()
        else:
            print(f"error: {usage.format_message()}", file=sys.stderr)
        _exit(usage.exit_code)
    except BrokenPipeError:
        _exit(ExitCode.OK)
    except Exception as error:  # the last line of defence: no traceback for users
        if _debug:
            raise
        known = environment_failure(error)
        if known is not None:
            _fail(known.message, known.hint, known.exit_code)
        _fail(f"internal error: {type(error).__name__}: {error}",
              "this is a bug in wasmforge; rerun with --debug-traceback and report it",
              ExitCode.INTERNAL)
    if _stopped_by is not None:  # typer returns 130 for a KeyboardInterrupt it caught
        _interrupted()
    _exit(returned if isinstance(returned, int) else ExitCode.OK)


def environment_failure(error: BaseException) -> WasmforgeError | None:
    """The user-facing error for a failure of the machine, not of wasmforge, that escaped its own
    handling: the engine's client giving up (exit 6), a file that cannot be read or written, a full
    disk (exit 2, naming the path and the cause). None for anything else: a bug."""
    docker_errors = sys.modules.get("docker.errors")
    requests_errors = sys.modules.get("requests.exceptions")
    engine_types = tuple(t for t in (
        getattr(docker_errors, "DockerException", None),
        getattr(requests_errors, "RequestException", None)) if isinstance(t, type))
    if engine_types and isinstance(error, engine_types):
        from wasmforge.engine import ENGINE_HINT
        from wasmforge.errors import EngineUnavailableError

        return EngineUnavailableError(f"the Docker engine failed: {error}", hint=ENGINE_HINT)
    if isinstance(error, OSError):
        from wasmforge.errors import UserError

        where = error.filename or "a file"
        cause = error.strerror or str(error)
        return UserError(f"{where}: {cause.lower() if error.strerror else cause}")
    return None
