"""The build plan: what each target runs and produces, decided before anything runs.

Planning reads the config and the file tree (source globs, Cargo.toml) but changes nothing, so it is
unit-tested without Docker. The same plan is rendered for a container (paths ``/src``, ``/out``) or
the host (real paths) through a :class:`~wasmforge.runner.base.Layout`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wasmforge.config.model import (
    EmscriptenTarget,
    RustTarget,
    WasiSdkTarget,
    WasmforgeConfig,
    WatTarget,
)
from wasmforge.config.resolve import Profile
from wasmforge.errors import ConfigError
from wasmforge.runner.base import Layout, Step

# Toolchain that runs on the host whatever the runner (WABT comes with wasmforge itself).
HOST_TOOLCHAIN = "host"


@dataclass(frozen=True)
class Output:
    """A file a target leaves in its writable dir (``produced``), published as ``name``."""

    produced: str
    name: str


@dataclass(frozen=True)
class TargetPlan:
    name: str
    kind: str
    # The toolchain image kind the steps run in, or HOST_TOOLCHAIN.
    toolchain: str
    steps: tuple[Step, ...]
    outputs: tuple[Output, ...]
    # The final name of the .wasm module among the outputs.
    main_module: str
    # True for JS glue + wasm (emscripten web/node); False for a WASI module.
    js_glue: bool
    # Run the profile's wasm-opt over the main module after the steps.
    optimize: bool
    # Project-relative source files the target reads (for the summary and caching).
    inputs: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name, "kind": self.kind, "toolchain": self.toolchain,
            "steps": [{"description": s.description, "argv": list(s.argv), "cwd": s.cwd,
                       "env": dict(s.env)} for s in self.steps],
            "outputs": [o.name for o in self.outputs], "main_module": self.main_module,
            "js_glue": self.js_glue, "optimize": self.optimize, "inputs": list(self.inputs),
        }


@dataclass(frozen=True)
class BuildPlan:
    profile: Profile
    targets: tuple[TargetPlan, ...]

    @property
    def toolchains(self) -> set[str]:
        return {t.toolchain for t in self.targets if t.toolchain != HOST_TOOLCHAIN}


@dataclass(frozen=True)
class PlanContext:
    """What every kind's planner needs besides its target's config."""

    root: Path
    profile: Profile
    layout: Layout
    # Where host-only targets (wat) see the project: the runner's layout may be a container's.
    host_layout: Layout
    # The output directory relative to the project, when it is inside it: copies of the project
    # (a Cargo package without a lock file) must leave it out, or they would copy themselves.
    out_dir_in_project: str | None = None


def plan_build(
    root: Path, config: WasmforgeConfig, profile: Profile, layout: Layout,
    targets: tuple[str, ...] | None = None, host_layout: Layout | None = None,
    out_dir: Path | None = None,
) -> BuildPlan:
    """Plan ``targets`` (default: all, in file order) for ``profile`` as seen through ``layout``."""
    from wasmforge.build import emscripten, rust, wasi_sdk, wat

    inside = None
    if out_dir is not None and out_dir.resolve().is_relative_to(root.resolve()):
        inside = out_dir.resolve().relative_to(root.resolve()).as_posix()
    context = PlanContext(root=root, profile=profile, layout=layout,
                          host_layout=host_layout or layout, out_dir_in_project=inside)
    names = targets if targets else tuple(config.targets)
    plans: list[TargetPlan] = []
    for name in names:
        target = config.targets[name]
        if isinstance(target, WasiSdkTarget):
            plans.append(wasi_sdk.plan_target(name, target, context))
        elif isinstance(target, RustTarget):
            plans.append(rust.plan_target(name, target, context))
        elif isinstance(target, EmscriptenTarget):
            plans.append(emscripten.plan_target(name, target, context))
        elif isinstance(target, WatTarget):
            plans.append(wat.plan_target(name, target, context))
    check_output_names(config, tuple(plans))
    return BuildPlan(profile=profile, targets=tuple(plans))


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
