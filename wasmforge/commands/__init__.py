"""Command modules, by the command names they register.

Each module exposes ``register(app)``. The CLI imports only the module of the command being run
(all of them for ``--help``): building every command's parameters costs more than starting Python,
and ``wasmforge wat2wasm`` in a loop should not pay for ``build`` or ``push``.
"""

from __future__ import annotations

COMMAND_MODULES: dict[str, str] = {
    "new": "wasmforge.commands.new",
    "build": "wasmforge.commands.build",
    "test": "wasmforge.commands.test",
    "fetch": "wasmforge.commands.fetch",
    "lock": "wasmforge.commands.fetch",
    "wat2wasm": "wasmforge.commands.wat",
    "wasm2wat": "wasmforge.commands.wat",
    "validate": "wasmforge.commands.wat",
    "inspect": "wasmforge.commands.inspect",
    "opt": "wasmforge.commands.opt",
    "componentize": "wasmforge.commands.componentize",
    "package": "wasmforge.commands.package",
    "push": "wasmforge.commands.push",
    "pull": "wasmforge.commands.pull",
    "run": "wasmforge.commands.run",
    "serve": "wasmforge.commands.serve",
    "toolchains": "wasmforge.commands.toolchains",
    "cache": "wasmforge.commands.cache",
    "doctor": "wasmforge.commands.doctor",
    "schema": "wasmforge.commands.schema",
}
