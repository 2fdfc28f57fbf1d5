"""``wasmforge run`` of WASI 0.2 components exporting ``wasi:cli/run``: args, env, ``--dir`` preopens,
stdio and exit codes as for modules, traps (134), ``--timeout`` (124) and signals (130); anything
else is refused in one line naming what the component exports (exit 2).

The components are made from WAT commands by ``componentize`` with the real pinned preview1 adapter
(fetched from the npm registry, as the adapter tests do), or written as component text where the
adapter cannot say it (``exit-with-code``, ``run`` returning ``err``).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wasmforge.component.adapters import AdapterKind
from wasmforge.component.componentize import componentize
from wasmforge.oci import mediatypes as mt
from wasmforge.oci.blob import sha256_digest
from wasmforge.wasirun import TIMEOUT_EXIT_CODE, TRAP_EXIT_CODE

# Prints its arguments, then its environment, one per line (the NUL-separated buffers that
# args_get and environ_get fill, NULs turned into newlines).
ARGS_AND_ENV = """(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get"
    (func $environ_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $print_lines (param $size i32) (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $size)))
      (if (i32.eqz (i32.load8_u offset=1024 (local.get $i)))
        (then (i32.store8 offset=1024 (local.get $i) (i32.const 10))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.store (i32.const 16) (i32.const 1024))
    (i32.store (i32.const 20) (local.get $size))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24))))
  (func (export "_start")
    (drop (call $args_sizes (i32.const 0) (i32.const 4)))
    (drop (call $args_get (i32.const 512) (i32.const 1024)))
    (call $print_lines (i32.load (i32.const 4)))
    (drop (call $environ_sizes (i32.const 0) (i32.const 4)))
    (drop (call $environ_get (i32.const 512) (i32.const 1024)))
    (call $print_lines (i32.load (i32.const 4)))))
"""

# Copies in.txt of its first preopen (fd 3) to stdout and to out.txt beside it; any failing call
# traps (so a test sees 134, not a silent success).
COPY_IN_TO_OUT = """(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "in.txt")
  (data (i32.const 120) "out.txt")
  (func $ok (param i32) (if (local.get 0) (then unreachable)))
  (func (export "_start")
    ;; in.txt, read (rights: fd_read)
    (call $ok (call $path_open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 6)
                               (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)
                               (i32.const 0)))
    (i32.store (i32.const 8) (i32.const 1024))
    (i32.store (i32.const 12) (i32.const 4096))
    (call $ok (call $fd_read (i32.load (i32.const 0)) (i32.const 8) (i32.const 1) (i32.const 16)))
    (i32.store (i32.const 12) (i32.load (i32.const 16)))
    (call $ok (call $fd_write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 20)))
    ;; out.txt, created and truncated (oflags CREAT|TRUNC; rights: fd_write)
    (call $ok (call $path_open (i32.const 3) (i32.const 0) (i32.const 120) (i32.const 7)
                               (i32.const 9) (i64.const 64) (i64.const 0) (i32.const 0)
                               (i32.const 0)))
    (call $ok (call $fd_write (i32.load (i32.const 0)) (i32.const 8) (i32.const 1)
                              (i32.const 20)))))
"""


def _exits(code: int, then_print: bool = False) -> str:
    """A command calling proc_exit(code); with ``then_print``, a line it must never reach."""
    return f"""(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 8) "after exit\\n")
  (func (export "_start")
    (call $exit (i32.const {code}))
    {"(drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 24)))"
     if then_print else ""}))
"""


TRAPS = """(module
  (memory (export "memory") 1)
  (func $explode unreachable)
  (func $middle (call $explode))
  (func (export "_start") (call $middle)))
