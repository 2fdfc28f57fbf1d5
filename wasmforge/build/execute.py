"""Running a build plan: targets in parallel (``--jobs``), each in its own scratch dir, published
into ``<out_dir>/<profile>/`` only when the whole target succeeded.

Nothing half-made reaches the output dir: steps write into a scratch dir, which is removed at the
end whatever happens. ``--check-reproducible`` builds every target twice, into two scratch dirs, and
compares every output byte for byte (by sha256) before publishing the first.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import time
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wasmforge.build.diagnostics import github_annotations
from wasmforge.build.manifest import FileRecord, file_record, target_entry, write_manifest
from wasmforge.build.plan import HOST_TOOLCHAIN, BuildPlan, TargetPlan, plan_build
from wasmforge.config.resolve import Settings
from wasmforge.console import Console
from wasmforge.errors import NotReproducibleError, ToolchainError, UserError, WasmforgeError
from wasmforge.runner.base import Runner
from wasmforge.runner.local import LocalRunner

# How often the main thread wakes up while targets build, so that Ctrl-C is handled promptly.
_POLL_SECONDS = 0.2
OPTIMIZED_DIR = ".wasmforge/optimized"
# The image whose binaryen optimises targets that have no toolchain image of their own (wat).
OPTIMIZER_TOOLCHAIN = "wasi-sdk"


@dataclass
class TargetResult:
    plan: TargetPlan
    files: list[FileRecord]
    seconds: float
    exec_model: str | None
    toolchain_id: str | None
    optimize_report: dict[str, Any] | None = None

    @property
    def main_size(self) -> int:
        return next((f.size for f in self.files if f.name == self.plan.main_module), 0)


@dataclass
class BuildResult:
    profile: str
    publish_dir: Path
    manifest: Path | None
    runner: str
    epoch: int
    targets: list[TargetResult] = field(default_factory=list)
    checked_reproducible: bool = False


@dataclass
class _Context:
    settings: Settings
    runner: Runner
    host: LocalRunner
    epoch: int
    console: Console
    publish_dir: Path
    plans: list[BuildPlan]
    scratch_dirs: list[Path]


def run_build(
    settings: Settings, runner: Runner, *, epoch: int, console: Console,
    check_reproducible: bool = False,
) -> BuildResult:
    """Plan and build ``settings.targets`` with ``runner``; publish the outputs and the manifest."""
    publish_dir = settings.out_dir / settings.profile.name
    created = [d for d in (settings.out_dir, publish_dir) if not d.exists()]
    try:
        settings.out_dir.mkdir(parents=True, exist_ok=True)
        scratch_root = Path(tempfile.mkdtemp(prefix=".wasmforge-build-", dir=settings.out_dir))
    except OSError as error:
        msg = f"{settings.out_dir}: cannot create the output directory: {error.strerror}"
        raise UserError(msg, hint="choose another with --out-dir") from None
    host = runner if isinstance(runner, LocalRunner) else LocalRunner(settings.root)
    try:
        scratch_dirs = [scratch_root / f"pass{n}" for n in range(2 if check_reproducible else 1)]
        plans = [
            plan_build(settings.root, settings.config, settings.profile, runner.layout(scratch),
                       settings.targets, host_layout=host.layout(scratch),
                       out_dir=settings.out_dir)
            for scratch in scratch_dirs
        ]
        runner.prepare(plans[0].toolchains)
        context = _Context(settings=settings, runner=runner, host=host, epoch=epoch,
                           console=console, publish_dir=publish_dir, plans=plans,
                           scratch_dirs=scratch_dirs)
        results, errors = _build_all(context)
        manifest = None
        if results:  # also when another target failed: the manifest must match what was published
            manifest = write_manifest(
                publish_dir, project=settings.config.project.name,
                profile=settings.profile.name,
                entries=[_manifest_entry(r, context) for r in results],
            )
        if errors:
            raise errors[0]
        return BuildResult(
            profile=settings.profile.name, publish_dir=publish_dir, manifest=manifest,
            runner=runner.describe(), epoch=epoch, targets=results,
            checked_reproducible=check_reproducible,
        )
    finally:
        shutil.rmtree(scratch_root, ignore_errors=True)
        for directory in reversed(created):  # deepest first; only if nothing was published
            _remove_if_empty(directory)


def _build_all(context: _Context) -> tuple[list[TargetResult], list[BaseException]]:
    """Build every target, ``jobs`` at a time; after the first failure no new target starts, and
    the ones already running finish (their outputs are kept: each target is independent)."""
    targets = context.plans[0].targets
    results: dict[str, TargetResult] = {}
    errors: list[BaseException] = []
    pool = ThreadPoolExecutor(max_workers=max(1, context.settings.jobs),
                              thread_name_prefix="wasmforge-build")
    futures: dict[Future[TargetResult], str] = {
        pool.submit(_build_target, context, index): plan.name
        for index, plan in enumerate(targets)
    }
    pending = set(futures)
    try:
        while pending:
            done, pending = wait(pending, timeout=_POLL_SECONDS, return_when=FIRST_EXCEPTION)
            for future in done:
                error = future.exception()
                if error is None:
                    results[futures[future]] = future.result()
                    continue
                errors.append(error)
                if len(errors) == 1:  # stop starting new targets; let running ones finish
                    for other in pending:
                        other.cancel()
                else:
                    _report(context.console, error)
            pending = {f for f in pending if not f.cancelled()}
    except KeyboardInterrupt:
        # Stop (and remove) every running container or process, then let the workers unwind.
        context.runner.cancellation.stop_all()
        context.host.cancellation.stop_all()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return [results[plan.name] for plan in targets if plan.name in results], errors


def _report(console: Console, error: BaseException) -> None:
    if isinstance(error, WasmforgeError):
        console.error(error.message, hint=error.hint)
    else:
        console.error(f"{type(error).__name__}: {error}")


def _build_target(context: _Context, index: int) -> TargetResult:
    started = time.monotonic()
    first = context.plans[0].targets[index]
    outcomes = [
        _run_pass(context, plan.targets[index], scratch / first.name)
        for plan, scratch in zip(context.plans, context.scratch_dirs, strict=True)
    ]
    scratch = context.scratch_dirs[0] / first.name
    records, report = outcomes[0]
    if len(outcomes) > 1:
        _compare(first, records, outcomes[1][0])
    exec_model = None
    if not first.js_glue:
        from wasmforge.wasm.module import MalformedModuleError, read_module_file

        try:
            exec_model = read_module_file(scratch / _produced(first, first.main_module)).exec_model
        except MalformedModuleError as error:
            # A build command's artifact that is not a module: the target's failure, not the input's.
            problem = error.message.split(": ", 1)[-1]
            msg = f"target {first.name!r}: its output {first.main_module} is not a module: {problem}"
            raise ToolchainError(msg) from None
    _publish(first, scratch, context.publish_dir)
    runner = _runner_for(context, first)
    return TargetResult(
        plan=first, files=records, seconds=time.monotonic() - started, exec_model=exec_model,
        toolchain_id=runner.toolchain_id(first.toolchain), optimize_report=report,
    )


def _runner_for(context: _Context, plan: TargetPlan) -> Runner:
    return context.host if plan.toolchain == HOST_TOOLCHAIN else context.runner


def _run_pass(
    context: _Context, plan: TargetPlan, scratch: Path
) -> tuple[list[FileRecord], dict[str, Any] | None]:
    """Run a target's steps into ``scratch``; then optimise; the sha256 of each output."""
    scratch.mkdir(parents=True, exist_ok=True)
    runner = _runner_for(context, plan)
    layout = runner.layout(scratch.parent)
    console = context.console
    lines: list[str] = []

    def sink(line: str) -> None:
        lines.append(line)
        console.info(line)

    for step in plan.steps:
        try:
            runner.run_step(step, target=plan.name, toolchain=plan.toolchain, scratch=scratch,
                            layout=layout, epoch=context.epoch, sink=sink)
        except ToolchainError:
            if console.quiet:  # the compiler's messages are the point of the error
                for line in lines:
                    print(line, file=sys.stderr, flush=True)
            if console.github_actions:
                for command in github_annotations(lines):
                    print(command, file=sys.stderr, flush=True)
            raise
    for output in plan.outputs:
        if not (scratch / output.produced).is_file():
            msg = (f"target {plan.name!r}: the build finished but did not produce "
                   f"{output.produced!r}")
            raise ToolchainError(msg, hint=_missing_output_hint(plan))
    report = None
    if plan.optimize and context.settings.profile.wasm_opt:
        report = _optimize(context, plan, scratch, runner)
    records = [file_record(scratch / o.produced, o.name) for o in plan.outputs]
    return records, report


