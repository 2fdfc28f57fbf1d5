"""Running short commands inside a toolchain image: hermetic (network off), as a non-root user.

This is how ``toolchains verify`` checks tools and how the lock reads package versions back with
dpkg-query. Each command gets its own container, removed afterwards whatever happens.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wasmforge.errors import ToolchainError

if TYPE_CHECKING:
    import docker

# Builds run as the invoking user's uid, which the image does not know: so do the checks.
PROBE_USER = "1000:1000"
PROBE_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class ProbeResult:
    exit_code: int
    output: str  # stdout and stderr, interleaved as the command wrote them


def run_in_image(
    client: docker.DockerClient,
    image: str,
    command: Sequence[str],
    *,
    user: str = PROBE_USER,
    environment: Mapping[str, str] | None = None,
) -> ProbeResult:
    """Run ``command`` in ``image`` with ``--network none`` as ``user`` and collect its output."""
    from docker.errors import DockerException

    container = None
    try:
        container = client.containers.create(
            image,
            command=list(command),
            user=user,
            network_mode="none",
            environment=dict(environment or {}),
            working_dir="/tmp",
            entrypoint=[],
        )
        try:
            container.start()
        except DockerException as error:
            if "executable file not found" in str(error):
                # What a shell would say: the tool is not in this image.
                return ProbeResult(exit_code=127, output=f"{command[0]}: command not found")
            raise
        status = container.wait(timeout=PROBE_TIMEOUT_SECONDS)
        output = container.logs(stdout=True, stderr=True).decode("utf-8", errors="replace")
        return ProbeResult(exit_code=int(status.get("StatusCode", -1)), output=output)
    except DockerException as error:
        text = " ".join(str(getattr(error, "explanation", None) or error).split())
        msg = f"{image}: cannot run {command[0]!r}: {text[:300]}"
        raise ToolchainError(msg) from None
    finally:
        if container is not None:
            # Already gone is fine: there is nothing left to clean up.
            with contextlib.suppress(DockerException):
                container.remove(force=True)


def installed_packages(client: docker.DockerClient, image: str) -> dict[str, str]:
    """Every installed Debian package of ``image`` and its version, read with dpkg-query."""
    result = run_in_image(
        client, image, ["dpkg-query", "-W", "-f", "${db:Status-Abbrev}\t${Package}\t${Version}\n"]
    )
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
