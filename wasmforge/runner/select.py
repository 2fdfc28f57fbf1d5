"""``--runner auto|docker|local``: which runner a build uses."""

from __future__ import annotations

import shutil
from pathlib import Path

from wasmforge.config.model import WasmforgeConfig
from wasmforge.console import get_console
from wasmforge.errors import EngineUnavailableError, ToolNotFoundError
from wasmforge.kinds import driver_of
from wasmforge.runner.base import Runner
from wasmforge.runner.docker import DockerRunner
from wasmforge.runner.local import LocalRunner, find_program


def select_runner(
    name: str, root: Path, config: WasmforgeConfig, toolchains: set[str]
) -> Runner:
    """``docker`` or ``local`` as asked; ``auto``: docker if an engine answers, else local if the
    tools are on PATH, else the engine's error (which says what to do).

    ``docker`` connects to the engine only when a step has to run: a build that the cache answers
    needs no engine at all."""
    if name == "local":
        return LocalRunner(root)
    if name == "docker":
        return DockerRunner(root, config)
    try:
        runner = DockerRunner(root, config)
        runner.client  # noqa: B018
    except EngineUnavailableError as engine_error:
        if _host_has_tools(toolchains):
            get_console().info("no Docker engine answers: building with host tools (--runner local)")
            return LocalRunner(root)
        raise engine_error from None
    return runner


def _host_has_tools(toolchains: set[str]) -> bool:
    for kind in toolchains:
        driver = driver_of(kind)
        if driver is None:
            continue
        try:
            find_program(driver)
        except ToolNotFoundError:
            return False
    return shutil.which("sh") is not None
