"""The one wrapper around the engine's containers, against a real engine and a toolchain image:
programs run in long-lived shells, their output streams while they run, their exit status and
environment are exact, threads run programs side by side, and nothing is left afterwards."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.build_support import docker_engine_answers
from tests.needs import need
from wasmforge.console import Console
from wasmforge.runner.container import ToolchainContainer

pytestmark = [pytest.mark.docker, pytest.mark.toolchain]


@pytest.fixture(scope="module")
def engine_and_image() -> Iterator[tuple[Any, str]]:
    need(docker_engine_answers(), "a Docker engine")
    from wasmforge.engine import docker_client
    from wasmforge.toolchains.images import ensure_image

    client = docker_client()
    image = ensure_image("wasi-sdk", None, Console(env={}), client=client)
    yield client, image.image_id
    client.close()


def _run(box: ToolchainContainer, argv: list[str], **env: str) -> tuple[int, bytes]:
    output: list[bytes] = []
    status = box.run(argv, cwd="/tmp", env=env, on_output=output.append)
    return status, b"".join(output)


def _labelled(client: Any, name: str) -> list[Any]:
    return list(client.containers.list(all=True, filters={"label": f"wasmforge.test={name}"}))


def test_programs_get_their_exit_status_output_and_environment(
    engine_and_image: tuple[Any, str],
) -> None:
    client, image = engine_and_image
    user = f"{os.getuid()}:{os.getgid()}"
    with ToolchainContainer(client, image, user=user,
                            labels={"wasmforge.test": "exact"}) as box:
        assert _run(box, ["sh", "-c", "printf 'no newline'; echo err >&2; exit 3"]) == (
            3, b"no newlineerr\n")
        assert _run(box, ["printenv", "QUOTED"], QUOTED="a b'c\"d $HOME") == (
            0, b"a b'c\"d $HOME\n")
        # One program's environment and working directory never reach the next.
        assert _run(box, ["sh", "-c", "echo ${QUOTED:-unset}; pwd"]) == (0, b"unset\n/tmp\n")
        status, said = _run(box, ["no-such-program"])
        assert status == 127
        assert b"no-such-program" in said
        # Output that looks like the shell's own end marker is the program's all the same.
        assert _run(box, ["sh", "-c", "printf 'wasmforge-done-'; echo 0"]) == (
            0, b"wasmforge-done-0\n")
        # A working directory that is not there stops the step before the program runs.
        output: list[bytes] = []
        status = box.run(["touch", "/tmp/ran-anyway"], cwd="/no/such/dir", env={"A": "1"},
                         on_output=output.append)
        assert status == 2
        assert b"/no/such/dir" in b"".join(output)
        assert _run(box, ["test", "-e", "/tmp/ran-anyway"])[0] == 1
        status, big = _run(box, ["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x"])
        assert (status, len(big)) == (0, 300000)
        # The box: no network, the invoking user.
        assert _run(box, ["id", "-u"]) == (0, f"{os.getuid()}\n".encode())
        status, _ = _run(box, ["sh", "-c", "cat /sys/class/net/eth0/address"])
        assert status != 0
    assert _labelled(client, "exact") == []


def test_output_streams_while_the_program_runs(engine_and_image: tuple[Any, str]) -> None:
    client, image = engine_and_image
    arrivals: list[tuple[float, bytes]] = []
    with ToolchainContainer(client, image, user="1000:1000") as box:
        started = time.monotonic()
        box.run(["sh", "-c", "echo first; sleep 2; echo second"], cwd="/tmp", env={},
                on_output=lambda chunk: arrivals.append((time.monotonic() - started, chunk)))
    first = next(at for at, chunk in arrivals if b"first" in chunk)
    last = arrivals[-1][0]
    assert first < 1.5 < last


def test_threads_run_programs_side_by_side(engine_and_image: tuple[Any, str]) -> None:
    client, image = engine_and_image
    with ToolchainContainer(client, image, user="1000:1000") as box:
        results: dict[int, tuple[int, bytes]] = {}

        def work(n: int) -> None:
            results[n] = _run(box, ["sh", "-c", f"sleep 1; echo {n}"])

        started = time.monotonic()
        threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    assert results == {n: (0, f"{n}\n".encode()) for n in range(3)}
    assert elapsed < 2.5  # three one-second programs at once, not one after another


def test_closing_ends_the_container_and_its_programs(engine_and_image: tuple[Any, str]) -> None:
    client, image = engine_and_image
    box = ToolchainContainer(client, image, user="1000:1000", labels={"wasmforge.test": "close"})
    box.start()
    outcome: list[BaseException] = []

    def long_program() -> None:
        try:
            box.run(["sleep", "60"], cwd="/tmp", env={}, on_output=lambda _: None)
        except BaseException as error:  # noqa: BLE001 - what the worker sees is the point
            outcome.append(error)

    worker = threading.Thread(target=long_program)
    worker.start()
    time.sleep(1)
    box.close(wait=True)
    worker.join(timeout=20)
    assert not worker.is_alive()
    assert [type(e) for e in outcome] == [KeyboardInterrupt]
    assert _labelled(client, "close") == []



def test_closing_shuts_a_busy_connection_and_leaves_closing_it_to_its_reader(
    engine_and_image: tuple[Any, str],
) -> None:
    # close() from another thread can land between a reader's poll.register() and its poll().
    # Were the socket closed there, its descriptor could be reused at once (the engine client's
    # next connection) and the poll() would wait on that one, forever. So close() only shuts a
    # busy connection: the poll wakes, and the reader closes the socket itself.
    client, image = engine_and_image
    box = ToolchainContainer(client, image, user="1000:1000", labels={"wasmforge.test": "between"})
    box.start()
    outcome: list[BaseException] = []
    descriptors: list[int] = []

    def close_from_the_output() -> None:
        busy = list(box._busy)  # the wrapper's own connections are what is checked
        box.close()
        descriptors.extend(shell._connection._sock.fileno() for shell in busy)

    def program() -> None:
        try:
            box.run(["sh", "-c", "echo ready; sleep 60"], cwd="/tmp", env={},
                    on_output=lambda _: close_from_the_output())
        except BaseException as error:  # noqa: BLE001 - what the worker sees is the point
            outcome.append(error)

    worker = threading.Thread(target=program, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert [type(e) for e in outcome] == [KeyboardInterrupt]
    assert len(descriptors) == 1
    assert descriptors[0] >= 0  # still open when close() returned: shut, not closed
    box.close(wait=True)
    assert _labelled(client, "between") == []
