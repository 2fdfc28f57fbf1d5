"""Optimise one module: detect its features, strip, run wasm-opt, validate after every step.

    input ─► detect features ─► strip (Python, exact) ─► validate ─► wasm-opt ─► validate ─► output

Stripping comes first so that binaryen never spends effort on (and never limits its passes to keep)
DWARF that is about to go. The output is written atomically and only once everything validated.
"""

from __future__ import annotations

import re
import shutil
import stat
import tempfile
from pathlib import Path

from wasmforge.config.resolve import Profile
from wasmforge.console import get_console
from wasmforge.errors import ToolchainError, UserError
from wasmforge.fsutil import atomic_write_bytes
from wasmforge.optimize.features import FeatureSet, detect_features
from wasmforge.optimize.invoke import ToolInvoker, host_invoker
from wasmforge.optimize.report import OptimizeReport, Step
from wasmforge.optimize.sizes import breakdown_of, is_debug_section, size_breakdown
from wasmforge.optimize.strip import StripPlan, strip_sections
from wasmforge.optimize.validate import validation_error
from wasmforge.optimize.wasm_opt import (
    check_profile_passes,
    level_flag,
    runs_wasm_opt,
    wasm_opt_argv,
)
from wasmforge.wasm.module import MalformedModuleError, parse_module

__all__ = [
    "OptimizeReport", "ToolInvoker", "host_invoker", "optimize_module", "size_breakdown", "strip_plan",
]


def strip_plan(profile: Profile) -> StripPlan:
    return StripPlan(
        debug=profile.strip_debug, names=profile.strip_names, producers=profile.strip_producers
    )


def optimize_module(
    src: Path, dst: Path, profile: Profile, *, invoke: ToolInvoker, label: str
) -> OptimizeReport:
    """Optimise ``src`` into ``dst`` as ``profile`` says; ``label`` names the module in messages.

    Raises UserError for an input that is not a valid core module, ToolchainError when a tool fails
    or a step produces an invalid module (the message names the step).
    """
    check_profile_passes(profile)
    data = _read(src)
    info = parse_module(data, label)
    if info.kind != "module":
        msg = f"{label}: is a WebAssembly {info.kind}; wasm-opt and stripping work on core modules"
        raise UserError(msg)
    before = breakdown_of(data, label)
    dst.parent.mkdir(parents=True, exist_ok=True)
    # The work directory sits next to the output: the caller's container runner can mount it, and
    # it is on the same file system as the output.
    workdir = Path(tempfile.mkdtemp(prefix=".wasmforge-opt-", dir=dst.parent))
    try:
        source = workdir / "input.wasm"
        source.write_bytes(data)
        features = detect_features(source, info.target_features, label=label)
        run = _Run(label=label, workdir=workdir, features=features, current=source, data=data)
        plan = strip_plan(profile)
        run.strip(plan)
        notes: list[str] = []
        if runs_wasm_opt(profile):
            if features.unsupported:
                note = (f"wasm-opt skipped: the module uses {', '.join(features.unsupported)}, "
                        "which wasmforge does not give binaryen (108 predates their encodings)")
                get_console().warn(f"{label}: {note}")
                notes.append(note)
            else:
                try:
                    kept = run.wasm_opt(profile, plan, invoke)
                except _BinaryenCannotRead as unreadable:
                    note = f"wasm-opt skipped: binaryen cannot read this module ({unreadable})"
                    get_console().warn(f"{label}: {note}")
                    notes.append(note)
                else:
                    if not kept:
                        notes.append("wasm-opt output discarded: larger than its input at a size "
                                     "level")
                # ``-g`` (given to keep DWARF) brings the name section back: strip it again.
                run.strip(plan, after="wasm-opt")
        after = breakdown_of(run.data, label)
        atomic_write_bytes(dst, run.data, mode=stat.S_IMODE(src.stat().st_mode) | 0o644)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return OptimizeReport(label=label, before=before, after=after, features=features,
                          steps=tuple(run.steps), notes=tuple(notes))


