"""The no-op fast path of ``wasmforge build``: answer a rebuild with nothing to do from the stamp of
the last build (see ``wasmforge.cache.stamp``), with the standard library only.

The stamp is found by the exact command line, directory and environment, so no option needs to be
understood here beyond the few that decide how the answer is printed. Options that ask for work
(``--no-cache``, ``--check-reproducible``) and anything that is not a plain build go to the CLI.
Any doubt means None: the full build runs, and its cache still spares the work.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

# Options before the command that the fast path understands (all others: the CLI decides).
_GLOBAL_OPTIONS = frozenset({"--json", "-v", "--verbose", "-q", "--quiet"})
# Options of build that ask for more than the last result.
_DECLINE = frozenset({"--no-cache", "--check-reproducible", "-h", "--help", "--watch", "-w"})


def answer_noop(args: Sequence[str], env: Mapping[str, str], cwd: str) -> int | None:
    """Print the last build's result and return 0 if nothing changed since; None otherwise."""
    started = time.monotonic()
    index = 0
    while index < len(args) and args[index] in _GLOBAL_OPTIONS:
        index += 1
    if index >= len(args) or args[index] != "build":
        return None
    build_args = args[index + 1:]
    if any(arg in _DECLINE or arg.startswith(("--no-cache=", "--check-reproducible="))
           for arg in build_args):
        return None
    from wasmforge.cache.location import default_cache_dir
    from wasmforge.cache.stamp import load_stamp, request_id, stamp_path

    try:
        stamp = load_stamp(stamp_path(default_cache_dir(env), request_id(cwd, args, env)))
        if stamp is None or not stamp.still_holds():
            return None
    except (OSError, ValueError):
        return None
    answered = _as_answered(stamp.report, time.monotonic() - started)
    if not _printable(answered):
        return None
    _print(answered, list(args), env)
    return 0


def _printable(report: dict[str, Any]) -> bool:
    """The stored report can be shown (a stamp is data from disk: it may be damaged)."""
    from wasmforge.build.summary import package_rows, size_report_rows, summary_rows

    try:
        summary_rows(report)
        size_report_rows(report)
        package_rows(report.get("packages") or [])
        str(report["profile"])
    except (KeyError, TypeError, ValueError, AttributeError, ZeroDivisionError):
        return False
    return True


def _print(report: dict[str, Any], args: list[str], env: Mapping[str, str]) -> None:
    from wasmforge.build.summary import print_summary
    from wasmforge.console import Console

    json_mode = "--json" in args
    console = Console(json_mode=json_mode, verbose="-v" in args or "--verbose" in args,
                      quiet="-q" in args or "--quiet" in args, env=dict(env), plain=True)
    console.debug("nothing changed since the last build: its result stands")
    print_summary(console, report)
    console.result(report)


def _as_answered(report: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The last report, with every target served by the local cache in ``seconds``."""
    targets = report.get("targets")
    answered = dict(report)
    if isinstance(targets, list):
        share = round(seconds / max(1, len(targets)), 3)
        answered["targets"] = [
            {**target, "from_cache": "local", "seconds": share}
            for target in targets if isinstance(target, dict)
        ]
    return answered
