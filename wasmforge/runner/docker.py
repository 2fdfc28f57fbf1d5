"""The ``docker`` runner: every step in its toolchain's pinned image, hermetic, through the Engine API.

A build starts at most one container per toolchain (per pass of ``--check-reproducible``), and only
when a step of that toolchain has to run: a build served from the cache starts none. Each step and
each optimiser tool is one ``docker exec`` in it. The container has no network (a dependency fetch
runs apart, in a container with the host's), runs as the invoking
uid:gid (so files it writes stay the user's), sees the project read-only at ``/src`` and exactly one
writable dir, the build's scratch dir, at ``/out`` (each target works in ``/out/<target>``), and is
gone when the build ends, fails, or is interrupted (see ``container``).
"""

from __future__ import annotations

import os
import re
import shlex
import threading
import uuid
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wasmforge.build.action import Action
from wasmforge.config.resolve import Limits
from wasmforge.console import get_console
from wasmforge.engine import ENGINE_HINT
from wasmforge.errors import EngineUnavailableError, ToolchainError
from wasmforge.optimize.invoke import ToolInvoker, tool_failure
from wasmforge.runner.base import (
    Layout,
    LineSink,
    LineSplitter,
    Runner,
    Step,
    prefixed,
    prepare_scratch,
    step_environment,
    thread_limits,
)
from wasmforge.runner.container import CONTAINER_LABEL, Mount, StepTimedOut, ToolchainContainer
from wasmforge.runner.local import step_failed

if TYPE_CHECKING:
    from wasmforge.config.model import WasmforgeConfig
    from wasmforge.toolchains.images import ToolchainImage

SRC_MOUNT = "/src"
OUT_MOUNT = "/out"
# A fetch's writable dir, and the dependency store as builds see it (read-only).
FETCH_MOUNT = "/fetch"
DEPS_MOUNT = "/deps"

# Compiler messages name files as the container sees them (/src/main.c); show them relative to the
# project, as the user's editor and terminal know them.
_SRC_PREFIX = re.compile(rf"(?<![\w./-]){re.escape(SRC_MOUNT)}/")


def show_project_paths(line: str, project: str = "") -> str:
    """``line`` with container paths of the project's files written as host paths: ``project`` is
    the project's directory, so messages read as the local runner's do, and CI annotations
    (made relative to the workspace) point at the real file. Without it: project-relative."""
    prefix = f"{project}/" if project else ""
    return _SRC_PREFIX.sub(lambda _: prefix, line)


def user_spec() -> str:
    return f"{os.getuid()}:{os.getgid()}"


