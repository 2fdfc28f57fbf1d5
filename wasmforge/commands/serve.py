"""``wasmforge serve``: build, then serve WASI command modules as WAGI handlers over HTTP.

The targets are built as ``wasmforge build`` builds them (``wasmforge.build.project``; nothing
changed: the cache answers), without packaging, unless ``--no-build``; then served from the build
manifest: routes from ``[serve.routes]`` or the defaults (``wasmforge.serve.plan``), Emscripten web
pages as static files. Ctrl-C or SIGTERM stops the server (exit 130 or 143, as for every command).
See docs/serve.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wasmforge.commands._common import (
    DebugFlag,
    JsonFlag,
    ProfileOption,
    ReleaseFlag,
    chosen_profile,
    command_console,
)
from wasmforge.errors import UserError

if TYPE_CHECKING:
    from wasmforge.config.resolve import Settings
    from wasmforge.console import Console
    from wasmforge.serve.plan import ServePlan
    from wasmforge.serve.server import WagiServer

DEFAULT_PORT = 3000
DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_MAX_BODY = "10MiB"


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    targets: Annotated[
        list[str] | None,
        typer.Argument(metavar="[TARGET]...", show_default=False,
                       help="Targets to serve (default: the routes of wasmforge.toml's "
                            "serve.routes table, else every WASI command target; Emscripten web "
                            "pages too)."),
    ] = None,
    project_path: Annotated[
        Path, typer.Option("--project", "-C", help="Project directory (or its wasmforge.toml).")
    ] = Path(),
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free one; "
                          "the line 'serving on URL' says which).")
    ] = DEFAULT_PORT,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    release: ReleaseFlag = False,
    debug: DebugFlag = False,
    profile: ProfileOption = None,
    no_build: Annotated[
        bool, typer.Option("--no-build", help="Serve what the last build made; do not build.")
    ] = False,
    request_timeout: Annotated[
        float, typer.Option("--request-timeout", min=0.001, metavar="SECONDS",
                            help="Stop a handler still running after this long (504).")
    ] = DEFAULT_REQUEST_TIMEOUT,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1,
                                 help="Handlers running at once; more requests wait in a queue "
                                      "(default: the number of CPUs, at least 2).")
    ] = None,
    max_body_size: Annotated[
        str, typer.Option("--max-body-size", metavar="SIZE",
                          help="Largest request body, e.g. 1MiB (larger: 413).")
    ] = DEFAULT_MAX_BODY,
    watch: Annotated[
        bool, typer.Option("--watch", "-w",
                           help="Rebuild on every change and serve the rebuilt modules (a failed "
                                "build keeps the last good ones serving).")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Serve WASI command modules as WAGI (CGI over WASI) HTTP handlers."""
    import os

    from wasmforge.config.load import find_config, load_config
    from wasmforge.config.resolve import BuildFlags, resolve_settings
    from wasmforge.serve.plan import plan_serving

    console = command_console(json_output)
    profile_name = chosen_profile(release, debug, profile)
    max_body = _size(max_body_size)
    config_path = find_config(project_path)
    root = config_path.parent.resolve()
    config = load_config(config_path)
    plan = plan_serving(config, list(dict.fromkeys(targets or ())))
    settings = resolve_settings(root, config, os.environ,
                                BuildFlags(profile=profile_name, targets=plan.targets))
    if no_build and watch:
        msg = "--watch and --no-build contradict each other: give one"
        raise UserError(msg)

    def current_settings() -> Settings:
        """From wasmforge.toml as it is now (a rebuild of --watch reads it again: flags and
        sources may have changed; routes are fixed while serving)."""
        return resolve_settings(root, load_config(config_path), os.environ,
                                BuildFlags(profile=profile_name, targets=plan.targets))

    def build() -> None:
        from wasmforge.build.project import build_project
        from wasmforge.cli import invocation_args

        build_project(current_settings(), config_path, console, request_args=invocation_args(),
                      package=False)

    if not no_build:
        build()
    server = start_server(plan_root=root, out_dir=settings.out_dir,
                          profile=settings.profile.name, plan=plan, host=host, port=port,
                          timeout=request_timeout, workers=workers, max_body=max_body,
                          console=console)
    _announce(server, console)
    if watch:
        from wasmforge.build.project import inputs_unchanged
        from wasmforge.cli import invocation_args
        from wasmforge.serve.reload import start_reloading

        stop = start_reloading(
            server, root=root, out_dir=settings.out_dir, profile=settings.profile.name,
            build=build, console=console,
            unchanged=lambda: inputs_unchanged(current_settings(), invocation_args()))
        try:
            server.serve_forever()
        finally:
            stop.set()
        return
    server.serve_forever()


def start_server(
    *, plan_root: Path, out_dir: Path, profile: str, plan: ServePlan, host: str, port: int,
    timeout: float, workers: int | None, max_body: int, console: Console,
) -> WagiServer:
    """The server for ``plan`` over the build in ``out_dir``/``profile``, listening (not yet
    serving: call its ``serve_forever``)."""
    from wasmforge.build.manifest import BuildManifest
    from wasmforge.serve.plan import load_serving
    from wasmforge.serve.server import WagiServer

    manifest = BuildManifest.read(out_dir, profile)
    routes, static = load_serving(plan, manifest, plan_root, timeout=timeout)
    return WagiServer(routes, static, host=host, port=port, workers=workers, max_body=max_body,
                      console=console)


def _announce(server: WagiServer, console: Console) -> None:
    """Where the server listens and what it serves (stderr; with --json, one document)."""
    rows = [[route.pattern.pattern, route.target, str(route.handler.module)]
            for route in server.routes]
    rows += [[url, file.target, f"static ({file.content_type.split(';')[0]})"]
             for url, file in server.static.items()]
    console.table(["route", "target", "serves"], rows)
    console.info(f"serving on {server.url} (Ctrl-C stops)")
    console.result({
        "url": server.url,
        "routes": [{"route": r.pattern.pattern, "target": r.target,
                    "module": str(r.handler.module)} for r in server.routes],
        "static": [{"path": url, "target": f.target, "file": str(f.path),
                    "content_type": f.content_type} for url, f in server.static.items()],
    })


def _size(text: str) -> int:
    from wasmforge.config.resolve import parse_size
    from wasmforge.errors import ConfigError

    try:
        return parse_size(text, "--max-body-size")
    except ConfigError as error:  # a flag, not the config file: a user error
        raise UserError(error.message) from None
