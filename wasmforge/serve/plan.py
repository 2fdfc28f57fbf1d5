"""What ``wasmforge serve`` serves, and where: from ``[serve.routes]``, the TARGET arguments and the
defaults (:func:`plan_serving`, pure), then the handlers and static files of a build
(:func:`load_serving`).

- With routes and no TARGET, the routes are served. With TARGETs, only the routes of those
  targets.
- A served WASI target that no route names gets a prefix route of its own: ``/...`` when it is the
  only route (SCRIPT_NAME empty, PATH_INFO the whole path), else ``/<target>/...``. With neither
  routes nor TARGETs, every WASI command target is served so.
- Emscripten ``web`` targets (all of them without TARGETs) are static files at the root.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, assert_never

from wasmforge.config.model import (
    EmscriptenTarget,
    RustTarget,
    WasiSdkTarget,
    WasmforgeConfig,
    WatTarget,
)
from wasmforge.errors import ConfigError, UserError
from wasmforge.serve.routes import WILDCARD

if TYPE_CHECKING:
    from wasmforge.build.manifest import BuildManifest
    from wasmforge.serve.server import Route, StaticFile

HANDLER = "handler"
PAGE = "page"


@dataclass(frozen=True)
class PlannedRoute:
    pattern: str
    target: str
    dirs: tuple[str, ...] = ()  # HOST[:GUEST] as written, HOST relative to the project
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ServePlan:
    routes: tuple[PlannedRoute, ...]
    pages: tuple[str, ...]  # Emscripten web targets: static files

    @property
    def targets(self) -> tuple[str, ...]:
        """Every target to build, in order, once."""
        return tuple(dict.fromkeys([*(r.target for r in self.routes), *self.pages]))


def target_role(config: WasmforgeConfig, name: str) -> str:
    """HANDLER (a WASI command), PAGE (an Emscripten web page), or why the target cannot be
    served, as a phrase."""
    target = config.targets[name]
    if target.component:
        return "a WASI 0.2 component (component = true); WAGI handlers are preview1 commands"
    match target:
        case WasiSdkTarget():
            if target.exec_model == "reactor":
                return "a reactor (exec-model = \"reactor\"); WAGI handlers are commands"
            return HANDLER
        case RustTarget():
            if target.crate_type == "cdylib":
                return "a library (crate-type = \"cdylib\"); WAGI handlers are commands"
            if target.triple == "wasm32-wasip2":
                return "a WASI 0.2 component (wasm32-wasip2); WAGI handlers are preview1 commands"
            return HANDLER
        case EmscriptenTarget():
            if target.environment == "web":
                return PAGE
            if target.environment == "node":
                return "Emscripten node output; run it with wasmforge run"
            return HANDLER
        case WatTarget():
            return HANDLER
        case _:
            assert_never(target)


def plan_serving(config: WasmforgeConfig, names: Sequence[str]) -> ServePlan:
    """Routes and pages for ``names`` (the TARGET arguments; none: the defaults)."""
    known = ", ".join(config.targets)
    for name in names:
        if name not in config.targets:
            msg = f"no target named {name!r} (targets: {known})"
            raise UserError(msg)
        role = target_role(config, name)
        if role not in (HANDLER, PAGE):
            msg = f"target {name!r} cannot be served: it is {role}"
            raise UserError(msg)
    configured = config.serve.routes
    for pattern, route in configured.items():
        role = target_role(config, route.target)
        if role != HANDLER:
            why = "an Emscripten web page (its files are served at the root without a route)" \
                if role == PAGE else role
            msg = f"[serve.routes] {pattern}: target {route.target!r} is {why}"
            raise ConfigError(msg)
    chosen = list(dict.fromkeys(names))
    routes = [PlannedRoute(pattern, route.target, tuple(route.dirs), tuple(route.env.items()))
              for pattern, route in configured.items() if not chosen or route.target in chosen]
    if chosen:
        handlers = [n for n in chosen if target_role(config, n) == HANDLER]
        pages = [n for n in chosen if target_role(config, n) == PAGE]
    else:
        roles = {name: target_role(config, name) for name in config.targets}
        handlers = [] if configured else [n for n, role in roles.items() if role == HANDLER]
        pages = [n for n, role in roles.items() if role == PAGE]
    routed = {route.target for route in routes}
    unrouted = [name for name in handlers if name not in routed]
    alone = not routes and len(unrouted) == 1
    for name in unrouted:
        pattern = WILDCARD if alone else f"/{name}{WILDCARD}"
        taken = next((route.target for route in routes if route.pattern == pattern), None)
        if taken is not None:
            msg = (f"target {name!r} has no route of its own, and {pattern} (where it would be "
                   f"served) is the route of {taken!r}")
            raise ConfigError(msg, hint=f"give {name} a route in [serve.routes]")
        routes.append(PlannedRoute(pattern, name))
    if not routes and not pages:
        msg = "nothing to serve: no target is a WASI command or an Emscripten web page"
        raise UserError(msg, hint="WAGI handlers are WASI command modules (a C or Rust main)")
    return ServePlan(tuple(routes), tuple(pages))


def load_serving(
    plan: ServePlan, manifest: BuildManifest, root: Path, *, timeout: float,
) -> tuple[list[Route], dict[str, StaticFile]]:
    """The routes (each with its handler, compiled) and static files of ``plan``, from the build
    that ``manifest`` describes. UserError for a target that is not built or not a WASI command
    module after all (a .wat reactor, a component)."""
    from wasmforge.serve.executor import WagiHandler
    from wasmforge.serve.routes import parse_route
    from wasmforge.serve.server import Route, StaticFile

    routes = []
    for planned in plan.routes:
        entry = manifest.targets.get(planned.target)
        if entry is None:
            msg = f"target {planned.target!r} is not in the {manifest.profile} build output"
            raise UserError(msg, hint="run wasmforge build first, or serve without --no-build")
        if entry.component is not None:
            msg = (f"target {planned.target!r} was built as a WASI 0.2 component; WAGI handlers "
                   "are preview1 command modules")
            raise UserError(msg, hint="build it without component = true (or --component)")
        module = entry.main_path(manifest.directory)
        if not module.is_file():
            msg = f"{module}: the built module of target {planned.target!r} is missing"
            raise UserError(msg, hint="run wasmforge build again")
        handler = WagiHandler(module, route=planned.pattern,
                              dirs=[_preopen(root, planned, spec) for spec in planned.dirs],
                              env=dict(planned.env), timeout=timeout)
        routes.append(Route(parse_route(planned.pattern), planned.target, handler))
    static: dict[str, StaticFile] = {}
    for name in plan.pages:
        entry = manifest.targets.get(name)
        if entry is None:
            msg = f"target {name!r} is not in the {manifest.profile} build output"
            raise UserError(msg, hint="run wasmforge build first, or serve without --no-build")
        for record in entry.files:
            url = f"/{record.name}"
            if url in static:
                msg = (f"targets {static[url].target!r} and {name!r} both have a file named "
                       f"{record.name}, served at {url}")
                raise UserError(msg, hint="give one of them another output name (output = ...)")
            static[url] = StaticFile.of(manifest.directory / record.name, name)
    return routes, static


def _preopen(root: Path, route: PlannedRoute, spec: str) -> tuple[str, str]:
    """``HOST[:GUEST]`` as (host directory, guest path); HOST is relative to the project."""
    host, sep, guest = spec.partition(":")
    path = root / host
    if not path.is_dir():
        msg = f"[serve.routes] {route.pattern}: dirs {spec!r}: {path} is not a directory"
        raise ConfigError(msg)
    return str(path), guest if sep and guest else host
