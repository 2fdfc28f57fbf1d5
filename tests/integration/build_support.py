"""Helpers for the build integration tests: run ``wasmforge build`` as a user would, and run what it
built (wasmtime for WASI modules, Node for Emscripten's JS glue)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"

# Loads emcc's web glue in Node the way a page would, with the .wasm handed over directly (the page
# would fetch it from its server): `window` marks a browser for the glue's environment check.
_WEB_GLUE_LOADER = """
const fs = require("fs");
const js = process.argv[1];
globalThis.window = globalThis;
globalThis.Module = { wasmBinary: fs.readFileSync(js.replace(/\\.js$/, ".wasm")) };
(0, eval)(fs.readFileSync(js, "utf8"));
"""


def wasmforge(
    *args: str | Path, cwd: Path | None = None, env: Mapping[str, str] | None = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """``wasmforge ARGS`` in a subprocess (the real entry point, exit codes and all)."""
    return subprocess.run(
        [sys.executable, "-m", "wasmforge", *map(str, args)], cwd=cwd, capture_output=True,
        text=True, env=dict(env) if env is not None else None, timeout=timeout, check=False,
    )


def copy_sample(name: str, destination: Path) -> Path:
    """A private copy of ``samples/<name>`` (without outputs of earlier builds)."""
    target = destination / name
    shutil.copytree(SAMPLES / name, target, ignore=shutil.ignore_patterns("dist", "target"))
    return target


def use_toolchain_set(project: Path, toolchain_set: str) -> None:
    """Make ``project`` build with ``toolchain_set`` (``[toolchains] set``)."""
    config = project / "wasmforge.toml"
    text = config.read_text(encoding="utf-8")
    line = f'set = "{toolchain_set}"\n'
    if "\n[toolchains]\n" in f"\n{text}":
        text = f"\n{text}".replace("\n[toolchains]\n", f"\n[toolchains]\n{line}", 1)[1:]
    else:
        text = f"[toolchains]\n{line}\n{text}"
    config.write_text(text, encoding="utf-8")


def expected_output(name: str) -> str:
    return (SAMPLES / name / "expected-output.txt").read_text(encoding="utf-8")


def docker_engine_answers() -> bool:
    try:
        from wasmforge.engine import docker_client

        docker_client()
    except Exception:  # noqa: BLE001 - any failure means "no engine here"
        return False
    return True


def node_available() -> bool:
    return shutil.which("node") is not None


def _wasi_store(stdout: Path, argv: Sequence[str]) -> tuple[object, object, object]:
    import wasmtime

    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    config = wasmtime.WasiConfig()
    config.argv = list(argv)
    config.stdout_file = str(stdout)
    store.set_wasi(config)
    return engine, store, linker


def run_wasi_command(module: Path) -> str:
    """Run a WASI command module's ``_start``; its stdout (through a file, as wasmtime-py needs)."""
    import wasmtime

    with tempfile.TemporaryDirectory() as scratch:
        stdout = Path(scratch) / "stdout"
        engine, store, linker = _wasi_store(stdout, [module.name])
        loaded = wasmtime.Module.from_file(engine, str(module))  # type: ignore[arg-type]
        instance = linker.instantiate(store, loaded)  # type: ignore[attr-defined]
        code = 0
        try:
            instance.exports(store)["_start"](store)
        except wasmtime.ExitTrap as exit_trap:
            code = exit_trap.code
        assert code == 0, f"{module.name} exited with {code}"
        return stdout.read_text(encoding="utf-8")


def run_reactor(module: Path) -> str:
    """Initialise the c-reactor sample and call its exports: what it prints, then the results."""
    import wasmtime

    with tempfile.TemporaryDirectory() as scratch:
        stdout = Path(scratch) / "stdout"
        engine, store, linker = _wasi_store(stdout, [module.name])
        loaded = wasmtime.Module.from_file(engine, str(module))  # type: ignore[arg-type]
        instance = linker.instantiate(store, loaded)  # type: ignore[attr-defined]
        exports = instance.exports(store)
        assert "_start" not in exports, "a reactor has no _start"
        exports["_initialize"](store)
        exports["greet"](store)
        added = exports["add"](store, 2, 3)
        fib = exports["fib"](store, 10)
        printed = stdout.read_text(encoding="utf-8")
    return f"{printed}add(2, 3) = {added}\nfib(10) = {fib}\n"


