"""``wasmforge push``: upload a packaged image to an OCI registry, byte for byte.

``wasmforge push [REF] [--target NAME] [--format image|artifact]`` packages the project's target (the
same bytes as ``wasmforge package``) and pushes it to REF, default the target's ``package.image``.
``wasmforge push REF --layout DIR|TAR`` pushes an existing OCI layout. Prints the pushed digest.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wasmforge.commands._common import JsonFlag, command_console
from wasmforge.commands.package import FormatOption, ProfileOption, ReleaseFlag, profile_choice

if TYPE_CHECKING:
    from wasmforge.console import Console
    from wasmforge.oci.layout import LoadedImage

InsecureFlag = Annotated[
    bool, typer.Option("--insecure", help="Plain HTTP; only for registries on this machine "
                       "(localhost, 127.0.0.1, ::1).")
]


def push(
    reference: Annotated[str | None, typer.Argument(help="Where to push, e.g. "
                         "ghcr.io/acme/hello:1.0. Default: the target's package.image.")] = None,
    target: Annotated[str | None, typer.Option("--target", "-t", help="Project target to push "
                      "(needed when the project has several).")] = None,
    fmt: FormatOption = None,
    layout: Annotated[Path | None, typer.Option("--layout", "-l", help="Push this OCI layout "
                      "directory or tar instead of a project target.")] = None,
    project_path: Annotated[Path, typer.Option("--project", "-C",
                            help="Project directory.")] = Path(),
    profile: ProfileOption = None,
    release: ReleaseFlag = False,
    insecure: InsecureFlag = False,
    chunk_size: Annotated[int, typer.Option("--chunk-size", min=1024, help="Upload blobs larger "
                          "than this many bytes in chunks.")] = 16 * 1024 * 1024,
    json_flag: JsonFlag = False,
) -> None:
    """Push an image or artifact to a registry; prints its digest."""
    from wasmforge.errors import UserError
    from wasmforge.oci.layout import load_layout

    console = command_console(json_flag)
    with tempfile.TemporaryDirectory(prefix="wasmforge-push-") as scratch:
        if layout is not None:
            if reference is None:
                msg = "--layout: name the destination: wasmforge push REF --layout DIR"
                raise UserError(msg)
            image = load_layout(layout)
        else:
            # Packaged afresh into a scratch dir (same bytes: packaging is deterministic), so
            # that pushing one format never rewrites the packages the build left in dist/.
            image, reference = _project_image(reference, target, fmt, project_path,
                                              profile_choice(profile, release), Path(scratch))
        _push(image, reference, console, insecure=insecure, chunk_size=chunk_size)


def _push(
    image: LoadedImage, reference: str, console: Console, *, insecure: bool, chunk_size: int
) -> None:
    from wasmforge.oci.reference import parse_reference
    from wasmforge.oci.transfer import client_for, push_image

    ref = parse_reference(reference)
    client = client_for(ref, os.environ, insecure=insecure, chunk_size=chunk_size)
    console.info(f"pushing {image.format} {image.digest} to {ref}")
    result = push_image(image, ref, client)
    console.info(f"pushed {ref.registry}/{ref.repository}@{result.digest}")
    if not console.json_mode:
        print(result.digest)
    console.result(result.as_dict())


def _project_image(
    reference: str | None, target: str | None, fmt: str | None, path: Path, profile: str | None,
    scratch: Path,
) -> tuple[LoadedImage, str]:
    from wasmforge.errors import UserError
    from wasmforge.oci.layout import load_layout
    from wasmforge.oci.project import open_project, package_targets, single_format

    project, targets = open_project(path, os.environ, profile=profile,
                                    targets=(target,) if target else ())
    if len(targets) != 1:
        msg = f"the project has {len(targets)} targets ({', '.join(targets)}); choose one with --target"
        raise UserError(msg)
    name = targets[0]
    destination = reference or project.package_config(name).image
    if destination is None:
        msg = f"no destination for target {name!r}: pass REF or set targets.{name}.package.image"
        raise UserError(msg)
    built = project.built().targets.get(name)
    default = project.package_format(name, component=built is not None
                                     and built.component is not None)
    chosen = single_format(fmt or default.replace("both", "image"))
    [result] = package_targets(project, [name], os.environ, format_flag=chosen,
                              into=scratch)
    return load_layout(result.get(chosen).layout), destination


def register(app: typer.Typer) -> None:
    app.command("push")(push)
