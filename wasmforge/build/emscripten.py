"""``kind = "emscripten"``: C/C++ with emcc, as JS glue + wasm (``web``, ``node``) or a standalone
WASI module.

Debian's emcc (3.1.6 in the debian-12 set, 3.1.69 in debian-13) has quirks that are handled here
so that users never meet them:
- its JS tools ``require`` modules that Debian installs under /usr/share/nodejs (``NODE_PATH``);
- 3.1.6's Node glue loads the .wasm with ``fetch`` whenever one exists, and Node 18+ has a ``fetch``
  that cannot read file paths: a ``--pre-js`` hides ``fetch`` from the glue when it runs under Node
  (3.1.69's glue reads the file itself, so it gets none);
- at -O1 and above it minifies the HTML shell with a broken call (3.1.6: ``htmlmin``'s argument
  list; 3.1.69: the lookup of ``html-minifier-terser``), so HTML minification is switched off.
wasm-opt is not run again over emcc's output unless the target sets ``optimize = true``: emcc runs
binaryen itself at the profile's -O level.

As for wasi-sdk, each source is compiled on its own (``-MD`` names the headers it read) and the
objects are linked by one emcc run, which writes the glue and the module. The target's ``settings``
go to both: a few of them (exceptions, threads, ports) change how sources compile.

A ``node`` program is linked with ``-sNODERAWFS`` (``node-rawfs``, on by default): it sees the
host's files at their own paths, from Node's working directory, as any Node program does, rather
than an empty in-memory file system. Not added when the target's own flags or settings name
NODERAWFS (theirs decides), nor when it embeds or preloads files (emcc refuses the combination).
"""

from __future__ import annotations

from wasmforge.build.component import wants_component
from wasmforge.build.flags import c_remap_flags, clang_opt_flag, define_flags
from wasmforge.build.plan import (
    Output,
    PlanContext,
    TargetPlan,
    module_name,
    output_stem,
)
from wasmforge.build.sources import expand_sources, project_dir
from wasmforge.build.wasi_sdk import LINK_TRACE, compile_actions, link_action, user_flags
from wasmforge.config.model import EmscriptenTarget
from wasmforge.config.resolve import Profile
from wasmforge.errors import ConfigError
from wasmforge.kinds import toolchain_of
from wasmforge.toolchain_sets import SETS

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
# emcc's options that put files into the program's virtual file system, which NODERAWFS replaces.
_FILE_PACKING = ("--embed-file", "--preload-file", "--use-preload-plugins")


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
    cflags, ldflags = user_flags(context, "emscripten", target)
    # In the order of the link's argv: emcc keeps the last value of a setting.
    node_rawfs, rawfs_flags = _node_rawfs(name, target, [*cflags, *ldflags, *settings])
    compile_flags = [
        *profile_flags,
        *[f"-I{layout.in_src(project_dir(context.root, name, 'include-dirs', d))}"
          for d in target.include_dirs],
        *define_flags(target.defines),
        *cflags,
        *settings, *([_QUIET_SETTINGS] if settings else []),
    ]
    compiles = compile_actions(context, name, TOOLCHAIN, ["emcc", *compile_flags], sources, env,
                               flag_words=[*cflags, *settings])
    objects = tuple(action.produces[0] for action in compiles)
    argv = [
        "emcc", *profile_flags, *_name_flags(profile), *cflags,
        *[f"{out}/{obj}" for obj in objects],
        *ldflags,
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
        argv += [*_component_flags(name, target, context, [*cflags, *ldflags, *settings]),
                 "-sSTANDALONE_WASM", "-o", f"{out}/{final}"]
        outputs: tuple[Output, ...] = (Output(produced=final, name=final),)
        main_module = final
    else:
        stem = output_stem(name, target.output)
        argv.append(f"-sENVIRONMENT={target.environment}")
        if target.environment == "node":
            argv += rawfs_flags
            if SETS[context.toolchains.set_for(TOOLCHAIN)].emcc_node_fetches:
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
                       flag_words=[*cflags, *ldflags, *settings], files=files)
    plan = TargetPlan(
        name=name, kind="emscripten", toolchain=TOOLCHAIN, actions=(*compiles, link),
        outputs=outputs, main_module=main_module, js_glue=target.environment != "standalone",
        inputs=tuple(dict.fromkeys([*sources, *link.sources, *link.trees])),
        node_rawfs=node_rawfs,
    )
    # Only when asked: emcc already ran wasm-opt at the profile's level.
    return plan, target.optimize and "optimize" in target.model_fields_set


