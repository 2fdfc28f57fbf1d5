"""``kind = "wasi-sdk"``: C and C++ to wasm32-wasi with clang, or the user's own make/CMake command.

Sources are compiled and linked by one clang run (clang does the per-file work itself and leaves no
objects behind). With ``command`` the user's build runs in the project dir with these variables set:
``WASMFORGE_OUT`` (the only writable dir: put build trees there), ``CC``, ``CXX``, ``CFLAGS``,
``CXXFLAGS``, ``LDFLAGS`` (target, optimisation and path remapping), and ``artifact`` names the .wasm
it produces, relative to ``WASMFORGE_OUT``.
"""

from __future__ import annotations

import shlex

from wasmforge.build.flags import c_remap_flags, clang_opt_flag, define_flags
from wasmforge.build.plan import Output, PlanContext, TargetPlan, module_name
from wasmforge.build.sources import expand_sources, is_cxx, project_dir
from wasmforge.config.model import WasiSdkTarget
from wasmforge.errors import ConfigError
from wasmforge.runner.base import Step

TOOLCHAIN = "wasi-sdk"
WASI_TARGET = "--target=wasm32-wasi"


def plan_target(name: str, target: WasiSdkTarget, context: PlanContext) -> TargetPlan:
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
    sources = expand_sources(context.root, name, target.sources)
    language = target.language or ("c++" if any(is_cxx(s) for s in sources) else "c")
    layout = context.layout
    produced = f"{name}.wasm"
    argv = [
        "clang++" if language == "c++" else "clang",
        WASI_TARGET,
        *_common_flags(name, target, context, cxx=language == "c++"),
        *([f"-mexec-model={target.exec_model}"] if target.exec_model == "reactor" else []),
        *[f"-Wl,--export={symbol}" for symbol in target.exports],
        *[layout.in_src(source) for source in sources],
        *target.ldflags,
        *[f"-l{lib}" for lib in target.libs],
        "-o", f"{layout.out(name)}/{produced}",
    ]
    step = Step(description="compile and link", argv=tuple(argv), cwd=layout.src,
                env=tuple(sorted(target.env.items())))
    return _target_plan(name, target, (step,), produced, tuple(sources))


def _common_flags(
    name: str, target: WasiSdkTarget, context: PlanContext, *, cxx: bool
) -> list[str]:
    profile = context.profile
    return [
        clang_opt_flag(profile.opt_level),
        *(["-g"] if profile.debug_info else []),
        *c_remap_flags(context.layout, name),
        # WASI has no C++ exceptions in this toolchain (libc++ is built without them).
        *(["-fno-exceptions"] if cxx else []),
        *[f"-I{context.layout.in_src(project_dir(context.root, name, 'include-dirs', d))}"
          for d in target.include_dirs],
        *define_flags(target.defines),
        *target.cflags,
    ]


def _plan_command(name: str, target: WasiSdkTarget, context: PlanContext) -> TargetPlan:
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
    cflags = shlex.join([WASI_TARGET, *_common_flags(name, target, context, cxx=False)])
    ldflags = shlex.join([WASI_TARGET, *target.ldflags, *[f"-l{lib}" for lib in target.libs]])
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
    step = Step(description="build command", argv=argv, cwd=layout.src,
                env=tuple(sorted(env.items())))
    return _target_plan(name, target, (step,), artifact, ())


def _target_plan(
    name: str, target: WasiSdkTarget, steps: tuple[Step, ...], produced: str,
    inputs: tuple[str, ...],
) -> TargetPlan:
    final = module_name(name, target.output)
    return TargetPlan(
        name=name, kind="wasi-sdk", toolchain=TOOLCHAIN, steps=steps,
        outputs=(Output(produced=produced, name=final),), main_module=final, js_glue=False,
        optimize=target.optimize, inputs=inputs,
    )
