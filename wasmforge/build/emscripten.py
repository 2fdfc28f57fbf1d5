"""``kind = "emscripten"``: C/C++ with emcc, as JS glue + wasm (``web``, ``node``) or a standalone
WASI module.

Debian's emcc 3.1.6 has quirks that are handled here so that users never meet them:
- its JS tools ``require`` modules that Debian installs under /usr/share/nodejs (``NODE_PATH``);
- its Node glue loads the .wasm with ``fetch`` whenever one exists, and Node 18+ has a ``fetch`` that
  cannot read file paths: a ``--pre-js`` hides ``fetch`` from the glue when it runs under Node;
- at -O1 and above it minifies the HTML shell by calling ``htmlmin`` with a broken argument list, so
  HTML minification is switched off.
wasm-opt is not run again over emcc's output unless the target sets ``optimize = true``: emcc runs
binaryen itself at the profile's -O level.

As for wasi-sdk, each source is compiled on its own (``-MD`` names the headers it read) and the
objects are linked by one emcc run, which writes the glue and the module. The target's ``settings``
go to both: a few of them (exceptions, threads, ports) change how sources compile.
"""

from __future__ import annotations

from wasmforge.build.flags import c_remap_flags, clang_opt_flag, define_flags
from wasmforge.build.plan import (
    Output,
    PlanContext,
    TargetPlan,
    module_name,
    output_stem,
)
from wasmforge.build.sources import expand_sources, project_dir
from wasmforge.build.wasi_sdk import LINK_TRACE, compile_actions, link_action
from wasmforge.config.model import EmscriptenTarget
from wasmforge.errors import ConfigError
from wasmforge.kinds import toolchain_of

TOOLCHAIN = toolchain_of("emscripten")
NODE_PATH = "/usr/share/nodejs"
NODE_FETCH_SHIM = ".wasmforge/node-no-fetch.js"
NODE_FETCH_SHIM_TEXT = """\
// Added by wasmforge: emcc 3.1.6's glue fetch()es the .wasm whenever fetch exists, but Node's fetch
// cannot read file paths. Under Node, hide fetch from the glue so that it reads the file instead.
var fetch = (typeof process === "object" && process.versions && process.versions.node)
  ? undefined : globalThis.fetch;
"""
# emcc warns about every link-only setting given to a compile; the target's settings go to both.
_QUIET_SETTINGS = "-Wno-unused-command-line-argument"


def plan_target(
    name: str, target: EmscriptenTarget, context: PlanContext
) -> tuple[TargetPlan, bool]:
    if not target.sources:
        msg = f"targets.{name}.sources: an emscripten target needs C/C++ sources"
        raise ConfigError(msg)
    if target.html and target.environment != "web":
        msg = f"targets.{name}.html: an HTML page needs environment = \"web\""
        raise ConfigError(msg)
    sources = expand_sources(context.root, name, target.sources, record=context.globs)
    layout = context.layout
    out = layout.out(name)
    profile = context.profile
    env = tuple(sorted({"NODE_PATH": NODE_PATH, **target.env}.items()))
    profile_flags = [
        clang_opt_flag(profile.opt_level),
        *(["-g"] if profile.debug_info else []),
        *c_remap_flags(layout, name),
    ]
    settings = [_setting(key, value) for key, value in sorted(target.settings.items())]
    compile_flags = [
        *profile_flags,
        *[f"-I{layout.in_src(project_dir(context.root, name, 'include-dirs', d))}"
          for d in target.include_dirs],
        *define_flags(target.defines),
        *target.cflags,
        *settings, *([_QUIET_SETTINGS] if settings else []),
    ]
    compiles = compile_actions(context, name, TOOLCHAIN, ["emcc", *compile_flags], sources, env,
                               flag_words=[*target.cflags, *settings])
    objects = tuple(action.produces[0] for action in compiles)
    argv = [
        "emcc", *profile_flags, *target.cflags,
        *[f"{out}/{obj}" for obj in objects],
        *target.ldflags,
        *[f"-l{lib}" for lib in target.libs],
        LINK_TRACE,
    ]
    if target.exports:
        argv.append("-sEXPORTED_FUNCTIONS=" + ",".join(f"_{e}" for e in target.exports))
        if target.environment != "standalone":
            argv.append("-sEXPORTED_RUNTIME_METHODS=ccall,cwrap")
    argv += settings
    files: tuple[tuple[str, str], ...] = ()
    if target.environment == "standalone":
        final = module_name(name, target.output)
        argv += ["-sSTANDALONE_WASM", "-o", f"{out}/{final}"]
        outputs: tuple[Output, ...] = (Output(produced=final, name=final),)
        main_module = final
    else:
        stem = output_stem(name, target.output)
        argv.append(f"-sENVIRONMENT={target.environment}")
        if target.environment == "node":
            argv += ["--pre-js", f"{out}/{NODE_FETCH_SHIM}"]
            files = ((NODE_FETCH_SHIM, NODE_FETCH_SHIM_TEXT),)
        # The glue names the .wasm it loads, so emcc writes the final names directly.
        extensions = ["js", "wasm"]
        if target.html:
            argv += ["-sMINIFY_HTML=0", "-o", f"{out}/{stem}.html"]
            extensions.append("html")
        else:
            argv += ["-o", f"{out}/{stem}.js"]
        outputs = tuple(Output(produced=f"{stem}.{e}", name=f"{stem}.{e}") for e in extensions)
        main_module = f"{stem}.wasm"
    link = link_action(context, TOOLCHAIN, tuple(argv), compiles,
                       tuple(o.produced for o in outputs), env,
                       flag_words=[*target.cflags, *target.ldflags, *settings], files=files)
    plan = TargetPlan(
        name=name, kind="emscripten", toolchain=TOOLCHAIN, actions=(*compiles, link),
        outputs=outputs, main_module=main_module, js_glue=target.environment != "standalone",
        inputs=tuple(dict.fromkeys([*sources, *link.sources, *link.trees])),
    )
    # Only when asked: emcc already ran wasm-opt at the profile's level.
    return plan, target.optimize and "optimize" in target.model_fields_set


def _setting(key: str, value: str | int | bool | list[str]) -> str:
    if isinstance(value, bool):
        rendered = "1" if value else "0"
    elif isinstance(value, list):
        rendered = ",".join(value)
    else:
        rendered = str(value)
    return f"-s{key}={rendered}"
