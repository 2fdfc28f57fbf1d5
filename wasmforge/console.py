"""Where output goes: machine results on stdout (``--json``), human progress on stderr.

Human output uses rich only when stderr is a terminal; in CI it is plain lines, and on GitHub Actions
errors become ``::error file=…::`` annotations and long steps ``::group::`` blocks. rich is imported
lazily so that fast commands do not pay for it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console as RichConsole

_OUTPUT_LOCK = threading.Lock()


def _is_tty() -> bool:
    return sys.stderr.isatty()


@dataclass
class Console:
    """The one output channel of a command run. ``json_mode`` silences human chatter on stdout."""

    json_mode: bool = False
    verbose: bool = False
    quiet: bool = False
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    # Never rich, even on a terminal (the no-op fast path must not pay for importing it).
    plain: bool = False
    _rich: RichConsole | None = None
    result_printed: bool = False

    @property
    def github_actions(self) -> bool:
        return self.env.get("GITHUB_ACTIONS") == "true"

    @property
    def fancy(self) -> bool:
        """rich styling: a terminal, not CI, and colour not switched off."""
        if self.plain:
            return False
        if "NO_COLOR" in self.env or self.env.get("CI"):
            return "FORCE_COLOR" in self.env
        return _is_tty() or "FORCE_COLOR" in self.env

    def rich(self) -> RichConsole:
        if self._rich is None:
            from rich.console import Console as RichConsole

            self._rich = RichConsole(
                stderr=True, highlight=False, emoji=False, force_terminal=self.fancy or None
            )
        return self._rich

    # Human output (stderr) -------------------------------------------------------------------

    def info(self, message: str) -> None:
        if not self.quiet:
            self._line(message)

    def debug(self, message: str) -> None:
        if self.verbose:
            self._line(message, style="dim")

    def warn(self, message: str) -> None:
        if self.github_actions:
            _write(f"::warning::{message}")
        else:
            self._line(f"warning: {message}", style="yellow")

    def error(self, message: str, *, hint: str | None = None, file: str | None = None) -> None:
        if self.github_actions:
            where = f" file={file}" if file else ""
            _write(f"::error{where}::{message}")
        else:
            self._line(f"error: {message}", style="bold red")
        if hint:
            self._line(f"hint: {hint}", style="cyan")

    def detail(self, message: str) -> None:
        """A line that belongs to the error before it (a backtrace): shown even when quiet."""
        self._line(message)

    def _line(self, message: str, style: str | None = None) -> None:
        # Build steps of several targets print from their own threads: one whole line at a time.
        if self.fancy:
            with _OUTPUT_LOCK:
                self.rich().print(message, style=style, markup=False)
        else:
            _write(message)

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        """A foldable block in GitHub Actions logs; a heading elsewhere."""
        if self.github_actions:
            print(f"::group::{title}", file=sys.stderr, flush=True)
            try:
                yield
            finally:
                print("::endgroup::", file=sys.stderr, flush=True)
        else:
            self.info(title)
            yield

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]], title: str = "") -> None:
        """A human table on stderr (rich on a terminal, aligned plain text otherwise)."""
        if self.quiet:
            return
        if self.fancy:
            from rich.table import Table

            table = Table(title=title or None)
            for header in headers:
                table.add_column(header)
            for row in rows:
                table.add_row(*row)
            self.rich().print(table)
            return
        if title:
            print(title, file=sys.stderr)
        widths = [len(h) for h in headers]
        for row in rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
        for row in [list(headers), *rows]:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(),
                  file=sys.stderr)

    # Machine output (stdout) -----------------------------------------------------------------

    def result(self, data: Any) -> None:
        """The command's machine-readable result: printed only with ``--json``."""
        if self.json_mode:
            self.result_printed = True
            sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")
            sys.stdout.flush()


def _write(line: str) -> None:
    """One whole line on stderr: build steps of several targets print from their own threads."""
    with _OUTPUT_LOCK:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def human_size(count: int) -> str:
    """Bytes for people: ``812 B``, ``17.7 KiB``, ``3.0 MiB`` (negative counts for changes)."""
    if abs(count) < 1024:
        return f"{count} B"
    if abs(count) < 1024 * 1024:
        return f"{count / 1024:.1f} KiB"
    if abs(count) < 1024**3:
        return f"{count / (1024 * 1024):.1f} MiB"
    return f"{count / 1024**3:.1f} GiB"


_current = Console()


def get_console() -> Console:
    return _current


def set_console(console: Console) -> None:
    global _current
    _current = console