def _name_flags(profile: Profile) -> list[str]:
    """What keeps the name section when the profile keeps names: emcc drops it unless built with -g
    (which keeps DWARF too) or told ``--profiling-funcs``, and its output is not stripped again."""
    return ["--profiling-funcs"] if not profile.strip_names and not profile.debug_info else []


def _component_flags(
    name: str, target: EmscriptenTarget, context: PlanContext, words: list[str],
) -> list[str]:
    """A standalone module's memory cannot grow by default, and the preview1 adapter of a
    component takes its own state from memory.grow at start: a component needs growth."""
    if not wants_component(target, context):
        return []
    growth = _last_setting(words, "ALLOW_MEMORY_GROWTH")
    if growth is False:
        msg = (f"targets.{name}: ALLOW_MEMORY_GROWTH=0 in its flags or settings, but the WASI "
               "adapter of a component needs to grow memory (by a page, at start)")
        raise ConfigError(msg, hint="drop ALLOW_MEMORY_GROWTH=0, or build it as a core module")
    return [] if growth else ["-sALLOW_MEMORY_GROWTH=1"]


def _setting(key: str, value: str | int | bool | list[str]) -> str:
    if isinstance(value, bool):
        rendered = "1" if value else "0"
    elif isinstance(value, list):
        rendered = ",".join(value)
    else:
        rendered = str(value)
    return f"-s{key}={rendered}"


def _node_rawfs(
    name: str, target: EmscriptenTarget, words: list[str]
) -> tuple[bool, list[str]]:
    """Whether the program gets the host's file system (NODERAWFS), and the link flags wasmforge
    adds for it: none when the flags or settings (``words``, in link order) already decide."""
    chosen = "node_rawfs" in target.model_fields_set
    if target.environment != "node":
        if chosen:
            msg = f"targets.{name}.node-rawfs: only for environment = \"node\""
            raise ConfigError(msg)
        return False, []
    own = _last_setting(words, "NODERAWFS")
    if own is not None:
        if chosen and own != target.node_rawfs:
            msg = (f"targets.{name}.node-rawfs = {str(target.node_rawfs).lower()} contradicts "
                   f"NODERAWFS={int(own)} in the target's or [toolchains.emscripten]'s flags, "
                   "or in its settings")
            raise ConfigError(msg, hint="keep one of them")
        return own, []
    packing = next((w for w in words if w.partition("=")[0] in _FILE_PACKING), None)
    if packing is not None:
        if chosen and target.node_rawfs:
            msg = (f"targets.{name}.node-rawfs: NODERAWFS replaces the virtual file system that "
                   f"{packing.partition('=')[0]} fills (emcc refuses both)")
            raise ConfigError(msg, hint="set node-rawfs = false, or read the files from the host")
        return False, []
    return target.node_rawfs, ["-sNODERAWFS=1"] if target.node_rawfs else []


def _last_setting(words: list[str], key: str) -> bool | None:
    """The last ``-sKEY[=VALUE]`` or ``-s KEY[=VALUE]`` among emcc's arguments, read as emcc reads
    it: no value is 1, a number is itself (0x for hex), any other text is true."""
    found: bool | None = None
    for index, word in enumerate(words):
        if word == "-s" and index + 1 < len(words):
            setting = words[index + 1]
        elif word.startswith("-s"):
            setting = word[2:]
        else:
            continue
        setting_name, sep, value = setting.partition("=")
        if setting_name == key:
            found = _truthy(value) if sep else True
    return found


def _truthy(value: str) -> bool:
    try:
        return int(value, 16 if value.startswith("0x") else 10) != 0
    except ValueError:
        return bool(value)
