"""Actions: the units a build is made of, each cached on its own.

An action runs programs (its steps) from one toolchain, reads declared inputs, and leaves output
files in its target's writable dir. Everything that decides its outputs is declared here, in the
abstract terms of the plan (``/src`` for the project, ``/out/<target>`` for the writable dir), so
that its cache key (``wasmforge.cache.key``) is the same in every checkout and on every machine.

    compile (one per source) ─► link ─► optimize ─► (package, in wasmforge build)
    build (Cargo, a build command) ─► optimize
    assemble (WAT) ─► optimize
    ... ─► componentize (a component target: after the module's last action)

What the tools discover for themselves (headers, Rust modules, libraries a linker searched) is read
back from their own dependency output after the action ran (``depfiles``, ``trace``): those files
are recorded with the cache entry and checked on every lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wasmforge.build.cargo_deps import CargoDependencies
from wasmforge.runner.base import Step

ActionKind = Literal["compile", "link", "build", "assemble", "optimize", "componentize"]

# What each kind of action does, versioned: bump a number when that kind's implementation changes
# what it produces (flags it adds, how its outputs are made), so that no older entry matches.
ACTION_VERSIONS: dict[ActionKind, int] = {
    "compile": 1, "link": 1, "build": 1, "assemble": 1, "optimize": 1, "componentize": 1,
}


@dataclass(frozen=True)
class Action:
    # Unique within its target: "compile src/main.c", "link", "optimize".
    name: str
    kind: ActionKind
    # Where it runs: a toolchain image kind, or HOST_TOOLCHAIN.
    toolchain: str
    # The program runs, in order. An optimize action has none: its pipeline is wasmforge's own,
    # calling the toolchain's wasm-opt.
    steps: tuple[Step, ...] = ()
    # Project-relative files it reads, by content.
    sources: tuple[str, ...] = ()
    # Project-relative directories it reads whole (a Cargo package, a build command's project).
    trees: tuple[str, ...] = ()
    # Paths a tree leaves out (relative to the project): the output dir, Cargo's own target dir.
    tree_excludes: tuple[str, ...] = ()
    # Files of the target's dir made by the actions it runs after; read by content.
    consumes: tuple[str, ...] = ()
    # Files of the target's dir it makes: its results, cached.
    produces: tuple[str, ...] = ()
    # Files of the target's dir, in make syntax, naming what the tools read (clang -MD, dep-info).
    depfiles: tuple[str, ...] = ()
    # The linker lists the files it read on its output (wasm-ld --trace).
    trace: bool = False
    # For each discovered file, the nearest file of this name above it is an input too (Cargo's
    # dep-info names a path dependency's sources, not its Cargo.toml).
    dep_manifest: str | None = None
    # Settings its outcome depends on that are not in its steps (the optimiser's profile).
    params: tuple[tuple[str, str], ...] = ()
    # Names of the actions of the same target whose outputs it consumes.
    after: tuple[str, ...] = ()
    # A Cargo build's lock file and the crates to fetch before it runs (not part of its key: the
    # lock and the cargo configs are among its inputs).
    cargo: CargoDependencies | None = None

    @property
    def version(self) -> int:
        return ACTION_VERSIONS[self.kind]

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name, "kind": self.kind, "toolchain": self.toolchain,
            "steps": [step.as_dict() for step in self.steps],
            "sources": list(self.sources), "trees": list(self.trees),
            "consumes": list(self.consumes), "produces": list(self.produces),
            "after": list(self.after),
        }
