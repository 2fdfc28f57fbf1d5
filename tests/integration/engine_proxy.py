"""A unix-socket proxy in front of the Docker engine, run as a process of its own, so that a test
can freeze "the engine" with SIGSTOP without freezing the real one.

    python -m tests.integration.engine_proxy LISTEN_SOCKET UPSTREAM_SOCKET
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from pathlib import Path


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    for end in (source, sink):
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)


def _serve(client: socket.socket, upstream_path: str) -> None:
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(upstream_path)
    except OSError:
        client.close()
        return
    threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
    _pipe(upstream, client)


def main(listen: str, upstream: str) -> None:
    Path(listen).unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(listen)
    server.listen(64)
    print("ready", flush=True)
    while True:
        client, _ = server.accept()
        threading.Thread(target=_serve, args=(client, upstream), daemon=True).start()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
