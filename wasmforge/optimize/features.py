"""Which WebAssembly features a module uses, in binaryen's terms, read from the module itself.

Two sources, combined:

* the ``target_features`` custom section that LLVM-based compilers write (``+bulk-memory``, ...):
  what the compiler was allowed to emit, so the optimiser may emit it too;
* validation: the module is validated with every known proposal on, then with one proposal (and
  whatever builds on it) switched off at a time; if it no longer validates, it uses that proposal.
  This finds the features of modules without a ``target_features`` section (WAT, Rust 1.63,
  stripped modules) and of sections that under-declare.

Nothing else is enabled, so the optimised module runs on exactly the engines the input ran on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from wasmforge.errors import UserError
from wasmforge.optimize.validate import validation_error


@dataclass(frozen=True)
class Feature:
    """One feature as binaryen names it (``--enable-<name>``)."""

    name: str
    proposals: tuple[str, ...]  # wasm-tools (wasmparser) proposal names that make it up
    llvm: tuple[str, ...] = ()  # names in a target_features section
    requires: tuple[str, ...] = ()  # features this one builds on
    binaryen: bool = True  # binaryen 108 can read and optimise modules that use it

    @property
    def flag(self) -> str:
        return f"--enable-{self.name}"


FEATURES: tuple[Feature, ...] = (
    Feature("sign-ext", ("sign-extension",), ("sign-ext",)),
    Feature("mutable-globals", ("mutable-global",), ("mutable-globals",)),
    Feature("nontrapping-float-to-int", ("saturating-float-to-int",), ("nontrapping-fptoint",)),
    Feature("simd", ("simd",), ("simd128",)),
    Feature("relaxed-simd", ("relaxed-simd",), ("relaxed-simd",), requires=("simd",)),
    # wasmparser splits memory.copy/fill (and call_indirect's long table index) into proposals of
    # their own; binaryen only knows the whole proposal.
    Feature("bulk-memory", ("bulk-memory", "bulk-memory-opt"), ("bulk-memory",)),
    Feature("reference-types", ("reference-types", "call-indirect-overlong"),
            ("reference-types",)),
    Feature("multivalue", ("multi-value",), ("multivalue",)),
    Feature("threads", ("threads",), ("atomics",)),
    Feature("tail-call", ("tail-call",), ("tail-call",)),
    # LLVM's exception-handling is the legacy (try/catch) encoding unless exnref is named.
    Feature("exception-handling", ("legacy-exceptions",), ("exception-handling",)),
    Feature("memory64", ("memory64",)),
    Feature("extended-const", ("extended-const",), ("extended-const",)),
    # Binaryen 108 predates the final encodings of these; a module using them is left unoptimised.
    Feature("typed-function-references", ("function-references",),
            requires=("reference-types",), binaryen=False),
    Feature("gc", ("gc",), ("gc",), requires=("typed-function-references",), binaryen=False),
    Feature("exnref", ("exceptions",), ("exnref",), requires=("reference-types",),
            binaryen=False),
    Feature("multi-memory", ("multi-memory",), ("multimemory",), binaryen=False),
    Feature("wide-arithmetic", ("wide-arithmetic",), ("wide-arithmetic",), binaryen=False),
    Feature("custom-page-sizes", ("custom-page-sizes",), binaryen=False),
    Feature("stack-switching", ("stack-switching",), requires=("exnref", "typed-function-references"),
            binaryen=False),
    Feature("shared-everything-threads", ("shared-everything-threads",), requires=("threads",),
            binaryen=False),
    Feature("memory-control", ("memory-control",), binaryen=False),
)
BY_NAME = {feature.name: feature for feature in FEATURES}
BY_LLVM_NAME = {llvm: feature for feature in FEATURES for llvm in feature.llvm}


def dependents(name: str) -> frozenset[str]:
    """``name`` and every feature that builds on it, directly or not."""
    found = {name}
    changed = True
    while changed:
        changed = False
        for feature in FEATURES:
            if feature.name not in found and found.intersection(feature.requires):
                found.add(feature.name)
                changed = True
    return frozenset(found)


def proposals_of(names: Iterable[str]) -> set[str]:
    return {proposal for name in names for proposal in BY_NAME[name].proposals}


def from_target_features(declared: Iterable[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """Features named by a target_features section, and the names with no binaryen equivalent."""
    known: set[str] = set()
    unknown: list[str] = []
    for llvm_name in declared:
        feature = BY_LLVM_NAME.get(llvm_name)
        if feature is None:
            unknown.append(llvm_name)
        else:
            known.add(feature.name)
    return frozenset(known), tuple(sorted(set(unknown)))


@dataclass(frozen=True)
class FeatureSet:
    """The features to give the optimiser and the validator, and where they came from."""

    used: frozenset[str]  # found by validation
    declared: frozenset[str]  # from the target_features section
    ignored: tuple[str, ...] = ()  # target_features names binaryen has no flag for

    @property
    def enabled(self) -> tuple[str, ...]:
        """Binaryen names, in table order (stable output)."""
        wanted = self.used | self.declared
        return tuple(f.name for f in FEATURES if f.name in wanted)

    @property
    def unsupported(self) -> tuple[str, ...]:
        """Used features that binaryen 108 cannot optimise."""
        return tuple(n for n in self.enabled if n in self.used and not BY_NAME[n].binaryen)

    def binaryen_flags(self) -> list[str]:
        """Start from the MVP and enable exactly what the module uses or declares."""
        return ["--mvp-features", *(BY_NAME[n].flag for n in self.enabled if BY_NAME[n].binaryen)]

    def proposals(self) -> set[str]:
        return proposals_of(self.enabled)

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "enabled": list(self.enabled),
            "from-target-features": sorted(self.declared),
            "from-validation": sorted(self.used),
            "ignored-target-features": list(self.ignored),
        }


def detect_features(path: Path, declared: Sequence[str], *, label: str) -> FeatureSet:
    """The features the module at ``path`` uses; a UserError if it is invalid with all of them."""
    everything = proposals_of(f.name for f in FEATURES)
    reason = validation_error(path, everything)
    if reason is not None:
        msg = f"{label}: not a valid WebAssembly module: {reason}"
        raise UserError(msg)
    from_section, ignored = from_target_features(declared)
    used: set[str] = set()
    # Fast paths: most modules need few features. If the bare MVP validates, none is used; if
    # the features the compiler declared are enough, only those can be used (a compiler's module
    # is probed for its two or three declared features, not for every proposal there is).
    if validation_error(path, ()) is not None:
        candidates = FEATURES
        if from_section and validation_error(path, proposals_of(from_section)) is None:
            candidates = tuple(f for f in FEATURES if f.name in from_section)

        def needs(feature: Feature) -> bool:
            without = everything - proposals_of(dependents(feature.name))
            return validation_error(path, without) is not None

        # Each probe is a short wasm-tools process: run them side by side.
        with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
            for feature, needed in zip(candidates, pool.map(needs, candidates), strict=True):
                if needed:
                    used.add(feature.name)
    return FeatureSet(used=frozenset(used), declared=from_section, ignored=ignored)
