"""``--runner auto|docker|local``: which runner a build uses."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from wasmforge.config.model import WasmforgeConfig
from wasmforge.console import get_console
from wasmforge.errors import EngineUnavailableError, ToolNotFoundError
from wasmforge.kinds import driver_of
from wasmforge.runner.base import Runner
from wasmforge.runner.docker import DockerRunner
from wasmforge.runner.local import LocalRunner, find_program


def select_runner(
    name: str, root: Path, config: WasmforgeConfig, toolchains: set[str],
    env: Mapping[str, str] | None = None, *, doing: str = "building",
) -> Runner:
    """``docker`` or ``local`` as asked; ``auto``: docker if an engine answers, else the host's
    tools if they pass the toolchains' own version checks (said loudly: the build is no longer
    hermetic), else the engine's error. Under ``CI=true``, ``auto`` never leaves the containers:
    a CI job that means to build with host tools says ``--runner local``.

    ``docker`` connects to the engine only when a step has to run: a build that the cache answers
    needs no engine at all. ``doing`` says what the fallback's warning is about (``optimising``)."""
    environment = os.environ if env is None else env
    if name == "local":
        return LocalRunner(root)
    if name == "docker":
        return DockerRunner(root, config)
    try:
        runner = DockerRunner(root, config)
        runner.client  # noqa: B018
    except EngineUnavailableError as engine_error:
        if environment.get("CI", "").lower() in ("1", "true", "yes"):
            msg = f"{engine_error.message} (CI=true: runner auto does not fall back to host tools)"
            raise EngineUnavailableError(
                msg, hint="start the Docker engine, or build with the host's tools: "
                "--runner local") from None
        problems = _host_problems(toolchains, config, root)
        if problems:
            msg = f"{engine_error.message}; and the host's tools do not pass the toolchain " \
                  f"checks: {problems[0]}"
            raise EngineUnavailableError(msg, hint=engine_error.hint) from None
        checked = ", which pass the toolchain checks" if toolchains else ""
        get_console().warn(
            f"no Docker engine answers: {doing} with the host's tools{checked}, NOT in the pinned "
            "containers (say --runner docker to insist on them)")
        return LocalRunner(root)
    return runner


def _host_problems(toolchains: set[str], config: WasmforgeConfig, root: Path) -> list[str]:
    """Why the host's tools cannot stand in for the toolchain images: each version check of the
    recipes (``[[verify]]`` entries that name a program directly) run on the host."""
    from wasmforge.toolchains.images import resolve_source

    problems = []
    for kind in sorted(toolchains):
        if driver_of(kind) is None:
            continue
        for check in resolve_source(kind, config, root).checks:
            if check.command[0] == "sh":
                continue  # build smoke tests of the image, writing into its /tmp
            try:
                program = find_program(check.command[0])
                done = subprocess.run([program, *check.command[1:]], capture_output=True,
                                      text=True, check=False, timeout=60,
                                      stdin=subprocess.DEVNULL)
            except ToolNotFoundError as missing:
                problems.append(missing.message)
                continue
            except (OSError, subprocess.TimeoutExpired) as error:
                problems.append(f"{check.command[0]}: {error}")
                continue
            if done.returncode != 0 or check.expect not in done.stdout + done.stderr:
                seen = (done.stdout + done.stderr).strip().splitlines()
                problems.append(f"{kind}: {' '.join(check.command)} printed "
                                f"{seen[0] if seen else 'nothing'!r}, expected {check.expect!r}")
    return problems