# Binaryen cannot read some valid modules. 108 fails to parse table.init (bulk memory, added to
# binaryen later); 108 and 120 both fail on elem.drop and on blocks with parameters (multi-value);
# 120's validator rejects a passive element segment unless reference types are enabled. The input
# is valid (wasm-tools said so, with exactly its features), so the build goes on without wasm-opt.
_PARSE_FAILURE = re.compile(r"parse exception: [^\];]*")
_INPUT_REJECTED = "Fatal: error validating input"  # binaryen's own validation of what it read
_VALIDATOR_MESSAGE = re.compile(r"\[wasm-validator error[^\]]*\] (.*?)(?:\.?, on\b|;|$)")


class _BinaryenCannotRead(Exception):
    """wasm-opt could not parse a module that validates: a binaryen limitation, not an error."""


class _Run:
    """The state of one optimisation: the current module, on disk and in memory, and the steps."""

    def __init__(self, *, label: str, workdir: Path, features: FeatureSet, current: Path,
                 data: bytes) -> None:
        self.label = label
        self.workdir = workdir
        self.features = features
        self.current = current
        self.data = data
        self.steps: list[Step] = []

    def strip(self, plan: StripPlan, *, after: str = "") -> None:
        if not plan.anything:
            return
        stripped, dropped = strip_sections(self.data, plan, self.label)
        if not dropped:
            return
        name = plan.describe() + (f" (after {after})" if after else "")
        path = self.workdir / f"step{len(self.steps) + 1}-strip.wasm"
        path.write_bytes(stripped)
        self._validate(path, name)
        self._advance(path, stripped, Step(name, len(stripped), "dropped " + ", ".join(dropped)))

    def wasm_opt(self, profile: Profile, plan: StripPlan, invoke: ToolInvoker) -> bool:
        """Run wasm-opt; False if its (valid) output was dropped for being larger at -Os/-Oz."""
        sections = {s.name for s in parse_module(self.data, self.label).sections if s.custom}
        keep_dwarf = not plan.debug and any(is_debug_section(name) for name in sections)
        keep_names = not plan.names and "name" in sections
        output = self.workdir / f"step{len(self.steps) + 1}-wasm-opt.wasm"
        argv = wasm_opt_argv(self.current.name, output.name, profile=profile,
                             features=self.features, keep_debug_info=keep_dwarf or keep_names)
        name = " ".join(["wasm-opt", *filter(None, [level_flag(profile.opt_level)]),
                         *profile.wasm_opt_passes])
        try:
            invoke(argv, self.workdir)
        except ToolchainError as error:
            parse_error = _PARSE_FAILURE.search(error.message)
            if parse_error is not None:
                raise _BinaryenCannotRead(parse_error.group(0)) from None
            if _INPUT_REJECTED in error.message:
                found = _VALIDATOR_MESSAGE.search(error.message)
                said = found.group(1).strip() if found else _INPUT_REJECTED
                reason = f"its validator rejects it: {said.removeprefix('unexpected false: ')}"
                raise _BinaryenCannotRead(reason) from None
            msg = f"{self.label}: {name}: {error.message}"
            raise ToolchainError(msg, hint=error.hint) from None
        if not output.is_file():
            msg = f"{self.label}: {name} wrote no output file"
            raise ToolchainError(msg)
        self._validate(output, name)
        data = output.read_bytes()
        # Re-encoding can add a few bytes to a tiny, already tight module; at a size level the
        # user asked for the smaller module, which the input then is.
        if profile.opt_level in ("s", "z") and len(data) > len(self.data):
            return False
        self._advance(output, data, Step(name, len(data), " ".join(argv)))
        return True

    def _validate(self, path: Path, step: str) -> None:
        problem: str | None
        try:
            parse_module(path.read_bytes(), path.name)
        except MalformedModuleError as error:
            problem = error.message.removeprefix(f"{path.name}: ")
        else:
            problem = validation_error(path, self.features.proposals())
        if problem is not None:
            msg = f"{self.label}: {step} produced an invalid module: {problem}"
            raise ToolchainError(msg, hint="report it with the input module; "
                                 "set wasm-opt = false in the profile to build without it")

    def _advance(self, path: Path, data: bytes, step: Step) -> None:
        self.current = path
        self.data = data
        self.steps.append(step)


def _read(src: Path) -> bytes:
    try:
        return src.read_bytes()
    except FileNotFoundError:
        msg = f"{src}: no such file"
        raise UserError(msg) from None
    except OSError as error:
        msg = f"{src}: cannot read: {error.strerror}"
        raise UserError(msg) from None
