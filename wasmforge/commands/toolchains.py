"""``wasmforge toolchains list|build|verify|push|pull``: show, build, check and share the
toolchain images.

Each acts on the images of the project's toolchain set (``[toolchains] set``, per kind ``set``),
or of the set ``--set`` names, or of every set (``--set all``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wasmforge.commands._common import JsonFlag, command_console, toolchain_set_named

if TYPE_CHECKING:
    from wasmforge.config.model import WasmforgeConfig
    from wasmforge.toolchain_sets import ToolchainSetName

toolchains_app = typer.Typer(
    name="toolchains",
    help="Show, build, verify and share the pinned toolchain images (wasi-sdk, rust, emscripten, "
    "and the wasmedge runtime) of each toolchain set.",
    no_args_is_help=True,
)

NamesArg = Annotated[
    list[str] | None,
    typer.Argument(help="Toolchains to act on (default: all of them).", show_default=False),
]
ProjectOption = Annotated[
    Path,
    typer.Option(
        "--project",
        "-p",
        help="Project directory whose wasmforge.toml [toolchains] "
        "overrides apply (ignored when it has none).",
    ),
]


RefArg = Annotated[
    str,
    typer.Argument(
        metavar="REF",
        help="Repository prefix in a registry, e.g. 127.0.0.1:5000/acme/toolchains: each image "
        "is REF/<toolchain>:<its content tag>.",
        show_default=False,
    ),
]
InsecureFlag = Annotated[
    bool,
    typer.Option(
        "--insecure",
        help="The registry speaks plain HTTP. The Docker engine moves the images and decides: it "
        "must list the registry in its insecure-registries (127.0.0.0/8 is, by default).",
    ),
]


ALL_SETS = "all"
SetOption = Annotated[
    str | None,
    typer.Option(
        "--set",
        help="Toolchain set: debian-13, debian-12, or 'all' "
        "(default: the project's [toolchains] set).",
        show_default=False,
    ),
]


def register(app: typer.Typer) -> None:
    app.add_typer(toolchains_app)


def _load_project(project: Path) -> tuple[WasmforgeConfig | None, Path]:
    from wasmforge.config.load import CONFIG_FILE, load_config

    path = project / CONFIG_FILE if project.is_dir() or not project.exists() else project
    if not path.is_file():
        return None, project if project.is_dir() else path.parent
    return load_config(path), path.parent


def _selection(
    names: list[str] | None, set_option: str | None, config: WasmforgeConfig | None
) -> list[tuple[ToolchainSetName | None, str]]:
    """(set, image name) pairs to act on; a None set means "as the project's config says"."""
    from wasmforge.toolchain_sets import DEFAULT_SET, TOOLCHAIN_SETS
    from wasmforge.toolchains.images import check_kind, image_names

    sets: list[ToolchainSetName | None]
    if set_option is None:
        sets = [None]
    elif set_option == ALL_SETS:
        sets = list(TOOLCHAIN_SETS)
    else:
        sets = [toolchain_set_named(set_option, also=ALL_SETS)]
    chosen: list[tuple[ToolchainSetName | None, str]] = []
    for toolchain_set in sets:
        listed = image_names(toolchain_set or (config.toolchains.set if config else DEFAULT_SET))
        for name in dict.fromkeys(names or listed):
            check_kind(name)
            if names and set_option == ALL_SETS and name not in listed:
                continue  # e.g. wasmedge, which only some sets ship
            chosen.append((toolchain_set, name))
    return chosen


@toolchains_app.command("list")
def list_command(
    names: NamesArg = None,
    toolchain_set: SetOption = None,
    project: ProjectOption = Path(),
    json_flag: JsonFlag = False,
) -> None:
    """Each image's set, tag, tool versions, whether it is built, its image id and any override."""
    from wasmforge.engine import docker_client
    from wasmforge.toolchains.images import default_lock, find_image, resolve_source, tag_for
    from wasmforge.toolchains.summary import describe, tool_versions

    console = command_console(json_flag)
    config, root = _load_project(project)
    client = docker_client()
    lock = default_lock(client)
    rows: list[dict[str, Any]] = []
    for chosen_set, name in _selection(names, toolchain_set, config):
        source = resolve_source(name, config, root, chosen_set)
        tag = tag_for(source)
        image_id = find_image(client, tag)
        entry = lock.get(source.lock_name)
        shipped = source.override is None
        rows.append(
            {
                "name": name,
                "set": source.toolchain_set,
                "versions": tool_versions(source.recipe, source.toolchain_set)
                if shipped and source.recipe is not None else {},
                "tag": tag,
                "built": image_id is not None,
                "image_id": image_id,
                "override": source.override,
                "locked": entry is not None and entry.image_id == image_id,
                "base_origin": entry.base.origin if entry and entry.base else None,
            }
        )
    console.table(
        ["set", "toolchain", "tag", "built", "versions", "override"],
        [
            [
                r["set"],
                r["name"],
                r["tag"],
                "yes" if r["built"] else "no",
                describe(r["versions"]) or "-",
                r["override"] or "-",
            ]
            for r in rows
        ],
    )
    console.result({"lock_file": str(lock.path), "toolchains": rows})