def _missing_output_hint(plan: TargetPlan) -> str | None:
    if plan.kind == "wasi-sdk" and plan.steps and plan.steps[0].description == "build command":
        return "'artifact' is relative to $WASMFORGE_OUT, where the command must write its build"
    return None


def _optimize(
    context: _Context, plan: TargetPlan, scratch: Path, runner: Runner
) -> dict[str, Any]:
    from wasmforge.optimize.pipeline import optimize_module

    source = scratch / _produced(plan, plan.main_module)
    optimized = scratch / OPTIMIZED_DIR / source.name
    toolchain = plan.toolchain
    if toolchain == HOST_TOOLCHAIN and not isinstance(context.runner, LocalRunner):
        # WAT needs no compiler, but its wasm-opt must still be a pinned one (the host's binaryen
        # may be any version): the wasi-sdk image's, in the build's own runner.
        runner, toolchain = context.runner, OPTIMIZER_TOOLCHAIN
    invoke = runner.invoker(toolchain, target=plan.name, epoch=context.epoch)
    report = optimize_module(source, optimized, context.settings.profile, invoke=invoke,
                             label=plan.name)
    optimized.replace(source)
    return report.as_dict()


def _produced(plan: TargetPlan, name: str) -> str:
    return next(o.produced for o in plan.outputs if o.name == name)


def _compare(plan: TargetPlan, first: list[FileRecord], second: list[FileRecord]) -> None:
    for one, two in zip(first, second, strict=True):
        if one.sha256 != two.sha256:
            msg = (f"target {plan.name!r}: {one.name} differs between two builds of the same "
                   f"sources (sha256 {one.sha256[:12]} vs {two.sha256[:12]})")
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


def _manifest_entry(result: TargetResult, context: _Context) -> dict[str, Any]:
    plan = result.plan
    return target_entry(
        name=plan.name, kind=plan.kind, profile=context.settings.profile.name,
        main_module=plan.main_module, files=result.files, js_glue=plan.js_glue,
        exec_model=result.exec_model, source_date_epoch=context.epoch,
        toolchain="wabt" if plan.toolchain == HOST_TOOLCHAIN else plan.toolchain,
        toolchain_image_id=result.toolchain_id, runner=_runner_for(context, plan).name,
    )


def _remove_if_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):
        directory.rmdir()
