"""Building a toolchain image from its recipe through the Docker Engine API, streaming the output.

The build uses the host network (``network_mode="host"``): apt must reach the Debian mirror, and the
engines wasmforge supports may have no bridge network at all. The images' own containers run with
the network off. Failures of apt are recognised in the output and reported naming the package.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wasmforge.console import Console
from wasmforge.engine import engine_error_line
from wasmforge.errors import EngineUnavailableError, ToolchainError
from wasmforge.toolchains.recipe import Recipe

if TYPE_CHECKING:
    import docker

LABEL_PREFIX = "org.wasmforge.toolchain"
# The longest an image build may go without a word from the engine (seconds).
BUILD_SILENCE_SECONDS = 1800

# apt's messages for a pin it cannot satisfy, each with the package's name in group "pkg".
_APT_PACKAGE_ERRORS = (
    re.compile(r"E: Version '(?P<version>[^']+)' for '(?P<pkg>[^']+)' was not found"),
    re.compile(r"E: Unable to locate package (?P<pkg>\S+)"),
    re.compile(r"E: Package '(?P<pkg>[^']+)' has no installation candidate"),
    re.compile(r"E: Failed to fetch \S+/pool/\S+/(?P<pkg>[a-z0-9][a-z0-9+.-]+)_[^/\s]+\.deb\b"),
)
_APT_DEPENDENCY_ERROR = re.compile(r"^\s*(?P<pkg>[a-z0-9][a-z0-9+.-]+) : Depends: (?P<dep>.+)$")
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
_LAYER_LINE = re.compile(r"^ ---> ([0-9a-f]{12})$")
_APT_NETWORK_ERRORS = (
    "Temporary failure resolving",
    "Could not resolve",
    "Could not connect to",
    "Network is unreachable",
)


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    seconds: float


def build_image(
    client: docker.DockerClient,
    recipe: Recipe,
    tag: str,
    console: Console,
    *,
    buildargs: Mapping[str, str],
    labels: Mapping[str, str],
) -> BuildResult:
    """Build ``recipe`` as ``tag``; every output line goes to the console as ``<name> | line``."""
    from docker.errors import DockerException

    started = time.monotonic()
    console.info(f"{recipe.name} | building {tag} from {recipe.directory}")
    output = _BuildOutput(recipe, console)
    image_id: str | None = None
    try:
        stream = client.api.build(
            path=str(recipe.directory),
            tag=tag,
            buildargs=dict(buildargs),
            labels=dict(labels),
            network_mode="host",
            decode=True,
            rm=True,
            forcerm=True,
            pull=False,
            # A silent step of a recipe (a large download) may take a while, not forever.
            timeout=BUILD_SILENCE_SECONDS,
        )
        failure: ToolchainError | None = None
        for event in stream:
            if failure is not None:
                continue  # read the stream to its end, so its connection is released
            try:
                image_id = _handle_event(event, output) or image_id
            except ToolchainError as error:
                failure = error
        output.flush()
        if failure is not None:
            _remove_leftover_layer(client, output.lines)
            raise failure
    except DockerException as error:
        if _engine_gone(error):
            msg = f"the Docker engine went away while building {recipe.name}: {error}"
            raise EngineUnavailableError(
                msg, hint="start the Docker daemon and build again"
            ) from None
        msg_0 = f"{recipe.name}: image build failed: {engine_error_line(error)}"
        raise ToolchainError(msg_0) from None
    if image_id is None:
        # The classic builder reports only "Successfully built <short id>": ask for the full id.
        image_id = str(client.images.get(tag).id)
    return BuildResult(image_id=image_id, seconds=time.monotonic() - started)


class _BuildOutput:
    """Reassembles the build's output into whole lines, without colour codes.

    The classic builder sends stderr in colour (``\x1b[91m``) and in fragments ("E", ": ",
    "Version ..."), so lines are only known once their newline arrives.
    """

    def __init__(self, recipe: Recipe, console: Console) -> None:
        self.recipe = recipe
        self.console = console
        self.lines: list[str] = []
        self._pending = ""

    def feed(self, text: str) -> None:
        *complete, self._pending = (self._pending + _ANSI_ESCAPE.sub("", text)).split("\n")
        for line in complete:
            self._emit(line)

    def flush(self) -> None:
        if self._pending:
            self._emit(self._pending)
            self._pending = ""

    def _emit(self, line: str) -> None:
        line = line.rstrip()
        if line.strip():
            self.lines.append(line)
            del self.lines[:-200]  # the tail is all that error reporting needs
            self.console.info(f"{self.recipe.name} | {line}")


def _handle_event(event: Mapping[str, Any], output: _BuildOutput) -> str | None:
    """Print one build event; raise on an error event; return the image id if the event has it."""
    if "stream" in event:
        output.feed(str(event["stream"]))
    if "error" in event:
        output.flush()
        raise build_failure(output.recipe, str(event["error"]), output.lines)
    aux = event.get("aux")
    if isinstance(aux, dict) and isinstance(aux.get("ID"), str):
        return str(aux["ID"])
    return None


def build_failure(recipe: Recipe, error: str, output: Iterable[str]) -> ToolchainError:
    """The most useful one-line explanation of a failed build: apt's, naming the package, if any."""
    recipe_file = recipe.directory / "toolchain.toml"
    tail = list(output)
    for line in tail:
        for pattern in _APT_PACKAGE_ERRORS:
            match = pattern.search(line)
            if match:
                package = match["pkg"]
                pinned = recipe.packages.get(package)
                wanted = f"{package}={pinned}" if pinned else package
                msg = f"{recipe.name}: apt cannot install {wanted}: {line.strip()}"
                return ToolchainError(
                    msg,
                    hint=(
                        f"update the pin of {package} in {recipe_file} "
                        f"('apt-cache madison {package}' lists the versions the mirror has)"
                    ),
                )
    for line in tail:
        match = _APT_DEPENDENCY_ERROR.search(line)
        if match:
            msg = f"{recipe.name}: apt cannot install {match['pkg']}: it depends on {match['dep']}"
            return ToolchainError(msg, hint=f"the pins in {recipe_file} no longer fit together")
    for line in tail:
        if any(marker in line for marker in _APT_NETWORK_ERRORS):
            msg = f"{recipe.name}: apt cannot reach the Debian mirror: {line.strip()}"
            return ToolchainError(msg, hint="image builds need the Debian mirror (host network)")
    last = " ".join(error.split())
    return ToolchainError(
        f"{recipe.name}: image build failed: {last}",
        hint="the build output above shows the failing step",
    )


def _remove_leftover_layer(client: docker.DockerClient, lines: list[str]) -> None:
    """Remove the untagged image of the last step that worked: a failed build leaves no litter.

    Only an image with no tags is touched; the base or any other named image never is.
    """
    from docker.errors import DockerException

    layers = [match[1] for line in lines if (match := _LAYER_LINE.match(line))]
    if not layers:
        return
    with contextlib.suppress(DockerException):
        image = client.images.get(layers[-1])
        if not image.tags:
            client.images.remove(image.id)


def _engine_gone(error: BaseException) -> bool:
    text = str(error)
    return "Connection aborted" in text or "Connection refused" in text

