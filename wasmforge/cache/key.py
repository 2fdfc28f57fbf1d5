"""An action's cache key: SHA-256 over everything that decides its outputs.

    kind + version, the target, the toolchain's identity (its recipe hash or pinned digest, never a
    local image id), every step's argv, cwd, environment and helper files (paths in the plan's
    abstract layout: /src, /out/<target>), SOURCE_DATE_EPOCH, the optimiser's settings, and the
    contents of every declared input (files, whole trees, outputs of earlier actions)

No host path enters a key, so checkouts in different directories and on different machines share
entries. What the tools discover (headers, modules) is not in the key: it is recorded with each
result and checked on lookup (see ``ActionRecord.deps``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from wasmforge.build.action import Action
from wasmforge.cache.record import sorted_json

# Bumped when what goes into a key changes shape, so that no old key can mean something new.
KEY_SCHEME = "wasmforge-action-key-v1"


@dataclass(frozen=True)
class KeyInputs:
    """The facts about one action's inputs, as this build found them."""

    toolchain: str  # identity of what runs it
    epoch: int  # SOURCE_DATE_EPOCH its steps see
    sources: Mapping[str, str]  # project file -> digest
    trees: Mapping[str, str]  # project directory -> tree digest
    consumed: Mapping[str, str]  # file of the target's dir -> digest


def action_key(target: str, action: Action, inputs: KeyInputs) -> str:
    definition = {
        "scheme": KEY_SCHEME,
        "target": target,
        "kind": action.kind,
        "version": action.version,
        "toolchain": inputs.toolchain,
        "epoch": inputs.epoch,
        "steps": [
            {"argv": list(step.argv), "cwd": step.cwd, "env": dict(step.env),
             "files": [list(pair) for pair in step.files]}
            for step in action.steps
        ],
        "params": [list(pair) for pair in action.params],
        "sources": dict(inputs.sources),
        "trees": dict(inputs.trees),
        "tree_excludes": list(action.tree_excludes),
        "consumes": dict(inputs.consumed),
        "produces": list(action.produces),
        "depfiles": list(action.depfiles),
        "trace": action.trace,
        "dep_manifest": action.dep_manifest,
    }
    return hashlib.sha256(sorted_json(definition)).hexdigest()
