"""Driving WABT (``wat2wasm``, ``wasm2wat``, ``wasm-validate``) and turning its output into one-line errors.

WABT spells each WebAssembly feature flag only one way: features that are on by default can only be
disabled (``--disable-simd``) and features that are off can only be enabled (``--enable-threads``).
Users should not have to know which is which, so the wanted feature set is resolved here against the
list that the installed WABT prints in its ``--help``, and only the flags that change something are
passed on.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from wasmforge.errors import ToolchainError, UserError
from wasmforge.tools import run_tool, wabt_tool

# "--enable-threads   Enable Threading support" in the options list of every WABT program's --help.
_HELP_FEATURE = re.compile(r"^\s+--(enable|disable)-([a-z0-9-]+)\s", re.MULTILINE)
# "in.wat:6:9: error: unexpected token foo" (text) ...
_TEXT_ERROR = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error: (?P<msg>.*)$")
# ... and "in.wasm:000001a: error: type mismatch" or "0000014: error: ..." (binary offsets, hex).
_BINARY_ERROR = re.compile(r"^(?:(?P<file>.*):)?(?P<offset>[0-9a-f]{7,}): error: (?P<msg>.*)$")

WABT_FEATURE_FLAG = re.compile(r"^--(enable|disable)-([a-z0-9-]+)$")


@dataclass(frozen=True)
class FeatureRequest:
    """What the user asked for: ``--enable X`` / ``--disable X`` in order, and ``--enable-all``."""

    changes: tuple[tuple[str, bool], ...] = ()
    enable_all: bool = False

    @property
    def empty(self) -> bool:
        return not self.changes and not self.enable_all


NO_FEATURES = FeatureRequest()

@dataclass(frozen=True)
class WabtFeatures:
    """The features one WABT program knows, with whether each is on by default."""

    defaults: Mapping[str, bool] = field(default_factory=dict)

    def normalise(self, name: str) -> str:
        """A known feature name for ``name`` (``bulk_memory`` and ``Bulk-Memory`` are accepted)."""
        key = name.strip().lower().replace("_", "-")
        if key in self.defaults:
            return key
        close = difflib.get_close_matches(key, list(self.defaults), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        msg = f"unknown WebAssembly feature '{name}'"
        raise UserError(msg, hint=f"{hint}known features: {', '.join(sorted(self.defaults))}, all")

    def resolve(self, request: FeatureRequest) -> dict[str, bool]:
        """The full on/off state of every feature after applying ``request`` to the defaults."""
        state = dict(self.defaults)
        if request.enable_all:
            state = dict.fromkeys(state, True)
        for name, on in request.changes:
            state[self.normalise(name)] = on
        return state

    def argv(self, request: FeatureRequest) -> list[str]:
        """The WABT flags that turn the defaults into what ``request`` asks for (only real changes)."""
        state = self.resolve(request)
        flags: list[str] = []
        for name in sorted(state):
            if state[name] != self.defaults[name]:
                flags.append(f"--{'enable' if state[name] else 'disable'}-{name}")
        return flags


def parse_feature_help(help_text: str) -> WabtFeatures:
    """The feature list in a WABT program's ``--help``: ``--disable-X`` means X is on by default."""
    defaults: dict[str, bool] = {}
    for verb, name in _HELP_FEATURE.findall(help_text):
        if name == "all":
            continue
        defaults[name] = verb == "disable"
    return WabtFeatures(defaults)


@cache
def tool_features(tool: str) -> WabtFeatures:
    """The features of the installed WABT program ``tool`` (asked once per run, only when needed)."""
    done = run_tool([wabt_tool(tool), "--help"])
    features = parse_feature_help(done.stdout.decode("utf-8", "replace"))
    if not features.defaults:
        msg = f"{tool} --help lists no feature flags; is this WABT?"
        raise ToolchainError(msg)
    return features


