"""Command modules. Each exposes ``register(app)``; the CLI registers them in this order."""

from __future__ import annotations

from types import ModuleType

from wasmforge.commands import new

ALL_COMMAND_MODULES: tuple[ModuleType, ...] = (new,)
