"""The console-script entry point: answers ``--version`` before the CLI (and typer) is imported.

``wasmforge --version`` is what scripts and CI call to check the tool, and it should cost little more
than starting Python: importing typer and building the command tree takes several times longer than
the interpreter itself. Everything else goes to ``wasmforge.cli.main``.
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
    from wasmforge.cli import main as cli_main

    cli_main()