def feature_request(enable: Iterable[str], disable: Iterable[str], extra: Sequence[str]) -> FeatureRequest:
    """Combine ``--enable X``/``--disable X`` options and WABT-style ``--enable-x`` spellings.

    ``extra`` are the WABT-style flags, in command-line order; anything else in it is an error.
    """
    changes: list[tuple[str, bool]] = [(name, True) for name in enable]
    changes += [(name, False) for name in disable]
    enable_all = False
    for flag in extra:
        match = WABT_FEATURE_FLAG.match(flag)
        if match is None:
            msg = f"unknown option '{flag}'"
            raise UserError(msg, hint="run with --help to see the options")
        verb, name = match.groups()
        if name == "all":
            if verb == "disable":
                msg = "--disable-all is not a WABT option; list the features to disable"
                raise UserError(msg)
            enable_all = True
        else:
            changes.append((name, verb == "enable"))
    # "all" is also accepted as a feature name: --enable all.
    if any(name == "all" and on for name, on in changes):
        enable_all = True
    changes = [(name, on) for name, on in changes if name != "all"]
    return FeatureRequest(tuple(changes), enable_all)


def feature_flags(tool: str, request: FeatureRequest) -> list[str]:
    """WABT argv for ``request``; runs ``tool --help`` only when features were asked for."""
    if request.empty:
        return []
    return tool_features(tool).argv(request)


# Errors -------------------------------------------------------------------------------------------


def first_text_error(stderr: str, fallback_file: str) -> str:
    """``file:line:col: message`` for the first WABT text error, with ``(and N more)`` if several."""
    found = [m for m in map(_TEXT_ERROR.match, stderr.splitlines()) if m]
    if not found:
        return _first_binary_error(stderr, fallback_file) or _raw_message(stderr, fallback_file)
    first = found[0]
    line = f"{first['file']}:{first['line']}:{first['col']}: {first['msg']}"
    return line + _more(len(found) - 1)


def first_binary_error(stderr: str, fallback_file: str) -> str:
    """``file: message (at byte 0x1a)`` for the first WABT error about a binary module."""
    return _first_binary_error(stderr, fallback_file) or _raw_message(stderr, fallback_file)


def _first_binary_error(stderr: str, fallback_file: str) -> str | None:
    found = [m for m in map(_BINARY_ERROR.match, stderr.splitlines()) if m]
    if not found:
        return None
    first = found[0]
    offset = int(first["offset"], 16)
    return f"{first['file'] or fallback_file}: {first['msg']} (at byte 0x{offset:x})" + _more(
        len(found) - 1
    )


def _raw_message(stderr: str, fallback_file: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return f"{fallback_file}: {lines[0] if lines else 'failed with no message'}"


def _more(count: int) -> str:
    if count <= 0:
        return ""
    return f" (and {count} more error{'s' if count > 1 else ''})"


# Running the tools --------------------------------------------------------------------------------


def text_to_binary(
    source: Path, request: FeatureRequest = NO_FEATURES, *, debug_names: bool = False
) -> bytes:
    """Compile WebAssembly text to a binary module (in memory; the caller writes it atomically)."""
    argv: list[str | Path] = [wabt_tool("wat2wasm"), *feature_flags("wat2wasm", request)]
    if debug_names:
        argv.append("--debug-names")
    argv += [str(source), "-o", "-"]
    done = run_tool(argv)
    if done.returncode != 0:
        raise UserError(first_text_error(done.stderr.decode("utf-8", "replace"), str(source)))
    return done.stdout


def binary_to_text(
    module: Path,
    request: FeatureRequest = NO_FEATURES,
    *,
    fold_exprs: bool = False,
    generate_names: bool = False,
) -> str:
    """Disassemble a binary module to WebAssembly text."""
    argv: list[str | Path] = [wabt_tool("wasm2wat"), *feature_flags("wasm2wat", request)]
    if fold_exprs:
        argv.append("--fold-exprs")
    if generate_names:
        argv.append("--generate-names")
    argv.append(str(module))
    done = run_tool(argv)
    if done.returncode != 0:
        raise UserError(first_binary_error(done.stderr.decode("utf-8", "replace"), str(module)))
    return done.stdout.decode("utf-8")


def validate_binary(module: Path, request: FeatureRequest = NO_FEATURES) -> str | None:
    """``None`` if ``wasm-validate`` accepts the module, else its first problem on one line."""
    argv: list[str | Path] = [wabt_tool("wasm-validate"), *feature_flags("wasm-validate", request)]
    done = run_tool([*argv, str(module)])
    if done.returncode == 0:
        return None
    return first_binary_error(done.stderr.decode("utf-8", "replace"), str(module))


def validate_text(source: Path, request: FeatureRequest = NO_FEATURES) -> str | None:
    """``None`` if the text parses and validates, else ``file:line:col: message``."""
    try:
        text_to_binary(source, request)
    except UserError as error:
        return error.message
    return None
