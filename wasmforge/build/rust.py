"""``kind = "rust"``: a Cargo package or a single ``.rs`` file, to the WASI triple of the target
(or its toolchain set).

Cargo runs offline, with the crates its lock file names fetched beforehand (see ``cargo_deps``), and
keeps its target dir in the writable dir. The project is read-only, so a package without a
``Cargo.lock`` (which Cargo would write) is built from a copy; with one, ``--locked`` makes Cargo
say so plainly when the lock file is out of date instead of trying to rewrite it.

A Cargo build is one action whose inputs are the whole package (its sources, manifest, lock file and
vendored crates) and the ``.cargo/config.toml`` files above it; Cargo's dep-info adds the files it
read from elsewhere in the project (path dependencies). A single file is compiled by rustc, whose
dep-info names the modules it read.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from wasmforge.build.action import Action
from wasmforge.build.cargo_deps import (
    DEPS_CONFIG,
    LOCK_FILE,
    CargoDependencies,
    read_lock,
    remote_dependencies,
)
from wasmforge.build.flags import rust_opt_level, rust_remap_flags
from wasmforge.build.plan import Output, PlanContext, TargetPlan, module_name
from wasmforge.build.sources import project_dir, project_file
from wasmforge.config.model import RustTarget
from wasmforge.errors import ConfigError
from wasmforge.kinds import toolchain_of
from wasmforge.runner.base import HOME_DIR, Step
from wasmforge.runner.owner import SCRATCH_PREFIX
from wasmforge.toolchain_sets import SETS

TOOLCHAIN = toolchain_of("rust")
# Cargo's own build dir in a package, which a copy and the package's inputs leave out.
CARGO_TARGET_DIR = "target"
# sh -c SCRIPT copy SRC DST [tar options...]: copy a directory tree with tar's excludes, writable
# by its owner (Cargo writes its lock file into it, and a step has no capability to override a
# read-only mode it copied).
_COPY_SCRIPT = ('src="$1"; dst="$2"; shift 2; '
                'mkdir -p "$dst" && tar -C "$src" "$@" -cf - . | tar -C "$dst" -xf - '
                '&& chmod -R u+w "$dst"')

EDITION = "2021"
# CARGO_ENCODED_RUSTFLAGS separates flags with this byte, so paths with spaces stay whole.
_FLAG_SEPARATOR = "\x1f"


def _own_toolchain(context: PlanContext) -> bool:
    """Whether Rust builds in an image or recipe of the user's own, taken at its word."""
    table = context.toolchains.rust
    return table is not None and bool(table.image or table.recipe)


def rust_triple(name: str, target: RustTarget, context: PlanContext) -> str:
    """The target's ``triple``, else its toolchain set's default; a shipped Rust that lacks the
    named target is a config error."""
    toolchain_set = SETS[context.toolchains.set_for(TOOLCHAIN)]
    triple = target.triple or toolchain_set.rust_default_triple
    if not _own_toolchain(context) and triple not in toolchain_set.rust_targets:
        msg = (f"targets.{name}.triple: the {toolchain_set.name} set's Rust has no {triple} "
               f"target (it has {', '.join(toolchain_set.rust_targets)})")
        raise ConfigError(msg, hint=f"use triple = \"{toolchain_set.rust_default_triple}\", or "
                          "another [toolchains] set")
    return triple


def _linker_flags(context: PlanContext) -> list[str]:
    """``-C linker=`` where the set's rustc needs it named (cargo reads the image's config)."""
    linker = SETS[context.toolchains.set_for(TOOLCHAIN)].rustc_linker
    return ["-C", f"linker={linker}"] if linker and not _own_toolchain(context) else []


def plan_target(name: str, target: RustTarget, context: PlanContext) -> tuple[TargetPlan, bool]:
    if target.source is not None:
        return _plan_single_file(name, target, context), target.optimize
    return _plan_cargo(name, target, context), target.optimize


