"""What each built-in profile keeps of a module's custom sections (the table in docs/optimize.md),
checked on every sample built in the real toolchains, and ``wasmforge run``'s backtrace of a C
program that traps: its functions are named in release builds too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration.build_support import (
    SAMPLE_RUNS,
    copy_sample,
    docker_engine_answers,
    wasmforge,
)
from tests.needs import need
from wasmforge.wasm.module import parse_module

pytestmark = [pytest.mark.docker, pytest.mark.toolchain]

# (name section, DWARF, producers, target_features) of each sample's module, per built-in profile.
# Release drops DWARF and producers and keeps names; emcc writes no producers or target_features,
# and WAT has no DWARF or producers to begin with. (In the debian-12 set rustc 1.63 wrote no
# target_features; debian-13's 1.85 does.)
KEPT: dict[str, dict[str, tuple[bool, bool, bool, bool]]] = {
    "debug": {
        "c-hello": (True, True, True, True),
        "cpp-stdlib": (True, True, True, True),
        "c-reactor": (True, True, True, True),
        "rust-cargo": (True, True, True, True),
        "emscripten-web": (True, True, False, False),
        "emscripten-node": (True, True, False, False),
        "emscripten-standalone": (True, True, False, False),
        "wat-hello": (True, False, False, False),
    },
    "release": {
        "c-hello": (True, False, False, True),
        "cpp-stdlib": (True, False, False, True),
        "c-reactor": (True, False, False, True),
        "rust-cargo": (True, False, False, True),
        "emscripten-web": (True, False, False, False),
        "emscripten-node": (True, False, False, False),
        "emscripten-standalone": (True, False, False, False),
        "wat-hello": (True, False, False, False),
    },
}

TRAPS_C = r"""#include <stdio.h>

/* volatile: the compiler cannot see that the trap always happens and drop what follows it. */
static volatile int armed = 1;

void fail_here(int code) {
    if (code > 0) {
        __builtin_trap();
    }
}

/* Called through a pointer the optimisers cannot see through, so that no level inlines it. */
static void (*volatile call_it)(int) = fail_here;

int main(void) {
    puts("about to trap");
    fflush(stdout);
    call_it(armed);
    return 0;
}
"""
TRAPS_TOML = """[project]
name = "traps"

[targets.traps]
kind = "wasi-sdk"
sources = ["src/main.c"]
"""


@pytest.fixture(scope="module")
def docker_ready() -> None:
    need(docker_engine_answers(), "a Docker engine")


def _kept(module: Path) -> tuple[bool, bool, bool, bool]:
    custom = {s.name for s in parse_module(module.read_bytes(), module.name).sections if s.custom}
    return ("name" in custom, any(n.startswith(".debug_") for n in custom),
            "producers" in custom, "target_features" in custom)


@pytest.mark.parametrize("profile", ["debug", "release"])
@pytest.mark.parametrize("sample", list(KEPT["debug"]))  # the core modules (not c-component)
def test_each_profile_keeps_the_sections_the_docs_say(
    sample: str, profile: str, docker_ready: None, tmp_path: Path
) -> None:
    del docker_ready
    project = copy_sample(sample, tmp_path)
    done = wasmforge("build", project, f"--{profile}", "--runner", "docker")
    assert done.returncode == 0, done.stderr
    module = (project / "dist" / profile / SAMPLE_RUNS[sample][0]).with_suffix(".wasm")
    assert _kept(module) == KEPT[profile][sample]


@pytest.mark.parametrize("profile", ["debug", "release"])
def test_a_trapping_c_program_names_its_functions(
    profile: str, docker_ready: None, tmp_path: Path
) -> None:
    del docker_ready
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.c").write_text(TRAPS_C)
    (tmp_path / "wasmforge.toml").write_text(TRAPS_TOML)
    built = wasmforge("build", tmp_path, f"--{profile}", "--runner", "docker")
    assert built.returncode == 0, built.stderr
    done = wasmforge("run", "traps", "-C", tmp_path, "--profile", profile, cwd=tmp_path)
    assert done.returncode == 134, done.stderr  # a trap, as README's exit codes say
    assert done.stdout == "about to trap\n"
    lines = done.stderr.splitlines()
    module = Path("dist") / profile / "traps.wasm"
    assert lines[0] == (f"error: {tmp_path / module}: trapped: wasm trap: wasm `unreachable` "
                        "instruction executed"), done.stderr
    assert lines[1] == "wasm backtrace (innermost call first):"
    # wasmtime writes "module!function" when the name section names the module (binaryen 120's
    # output does), else "function".
    frames = [line.split(" - ", 1)[1].rsplit("!", 1)[-1] for line in lines if " - " in line]
    assert frames[0] == "fail_here", done.stderr
    assert "no function names" not in done.stderr
    if profile == "debug":  # DWARF gives each frame of the program its file and line
        # clang places the trap on the test's line or the __builtin_trap() under it
        below = lines[next(i for i, line in enumerate(lines) if line.endswith(" - fail_here")) + 1]
        assert re.fullmatch(r"\s+at \S*src/main\.c:[78]:\d+", below), done.stderr
        assert "main" in frames
    else:
        assert " at " not in done.stderr
