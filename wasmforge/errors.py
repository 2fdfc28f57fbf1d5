"""Every error a user can meet, each with its own exit code.

Only the command-line entry point (``wasmforge.cli.main``) turns these into an exit; everything else
raises. The codes are documented in README.md ("Exit codes"); change both together.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1
    USER_ERROR = 2
    CONFIG_ERROR = 3
    TOOL_MISSING = 4
    TOOLCHAIN_FAILED = 5
    ENGINE_UNAVAILABLE = 6
    REGISTRY_ERROR = 7
    NOT_REPRODUCIBLE = 8
    TESTS_FAILED = 9
    INTERRUPTED = 130
    TERMINATED = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM (CI cancellation, ``timeout``, ``docker stop``): unwinds like Ctrl-C, so every
    container and scratch directory is cleaned up the same way."""


class WasmforgeError(Exception):
    """Base of all expected failures: printed as one line (plus an optional hint), no traceback."""

    exit_code: ExitCode = ExitCode.USER_ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UserError(WasmforgeError):
    """Bad input: a missing or malformed file, a bad argument."""

    exit_code = ExitCode.USER_ERROR


class ConfigError(WasmforgeError):
    """wasmforge.toml (or a WASMFORGE_* variable) is invalid."""

    exit_code = ExitCode.CONFIG_ERROR


class ToolNotFoundError(WasmforgeError):
    """A program wasmforge needs is not installed."""

    exit_code = ExitCode.TOOL_MISSING


class ToolchainError(WasmforgeError):
    """A compiler, linker or optimiser step failed (the user's code or flags, usually)."""

    exit_code = ExitCode.TOOLCHAIN_FAILED


class EngineUnavailableError(WasmforgeError):
    """No container engine answers."""

    exit_code = ExitCode.ENGINE_UNAVAILABLE


class RegistryError(WasmforgeError):
    """An OCI registry refused, failed or could not be reached."""

    exit_code = ExitCode.REGISTRY_ERROR


class NotReproducibleError(WasmforgeError):
    """Two builds of the same inputs gave different bytes."""

    exit_code = ExitCode.NOT_REPRODUCIBLE


class TestsFailedError(WasmforgeError):
    """``wasmforge test``: the project built, and at least one of its ``[[test]]`` checks failed."""

    __test__ = False  # a name pytest would otherwise try to collect
    exit_code = ExitCode.TESTS_FAILED
