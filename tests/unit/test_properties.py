"""Property tests: whatever bytes arrive, the readers of untrusted input (modules, OCI layouts and
tars, wasmforge.toml, cache records and stamps) end in the project's own errors, never in anything
else (which the command line would report as an internal error, exit 1)."""

from __future__ import annotations

import contextlib
import io
import json
import tarfile
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wasmforge.cache.record import ActionRecord, DamagedEntry
from wasmforge.cache.stamp import Stamp
from wasmforge.errors import WasmforgeError
from wasmforge.wasm.module import MAGIC, parse_module

EXAMPLES = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# Module-shaped bytes: the magic and version, then anything (most of the parser's paths).
modules = st.one_of(st.binary(max_size=256),
                    st.binary(max_size=512).map(lambda rest: MAGIC + b"\x01\0\0\0" + rest))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


@EXAMPLES
@given(modules)
def test_the_module_parser_raises_only_its_own_errors(data: bytes) -> None:
    with contextlib.suppress(WasmforgeError):
        parse_module(data, "fuzz.wasm")


def _tar(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


layouts = st.fixed_dictionaries(
    {"oci-layout": st.one_of(st.just(b'{"imageLayoutVersion": "1.0.0"}'), st.binary(max_size=40)),
     "index.json": st.one_of(json_values.map(lambda v: json.dumps(v).encode()),
                             st.binary(max_size=80))},
    optional={"blobs/sha256/" + "a" * 64: st.binary(max_size=80)},
)


@EXAMPLES
@given(layouts, st.integers(min_value=0, max_value=4096))
def test_the_layout_tar_reader_raises_only_its_own_errors(
    entries: dict[str, bytes], cut: int
) -> None:
    from wasmforge.oci.layout import load_layout

    whole = _tar(entries)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "layout.tar"
        path.write_bytes(whole[: cut or None])  # whole, or cut short anywhere
        with contextlib.suppress(WasmforgeError):
            load_layout(path)


@EXAMPLES
@given(layouts)
def test_the_layout_dir_reader_raises_only_its_own_errors(entries: dict[str, bytes]) -> None:
    from wasmforge.oci.layout import load_layout

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for name, data in entries.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        with contextlib.suppress(WasmforgeError):
            load_layout(root)


tomls = st.one_of(
    st.text(max_size=200),
    st.dictionaries(st.sampled_from(["project", "build", "cache", "limits", "targets", "profile",
                                     "toolchains", "other"]), json_values, max_size=5)
    .map(lambda d: "\n".join(f"{k} = {json.dumps(v)}" for k, v in d.items())),
)


@EXAMPLES
@given(tomls)
def test_the_config_loader_raises_only_config_errors(text: str) -> None:
    from wasmforge.config.load import load_config

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "wasmforge.toml"
        path.write_text(text, encoding="utf-8")
        with contextlib.suppress(WasmforgeError):
            load_config(path)


@EXAMPLES
@given(st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode())))
def test_cache_records_and_stamps_never_crash(data: bytes) -> None:
    with contextlib.suppress(DamagedEntry):
        ActionRecord.from_bytes(data)
    assert Stamp.from_bytes(data) is None or isinstance(Stamp.from_bytes(data), Stamp)
