"""The wasm-opt command line for a profile: level, features, what debug info to keep, extra passes."""

from __future__ import annotations

from collections.abc import Sequence

from wasmforge.config.model import OptLevel
from wasmforge.config.resolve import Profile
from wasmforge.errors import ConfigError
from wasmforge.optimize.features import FeatureSet

# Flags that would make wasm-opt write somewhere else or write text: the pipeline reads and validates
# the file it named, so these cannot come in through extra passes.
_OUTPUT_FLAGS = frozenset({"-o", "--output", "-S", "--emit-text"})


def level_flag(level: OptLevel) -> str | None:
    """``-O3``, ``-Os``, ...; ``None`` for level 0 (no optimisation passes)."""
    return None if level == 0 else f"-O{level}"


def runs_wasm_opt(profile: Profile) -> bool:
    """Level 0 with no extra passes would only re-encode the module: not worth a step."""
    return profile.wasm_opt and (profile.opt_level != 0 or bool(profile.wasm_opt_passes))


def passes_problem(passes: Sequence[str]) -> str | None:
    """Why these extra passes cannot be used (not flags, or redirecting the output), or None."""
    for arg in passes:
        name = arg.split("=", 1)[0]
        if not arg.startswith("-"):
            return f"{arg!r} is not a flag (expected e.g. '--converge')"
        if name in _OUTPUT_FLAGS or (name.startswith("-o") and not name.startswith("--")):
            return f"{arg!r} changes the output file; wasmforge chooses it"
    return None


def check_profile_passes(profile: Profile) -> None:
    """A ConfigError naming the profile key when its extra passes cannot be used."""
    problem = passes_problem(profile.wasm_opt_passes)
    if problem is not None:
        msg = f"profile.{profile.name}.wasm-opt-passes: {problem}"
        raise ConfigError(msg)


def wasm_opt_argv(
    input_name: str,
    output_name: str,
    *,
    profile: Profile,
    features: FeatureSet,
    keep_debug_info: bool,
) -> list[str]:
    """``wasm-opt IN -o OUT --mvp-features --enable-... -Oz [-g] PASSES...``.

    Without ``-g`` binaryen drops the name section; with it binaryen keeps names and keeps (and
    updates) DWARF, which limits some optimisations, so it is only given when something that ``-g``
    preserves is meant to stay.
    """
    check_profile_passes(profile)
    argv = ["wasm-opt", input_name, "-o", output_name, *features.binaryen_flags()]
    flag = level_flag(profile.opt_level)
    if flag is not None:
        argv.append(flag)
    if keep_debug_info:
        argv.append("-g")
    argv.extend(profile.wasm_opt_passes)
    return argv