def run_component_reactor(component: Path) -> str:
    """Call the c-component sample's exports through wasmtime's component API: what ``hello``
    prints, then the results (the reactor adapter runs _initialize first)."""
    import wasmtime
    import wasmtime.component as components

    with tempfile.TemporaryDirectory() as scratch:
        stdout = Path(scratch) / "stdout"
        engine = wasmtime.Engine()
        linker = components.Linker(engine)
        linker.add_wasip2()
        store = wasmtime.Store(engine)
        config = wasmtime.WasiConfig()
        config.stdout_file = str(stdout)
        store.set_wasi(config)
        instance = linker.instantiate(
            store, components.Component.from_file(engine, str(component)))
        gcd, steps, hello = (instance.get_func(store, name) for name in ("gcd", "steps", "hello"))
        assert gcd is not None
        assert steps is not None
        assert hello is not None
        hello(store)
        results = f"gcd(84, 36) = {gcd(store, 84, 36)}\nsteps(27) = {steps(store, 27)}\n"
        return stdout.read_text(encoding="utf-8") + results


def run_component_command(component: Path) -> str:
    """Run a component's ``wasi:cli/run`` with wasmtime's component API (WASI 0.2), as any
    component runtime would; its stdout."""
    import wasmtime
    import wasmtime.component as components

    with tempfile.TemporaryDirectory() as scratch:
        stdout = Path(scratch) / "stdout"
        engine = wasmtime.Engine()
        loaded = components.Component.from_file(engine, str(component))
        linker = components.Linker(engine)
        linker.add_wasip2()
        store = wasmtime.Store(engine)
        config = wasmtime.WasiConfig()
        config.argv = [component.name]
        config.stdout_file = str(stdout)
        store.set_wasi(config)
        instance = linker.instantiate(store, loaded)
        interface = next(name for name in component_exports(component)
                         if name.startswith("wasi:cli/run@"))
        run_interface = instance.get_export_index(store, interface)
        assert run_interface is not None
        run_function = instance.get_export_index(store, "run", run_interface)
        assert run_function is not None
        run = instance.get_func(store, run_function)
        assert run is not None
        try:
            outcome = getattr(run(store), "tag", None)
        except wasmtime.ExitTrap as exit_trap:  # proc_exit(0) at the end of _start (emcc's)
            outcome = "ok" if exit_trap.code == 0 else f"exit {exit_trap.code}"
        assert outcome == "ok", f"{component.name}: {outcome}"
        return stdout.read_text(encoding="utf-8")


def component_exports(component: Path) -> list[str]:
    """The names a component exports, from its WIT (wasm-tools, independent of wasmforge)."""
    from wasmforge.tools import wasm_tools

    done = subprocess.run([str(wasm_tools()), "component", "wit", str(component)],
                          capture_output=True, text=True, timeout=60, check=True)
    world = done.stdout.split("package ", 2)[1]  # the component's own world comes first
    names = []
    for line in world.splitlines():
        exported = line.strip().removeprefix("export ")
        if exported != line.strip():  # "add: func(...)" or "wasi:cli/run@0.2.12;"
            names.append(exported.split(":")[0] if ": func" in exported else exported.rstrip(";"))
    return names


def run_node(script: Path) -> str:
    done = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60,
                          check=False, env={**os.environ, "NODE_PATH": ""})
    assert done.returncode == 0, f"node {script.name} failed: {done.stderr}"
    return done.stdout


def run_web_glue(script: Path) -> str:
    done = subprocess.run(["node", "-e", _WEB_GLUE_LOADER, str(script)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, f"loading {script.name} failed: {done.stderr}"
    return done.stdout


# sample -> (the file to run, how to run it)
SAMPLE_RUNS: dict[str, tuple[str, Callable[[Path], str]]] = {
    "c-hello": ("hello.wasm", run_wasi_command),
    "cpp-stdlib": ("words.wasm", run_wasi_command),
    "c-reactor": ("mathlib.wasm", run_reactor),
    "c-component": ("calc.wasm", run_component_reactor),
    "c-wasip2": ("greet.wasm", run_component_command),
    "rust-wasip2": ("tally.wasm", run_component_command),
    "rust-cargo": ("rusty.wasm", run_wasi_command),
    "emscripten-web": ("page.js", run_web_glue),
    "emscripten-node": ("greeter.js", run_node),
    "emscripten-standalone": ("standalone.wasm", run_wasi_command),
    "wat-hello": ("hello-wat.wasm", run_wasi_command),
}


def project_containers(project: Path) -> list[str]:
    """The ids of the containers (running or not) that builds of ``project`` started."""
    done = subprocess.run(
        ["docker", "ps", "-a", "-q", "--filter", f"label=wasmforge.project={project}"],
        capture_output=True, text=True, check=True)
    return done.stdout.split()
