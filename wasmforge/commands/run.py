"""``wasmforge run``: run a WASI module with wasmtime, from a file, a layout, a registry or a target.

TARGET may be a project target name (its built module; Node for Emscripten ``node`` output), a
``.wasm`` file, an OCI layout directory or tar (``PATH[:TAG]``), or a registry reference. Arguments
after ``--`` go to the module (for an image they replace its Cmd). The module's exit code becomes
wasmforge's; a trap exits 134. A WASI 0.2 component exporting ``wasi:cli/run`` (a target built with
``--component``, a component file or image) runs the same way (see wasmforge.wasirun).
``--runtime wasmedge`` runs a WASI command module with WasmEdge in its pinned image instead (see
wasmforge.wasmedge).

Node runs in the caller's working directory, as ``node app.js`` would. A program linked with
NODERAWFS already sees the host's files at their own paths, so ``--dir`` cannot move a directory
to another guest path or give files to a program built without it: such a ``--dir`` is an error,
never ignored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wasmforge.commands._common import JsonFlag, command_console
from wasmforge.commands.package import ProfileOption, ReleaseFlag, profile_choice
from wasmforge.commands.push import InsecureFlag

if TYPE_CHECKING:
    from wasmforge.wasirun import WasiProgram


def run(
    target: Annotated[str, typer.Argument(help="Target name, .wasm file, OCI layout or image "
                      "reference.")],
    args: Annotated[list[str] | None, typer.Argument(help="Arguments for the module "
                    "(after --).")] = None,
    directory: Annotated[list[str] | None, typer.Option("--dir", help="Preopen HOST[:GUEST] "
                         "for the module (repeatable; Node targets: HOST only).")] = None,
    env: Annotated[list[str] | None, typer.Option("--env", "-e", help="KEY=VALUE for the module "
                   "(repeatable).")] = None,
    project_path: Annotated[Path, typer.Option("--project", "-C",
                            help="Project directory (for target names).")] = Path(),
    profile: ProfileOption = None,
    release: ReleaseFlag = False,
    insecure: InsecureFlag = False,
    timeout: Annotated[float | None, typer.Option(
        "--timeout", min=0.001, metavar="SECONDS",
        help="Stop the module after this long (exit 124).")] = None,
    runtime: Annotated[str, typer.Option(
        "--runtime", metavar="wasmtime|wasmedge",
        help="wasmtime (in-process) or wasmedge (WasmEdge 0.14 in its pinned image of the "
        "debian-13 set, in a container: WASI command modules only).")] = "wasmtime",
    json_flag: JsonFlag = False,
) -> None:
    """Run a WASI command module or component; its exit code is passed through.

    --runtime wasmedge runs a command module (not a component) with WasmEdge, in a container."""
    from wasmforge.errors import UserError
    from wasmforge.oci.reference import looks_like_file
    from wasmforge.wasirun import parse_dir, parse_env
    from wasmforge.wasm.sniff import is_wasm_file
    from wasmforge.wasmedge import check_runtime

    command_console(json_flag)
    check_runtime(runtime)
    dirs = [parse_dir(d) for d in directory or []]
    extra_env = dict(parse_env(e) for e in env or [])
    argv = list(args or [])
    path = Path(target)
    if is_wasm_file(path) or (path.suffix == ".wat" and path.is_file()):
        # wasmtime compiles text too, as crun's handler does for a .wat entrypoint.
        from wasmforge.wasirun import WasiProgram

        program = WasiProgram(path.read_bytes(), (path.name, *argv), tuple(extra_env.items()),
                              tuple(dirs), str(path))
    elif looks_like_file(target) and not path.exists():
        msg = f"{target}: no such file"
        raise UserError(msg)
    elif _is_project_target(target, project_path):
        code = _run_target(target, argv, extra_env, dirs, project_path,
                           profile_choice(profile, release), timeout, runtime)
        raise typer.Exit(code)
    else:
        program = _program_from_oci(target, argv, extra_env, dirs, insecure)
    raise typer.Exit(_run_program(program, runtime, timeout))


def _run_program(program: WasiProgram, runtime: str, timeout: float | None) -> int:
    if runtime == "wasmedge":
        from wasmforge.wasmedge import run_wasmedge

        return run_wasmedge(program, timeout=timeout)
    from wasmforge.wasirun import run_wasi

    return run_wasi(program, timeout=timeout)


def _is_project_target(name: str, project_path: Path) -> bool:
    from wasmforge.config.load import CONFIG_FILE

    if "/" in name or ":" in name or Path(name).exists():
        return False
    config_file = project_path / CONFIG_FILE
    if not config_file.is_file():
        return False
    from wasmforge.config.load import load_config

    return name in load_config(config_file).targets


def _run_target(
    name: str, argv: list[str], env: dict[str, str], dirs: list[tuple[str, str]],
    project_path: Path, profile: str | None, timeout: float | None, runtime: str,
) -> int:
    from wasmforge.errors import UserError
    from wasmforge.oci.project import open_project
    from wasmforge.wasirun import WasiProgram

    project, _ = open_project(project_path, os.environ, profile=profile, targets=(name,))
    manifest = project.built()
    built = manifest.targets.get(name)
    if built is None:
        msg = f"target {name!r} is not in the {project.profile} build output"
        raise UserError(msg, hint="run wasmforge build first")
    main = built.main_path(manifest.directory)
    if not main.is_file():
        msg = f"{main}: the built output of target {name!r} is missing"
        raise UserError(msg, hint="run wasmforge build first")
    if not built.wasi:
        # What was built; the config for manifests written before they named the environment.
        environment = built.environment or getattr(project.config.targets[name], "environment",
                                                   None)
        if runtime == "wasmedge":
            from wasmforge.wasmedge import refuse_js_glue

            raise refuse_js_glue(name, environment)
        if environment == "node":
            _check_node_dirs(name, built.node_rawfs, dirs)
            # Emscripten names the glue after the module: hello.js loads hello.wasm.
            return _run_node(main.with_suffix(".js"), argv, env, timeout)
        msg = f"target {name!r} is Emscripten {environment or 'web'} output: open it in a browser"
        raise UserError(msg, hint=f"serve {main.parent} with any static web server, e.g. "
                        f"python3 -m http.server -d {main.parent}")
    program = WasiProgram(main.read_bytes(), (main.name, *argv),
                          tuple(env.items()), tuple(dirs), str(main))
    return _run_program(program, runtime, timeout)


def _check_node_dirs(name: str, node_rawfs: bool, dirs: list[tuple[str, str]]) -> None:
    """Node has no preopens: with NODERAWFS the program sees every host directory where it is, and
    without it none at all. So a ``--dir`` holds only as HOST:HOST for a NODERAWFS build."""
    from wasmforge.errors import UserError

    for host, guest in dirs:
        spec = host if guest == host else f"{host}:{guest}"
        if not node_rawfs:
            msg = (f"--dir {spec}: target {name!r} was built without NODERAWFS, so its program "
                   "cannot see host directories")
            raise UserError(msg, hint="run wasmforge build again: NODERAWFS is the default "
                            f"unless targets.{name} sets node-rawfs = false or -sNODERAWFS=0, "
                            "or embeds files")
        if Path(host).resolve() != Path(guest).resolve():
            msg = (f"--dir {spec}: target {name!r} runs under Node with the host's file system, "
                   f"where {host} can only be seen at its own path")
            raise UserError(msg, hint=f"use --dir {host} and open {Path(host).resolve()} in the "
                            "program")


def _run_node(script: Path, argv: list[str], env: dict[str, str], timeout: float | None) -> int:
    """Node.js runs Emscripten's glue; it is stopped with wasmforge (Ctrl-C, SIGTERM, timeout)."""
    import subprocess

    from wasmforge.console import get_console
    from wasmforge.tools import host_program
    from wasmforge.wasirun import TIMEOUT_EXIT_CODE

    node = host_program("node", "install Node.js (apt-get install nodejs)")
    with subprocess.Popen([str(node), str(script), *argv], env={**os.environ, **env}) as process:
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            get_console().error(f"{script}: still running after {timeout:g} s: stopped "
                                "(--timeout)")
            return TIMEOUT_EXIT_CODE
        except KeyboardInterrupt:
            process.terminate()
            raise


def _program_from_oci(
    target: str, argv: list[str], env: dict[str, str], dirs: list[tuple[str, str]],
    insecure: bool,
) -> WasiProgram:
    from wasmforge.errors import RegistryError
    from wasmforge.oci.inspect import load_oci
    from wasmforge.oci.runnable import program_from_image

    try:
        image = load_oci(target, insecure=insecure)
    except RegistryError as error:
        if "/" in target or ":" in target:
            raise
        msg = (f"{target}: not a .wasm file, project target or OCI layout, and as an image "
               f"reference: {error.message}")
        raise RegistryError(msg, hint=error.hint) from None
    return program_from_image(image, args=argv, env=env, dirs=dirs)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
