"""What serve serves: [serve.routes] in wasmforge.toml, the TARGET arguments, the defaults, and the
handlers and static files made from a build manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import wagi_modules as wm
from wasmforge.build.manifest import BuildManifest, FileRecord, ManifestEntry, manifest_path
from wasmforge.config.load import load_config
from wasmforge.config.model import WasmforgeConfig
from wasmforge.errors import ConfigError, UserError
from wasmforge.serve.plan import PlannedRoute, ServePlan, load_serving, plan_serving

TARGETS = """\
[project]
name = "demo"

[targets.api]
kind = "wasi-sdk"
sources = ["api.c"]

[targets.hello]
kind = "wat"
source = "hello.wat"

[targets.page]
kind = "emscripten"
sources = ["page.c"]
html = true

[targets.lib]
kind = "wasi-sdk"
sources = ["lib.c"]
exec-model = "reactor"

[targets.tool]
kind = "emscripten"
sources = ["tool.c"]
environment = "node"
"""


def _config(tmp_path: Path, extra: str = "") -> WasmforgeConfig:
    path = tmp_path / "wasmforge.toml"
    path.write_text(TARGETS + extra)
    return load_config(path)


def _error(tmp_path: Path, extra: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _config(tmp_path, extra)
    return caught.value.message


def test_routes_in_wasmforge_toml(tmp_path: Path) -> None:
    config = _config(tmp_path, """
