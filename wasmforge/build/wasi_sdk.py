"""``kind = "wasi-sdk"``: C and C++ to WASI with clang, or the user's own make/CMake command.

``triple`` picks wasi-libc's sysroot: ``wasm32-wasip1`` (clang 16 of the debian-12 set calls it
``wasm32-wasi``) or ``wasm32-wasip2``, whose core module imports the WASI 0.2 interfaces (and still
some preview 1 functions) and is made a component after it is optimised (``build.component``).

Each source is compiled on its own (``-c``, with ``-MD`` naming the headers it read), then the
objects are linked: compiles run in parallel and are cached one by one, so touching one file
recompiles one file. The module is byte for byte what a single clang run over all sources gives
with no optimisation level at its link.

The link gets no ``-O`` level, neither the profile's nor one from cflags: clang 16 reads it at a
link only to run a ``wasm-opt`` it finds on PATH over the linked module, without ``-g`` (so the name
section is lost) and without the module's features. The optimize action runs wasm-opt instead, as
the profile says, and is cached on its own. (An LTO level is wasm-ld's: ``-Wl,--lto-O3`` in
ldflags.)

With ``command`` the user's build runs in the project dir with these variables set:
``WASMFORGE_OUT`` (the only writable dir: put build trees there), ``CC``, ``CXX``, ``CFLAGS``,
``CXXFLAGS``, ``LDFLAGS`` (target, optimisation and path remapping), and ``artifact`` names the .wasm
it produces, relative to ``WASMFORGE_OUT``. Such a build reads what it likes: its whole project is
its input.
"""

from __future__ import annotations

import shlex
from typing import Literal

from wasmforge.build.action import Action
from wasmforge.build.flags import c_remap_flags, clang_opt_flag, define_flags, without_opt_levels
from wasmforge.build.plan import Output, PlanContext, TargetPlan, module_name
from wasmforge.build.sources import expand_sources, is_cxx, project_dir, referenced_paths
from wasmforge.config.model import CFamilyFields, WasiSdkTarget
from wasmforge.errors import ConfigError
from wasmforge.kinds import toolchain_of
from wasmforge.runner.base import Step
from wasmforge.toolchain_sets import SETS, WASIP2

TOOLCHAIN = toolchain_of("wasi-sdk")
# Objects and dependency files of the per-source compiles, inside the target's dir.
OBJECT_DIR = ".wasmforge/obj"
# wasm-ld lists every file it reads, so that libraries found on a search path are inputs too.
LINK_TRACE = "-Wl,--trace"


def target_flag(name: str, target: WasiSdkTarget, context: PlanContext) -> str:
    """clang's ``--target=`` for the target's ``triple`` in its toolchain set."""
    toolchain_set = SETS[context.toolchains.set_for(TOOLCHAIN)]
    if target.triple != WASIP2:
        return f"--target={toolchain_set.c_wasip1_target}"
    if not toolchain_set.wasip2:
        msg = (f"targets.{name}.triple: {WASIP2} needs the debian-13 toolchain set; the "
               f"{toolchain_set.name} set's wasi-libc has no {WASIP2} sysroot")
        raise ConfigError(msg, hint='set [toolchains] set = "debian-13"')
    return f"--target={WASIP2}"


def _wasip2_link_flags(target: WasiSdkTarget) -> list[str]:
    """For wasip2 clang would link with wasm-component-ld, which Debian does not ship: link the
    core module with wasm-ld instead (the componentize action then does the rest)."""
    return ["-fuse-ld=lld"] if target.triple == WASIP2 else []


