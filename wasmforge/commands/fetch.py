"""``wasmforge fetch``: bring the crates of a project's Cargo targets into the dependency store
(CI's dependency step: the build after it needs no network). ``wasmforge lock``: write a Cargo
target's ``Cargo.lock`` with the toolchain's own cargo."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wasmforge.commands._common import JsonFlag, ProjectArgument, command_console

if TYPE_CHECKING:
    from wasmforge.config.model import WasmforgeConfig
    from wasmforge.runner.base import Runner


def register(app: typer.Typer) -> None:
    app.command("fetch")(fetch)
    app.command("lock")(lock)


RunnerOption = Annotated[
    str | None,
    typer.Option("--runner", metavar="auto|docker|local",
                 help="Where cargo runs: the toolchain container (with the host's network), or "
                      "this machine's cargo."),
]


def fetch(
    path: ProjectArgument = Path(),
    target: Annotated[
        list[str] | None,
        typer.Option("--target", "-t", metavar="NAME", help="Only this target (repeatable)."),
    ] = None,
    runner: RunnerOption = None,
    adapters: Annotated[
        bool, typer.Option("--adapters", help="Also fetch the WASI adapters when no target is a "
                                              "component.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Fetch what builds download: the crates each Cargo target's Cargo.lock names (once per lock
    file), and the WASI adapters when a target is a component."""
    from wasmforge.build.fetch import Fetcher
    from wasmforge.build.plan import ABSTRACT_LAYOUT, plan_build
    from wasmforge.cache.deps import DependencyStore
    from wasmforge.config.resolve import BuildFlags, resolve_settings

    console = command_console(json_output)
    root, config = _project(path)
    settings = resolve_settings(root, config, os.environ,
                                BuildFlags(runner=runner, targets=tuple(target or ())))
    plan = plan_build(root, config, settings.profile, ABSTRACT_LAYOUT, settings.targets,
                      out_dir=settings.out_dir)
    wanted = [(t.name, a) for t in plan.targets for a in t.actions if a.cargo and a.cargo.fetch]
    rows = []
    if wanted:
        chosen = _runner(settings.runner, root, config)
        store = DependencyStore(settings.cache.directory)
        fetcher = Fetcher(root, config, chosen, store, console)
        try:
            for name, action in wanted:
                assert action.cargo is not None
                fetcher.check(name, action.cargo)
                fetched = fetcher.ensure(name, action.cargo, action.toolchain)
                state = "fetched" if fetched.ran else "already fetched"
                console.info(f"{name}: {fetched.crates} crates {state} ({action.cargo.lock})")
                rows.append({"target": name, "lock": action.cargo.lock, "crates": fetched.crates,
                             "fetched": fetched.ran, "entry": str(fetched.entry)})
        finally:
            chosen.close()
    adapter_rows = []
    if adapters or _components_wanted(config):
        from wasmforge.component.adapters import ADAPTER_SHA256, adapter

        for kind in ADAPTER_SHA256:
            got = adapter(kind)
            console.info(f"WASI {kind} adapter: {got.version} (sha256 {got.sha256[:12]}…)")
            adapter_rows.append({"kind": kind, "version": got.version, "sha256": got.sha256,
                                 "path": str(got.path)})
    if not rows and not adapter_rows:
        console.info("nothing to fetch: no Cargo target's lock file names registry or git crates, "
                     "and no target is a component")
    console.result({"targets": rows, "adapters": adapter_rows})


def _components_wanted(config: WasmforgeConfig) -> bool:
    """Whether any target or profile asks for components."""
    return any(t.component for t in config.targets.values()) or any(
        p.component for p in config.profile.values())


def lock(
    target: Annotated[str, typer.Argument(help="The Cargo target whose lock file to write.",
                                          show_default=False)],
    path: Annotated[Path, typer.Option("--project", "-p", help="Project directory.")] = Path(),
    runner: RunnerOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Resolve a Cargo target's dependencies and write its Cargo.lock with the toolchain's cargo
    (replacing the one there: a lock file that cargo cannot read, or none)."""
    from wasmforge.build.fetch import generate_lock
    from wasmforge.config.resolve import BuildFlags, resolve_settings

    console = command_console(json_output)
    root, config = _project(path)
    settings = resolve_settings(root, config, os.environ,
                                BuildFlags(runner=runner, targets=(target,)))
    chosen = _runner(settings.runner, root, config)
    try:
        written = generate_lock(root, config, settings, target, chosen, console)
    finally:
        chosen.close()
    console.info(f"wrote {written.relative_to(root)}: commit it")
    console.result({"target": target, "lock": str(written)})


def _project(path: Path) -> tuple[Path, WasmforgeConfig]:
    from wasmforge.config.load import find_config, load_config

    config_path = find_config(path)
    return config_path.parent.resolve(), load_config(config_path)


def _runner(name: str, root: Path, config: WasmforgeConfig) -> Runner:
    from wasmforge.runner.select import select_runner

    return select_runner(name, root, config, {"rust"})
