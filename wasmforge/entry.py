"""The console-script entry point: answers ``--version``, and a ``build`` with nothing to do, before
the CLI (and typer) is imported.

``wasmforge --version`` is what scripts and CI call to check the tool, and a no-op rebuild is what
developers run all day: both should cost little more than starting Python, while importing typer,
pydantic and the Docker SDK takes several times longer than the interpreter itself. Everything else
goes to ``wasmforge.cli.main``.
"""

from __future__ import annotations

import sys
from typing import NoReturn

_VERSION_ARGS = (["--version"], ["-V"])


def main() -> NoReturn:
    if sys.argv[1:] in _VERSION_ARGS:
        from wasmforge import __version__

        print(f"wasmforge {__version__}")
        sys.stdout.flush()
        sys.exit(0)
    if "build" in sys.argv[1:]:
        import os
        from pathlib import Path

        from wasmforge.build.noop import answer_noop

        code = answer_noop(sys.argv[1:], os.environ, str(Path.cwd()))
        if code is not None:
            sys.stdout.flush()
            sys.exit(code)
    from wasmforge.cli import main as cli_main

    cli_main()
