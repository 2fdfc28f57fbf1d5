"""The ``docker`` runner: each step in its toolchain's pinned image, hermetic, through the Engine API.

A step's container has no network, runs as the invoking uid:gid (so files it writes stay the user's),
sees the project read-only at ``/src`` and exactly one writable dir at ``/out``, and is removed
whatever happens: success, failure, or Ctrl-C (the executor calls ``cancellation.stop_all``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wasmforge.console import get_console
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
)
from wasmforge.runner.local import step_failed

if TYPE_CHECKING:
    from wasmforge.config.model import WasmforgeConfig
    from wasmforge.toolchains.images import ToolchainImage

SRC_MOUNT = "/src"
OUT_MOUNT = "/out"
# Where the optimiser's working dir is mounted for its wasm-opt / wasm-validate runs.
WORK_MOUNT = "/work"
CONTAINER_LABEL = "wasmforge"

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
    mounts: Sequence[tuple[str, str, str]], user: str,
) -> str:
    """The ``docker run`` command that does what the runner does, to copy and rerun by hand."""
    words = ["docker", "run", "--rm", "--network", "none", "--user", user,
             "--label", f"{CONTAINER_LABEL}=1"]
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
        self._images_lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            from wasmforge.engine import docker_client

            self._client = docker_client()
        return self._client

    def layout(self, scratch_root: Path) -> Layout:
        del scratch_root  # every target's own dir is mounted at the same place
        return Layout(src=SRC_MOUNT, out_base=OUT_MOUNT, per_target=False)

    def prepare(self, toolchains: Iterable[str]) -> None:
        """Build (or find) each toolchain image once, before targets run in parallel."""
        self.client  # noqa: B018 - fail early, with the engine's hint, if no engine answers
        for kind in sorted(set(toolchains)):
            self.image(kind)

    def image(self, kind: str) -> ToolchainImage:
        with self._images_lock:
            if kind not in self._images:
                from wasmforge.toolchains.images import ensure_image

                self._images[kind] = ensure_image(kind, self.config, get_console(),
                                                  root=self.root, client=self.client)
            return self._images[kind]

    def toolchain_id(self, toolchain: str) -> str | None:
        return str(self.image(toolchain).image_id)

    def run_step(
        self, step: Step, *, target: str, toolchain: str, scratch: Path, layout: Layout,
        epoch: int, sink: LineSink,
    ) -> None:
        prepare_scratch(scratch, step)
        image = self.image(toolchain)
        env = step_environment(layout.out(target), epoch, dict(image.env), dict(step.env))
        mounts = [(str(self.root), SRC_MOUNT, "ro"), (str(scratch), OUT_MOUNT, "rw")]
        status = self._run(
            image, step.argv, cwd=step.cwd, env=env, mounts=mounts, target=target,
            on_line=prefixed(target, sink, partial(show_project_paths, project=str(self.root))),
        )
        if status != 0:
            raise step_failed(target, step, status)

    def invoker(self, toolchain: str, *, target: str, epoch: int) -> ToolInvoker:
        image = self.image(toolchain)

        def invoke(argv: Sequence[str], cwd: Path) -> None:
            lines: list[str] = []
            # The optimiser's dir holds only its files: home and temp go to the container's /tmp.
            env = {**image.env, "SOURCE_DATE_EPOCH": str(epoch), "HOME": "/tmp", "TMPDIR": "/tmp"}
            status = self._run(
                image, argv, cwd=WORK_MOUNT, env=env, mounts=[(str(cwd), WORK_MOUNT, "rw")],
                target=target, on_line=lines.append,
            )
            if status != 0:
                raise tool_failure(argv[0], status, "\n".join(lines).encode())

        return invoke

    def _run(
        self, image: ToolchainImage, argv: Sequence[str], *, cwd: str, env: Mapping[str, str],
        mounts: Sequence[tuple[str, str, str]], target: str, on_line: Callable[[str], None],
    ) -> int:
        """Run one container to the end, streaming its output; always remove it. Its exit status."""
        from docker.errors import DockerException, NotFound
        from requests.exceptions import RequestException

        user = user_spec()
        get_console().debug(f"[{target}] + " + docker_run_line(
            image.reference, argv, cwd=cwd, env=env, mounts=mounts, user=user))
        name = f"wasmforge-{target}-{uuid.uuid4().hex[:10]}"
        splitter = LineSplitter(on_line)
        container: Any = None
        try:
            if self.cancellation.cancelled:
                raise KeyboardInterrupt
            container = self.client.containers.create(
                image.image_id, command=list(argv), name=name, working_dir=cwd, user=user,
                network_mode="none", environment=dict(env),
                volumes={host: {"bind": inside, "mode": mode} for host, inside, mode in mounts},
                labels={CONTAINER_LABEL: "1", f"{CONTAINER_LABEL}.target": target},
                detach=True,
            )
            self.cancellation.add(name, lambda: _remove(container))
            if self.cancellation.cancelled:  # Ctrl-C came while the container was being created
                raise KeyboardInterrupt
            container.start()
            for chunk in container.logs(stream=True, follow=True):
                splitter.feed(chunk)
            splitter.close()
            status = int(container.wait()["StatusCode"])
        except NotFound as error:
            if self.cancellation.cancelled:
                raise KeyboardInterrupt from None
            msg = f"target {target!r}: container vanished: {error.explanation or error}"
            raise ToolchainError(msg) from None
        except (DockerException, RequestException) as error:
            if self.cancellation.cancelled:
                raise KeyboardInterrupt from None
            msg = f"the Docker engine failed while building target {target!r}: {error}"
            raise EngineUnavailableError(
                msg, hint="check that dockerd is running ('docker info'), or use --runner local"
            ) from None
        finally:
            self.cancellation.discard(name)
            if container is not None:
                _remove(container)
        return status


def _remove(container: Any) -> None:
    """Kill and remove a container; quietly, since it may already be gone."""
    from docker.errors import DockerException
    from requests.exceptions import RequestException

    with contextlib.suppress(DockerException, RequestException):
        container.remove(force=True)