"""
LOOPS = '(module (memory (export "memory") 1) (func (export "_start") (loop $l (br $l))))'


def _exit_with_code(code: int) -> str:
    """A component calling wasi:cli/exit's exit-with-code, which the preview1 adapter never does
    (its proc_exit says only ok or err)."""
    return f"""(component
  (import "wasi:cli/exit@0.2.6" (instance $exit
    (export "exit-with-code" (func (param "status-code" u8)))))
  (core module $main
    (import "" "exit" (func $exit (param i32)))
    (func (export "run") (result i32) (call $exit (i32.const {code})) (i32.const 0)))
  (core func $exit (canon lower (func $exit "exit-with-code")))
  (core instance $main (instantiate $main (with "" (instance (export "exit" (func $exit))))))
  (func $run (result (result)) (canon lift (core func $main "run")))
  (instance $run (export "run" (func $run)))
  (export "wasi:cli/run@0.2.6" (instance $run)))
"""


# wasi:cli/run's run returning err (1 in the canonical ABI's flat result<_, _>).
RUN_FAILS = """(component
  (core module $main (func (export "run") (result i32) (i32.const 1)))
  (core instance $main (instantiate $main))
  (func $run (result (result)) (canon lift (core func $main "run")))
  (instance $run (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $run)))
"""
# A command that needs an interface no WASI host provides.
IMPORTS_ACME = """(component
  (import "acme:thing/api" (instance $api (export "poke" (func))))
  (core module $main (import "" "poke" (func)) (func (export "run") (result i32) (i32.const 0)))
  (core func $poke (canon lower (func $api "poke")))
  (core instance $main (instantiate $main (with "" (instance (export "poke" (func $poke))))))
  (func $run (result (result)) (canon lift (core func $main "run")))
  (instance $run (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $run)))
"""

CALC_WIT = """package test:calc;

interface math {
  add: func(a: s32, b: s32) -> s32;
}

