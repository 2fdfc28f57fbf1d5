"""Who made a container or a scratch dir, and whether that process is gone: the reaper.

Every container wasmforge starts carries its owner in labels, and every build's scratch dir an
``owner`` file: the process id, the process's start time (pids are reused), the boot id (pids
restart at boot) and the host name (an engine on another machine serves other hosts' processes).
A build starts by removing what owners that are gone left behind: a container that a ``kill -9``
caught between its creation and its start (the ones that started end by themselves, see
``container``), a scratch dir that nobody removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LABEL_PREFIX = "wasmforge.owner"
OWNER_FILE = "owner"
SCRATCH_PREFIX = ".wasmforge-build-"
# Scratch dirs with no readable owner are removed only when this old (seconds).
UNOWNED_AGE = 24 * 3600


@dataclass(frozen=True)
class Owner:
    pid: int
    started: str  # the process's start time, in clock ticks since boot
    boot: str
    host: str

    @classmethod
    def current(cls) -> Owner:
        return cls(os.getpid(), _start_time(os.getpid()) or "", _boot_id(), socket.gethostname())

    def labels(self) -> dict[str, str]:
        return {f"{LABEL_PREFIX}.pid": str(self.pid), f"{LABEL_PREFIX}.started": self.started,
                f"{LABEL_PREFIX}.boot": self.boot, f"{LABEL_PREFIX}.host": self.host}

    @classmethod
    def from_labels(cls, labels: Mapping[str, str]) -> Owner | None:
        try:
            return cls(int(labels[f"{LABEL_PREFIX}.pid"]), labels[f"{LABEL_PREFIX}.started"],
                       labels[f"{LABEL_PREFIX}.boot"], labels[f"{LABEL_PREFIX}.host"])
        except (KeyError, ValueError):
            return None

    def text(self) -> str:
        return f"{self.pid} {self.started} {self.boot} {self.host}\n"

    @classmethod
    def from_text(cls, text: str) -> Owner | None:
        parts = text.split()
        if len(parts) != 4 or not parts[0].isdigit():
            return None
        return cls(int(parts[0]), parts[1], parts[2], parts[3])

    def is_gone(self) -> bool | None:
        """True if that process no longer runs; None if this machine cannot tell (another host)."""
        here = Owner.current()
        if self.host != here.host:
            return None
        if self.boot != here.boot:
            return True  # the machine restarted since
        return _start_time(self.pid) != self.started


def reap_scratch(out_dir: Path) -> int:
    """Remove the scratch dirs in ``out_dir`` whose builds are gone; how many."""
    removed = 0
    with contextlib.suppress(OSError):
        for path in out_dir.iterdir():
            if not path.name.startswith(SCRATCH_PREFIX) or not path.is_dir():
                continue
            try:
                owner = Owner.from_text((path / OWNER_FILE).read_text(encoding="utf-8"))
            except OSError:
                owner = None
            gone = owner.is_gone() if owner else _older_than(path, UNOWNED_AGE)
            if gone:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
    return removed


def reap_containers(client: Any) -> int:
    """Remove wasmforge containers whose owners are gone; how many."""
    from docker.errors import DockerException
    from requests.exceptions import RequestException

    removed = 0
    try:
        listed = client.api.containers(all=True, filters={"label": "wasmforge=1"})
    except (DockerException, RequestException):
        return 0
    for container in listed:
        owner = Owner.from_labels(container.get("Labels") or {})
        if owner is not None and owner.is_gone():
            with contextlib.suppress(DockerException, RequestException):
                client.api.remove_container(container["Id"], force=True)
                removed += 1
    return removed


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat: when the process started (None: no such process)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from its end.
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return "unknown"


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > seconds
    except OSError:
        return False
