"""Running short commands inside a toolchain image: hermetic (network off), as a non-root user.

This is how ``toolchains verify`` checks tools and how the lock reads package versions back with
dpkg-query. A :class:`ImageProbe` is one container (see ``wasmforge.runner.container``) in which
each command is one exec; the container is gone when the block ends, whatever happens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

from wasmforge.errors import EngineUnavailableError, ToolchainError
from wasmforge.runner.container import ToolchainContainer

if TYPE_CHECKING:
    import docker

# Builds run as the invoking user's uid, which the image does not know: so do the checks.
PROBE_USER = "1000:1000"


@dataclass(frozen=True)
class ProbeResult:
    exit_code: int
    output: str  # stdout and stderr, interleaved as the command wrote them


class ImageProbe:
    """``with ImageProbe(client, image) as probe: probe.run([...])``."""

    def __init__(self, client: docker.DockerClient, image: str, *, user: str = PROBE_USER) -> None:
        self.image = image
        self._box = ToolchainContainer(client, image, user=user)

    def __enter__(self) -> Self:
        try:
            self._box.start()
        except EngineUnavailableError as error:
            msg = f"{self.image}: cannot run commands in it: {error.message}"
            raise ToolchainError(msg) from None
        return self

    def __exit__(self, *exc: object) -> None:
        self._box.close(wait=True)

    def run(self, command: Sequence[str], environment: Mapping[str, str] | None = None
            ) -> ProbeResult:
        """Run ``command`` with ``--network none`` as the probe's user and collect its output."""
        output: list[bytes] = []
        try:
            code = self._box.run(command, cwd="/tmp", env=dict(environment or {}),
                                 on_output=output.append)
        except EngineUnavailableError as error:
            msg = f"{self.image}: cannot run {command[0]!r}: {error.message}"
            raise ToolchainError(msg) from None
        text = b"".join(output).decode("utf-8", errors="replace")
        if code == 127:  # the shell, or the deadline's wrapper, found no such program
            text = f"{command[0]}: command not found"
        return ProbeResult(exit_code=code, output=text)


def installed_packages(probe: ImageProbe) -> dict[str, str]:
    """Every installed Debian package of the probed image and its version, read with dpkg-query."""
    image = probe.image
    result = probe.run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev}\t${Package}\t${Version}\n"])
    if result.exit_code != 0:
        msg = f"{image}: dpkg-query failed: {result.output.strip()[-200:]}"
        raise ToolchainError(msg)
    packages: dict[str, str] = {}
    for line in result.output.splitlines():
        parts = line.split("\t")
        # "ii " marks installed packages; removed ones leave config-files ("rc") behind.
        if len(parts) == 3 and parts[0].startswith("ii"):
            packages[parts[1]] = parts[2]
    return dict(sorted(packages.items()))