def plan_target(name: str, target: WasiSdkTarget, context: PlanContext) -> tuple[TargetPlan, bool]:
    if target.command is not None:
        return _plan_command(name, target, context)
    if target.artifact is not None:
        msg = f"targets.{name}.artifact: only used together with 'command'"
        raise ConfigError(msg)
    if not target.sources:
        msg = f"targets.{name}: needs 'sources' (C/C++ files or globs) or a 'command'"
        raise ConfigError(msg)
    if target.exports and target.exec_model != "reactor":
        msg = f"targets.{name}.exports: only a reactor exports functions (set exec-model = \"reactor\")"
        raise ConfigError(msg)
    sources = expand_sources(context.root, name, target.sources, record=context.globs)
    language = target.language or ("c++" if any(is_cxx(s) for s in sources) else "c")
    driver = "clang++" if language == "c++" else "clang"
    layout = context.layout
    out = layout.out(name)
    env = tuple(sorted(target.env.items()))
    cxx = language == "c++"
    if cxx and target.triple == WASIP2:
        msg = (f"targets.{name}.triple: C++ cannot build for {WASIP2}: the toolchain's libc++ is "
               "built for wasm32-wasip1 only")
        raise ConfigError(msg, hint='use triple = "wasm32-wasip1" and component = true for a '
                          "C++ component")
    cflags, ldflags = user_flags(context, "wasi-sdk", target)
    wasi_target = target_flag(name, target, context)
    profile_flags = _profile_flags(context, name, cxx=cxx)
    compile_flags = [*profile_flags, *_preprocessor_flags(target, context, name), *cflags]
    compiles = compile_actions(context, name, TOOLCHAIN, [driver, wasi_target, *compile_flags],
                               sources, env, flag_words=cflags)
    objects = tuple(action.produces[0] for action in compiles)
    produced = f"{name}.wasm"
    link_flags = [*ldflags, *[f"-l{lib}" for lib in target.libs]]
    argv = (
        driver, wasi_target, *_wasip2_link_flags(target),
        *_profile_flags(context, name, cxx=cxx, link=True),
        *without_opt_levels(cflags),
        *([f"-mexec-model={target.exec_model}"] if target.exec_model == "reactor" else []),
        *[f"-Wl,--export={symbol}" for symbol in target.exports],
        *[f"{out}/{obj}" for obj in objects], *link_flags, LINK_TRACE,
        "-o", f"{out}/{produced}",
    )
    link = link_action(context, TOOLCHAIN, argv, compiles, (produced,), env,
                       flag_words=[*cflags, *ldflags])
    plan = _target_plan(name, target, (*compiles, link), produced,
                        (*sources, *link.sources, *link.trees))
    return plan, target.optimize


def user_flags(
    context: PlanContext, kind: Literal["wasi-sdk", "emscripten"], target: CFamilyFields
) -> tuple[list[str], list[str]]:
    """The cflags and ldflags of ``[toolchains.<kind>]`` followed by the target's own: for clang
    and emcc a later flag wins, so the target overrides what its toolchain's table says."""
    kind_cflags, kind_ldflags = context.toolchains.c_flags(kind)
    return [*kind_cflags, *target.cflags], [*kind_ldflags, *target.ldflags]


def compile_actions(
    context: PlanContext, name: str, toolchain: str, command: list[str], sources: list[str],
    env: tuple[tuple[str, str], ...], *, flag_words: list[str],
) -> list[Action]:
    """One compile action per source: ``command`` plus a depfile, the source and the object (both
    below OBJECT_DIR). The files ``flag_words`` name (response files, profiles) are inputs of each."""
    layout = context.layout
    out = layout.out(name)
    flag_files, flag_dirs = referenced_paths(context.root, flag_words)
    compiles = []
    for source in sources:
        obj, dep = f"{OBJECT_DIR}/{source}.o", f"{OBJECT_DIR}/{source}.d"
        argv = (*command, "-MD", "-MF", f"{out}/{dep}", "-c", layout.in_src(source),
                "-o", f"{out}/{obj}")
        compiles.append(Action(
            name=f"compile {source}", kind="compile", toolchain=toolchain,
            steps=(Step(description=f"compile {source}", argv=argv, cwd=layout.src, env=env),),
            sources=(source, *flag_files), trees=tuple(flag_dirs),
            tree_excludes=context.tree_excludes, produces=(obj,), depfiles=(dep,),
        ))
    return compiles


def link_action(
    context: PlanContext, toolchain: str, argv: tuple[str, ...], compiles: list[Action],
    produces: tuple[str, ...], env: tuple[tuple[str, str], ...], *, flag_words: list[str],
    files: tuple[tuple[str, str], ...] = (),
) -> Action:
    """The link of the compiles' objects (``argv`` names them and ends with LINK_TRACE's output):
    files and dirs that ``flag_words`` name are its inputs, besides those the linker reports."""
    linked_files, linked_dirs = referenced_paths(context.root, flag_words)
    return Action(
        name="link", kind="link", toolchain=toolchain,
        steps=(Step(description="link", argv=argv, cwd=context.layout.src, env=env,
                    files=files),),
        sources=tuple(linked_files), trees=tuple(linked_dirs),
        tree_excludes=context.tree_excludes,
        consumes=tuple(action.produces[0] for action in compiles), produces=produces, trace=True,
        after=tuple(action.name for action in compiles),
    )