def docker_run_line(
    image: str, argv: Sequence[str], *, cwd: str, env: Mapping[str, str],
    mounts: Sequence[tuple[str, str, str]], user: str, limits: Limits | None = None,
    network: bool = False,
) -> str:
    """The ``docker run`` command that does what the runner does, to copy and rerun by hand."""
    limits = limits or Limits()
    words = ["docker", "run", "--rm", "--network", "host" if network else "none", "--user", user,
             "--label", f"{CONTAINER_LABEL}=1", "--read-only", "--tmpfs", "/tmp",
             "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
    if limits.memory:
        words += ["--memory", str(limits.memory), "--memory-swap", str(limits.memory)]
    if limits.pids:
        words += ["--pids-limit", str(limits.pids)]
    if limits.cpus:
        words += ["--cpus", str(limits.cpus)]
    for host, container, mode in mounts:
        words += ["-v", f"{host}:{container}:{mode}"]
    words += ["-w", cwd]
    for key in sorted(env):
        words += ["-e", f"{key}={env[key]}"]
    words += [image, *argv]
    return shlex.join(words)


class DockerRunner(Runner):
    name = "docker"

    def __init__(self, root: Path, config: WasmforgeConfig, client: Any | None = None) -> None:
        super().__init__()
        self.root = root
        self.config = config
        self._client = client
        self._images: dict[str, ToolchainImage] = {}
        self._identities: dict[str, str] = {}
        self._images_lock = threading.Lock()
        # Apart from the images': a key must not wait for another toolchain's image to build.
        self._identities_lock = threading.Lock()
        # One container per (toolchain, scratch root), started on first use.
        self._containers: dict[tuple[str, Path], ToolchainContainer] = {}
        self._container_locks: dict[tuple[str, Path], threading.Lock] = {}
        self._containers_lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            from wasmforge.engine import docker_client

            self._client = docker_client()
            # Before the first container of this build: what killed builds left behind goes.
            from wasmforge.runner.owner import reap_containers

            reap_containers(self._client)
        return self._client

    def layout(self, scratch_root: Path) -> Layout:
        del scratch_root  # the scratch root is mounted at /out whatever its host path
        return Layout(src=SRC_MOUNT, out_base=OUT_MOUNT)

    def identity(self, action: Action) -> str:
        with self._identities_lock:
            if action.toolchain not in self._identities:
                from wasmforge.toolchains.images import identity

                self._identities[action.toolchain] = identity(action.toolchain, self.config,
                                                              self.root)
            return self._identities[action.toolchain]

    def image(self, kind: str) -> ToolchainImage:
        from docker.errors import DockerException
        from requests.exceptions import RequestException

        with self._images_lock:
            if kind not in self._images:
                from wasmforge.toolchains.images import ensure_image

                try:
                    self._images[kind] = ensure_image(kind, self.config, get_console(),
                                                      root=self.root, client=self.client)
                except (DockerException, RequestException) as error:
                    msg = f"the Docker engine failed while finding the {kind} image: {error}"
                    raise EngineUnavailableError(msg, hint=ENGINE_HINT) from None
            return self._images[kind]

    def toolchain_id(self, toolchain: str) -> str | None:
        return str(self.image(toolchain).image_id)

    def run_step(
        self, step: Step, *, target: str, toolchain: str, scratch: Path, layout: Layout,
        epoch: int, sink: LineSink,
    ) -> None:
        prepare_scratch(scratch, step)
        image = self.image(toolchain)
        box = self._container(toolchain, scratch.parent)
        env = step_environment(layout.out(target), epoch, dict(image.env), dict(step.env),
                               threads=self.tool_threads)
        self._run_in(box, image, step, target, env, sink)

    def fetch_layout(self, workdir: Path) -> Layout:
        del workdir  # mounted at FETCH_MOUNT whatever its host path
        return Layout(src=SRC_MOUNT, out_base=FETCH_MOUNT)

    def run_fetch(
        self, step: Step, *, target: str, toolchain: str, workdir: Path, env: Mapping[str, str],
        sink: LineSink,
    ) -> None:
        """In a container of its own, the build's box but for the host's network: the only way
        out of an engine started with --bridge=none. Nothing but ``workdir`` is writable."""
        image = self.image(toolchain)
        if self.cancellation.cancelled:
            raise KeyboardInterrupt
        box = ToolchainContainer(
            self.client, image.image_id, user=user_spec(), limits=self.limits, network=True,
            mounts=[Mount(str(self.root), SRC_MOUNT, read_only=True),
                    Mount(str(workdir), FETCH_MOUNT, read_only=False)],
            labels={f"{CONTAINER_LABEL}.toolchain": toolchain,
                    f"{CONTAINER_LABEL}.project": str(self.root),
                    f"{CONTAINER_LABEL}.pid": str(os.getpid())},
            name=f"wasmforge-fetch-{os.getpid()}-{uuid.uuid4().hex[:8]}",
        )
        stop_key = f"fetch:{target}:{workdir}"
        self.cancellation.add(stop_key, box.close)
        try:
            box.start()
            full_env = {**image.env, "HOME": "/tmp", "TMPDIR": "/tmp", **env, **dict(step.env)}
            self._run_in(box, image, step, target, full_env, sink)
        finally:
            self.cancellation.discard(stop_key)
            box.close(wait=True)

    def dependency_path(self, entry: Path) -> str:
        assert self.dependency_store is not None
        return f"{DEPS_MOUNT}/{entry.relative_to(self.dependency_store).as_posix()}"

    def _run_in(
        self, box: ToolchainContainer, image: ToolchainImage, step: Step, target: str,
        env: Mapping[str, str], sink: LineSink,
    ) -> None:
        self._log(target, image, box, step.argv, step.cwd, env)
        splitter = LineSplitter(
            prefixed(target, sink, partial(show_project_paths, project=str(self.root))))
        try:
            status = box.run(step.argv, cwd=step.cwd, env=env, on_output=splitter.feed)
        except StepTimedOut as timed_out:
            splitter.close()
            msg = f"target {target!r}: {step.description}: {timed_out.message}"
            raise ToolchainError(msg, hint="raise [limits] step-timeout if it needs longer") \
                from None
        splitter.close()
        if status != 0:
            raise step_failed(target, step, status)

    def invoker(self, toolchain: str, *, target: str, scratch: Path, epoch: int) -> ToolInvoker:
        image = self.image(toolchain)
        box = self._container(toolchain, scratch.parent)

        def invoke(argv: Sequence[str], cwd: Path) -> None:
            inside = f"{OUT_MOUNT}/{cwd.relative_to(scratch.parent).as_posix()}"
            # The optimiser's dir holds only its files: home and temp go to the container's /tmp.
            env = {**image.env, "SOURCE_DATE_EPOCH": str(epoch), "HOME": "/tmp", "TMPDIR": "/tmp",
                   **thread_limits(self.tool_threads)}
            self._log(target, image, box, argv, inside, env)
            output: list[bytes] = []
            status = box.run(argv, cwd=inside, env=env, on_output=output.append)
            if status != 0:
                raise tool_failure(argv[0], status, b"".join(output))

        return invoke

    def close(self, *, wait: bool = True) -> None:
        """End every container this runner started; with ``wait``, until the engine removed them
        (without, the engine removes them while wasmforge finishes its own work)."""
        with self._containers_lock:
            boxes = list(self._containers.values())
        for box in boxes:
            box.close(wait=wait)

    def _container(self, toolchain: str, scratch_root: Path) -> ToolchainContainer:
        key = (toolchain, scratch_root)
        with self._containers_lock:
            lock = self._container_locks.setdefault(key, threading.Lock())
        with lock:  # one start per toolchain even when several targets need it at once
            with self._containers_lock:
                box = self._containers.get(key)
            if box is not None:
                return box
            if self.cancellation.cancelled:
                raise KeyboardInterrupt
            image = self.image(toolchain)
            mounts = [Mount(str(self.root), SRC_MOUNT, read_only=True),
                      Mount(str(scratch_root), OUT_MOUNT, read_only=False)]
            if self.dependency_store is not None:
                mounts.append(Mount(str(self.dependency_store), DEPS_MOUNT, read_only=True))
            box = ToolchainContainer(
                self.client, image.image_id, user=user_spec(), limits=self.limits,
                mounts=mounts,
                labels={f"{CONTAINER_LABEL}.toolchain": toolchain,
                        f"{CONTAINER_LABEL}.project": str(self.root),
                        f"{CONTAINER_LABEL}.pid": str(os.getpid())},
                name=f"wasmforge-{toolchain}-{os.getpid()}-{uuid.uuid4().hex[:8]}",
            )
            self.cancellation.add(f"container:{toolchain}:{scratch_root}", box.close)
            box.start()
            with self._containers_lock:
                self._containers[key] = box
            return box

    def _log(
        self, target: str, image: ToolchainImage, box: ToolchainContainer, argv: Sequence[str],
        cwd: str, env: Mapping[str, str],
    ) -> None:
        console = get_console()
        if console.verbose:
            mounts = [(m.host, m.container, m.mode) for m in box.mounts]
            console.debug(f"[{target}] + " + docker_run_line(
                image.reference, argv, cwd=cwd, env=env, mounts=mounts, user=box.user,
                limits=box.limits, network=box.network))

