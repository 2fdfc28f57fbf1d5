"""The build plan: each target's actions, inputs and outputs, decided before anything runs.

Planning reads the config and the file tree (source globs, Cargo.toml) but changes nothing, so it is
unit-tested without Docker. A plan is rendered through a :class:`~wasmforge.runner.base.Layout`:
the abstract one (``/src``, ``/out/<target>``) is what cache keys are made of and what containers
see; the local runner renders the same plan with real host paths.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import assert_never

from wasmforge.build.action import Action
from wasmforge.config.model import (
    EmscriptenTarget,
    RustTarget,
    ToolchainsConfig,
    WasiSdkTarget,
    WasmforgeConfig,
    WatTarget,
)
from wasmforge.config.resolve import Profile
from wasmforge.errors import ConfigError
from wasmforge.kinds import HOST_TOOLCHAIN, KINDS, TargetKind
from wasmforge.runner.base import Layout, Step

__all__ = ["ABSTRACT_LAYOUT", "HOST_TOOLCHAIN", "BuildPlan", "Output", "PlanContext", "TargetPlan",
           "plan_build"]

# The layout cache keys are made of: the same in every checkout, on every machine and runner.
ABSTRACT_LAYOUT = Layout(src="/src", out_base="/out")
# Where the optimiser leaves a target's optimised main module (inside the target's dir).
OPTIMIZED_DIR = ".wasmforge/optimized"


@dataclass(frozen=True)
class Output:
    """A file a target leaves in its writable dir (``produced``), published as ``name``."""

    produced: str
    name: str


@dataclass(frozen=True)
class TargetPlan:
    name: str
    kind: TargetKind
    # Where its compile actions run (a toolchain image kind, or HOST_TOOLCHAIN).
    toolchain: str
    actions: tuple[Action, ...]
    outputs: tuple[Output, ...]
    # The final name of the .wasm module among the outputs.
    main_module: str
    # True for JS glue + wasm (emscripten web/node); False for a WASI module.
    js_glue: bool
    # Project-relative files and directories the target reads (for the summary and the stamp).
    inputs: tuple[str, ...]
    # Emscripten node output linked with NODERAWFS: `run --dir` needs it to offer host directories.
    node_rawfs: bool = False

    @property
    def optimize(self) -> bool:
        return any(action.kind == "optimize" for action in self.actions)

    @property
    def steps(self) -> tuple[Step, ...]:
        """Every program run of the target, in the order its actions are listed."""
        return tuple(step for action in self.actions for step in action.steps)

    def action(self, name: str) -> Action:
        return next(action for action in self.actions if action.name == name)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name, "kind": self.kind, "toolchain": self.toolchain,
            "actions": [action.as_dict() for action in self.actions],
            "outputs": [o.name for o in self.outputs], "main_module": self.main_module,
            "js_glue": self.js_glue, "optimize": self.optimize, "inputs": list(self.inputs),
        }


@dataclass(frozen=True)
class BuildPlan:
    profile: Profile
    targets: tuple[TargetPlan, ...]
    # Each source glob and the files it matched: a new file that matches changes the plan.
    globs: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Project files whose absence the plan relies on: one appearing changes it.
    absent: tuple[str, ...] = ()

    @property
    def toolchains(self) -> set[str]:
        return {a.toolchain for t in self.targets for a in t.actions} - {HOST_TOOLCHAIN}


@dataclass(frozen=True)
class PlanContext:
    """What every kind's planner needs besides its target's config."""

    root: Path
    profile: Profile
    layout: Layout
    # Where host-only targets (wat) see the project: the runner's layout may be a container's.
    host_layout: Layout
    # The output directory relative to the project, when it is inside it: copies of the project
    # (a Cargo package without a lock file) and whole-tree inputs must leave it out.
    out_dir_in_project: str | None = None
    # ``[toolchains]``: the flags that every target of a kind gets before its own.
    toolchains: ToolchainsConfig = field(default_factory=ToolchainsConfig)
    # Filled while planning: each source glob and what it matched, and the files whose absence
    # the plan relies on (a .cargo/config.toml that is not there).
    globs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    absent: set[str] = field(default_factory=set)

    @property
    def tree_excludes(self) -> tuple[str, ...]:
        """What a whole-tree input leaves out: the output dir, when it is inside the project."""
        return (self.out_dir_in_project,) if self.out_dir_in_project else ()


def plan_build(
    root: Path, config: WasmforgeConfig, profile: Profile, layout: Layout,
    targets: tuple[str, ...] | None = None, host_layout: Layout | None = None,
    out_dir: Path | None = None,
) -> BuildPlan:
    """Plan ``targets`` (default: all, in file order) for ``profile`` as seen through ``layout``."""
    inside = None
    if out_dir is not None and out_dir.resolve().is_relative_to(root.resolve()):
        inside = out_dir.resolve().relative_to(root.resolve()).as_posix()
        if inside == ".":  # outputs among the sources: every input would be an output too
            msg = (f"{out_dir}: the output directory is the project itself; give a directory "
                   "inside it (the default is dist) or elsewhere")
            raise ConfigError(msg)
    context = PlanContext(root=root, profile=profile, layout=layout,
                          host_layout=host_layout or layout, out_dir_in_project=inside,
                          toolchains=config.toolchains)
    names = targets if targets else tuple(config.targets)
    plans = tuple(_plan_target(name, config, context) for name in names)
    check_output_names(config, plans)
    return BuildPlan(profile=profile, targets=plans, globs=tuple(sorted(context.globs.items())),
                     absent=tuple(sorted(context.absent)))


def _plan_target(name: str, config: WasmforgeConfig, context: PlanContext) -> TargetPlan:
    from wasmforge.build import emscripten, rust, wasi_sdk, wat
    from wasmforge.build.component import with_componentizer

    target = config.targets[name]
    planned: tuple[TargetPlan, bool]
    match target:
        case WasiSdkTarget():
            planned = wasi_sdk.plan_target(name, target, context)
        case RustTarget():
            planned = rust.plan_target(name, target, context)
        case EmscriptenTarget():
            planned = emscripten.plan_target(name, target, context)
        case WatTarget():
            planned = wat.plan_target(name, target, context)
        case _:
            assert_never(target)
    plan, optimize = planned
    plan = with_optimizer(plan, context.profile) if optimize else plan
    return with_componentizer(name, plan, target, context)


def with_optimizer(plan: TargetPlan, profile: Profile) -> TargetPlan:
    """``plan`` with an optimize action over its main module, when the profile runs wasm-opt.

    The action runs in the kind's optimiser toolchain (a pinned binaryen, also for WAT, which has no
    image of its own) and leaves the module in OPTIMIZED_DIR; the output is published from there.
    """
    if not profile.wasm_opt:
        return plan
    main = next(o for o in plan.outputs if o.name == plan.main_module)
    optimized = f"{OPTIMIZED_DIR}/{main.name}"
    action = Action(
        name="optimize", kind="optimize", toolchain=KINDS[plan.kind].optimizer,
        consumes=(main.produced,), produces=(optimized,),
        # What changes its output: not the profile's name, nor whether a component follows.
        params=tuple(sorted((k, repr(v)) for k, v in profile.as_dict().items()
                            if k not in ("name", "component"))),
        after=tuple(a.name for a in plan.actions if main.produced in a.produces),
    )
    outputs = tuple(Output(produced=optimized, name=o.name) if o is main else o
                    for o in plan.outputs)
    return dataclasses.replace(plan, actions=(*plan.actions, action), outputs=outputs)


def check_output_names(config: WasmforgeConfig, plans: tuple[TargetPlan, ...]) -> None:
    """Two targets writing the same file would overwrite each other: a ConfigError naming both.

    Checked over every target of the config, not just those being built, so that building one target
    cannot clobber another's output from an earlier build.
    """
    from wasmforge.build.manifest import MANIFEST_NAME

    owners: dict[str, str] = {MANIFEST_NAME: "(the build manifest)", "oci": "(OCI packages)"}
    planned = {p.name: p for p in plans}
    for name in config.targets:
        plan = planned.get(name)
        files = [o.name for o in plan.outputs] if plan else output_names(name, config)
        for file in files:
            other = owners.get(file)
            if other is not None:
                msg = (f"targets.{other} and targets.{name} both write {file!r}; "
                       "give one of them another 'output'")
                raise ConfigError(msg)
            owners[file] = name


def output_names(name: str, config: WasmforgeConfig) -> list[str]:
    """The files a target publishes, from its config alone (no file system access)."""
    target = config.targets[name]
    if isinstance(target, EmscriptenTarget) and target.environment != "standalone":
        stem = output_stem(name, target.output)
        files = [f"{stem}.js", f"{stem}.wasm"]
        if target.environment == "web" and target.html:
            files.append(f"{stem}.html")
        return files
    return [module_name(name, target.output)]


def module_name(target: str, output: str | None) -> str:
    """The published .wasm name: ``output`` if given, else ``<target>.wasm``."""
    name = output or f"{target}.wasm"
    check_plain_name(target, name)
    return name


def output_stem(target: str, output: str | None) -> str:
    """For JS glue outputs: ``output`` without its extension (``app.js`` -> ``app``)."""
    name = output or f"{target}.js"
    check_plain_name(target, name)
    if name.endswith((".mjs", ".cjs")):
        msg = (f"targets.{target}.output: {name!r}: the glue is written as a .js file; "
               "name it .js (or give the name without an extension)")
        raise ConfigError(msg)
    for extension in (".js", ".html", ".wasm"):
        if name.endswith(extension):
            return name[: -len(extension)]
    return name


def check_plain_name(target: str, name: str) -> None:
    if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
        msg = f"targets.{target}.output: {name!r} must be a plain file name (no directories)"
        raise ConfigError(msg)
