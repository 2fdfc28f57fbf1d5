"""The bad-input matrix: hostile but realistic inputs through the real entry point. Exit 1 is for
bugs only, so no case may end with it (nor with a traceback); each must say what is wrong in one
line and exit with its documented code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.oci_samples import HELLO_WAT, assemble
from tests.tmpfs_support import small_tmpfs
from wasmforge.component.componentize import componentize


@dataclass(frozen=True)
class Case:
    name: str
    args: Callable[[Path], list[str]]  # the command line, given the case's directory
    code: int  # the documented exit code
    said: str  # what the error line must say


def _files(work: Path) -> None:
    hello = assemble(HELLO_WAT, work, "hello")
    component = componentize(hello, work / "component.wasm").output  # the adapter: npm registry
    whole_component = component.read_bytes()
    (work / "cut-component.wasm").write_bytes(whole_component[: len(whole_component) // 2])
    (work / "garbage.wasm").write_bytes(b"\0asm\x01\0\0\0\x01\xff\xff")
    (work / "text.wasm").write_text("not a module at all")
    (work / "nul.wat").write_bytes(b"(module\n  (func)\x00)\n")
    (work / "dir.wasm").mkdir()
    packaged = work / "pkg"
    subprocess.run([sys.executable, "-m", "wasmforge", "package", str(hello), "-o", str(packaged),
                    "--tag", "x/hello:1"], check=True, capture_output=True)
    whole = (packaged / "image.tar").read_bytes()
    (work / "cut.tar").write_bytes(whole[: len(whole) // 2])
    (work / "junk.tar").write_bytes(b"x" * 2048)
    project = work / "project"
    project.mkdir()
    (project / "wasmforge.toml").write_text(
        '[project]\nname = "p"\n[targets.t]\nkind = "wat"\nsource = "hello.wat"\n')
    shutil.copy(work / "hello.wat", project / "hello.wat")
    (work / "broken-config").mkdir()
    (work / "broken-config" / "wasmforge.toml").write_text("[project\nname = 1\n")


CASES = [
    Case("run a directory", lambda w: ["run", str(w / "dir.wasm")], 2, "not an OCI image layout"),
    Case("run garbage", lambda w: ["run", str(w / "garbage.wasm")], 2, "garbage.wasm"),
    Case("run text as a module", lambda w: ["run", str(w / "text.wasm")], 2, "text.wasm"),
    Case("run a truncated tar", lambda w: ["run", str(w / "cut.tar")], 2, "truncated or damaged"),
    Case("push a truncated tar", lambda w: ["push", "127.0.0.1:9/x:1", "--layout",
                                            str(w / "cut.tar"), "--insecure"], 2, "truncated"),
    Case("push a tar that is not a layout", lambda w: ["push", "127.0.0.1:9/x:1", "--layout",
                                                       str(w / "junk.tar"), "--insecure"], 2,
         "junk.tar"),
    Case("wat2wasm into a missing dir", lambda w: ["wat2wasm", str(w / "hello.wat"), "-o",
                                                   "/proc/no/such/dir/x.wasm"], 2, "/proc"),
    Case("wasm2wat into a missing dir", lambda w: ["wasm2wat", str(w / "hello.wasm"), "-o",
                                                   "/proc/no/such/dir/x.wat"], 2, "/proc"),
    Case("opt into a missing dir", lambda w: ["opt", str(w / "hello.wasm"), "-o",
                                              "/proc/no/such/dir/x.wasm"], 2, "/proc"),
    Case("package into /proc", lambda w: ["package", str(w / "hello.wasm"), "-o", "/proc/x",
                                          "--tag", "x/y:1"], 2, "/proc"),
    Case("wat2wasm with a NUL byte", lambda w: ["wat2wasm", str(w / "nul.wat")], 2,
         "nul.wat:2:9"),
    Case("validate garbage", lambda w: ["validate", str(w / "garbage.wasm")], 2, "garbage.wasm"),
    Case("inspect garbage", lambda w: ["inspect", str(w / "garbage.wasm")], 2, "garbage.wasm"),
    Case("inspect a truncated component", lambda w: ["inspect", str(w / "cut-component.wasm")], 2,
         "cut-component.wasm: "),
    Case("validate a truncated component", lambda w: ["validate", str(w / "cut-component.wasm")],
         2, "cut-component.wasm: "),
    Case("wasm2wat a truncated component", lambda w: ["wasm2wat", str(w / "cut-component.wasm")],
         2, "cut-component.wasm: "),
    Case("opt garbage", lambda w: ["opt", str(w / "garbage.wasm"), "-o", str(w / "o.wasm")], 2,
         "garbage.wasm"),
    Case("package garbage", lambda w: ["package", str(w / "garbage.wasm"), "-o",
                                       str(w / "out")], 2, "garbage.wasm"),
    Case("build a broken config", lambda w: ["build", str(w / "broken-config")], 3,
         "wasmforge.toml:1"),
    Case("build an unknown target", lambda w: ["build", str(w / "project"), "--target",
                                               "nope"], 2, "no target named 'nope'"),
    Case("build with a bad step timeout", lambda w: ["build", str(w / "project"), "--runner",
                                                     "local"], 3, "WASMFORGE_STEP_TIMEOUT"),
    Case("push with a bad registry deadline", lambda w: ["push", "127.0.0.1:9/x:1", "--layout",
                                                        str(w / "pkg" / "image"), "--insecure"],
         3, "WASMFORGE_REGISTRY_TIMEOUT"),
    Case("cache prune with a bad size", lambda _: ["cache", "prune", "--max-size", "lots"], 3,
         "--max-size"),
    Case("fetch an unknown target", lambda w: ["fetch", str(w / "project"), "--target",
                                               "nope"], 2, "no target named 'nope'"),
    Case("fetch a broken config", lambda w: ["fetch", str(w / "broken-config")], 3,
         "wasmforge.toml:1"),
    Case("lock a target that is not Cargo", lambda w: ["lock", "t", "--project",
                                                       str(w / "project")], 2,
         "not a Cargo package"),
    Case("lock an unknown target", lambda w: ["lock", "nope", "--project", str(w / "project")],
         2, "no target named 'nope'"),
    Case("test a project without checks", lambda w: ["test", str(w / "project")], 2,
         "no [[test]] checks"),
    Case("test an unknown target", lambda w: ["test", str(w / "project"), "-t", "nope"], 2,
         "no target named 'nope'"),
    Case("test a broken config", lambda w: ["test", str(w / "broken-config")], 3,
         "wasmforge.toml:1"),
    Case("schema into /proc", lambda _: ["schema", "-o", "/proc/x.json"], 2,
         "/proc/x.json: cannot write"),
    Case("build from a bad cache ref", lambda w: ["build", str(w / "project"), "--runner", "local",
                                                  "--cache-from", "UPPER/Case:tag"], 3,
         "--cache-from"),
    Case("serve an unknown target", lambda w: ["serve", "nope", "-C", str(w / "project")], 2,
         "no target named 'nope'"),
    Case("serve a broken config", lambda w: ["serve", "-C", str(w / "broken-config")], 3,
         "wasmforge.toml:1"),
    Case("serve with two profiles", lambda w: ["serve", "-C", str(w / "project"), "--release",
                                               "--debug"], 2, "contradict each other"),
    Case("serve with a bad body size", lambda w: ["serve", "-C", str(w / "project"),
                                                  "--max-body-size", "lots"], 2,
         "--max-body-size"),
    Case("serve what was not built", lambda w: ["serve", "-C", str(w / "project"), "--no-build",
                                                "--release"], 2, "no build output"),
]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("matrix")
    _files(directory)
    return directory


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_no_bad_input_is_an_internal_error(work: Path, case: Case) -> None:
    env = {**os.environ, "WASMFORGE_CACHE_DIR": str(work / "cache")}
    if case.name == "build with a bad step timeout":
        env["WASMFORGE_STEP_TIMEOUT"] = "soon"
    if case.name == "push with a bad registry deadline":
        env["WASMFORGE_REGISTRY_TIMEOUT"] = "soon"
    done = subprocess.run([sys.executable, "-m", "wasmforge", *case.args(work)], cwd=work,
                          capture_output=True, text=True, check=False, timeout=120, env=env)
    assert "Traceback" not in done.stderr
    assert "internal error" not in done.stderr, done.stderr
    assert done.returncode == case.code, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert errors, done.stderr
    assert case.said in errors[0], done.stderr


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "full", "64k", fill=True) as mount:
        yield mount


def test_a_full_disk_is_a_user_error_that_says_so(work: Path, full_disk: Path) -> None:
    for args in (["wat2wasm", str(work / "hello.wat"), "-o", str(full_disk / "x.wasm")],
                 ["opt", str(work / "hello.wasm"), "-o", str(full_disk / "y.wasm")],
                 ["package", str(work / "hello.wasm"), "-o", str(full_disk / "pkg"), "--tag",
                  "x/y:1"]):
        done = subprocess.run([sys.executable, "-m", "wasmforge", *args], capture_output=True,
                              text=True, check=False, timeout=120)
        assert done.returncode == 2, done.stderr
        assert "no space left on device" in done.stderr
        assert "Traceback" not in done.stderr
