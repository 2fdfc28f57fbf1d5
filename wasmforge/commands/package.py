"""``wasmforge package``: OCI image layouts and tars of built targets, or of any module file.

Project mode (PATH is a project directory, default '.'): reads wasmforge.toml and the build output
and writes ``<out_dir>/<profile>/oci/<target>/``. File mode (PATH is a .wasm): ``--name``, ``--tag``
and ``-o DIR`` say what to write.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wasmforge.commands._common import JsonFlag, command_console

if TYPE_CHECKING:
    from wasmforge.console import Console
    from wasmforge.oci.package import PackageResult

FormatOption = Annotated[
    str | None,
    typer.Option("--format", "-f", help="image (runnable compat image), artifact (CNCF Wasm "
                 "artifact) or both. Default: the target's package.format, else artifact for a "
                 "component and image for a module."),
]
ProfileOption = Annotated[
    str | None, typer.Option("--profile", "-p", help="Build profile whose output to use.")
]
ReleaseFlag = Annotated[bool, typer.Option("--release", help="Same as --profile release.")]
TargetOption = Annotated[
    list[str] | None, typer.Option("--target", "-t", help="Target to package (repeatable).")
]


def profile_choice(profile: str | None, release: bool) -> str | None:
    from wasmforge.errors import UserError

    if release and profile not in (None, "release"):
        msg = f"--release and --profile {profile} contradict each other"
        raise UserError(msg)
    return "release" if release else profile


def package(
    path: Annotated[Path, typer.Argument(help="Project directory, or a .wasm file.")] = Path(),
    target: TargetOption = None,
    fmt: FormatOption = None,
    profile: ProfileOption = None,
    release: ReleaseFlag = False,
    name: Annotated[str | None, typer.Option("--name", help="File mode: module name "
                    "(/<name>.wasm in the image). Default: the file's stem.")] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="File mode: image reference to tag "
                   "the output with, e.g. ghcr.io/acme/hello:1.0.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File mode: output "
                      "directory. Default: ./<name>-oci.")] = None,
    annotation: Annotated[list[str] | None, typer.Option("--annotation", "-a",
                          help="File mode: manifest annotation KEY=VALUE (repeatable).")] = None,
    env: Annotated[list[str] | None, typer.Option("--env", "-e", help="File mode: environment "
                   "KEY=VALUE baked into the image config (repeatable).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing -o directory "
                     "that wasmforge did not write.")] = False,
    json_flag: JsonFlag = False,
) -> None:
    """Package WASI modules and components as OCI images (and/or Wasm artifacts) with
    reproducible digests."""
    from wasmforge.wasm.sniff import is_wasm_file

    console = command_console(json_flag)
    if path.suffix in (".wasm", ".wat") and not path.is_file():
        from wasmforge.errors import UserError

        msg = f"{path}: no such file"
        raise UserError(msg)
    if is_wasm_file(path):
        results = [_package_file(path, name=name, tag=tag, output=output,
                                 fmt=fmt or _default_format(path),
                                 annotations=annotation or [], env=env or [], force=force)]
    else:
        _refuse_file_options(name=name, tag=tag, output=output, annotation=annotation, env=env)
        from wasmforge.oci.project import open_project, package_targets

        project, targets = open_project(path, os.environ,
                                        profile=profile_choice(profile, release),
                                        targets=target or ())
        results = package_targets(project, targets, os.environ, format_flag=fmt)
    _report(console, results)


def _default_format(path: Path) -> str:
    """``artifact`` for a component (what component runtimes consume), ``image`` for a module."""
    from wasmforge.wasm.module import read_module_file

    return "artifact" if read_module_file(path).kind == "component" else "image"


def _refuse_file_options(**given: Any) -> None:
    from wasmforge.errors import UserError

    used = [f"--{k}" for k, v in given.items() if v]
    if used:
        msg = f"{', '.join(used)}: only for packaging a .wasm file (PATH is a project)"
        raise UserError(msg)


def _package_file(
    path: Path, *, name: str | None, tag: str | None, output: Path | None, fmt: str,
    annotations: list[str], env: list[str], force: bool,
) -> PackageResult:
    from wasmforge.epoch import source_date_epoch
    from wasmforge.errors import UserError
    from wasmforge.oci import mediatypes as mt
    from wasmforge.oci.image import rfc3339
    from wasmforge.oci.package import RESULT_FILE, expand_format, package_module
    from wasmforge.wasirun import parse_env

    module_name = name or path.stem
    out_dir = output or Path(f"{module_name}-oci")
    if out_dir.exists() and not force and (not out_dir.is_dir() or (
            any(out_dir.iterdir()) and not (out_dir / RESULT_FILE).is_file())):
        msg = f"{out_dir}: exists and was not written by wasmforge package; not replacing it"
        raise UserError(msg, hint="pass --force to replace it, or -o to write elsewhere")
    created = source_date_epoch(path.resolve().parent, os.environ)
    extra = dict(parse_env(a, "--annotation") for a in annotations)
    meta = {mt.ANNOTATION_TITLE: module_name, mt.ANNOTATION_CREATED: rfc3339(created), **extra}
    return package_module(
        path, name=module_name, reference=tag or f"{module_name.lower()}:latest",
        formats=expand_format(fmt), annotations=meta, created=created, out_dir=out_dir,
        env=dict(parse_env(e) for e in env),
    )


def _report(console: Console, results: list[PackageResult]) -> None:
    from wasmforge.build.summary import PACKAGE_HEADERS, package_rows

    console.table(PACKAGE_HEADERS, package_rows([r.as_dict() for r in results]), title="packaged")
    console.result({"packages": [r.as_dict() for r in results]})


def register(app: typer.Typer) -> None:
    app.command("package")(package)