def _profile_flags(
    context: PlanContext, name: str, *, cxx: bool, link: bool = False
) -> list[str]:
    """Flags that compiles and the link share, but for the level, which the link does not get (see
    the module docstring). The link also gets the user's cflags (-flto and the like matter there);
    include dirs and defines only matter to the preprocessor."""
    profile = context.profile
    return [
        *([] if link else [clang_opt_flag(profile.opt_level)]),
        *(["-g"] if profile.debug_info else []),
        *c_remap_flags(context.layout, name),
        # WASI has no C++ exceptions in this toolchain (libc++ is built without them).
        *(["-fno-exceptions"] if cxx else []),
    ]


def _preprocessor_flags(target: WasiSdkTarget, context: PlanContext, name: str) -> list[str]:
    layout = context.layout
    return [
        *[f"-I{layout.in_src(project_dir(context.root, name, 'include-dirs', d))}"
          for d in target.include_dirs],
        *define_flags(target.defines),
    ]


def _plan_command(
    name: str, target: WasiSdkTarget, context: PlanContext
) -> tuple[TargetPlan, bool]:
    assert target.command is not None
    if target.artifact is None:
        msg = f"targets.{name}.artifact: required with 'command' (the .wasm it produces)"
        raise ConfigError(msg)
    if target.sources:
        msg = f"targets.{name}: give either 'sources' or 'command', not both"
        raise ConfigError(msg)
    # These shape wasmforge's own compile line; a user's command builds the module its own way.
    ignored = [key for key in ("exec_model", "exports", "language")
               if key in target.model_fields_set]
    if ignored:
        key = ignored[0].replace("_", "-")
        msg = (f"targets.{name}.{key}: only used with 'sources'; with 'command', your build "
               "decides (e.g. -mexec-model=reactor in its LDFLAGS)")
        raise ConfigError(msg)
    artifact = target.artifact.strip("/")
    if not artifact or ".." in artifact.split("/"):
        msg = f"targets.{name}.artifact: {target.artifact!r} must be a path inside WASMFORGE_OUT"
        raise ConfigError(msg)
    layout = context.layout
    out = layout.out(name)
    user_cflags, user_ldflags = user_flags(context, "wasi-sdk", target)
    flags = [*_profile_flags(context, name, cxx=False),
             *_preprocessor_flags(target, context, name), *user_cflags]
    wasi_target = target_flag(name, target, context)
    cflags = shlex.join([wasi_target, *flags])
    ldflags = shlex.join([wasi_target, *_wasip2_link_flags(target), *user_ldflags, *[f"-l{lib}" for lib in target.libs]])
    env = {
        "WASMFORGE_OUT": out,
        "CC": "clang",
        "CXX": "clang++",
        "CFLAGS": cflags,
        "CXXFLAGS": cflags + " -fno-exceptions",
        "LDFLAGS": ldflags,
        **target.env,
    }
    argv = ("sh", "-c", target.command) if isinstance(target.command, str) else tuple(
        target.command)
    if not argv:
        msg = f"targets.{name}.command: is empty"
        raise ConfigError(msg)
    action = Action(
        name="build", kind="build", toolchain=TOOLCHAIN,
        steps=(Step(description="build command", argv=argv, cwd=layout.src,
                    env=tuple(sorted(env.items()))),),
        trees=(".",), tree_excludes=context.tree_excludes, produces=(artifact,),
    )
    return _target_plan(name, target, (action,), artifact, (".",)), target.optimize


def _target_plan(
    name: str, target: WasiSdkTarget, actions: tuple[Action, ...], produced: str,
    inputs: tuple[str, ...],
) -> TargetPlan:
    final = module_name(name, target.output)
    return TargetPlan(
        name=name, kind="wasi-sdk", toolchain=TOOLCHAIN, actions=actions,
        outputs=(Output(produced=produced, name=final),), main_module=final, js_glue=False,
        inputs=tuple(dict.fromkeys(inputs)),
    )