@toolchains_app.command("build")
def build_command(
    names: NamesArg = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Build again even if the image exists.")
    ] = False,
    toolchain_set: SetOption = None,
    project: ProjectOption = Path(),
    json_flag: JsonFlag = False,
) -> None:
    """Build (or pull) the toolchain images, streaming the build output."""
    from wasmforge.engine import docker_client
    from wasmforge.toolchains.images import default_lock, ensure_image

    console = command_console(json_flag)
    config, root = _load_project(project)
    client = docker_client()
    lock = default_lock(client)
    rows: list[dict[str, Any]] = []
    for chosen_set, name in _selection(names, toolchain_set, config):
        started = time.monotonic()
        image = ensure_image(
            name, config, console, root=root, client=client, rebuild=rebuild, lock=lock,
            toolchain_set=chosen_set,
        )
        size = int(client.images.get(image.image_id).attrs.get("Size", 0))
        rows.append(
            {
                "name": name,
                "set": image.toolchain_set,
                "reference": image.reference,
                "image_id": image.image_id,
                "size_bytes": size,
                "seconds": round(time.monotonic() - started, 1),
                "env": dict(image.env),
            }
        )
    console.table(
        ["set", "toolchain", "image", "image id", "size", "time"],
        [
            [
                r["set"],
                r["name"],
                r["reference"],
                r["image_id"][:19],
                f"{r['size_bytes'] / 1e6:.0f} MB",
                f"{r['seconds']:.1f} s",
            ]
            for r in rows
        ],
    )
    console.result({"lock_file": str(lock.path), "toolchains": rows})


@toolchains_app.command("verify")
def verify_command(
    names: NamesArg = None,
    toolchain_set: SetOption = None,
    project: ProjectOption = Path(),
    json_flag: JsonFlag = False,
) -> None:
    """Check each image: present, as locked, and each tool runs and reports its pinned version."""
    from wasmforge.engine import docker_client
    from wasmforge.errors import ToolchainError
    from wasmforge.toolchains.images import default_lock, resolve_source, tag_for
    from wasmforge.toolchains.verify import verify_source

    console = command_console(json_flag)
    config, root = _load_project(project)
    client = docker_client()
    lock = default_lock(client)
    reports: list[dict[str, Any]] = []
    for chosen_set, name in _selection(names, toolchain_set, config):
        source = resolve_source(name, config, root, chosen_set)
        tag = tag_for(source)
        results = verify_source(client, source, tag, lock.get(source.lock_name))
        ok = all(result.ok for result in results)
        reports.append(
            {
                "name": name,
                "set": source.toolchain_set,
                "image": tag,
                "ok": ok,
                "checks": [result.to_json() for result in results],
            }
        )
        console.table(
            ["check", "ok", "detail"],
            [[r.name, "ok" if r.ok else "FAIL", r.detail] for r in results],
            title=f"{source.toolchain_set} {name}: {tag}",
        )
    console.result({"ok": all(r["ok"] for r in reports), "toolchains": reports})
    failed = [r for r in reports if not r["ok"]]
    if failed:
        first = next(c for c in failed[0]["checks"] if not c["ok"])
        names_failed = [r["name"] for r in failed]
        msg = (
            f"toolchain verification failed for {', '.join(names_failed)} "
            f"({failed[0]['name']}: {first['name']}: {first['detail']})"
        )
        raise ToolchainError(
            msg, hint="wasmforge toolchains build --rebuild " + " ".join(names_failed)
        )


@toolchains_app.command("push")
def push_command(
    reference: RefArg,
    names: NamesArg = None,
    toolchain_set: SetOption = None,
    project: ProjectOption = Path(),
    insecure: InsecureFlag = False,
    json_flag: JsonFlag = False,
) -> None:
    """Push the built images to REF/<toolchain>:<tag>, for other machines to pull."""
    from wasmforge.engine import docker_client
    from wasmforge.toolchains.images import resolve_source
    from wasmforge.toolchains.share import push_images

    console = command_console(json_flag)
    config, root = _load_project(project)
    sources = [resolve_source(name, config, root, chosen_set)
               for chosen_set, name in _selection(names, toolchain_set, config)]
    client = docker_client()
    rows = [row.to_json() for row in
            push_images(client, sources, reference, console, insecure=insecure)]
    console.table(
        ["set", "toolchain", "pushed reference", "digest"],
        [[r["set"], r["name"], r["reference"] or f"- ({r['status']})", r["digest"] or "-"]
         for r in rows],
    )
    console.result({"reference": reference, "toolchains": rows})


@toolchains_app.command("pull")
def pull_command(
    reference: RefArg,
    names: NamesArg = None,
    toolchain_set: SetOption = None,
    project: ProjectOption = Path(),
    insecure: InsecureFlag = False,
    json_flag: JsonFlag = False,
) -> None:
    """Pull the images another machine pushed to REF (those not here yet): checked against the
    recipes, tagged and locked as if built here."""
    from wasmforge.engine import docker_client
    from wasmforge.toolchains.images import default_lock, resolve_source
    from wasmforge.toolchains.share import pull_images

    console = command_console(json_flag)
    config, root = _load_project(project)
    sources = [resolve_source(name, config, root, chosen_set)
               for chosen_set, name in _selection(names, toolchain_set, config)]
    client = docker_client()
    lock = default_lock(client)
    rows = [row.to_json() for row in
            pull_images(client, sources, reference, console, lock=lock, insecure=insecure)]
    console.table(
        ["set", "toolchain", "reference", "status", "image id"],
        [[r["set"], r["name"], r["reference"] or "-", r["status"], (r["image_id"] or "-")[:19]]
         for r in rows],
    )
    console.result({"reference": reference, "lock_file": str(lock.path), "toolchains": rows})