def _plan_single_file(name: str, target: RustTarget, context: PlanContext) -> TargetPlan:
    if target.bin or target.features or target.no_default_features:
        msg = f"targets.{name}: 'bin' and 'features' need a Cargo package, not a single 'source'"
        raise ConfigError(msg)
    assert target.source is not None
    source = project_file(context.root, name, "source", target.source)
    layout = context.layout
    profile = context.profile
    produced, dep_info = f"{name}.wasm", f"{name}.d"
    out = layout.out(name)
    argv = [
        "rustc", "--edition", EDITION, "--target", rust_triple(name, target, context),
        "--crate-type", target.crate_type, *_linker_flags(context),
        "-C", f"opt-level={rust_opt_level(profile.opt_level)}",
        *(["-C", "debuginfo=2"] if profile.debug_info else []),
        *rust_remap_flags(layout, name),
        *context.toolchains.rustflags(), *target.rustflags,
        f"--emit=dep-info={out}/{dep_info},link={out}/{produced}", layout.in_src(source),
    ]
    step = Step(description="compile", argv=tuple(argv), cwd=layout.src,
                env=tuple(sorted(target.env.items())))
    action = Action(name="compile", kind="compile", toolchain=TOOLCHAIN, steps=(step,),
                    sources=(source,), produces=(produced,), depfiles=(dep_info,))
    return _target_plan(name, target, action, produced, (source,))


def _plan_cargo(name: str, target: RustTarget, context: PlanContext) -> TargetPlan:
    package_dir = project_dir(context.root, name, "path", target.path)
    manifest = _read_manifest(context.root / package_dir / "Cargo.toml", name)
    artifact = _artifact_name(name, target, manifest)
    layout = context.layout
    out = layout.out(name)
    profile = context.profile
    release = profile.opt_level != 0
    triple = rust_triple(name, target, context)
    package = package_dir.removeprefix("./") or "."
    configs = _cargo_configs(context, package)
    lock = (Path(package) / LOCK_FILE).as_posix()
    locked = (context.root / lock).is_file()
    cargo: CargoDependencies | None = None
    if locked:
        lock_version, remote = read_lock(context.root, lock, name)
        cargo = CargoDependencies(package=package, lock=lock, lock_version=lock_version,
                                  configs=configs, fetch=remote)
    else:
        remote_names = remote_dependencies(manifest)
        if remote_names:
            msg = (f"targets.{name}: {lock} is missing, and the package depends on "
                   f"{', '.join(remote_names)}: wasmforge fetches exactly what a lock file names")
            raise ConfigError(msg, hint=f"make one with: wasmforge lock {name} (and commit it)")
    steps: list[Step] = []
    crate_dir = layout.in_src(package_dir)
    if not locked:
        # The whole project, so that path dependencies (../shared) and .cargo/config.toml files
        # above the package are where the package expects them.
        copy = f"{out}/cargo-src"
        steps.append(Step(
            description="copy the project (the package has no Cargo.lock)",
            argv=copy_project_argv(layout.src, copy, package, context.out_dir_in_project),
            cwd=layout.src,
        ))
        crate_dir = copy if package == "." else f"{copy}/{package}"
    argv = ["cargo", "build", "--offline", *(["--locked"] if locked else []),
            *(["--config", f"{out}/{DEPS_CONFIG}"] if cargo and cargo.fetch else []),
            "--target", triple, *(["--release"] if release else [])]
    argv += ["--lib"] if target.crate_type == "cdylib" else ["--bin", artifact]
    if target.features:
        argv += ["--features", ",".join(target.features)]
    if target.no_default_features:
        argv.append("--no-default-features")
    cargo_profile = "RELEASE" if release else "DEV"
    env = {
        "CARGO_TARGET_DIR": f"{out}/cargo-target",
        "CARGO_INCREMENTAL": "0",
        "CARGO_ENCODED_RUSTFLAGS": _FLAG_SEPARATOR.join(
            [*rust_remap_flags(layout, name), *context.toolchains.rustflags(),
             *target.rustflags]),
        f"CARGO_PROFILE_{cargo_profile}_OPT_LEVEL": rust_opt_level(profile.opt_level),
        f"CARGO_PROFILE_{cargo_profile}_DEBUG": "true" if profile.debug_info else "false",
        # With fetched crates, wasmforge's config is the only say on sources besides the
        # project's: not the toolchain's own (the image's sends crates.io elsewhere).
        **({"CARGO_HOME": f"{out}/{HOME_DIR}/cargo"} if cargo and cargo.fetch else {}),
        **target.env,
    }
    steps.append(Step(description="cargo build", argv=tuple(argv), cwd=crate_dir,
                      env=tuple(sorted(env.items()))))
    built = f"cargo-target/{triple}/{'release' if release else 'debug'}/{artifact}"
    own_target = CARGO_TARGET_DIR if package == "." else f"{package}/{CARGO_TARGET_DIR}"
    excluded = [own_target, *context.tree_excludes]
    action = Action(
        name="build", kind="build", toolchain=TOOLCHAIN, steps=tuple(steps),
        sources=configs, trees=(package,), dep_manifest="Cargo.toml",
        tree_excludes=tuple(excluded), produces=(f"{built}.wasm",), depfiles=(f"{built}.d",),
        cargo=cargo,
    )
    return _target_plan(name, target, action, f"{built}.wasm", (package, *action.sources))