world calc {
  export math;
  export ping: func() -> s32;
}
"""
CALC = """(module
  (memory (export "memory") 1)
  (func (export "test:calc/math#add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)))
  (func (export "ping") (result i32) (i32.const 1)))
"""
NOTHING = '(module (memory (export "memory") 1) (func (export "_initialize")))'


def _component(
    wat: str, directory: Path, name: str, *, kind: AdapterKind | None = None,
    wit: Path | None = None, world: str | None = None,
) -> Path:
    from wasmforge.tools import wabt_tool

    source = directory / f"{name}.wat"
    source.write_text(wat, encoding="utf-8")
    module = directory / f"{name}.module.wasm"
    # Names kept (as a debug build keeps them): a trap's backtrace shows them through the adapter.
    subprocess.run([str(wabt_tool("wat2wasm")), "--debug-names", str(source), "-o", str(module)],
                   check=True)
    return componentize(module, directory / f"{name}.wasm", kind=kind, wit=wit,
                        world=world).output


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every component of these tests, made once."""
    directory = tmp_path_factory.mktemp("components")
    (directory / "wit").mkdir()
    (directory / "wit" / "calc.wit").write_text(CALC_WIT, encoding="utf-8")
    return {
        "args": _component(ARGS_AND_ENV, directory, "args"),
        "copy": _component(COPY_IN_TO_OUT, directory, "copy"),
        "exit0": _component(_exits(0, then_print=True), directory, "exit0"),
        "exit3": _component(_exits(3), directory, "exit3"),
        "traps": _component(TRAPS, directory, "traps"),
        "loops": _component(LOOPS, directory, "loops"),
        "calc": _component(CALC, directory, "calc", kind="reactor", wit=directory / "wit",
                           world="calc"),
        "nothing": _component(NOTHING, directory, "nothing", kind="reactor"),
    }


@pytest.fixture(scope="module")
def packaged(made: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The args component packaged by ``wasmforge package`` in both formats."""
    output = tmp_path_factory.mktemp("packaged") / "args-oci"
    done = subprocess.run([sys.executable, "-m", "wasmforge", "package", str(made["args"]),
                           "--name", "args", "-o", str(output), "--format", "both"],
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return output


def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge", "run", *map(str, args)],
                          capture_output=True, text=True, check=False, timeout=120, cwd=cwd)


def _text(wat: str, directory: Path, name: str) -> Path:
    """Component text, which ``run`` compiles as it does module text."""
    path = directory / f"{name}.wat"
    path.write_text(wat, encoding="utf-8")
    return path


def test_args_and_env_reach_the_component(made: dict[str, Path]) -> None:
    done = _run(made["args"], "--env", "GREETING=hi there", "-e", "EMPTY=", "--", "one",
                "two words")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "args.wasm\none\ntwo words\nGREETING=hi there\nEMPTY=\n"
    assert done.stderr == ""


def test_a_dir_preopen_is_readable_and_writable(made: dict[str, Path], tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "in.txt").write_text("copied through a preopen\n", encoding="utf-8")
    done = _run(made["copy"], "--dir", f"{shared}:/data")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "copied through a preopen\n"
    assert (shared / "out.txt").read_text(encoding="utf-8") == "copied through a preopen\n"


def test_without_the_dir_the_component_sees_no_files(made: dict[str, Path]) -> None:
    # No preopen: path_open on fd 3 fails, and the program traps on purpose.
    assert _run(made["copy"]).returncode == TRAP_EXIT_CODE


def test_proc_exit_0_ends_the_component_there(made: dict[str, Path]) -> None:
    done = _run(made["exit0"])
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_a_nonzero_proc_exit_through_the_adapter_is_1_as_in_wasmtime(
    made: dict[str, Path]
) -> None:
    # The preview1 adapter calls wasi:cli/exit's exit(err) for every status but 0, and the WASI
    # host makes that 1: the wasmtime CLI exits 1 for this component too. Nothing is printed.
    done = _run(made["exit3"])
    assert (done.returncode, done.stderr) == (1, "")


def test_exit_with_code_comes_through(tmp_path: Path) -> None:
    done = _run(_text(_exit_with_code(7), tmp_path, "seven"))
    assert (done.returncode, done.stderr) == (7, "")


def test_an_exit_code_a_shell_would_misread_is_refused_as_for_modules(tmp_path: Path) -> None:
    component = _text(_exit_with_code(200), tmp_path, "two-hundred")
    done = _run(component)
    assert done.returncode == 1
    assert done.stderr == (f"error: {component}: stopped: exit with invalid exit status 200, "
                           "outside of [0..126)\n")


def test_run_returning_err_exits_1_as_in_wasmtime(tmp_path: Path) -> None:
    done = _run(_text(RUN_FAILS, tmp_path, "fails"))
    assert (done.returncode, done.stderr) == (1, "")


def test_a_trap_is_134_with_the_trap_line_and_the_programs_function_names(
    made: dict[str, Path]
) -> None:
    done = _run(made["traps"])
    assert done.returncode == TRAP_EXIT_CODE
    lines = done.stderr.splitlines()
    assert lines[0] == (f"error: {made['traps']}: trapped: wasm trap: wasm `unreachable` "
                        "instruction executed")
    assert lines[1] == "wasm backtrace (innermost call first):"
    functions = [line.split(" - ", 1)[1] for line in lines[2:] if " - " in line]
    assert functions[:2] == ["explode", "middle"]
    assert functions[-1].endswith("#run")  # the adapter's wasi:cli/run called _start
    assert "no function names" not in done.stderr
    assert "Traceback" not in done.stderr


def test_timeout_stops_an_endless_component(made: dict[str, Path]) -> None:
    started = time.monotonic()
    done = _run(made["loops"], "--timeout", "0.5")
    assert done.returncode == TIMEOUT_EXIT_CODE, done.stderr
    assert done.stderr == f"error: {made['loops']}: still running after 0.5 s: stopped (--timeout)\n"
    assert time.monotonic() - started < 10


def test_ctrl_c_stops_an_endless_component(made: dict[str, Path]) -> None:
    process = subprocess.Popen([sys.executable, "-m", "wasmforge", "run", str(made["loops"])],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)  # well into the loop
        assert process.poll() is None
        stopped = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    assert "error: interrupted" in stderr
    assert "Traceback" not in stderr
    assert time.monotonic() - stopped < 5


def test_a_component_without_wasi_cli_run_is_refused_naming_its_exports(
    made: dict[str, Path]
) -> None:
    done = _run(made["calc"])
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == (
        f"error: {made['calc']}: not a WASI command: the component does not export wasi:cli/run; "
        "it exports ping, test:calc/math")
    nothing = _run(made["nothing"])
    assert nothing.returncode == 2
    assert nothing.stderr.splitlines()[0].endswith(
        "the component does not export wasi:cli/run; it exports nothing")


def test_a_component_needing_more_than_wasi_is_refused(tmp_path: Path) -> None:
    component = _text(IMPORTS_ACME, tmp_path, "acme")
    done = _run(component)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {component}: cannot instantiate: ")
    assert "acme:thing/api" in done.stderr.splitlines()[0]
    assert "Traceback" not in done.stderr


def test_a_damaged_component_is_refused(made: dict[str, Path], tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.wasm"
    damaged.write_bytes(made["args"].read_bytes()[:200])
    done = _run(damaged)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {damaged}: not a valid component: ")
    assert len(done.stderr.splitlines()) == 1


def test_a_component_artifact_runs_from_its_oci_layout(
    made: dict[str, Path], tmp_path: Path
) -> None:
    """A CNCF Wasm artifact of a component (os wasip2, as wkg writes one): run reads its layer."""
    layout = _artifact_layout(made["args"].read_bytes(), tmp_path / "layout")
    done = _run(layout, "-e", "K=V", "--", "x")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "args.wasm\nx\nK=V\n"


@pytest.mark.parametrize(("layout", "argv0"),
                         [("image", "/args.wasm"), ("image.tar", "/args.wasm"),
                          ("artifact", "args.wasm"), ("artifact.tar", "args.wasm")])
def test_a_component_packaged_by_wasmforge_runs_from_each_format(
    packaged: Path, layout: str, argv0: str,
) -> None:
    """The compat image (the component as the entrypoint file in a tar layer) and the artifact
    (the raw component as the layer), as directories and tars."""
    done = _run(packaged / layout, "-e", "K=V", "--", "x")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{argv0}\nx\nK=V\n"


def test_a_component_runs_as_a_project_target(tmp_path: Path) -> None:
    """A target built with --component (a WAT target: WABT on the host, no container), run by
    name: the build manifest names the published component."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "args.wat").write_text(ARGS_AND_ENV, encoding="utf-8")
    (project / "wasmforge.toml").write_text(
        '[project]\nname = "p"\n\n[targets.args]\nkind = "wat"\nsource = "args.wat"\n',
        encoding="utf-8")
    built = subprocess.run([sys.executable, "-m", "wasmforge", "build", str(project),
                            "--component", "--no-package"],
                           capture_output=True, text=True, check=False, timeout=300)
    assert built.returncode == 0, built.stderr
    manifest = json.loads((project / "dist" / "debug" / "wasmforge-build.json").read_text("utf-8"))
    assert manifest["targets"][0]["component"] is not None
    done = _run("args", "-C", project, "-e", "K=V", "--", "a")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "args.wasm\na\nK=V\n"


def _artifact_layout(component: bytes, directory: Path) -> Path:
    """An OCI layout holding a Wasm artifact of ``component``, written by hand as the CNCF layout
    says (one application/wasm layer, config os wasip2): independent of wasmforge's packaging."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def blob(data: bytes, media_type: str, **extra: object) -> dict[str, object]:
        digest = sha256_digest(data)
        (blobs / digest.removeprefix("sha256:")).write_bytes(data)
        return {"mediaType": media_type, "digest": digest, "size": len(data), **extra}

    layer = blob(component, mt.WASM_LAYER,
                 annotations={mt.ANNOTATION_TITLE: "args.wasm"})
    config = blob(json.dumps({"architecture": "wasm", "os": "wasip2",
                              "layerDigests": [layer["digest"]],
                              "component": {"exports": ["wasi:cli/run@0.2.12"]}}).encode(),
                  mt.WASM_CONFIG)
    manifest = blob(json.dumps({"schemaVersion": 2, "mediaType": mt.MANIFEST, "config": config,
                                "layers": [layer]}).encode(), mt.MANIFEST)
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}', encoding="utf-8")
    (directory / "index.json").write_text(json.dumps(
        {"schemaVersion": 2, "mediaType": mt.INDEX, "manifests": [manifest]}), encoding="utf-8")
    return directory
