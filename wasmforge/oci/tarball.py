"""Tar archives whose bytes depend only on their contents and one timestamp.

Entries are sorted by name; owner, group and their names are fixed (0, 0, empty); mtime is the
build's SOURCE_DATE_EPOCH; PAX format, which adds no extended headers for the short ASCII names
written here (and only content-derived ones for long names), so no atime/ctime ever appears.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class TarEntry:
    name: str
    data: bytes | None  # None for a directory
    mode: int


def deterministic_tar(entries: Iterable[TarEntry], *, mtime: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for entry in sorted(entries, key=lambda e: e.name):
            info = tarfile.TarInfo(entry.name)
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = entry.mode
            if entry.data is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            else:
                info.size = len(entry.data)
                archive.addfile(info, io.BytesIO(entry.data))
    return buffer.getvalue()