def copy_project_argv(
    src: str, dest: str, package: str, out_dir_in_project: str | None,
) -> tuple[str, ...]:
    """Copies the project at ``src`` to ``dest``, writable, without the package's own cargo
    builds (target/), wasmforge's output dir (which may hold this very copy) or scratch dirs.
    tar rather than cp: cp has no excludes."""
    own_target = CARGO_TARGET_DIR if package == "." else f"{package}/{CARGO_TARGET_DIR}"
    excludes = [f"--exclude=./{own_target}", f"--exclude={SCRATCH_PREFIX}*", "--exclude=./.git"]
    if out_dir_in_project is not None:
        excludes.append(f"--exclude=./{out_dir_in_project}")
    return ("sh", "-c", _COPY_SCRIPT, "copy", src, dest, *excludes)


def _cargo_configs(context: PlanContext, package: str) -> tuple[str, ...]:
    """The ``.cargo/config.toml`` files Cargo reads between the project root and the package
    (those above the project are the machine's, not the project's). The places that have none
    are noted too: one appearing there changes the build."""
    found = []
    for directory in (Path(package), *Path(package).parents):  # up to the project root
        for name in ("config.toml", "config"):
            candidate = (directory / ".cargo" / name).as_posix()
            if (context.root / candidate).is_file():
                found.append(candidate)
            else:
                context.absent.add(candidate)
    return tuple(found)


def _read_manifest(path: Path, target: str) -> dict[str, object]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"targets.{target}.path: {path}: no Cargo.toml (or set 'source' for a single .rs file)"
        raise ConfigError(msg) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        msg = f"{path}: cannot read: {error}"
        raise ConfigError(msg) from None
    return data


def _artifact_name(name: str, target: RustTarget, manifest: dict[str, object]) -> str:
    """The file name Cargo gives the module (without .wasm)."""
    package = manifest.get("package")
    if not isinstance(package, dict) or not isinstance(package.get("name"), str):
        msg = f"targets.{name}.path: Cargo.toml has no [package] name (workspaces: point 'path' " \
              "at the member)"
        raise ConfigError(msg)
    package_name: str = package["name"]
    if target.crate_type == "cdylib":
        lib = manifest.get("lib")
        lib_name = lib.get("name") if isinstance(lib, dict) else None
        return str(lib_name or package_name).replace("-", "_")
    if target.bin:
        return target.bin
    bins = manifest.get("bin")
    names = [b["name"] for b in bins if isinstance(b, dict) and "name" in b] if isinstance(
        bins, list) else []
    if len(names) > 1:
        msg = f"targets.{name}.bin: the package has several binaries ({', '.join(names)}): name one"
        raise ConfigError(msg)
    return names[0] if names else package_name


def _target_plan(
    name: str, target: RustTarget, action: Action, produced: str, inputs: tuple[str, ...],
) -> TargetPlan:
    final = module_name(name, target.output)
    return TargetPlan(
        name=name, kind="rust", toolchain=TOOLCHAIN, actions=(action,),
        outputs=(Output(produced=produced, name=final),), main_module=final, js_glue=False,
        inputs=inputs,
    )