[serve.routes]
"/hello" = "hello"
"/api/..." = { target = "api", dirs = ["data:/data", "static"], env = { MODE = "test" } }
""")
    plan = plan_serving(config, [])
    assert plan == ServePlan(
        routes=(PlannedRoute("/hello", "hello"),
                PlannedRoute("/api/...", "api", ("data:/data", "static"), (("MODE", "test"),))),
        pages=("page",))
    assert plan.targets == ("hello", "api", "page")
    # Naming targets serves only their routes (and named pages).
    assert plan_serving(config, ["api"]) == ServePlan(
        (PlannedRoute("/api/...", "api", ("data:/data", "static"), (("MODE", "test"),)),), ())


@pytest.mark.parametrize(("extra", "message"), [
    ('[serve.routes]\n"/x" = "nope"\n',
     "serve: route /x: no target 'nope' (targets: api, hello, page, lib, tool)"),
    ('[serve.routes]\n"x" = "api"\n', "serve.routes: route 'x' must start with '/'"),
    ('[serve.routes]\n"/x/.../y" = "api"\n', "'...' may only end a route"),
    ('[serve.routes]\n"/x" = { target = "api", dir = [] }\n',
     "serve.routes./x.dir: unknown key (did you mean 'dirs'?)"),
    ('[serve.routes]\n"/x" = 3\n', "serve.routes./x: expected a target name or a table"),
    ('[serve.routes]\n"/x" = { target = "api", env = { "1X" = "v" } }\n',
     "serve.routes./x.env.1X: not an environment variable name"),
    ('[serve.routes]\n"/x" = { target = "api", dirs = [":guest"] }\n',
     "serve.routes./x.dirs.0: String should match pattern"),
    ('[serve]\nport = 3000\n', "serve.port: unknown key"),
])
def test_bad_routes_are_config_errors(tmp_path: Path, extra: str, message: str) -> None:
    assert message in _error(tmp_path, extra)


def test_one_target_without_routes_answers_every_path(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert plan_serving(config, ["hello"]).routes == (PlannedRoute("/...", "hello"),)
    # Several: each under its name. Reactors and Node programs are left out by default.
    assert plan_serving(config, []) == ServePlan(
        (PlannedRoute("/api/...", "api"), PlannedRoute("/hello/...", "hello")), ("page",))
    assert plan_serving(config, ["page"]) == ServePlan((), ("page",))


def test_an_unrouted_target_next_to_routes_gets_its_own_prefix(tmp_path: Path) -> None:
    config = _config(tmp_path, '[serve.routes]\n"/..." = "api"\n')
    assert plan_serving(config, ["api", "hello"]).routes == (
        PlannedRoute("/...", "api"), PlannedRoute("/hello/...", "hello"))
    taken = _config(tmp_path, '[serve.routes]\n"/hello/..." = "api"\n')
    with pytest.raises(ConfigError, match=r"/hello/\.\.\. \(where it would be served\) is the "
                       "route of 'api'"):
        plan_serving(taken, ["api", "hello"])


@pytest.mark.parametrize(("names", "message"), [
    (["nope"], "no target named 'nope' (targets: api, hello, page, lib, tool)"),
    (["lib"], ("target 'lib' cannot be served: it is a reactor (exec-model = \"reactor\"); WAGI "
              "handlers are commands")),
    (["tool"], ("target 'tool' cannot be served: it is Emscripten node output; run it with "
               "wasmforge run")),
])
def test_targets_that_cannot_be_served(tmp_path: Path, names: list[str], message: str) -> None:
    with pytest.raises(UserError) as caught:
        plan_serving(_config(tmp_path), names)
    assert caught.value.message == message


def test_a_route_to_a_page_or_a_reactor_is_a_config_error(tmp_path: Path) -> None:
    for target, what in (("page", "an Emscripten web page"), ("lib", "a reactor")):
        config = _config(tmp_path, f'[serve.routes]\n"/x" = "{target}"\n')
        with pytest.raises(ConfigError, match=f"target '{target}' is {what}"):
            plan_serving(config, [])


def _entry(name: str, main: str, files: list[str], *, js_glue: bool = False) -> ManifestEntry:
    return ManifestEntry(name=name, kind="wat", profile="debug", main_module=main,
                         files=tuple(FileRecord(f, "0" * 64, 0) for f in files), js_glue=js_glue,
                         exec_model=None, source_date_epoch=0, toolchain="wabt",
                         toolchain_image_id=None, runner="local")


def test_handlers_and_static_files_from_the_build(tmp_path: Path) -> None:
    out = tmp_path / "dist" / "debug"
    out.mkdir(parents=True)
    wm.write_module(out, "hello", wm.PREOPEN)
    for name in ("page.html", "page.js", "page.wasm"):
        (out / name).write_text(name)
    (tmp_path / "data").mkdir()
    manifest = BuildManifest(manifest_path(tmp_path / "dist", "debug"), "demo", "debug", {
        "hello": _entry("hello", "hello.wat", ["hello.wat"]),
        "page": _entry("page", "page.wasm", ["page.js", "page.wasm", "page.html"], js_glue=True),
    })
    plan = ServePlan((PlannedRoute("/api/...", "hello", ("data:/srv",), (("K", "v"),)),),
                     ("page",))
    routes, static = load_serving(plan, manifest, tmp_path, timeout=7.0)
    (route,) = routes
    assert (route.pattern.pattern, route.target) == ("/api/...", "hello")
    assert route.handler.dirs == ((str(tmp_path / "data"), "/srv"),)
    assert (route.handler.env, route.handler.timeout) == ({"K": "v"}, 7.0)
    assert {url: (f.path.name, f.content_type) for url, f in static.items()} == {
        "/page.js": ("page.js", "text/javascript; charset=utf-8"),
        "/page.wasm": ("page.wasm", "application/wasm"),
        "/page.html": ("page.html", "text/html; charset=utf-8"),
    }
    with pytest.raises(UserError, match="target 'nope' is not in the debug build output"):
        load_serving(ServePlan((PlannedRoute("/...", "nope"),), ()), manifest, tmp_path,
                     timeout=1.0)
    with pytest.raises(ConfigError, match=r"dirs 'missing': .*missing is not a directory"):
        load_serving(ServePlan((PlannedRoute("/...", "hello", ("missing",)),), ()), manifest,
                     tmp_path, timeout=1.0)
