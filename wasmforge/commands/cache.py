"""``wasmforge cache stats|prune|clear|verify``: look after the local build cache.

The cache lives in ``$WASMFORGE_CACHE_DIR`` (default ``~/.cache/wasmforge/build-cache``); these
commands work anywhere, inside a project or not.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wasmforge.commands._common import JsonFlag, command_console

if TYPE_CHECKING:
    from wasmforge.cache.store import LocalStore

cache_app = typer.Typer(
    name="cache",
    help="Show, prune, check or clear the local build cache.",
    no_args_is_help=True,
)

MaxSizeOption = Annotated[
    str | None,
    typer.Option("--max-size", metavar="SIZE",
                 help="Size limit, e.g. 2GiB (default: WASMFORGE_CACHE_MAX_SIZE, the project's "
                      "[cache] max-size, else 5GiB)."),
]


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app)


def _store() -> LocalStore:
    from wasmforge.cache.location import default_cache_dir
    from wasmforge.cache.store import LocalStore
    from wasmforge.console import get_console

    return LocalStore(default_cache_dir(os.environ), warn=get_console().warn)


def _max_size(flag: str | None) -> int:
    """--max-size, else the environment, else the wasmforge.toml here, else the default."""
    from wasmforge.config.load import CONFIG_FILE, load_config
    from wasmforge.config.model import CacheConfig
    from wasmforge.config.resolve import cache_max_size, parse_size

    if flag is not None:
        return parse_size(flag, "--max-size")
    config_file = Path(CONFIG_FILE)
    file = load_config(config_file).cache if config_file.is_file() else CacheConfig()
    return cache_max_size(file, os.environ)


@cache_app.command("stats")
def stats_command(max_size: MaxSizeOption = None, json_output: JsonFlag = False) -> None:
    """Where the cache is, how many results and blobs it holds, and its size."""
    from wasmforge.cache.maintenance import stats
    from wasmforge.console import human_size

    console = command_console(json_output)
    found = stats(_store())
    limit = _max_size(max_size)
    console.table(
        ("directory", "results", "blobs", "size", "limit", "crate sets"),
        [[str(found.directory), str(found.entries), str(found.blobs),
          human_size(found.total_bytes), human_size(limit),
          f"{found.dependency_sets} ({human_size(found.dependency_bytes)})"]],
        title="build cache",
    )
    console.result(found.as_dict(limit))


@cache_app.command("prune")
def prune_command(max_size: MaxSizeOption = None, json_output: JsonFlag = False) -> None:
    """Drop the least recently used results until the cache fits its size limit, and crate
    sets fetched for Cargo builds that no build used for 30 days."""
    from wasmforge.cache.maintenance import prune, stats
    from wasmforge.console import human_size

    console = command_console(json_output)
    store = _store()
    report = prune(store, _max_size(max_size))
    after = stats(store)
    console.info(f"pruned {report.entries_removed} result(s), {report.blobs_removed} blob(s) "
                 f"and {report.dependency_sets_removed} crate set(s), "
                 f"{human_size(report.bytes_freed)} freed; {human_size(after.total_bytes)} left")
    console.result({**report.as_dict(), "size": after.total_bytes})


@cache_app.command("clear")
def clear_command(json_output: JsonFlag = False) -> None:
    """Remove every cached result, blob, stamp and fetched crate set."""
    from wasmforge.cache.maintenance import clear
    from wasmforge.console import human_size

    console = command_console(json_output)
    before = clear(_store())
    freed = before.total_bytes + before.dependency_bytes
    console.info(f"cleared {before.directory}: {before.entries} result(s), "
                 f"{before.dependency_sets} crate set(s), {human_size(freed)}")
    console.result({"directory": str(before.directory), "entries_removed": before.entries,
                    "dependency_sets_removed": before.dependency_sets, "bytes_freed": freed})


@cache_app.command("verify")
def verify_command(json_output: JsonFlag = False) -> None:
    """Check every blob against its digest and every result for its blobs; remove damaged ones
    (a build would drop them too, and build again)."""
    from wasmforge.cache.maintenance import verify

    console = command_console(json_output)
    report = verify(_store())
    for problem in report.damaged:
        console.warn(f"removed: {problem}")
    console.info(f"checked {report.entries} result(s) and {report.blobs} blob(s): "
                 + (f"{len(report.damaged)} damaged, removed" if report.damaged else "all sound"))
    console.result(report.as_dict())
