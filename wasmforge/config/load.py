"""Read and validate ``wasmforge.toml``; turn every problem into one line that names the key."""

from __future__ import annotations

import difflib
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from wasmforge.config.model import WasmforgeConfig
from wasmforge.errors import ConfigError
from wasmforge.kinds import TARGET_KINDS

CONFIG_FILE = "wasmforge.toml"


def find_config(start: Path) -> Path:
    """``start`` itself if it is a file, else ``start/wasmforge.toml``."""
    try:
        path = start if start.is_file() else start / CONFIG_FILE
        found = path.is_file()
    except OSError as error:  # e.g. a directory the user may not enter
        msg = f"{start}: cannot read: {error.strerror}"
        raise ConfigError(msg) from None
    if not found:
        msg = f"{path}: no {CONFIG_FILE} here"
        raise ConfigError(msg, hint="run 'wasmforge new' to start a project, or pass its directory")
    return path


def load_config(path: Path) -> WasmforgeConfig:
    """Parse and validate one config file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        msg = f"{path}: cannot read: {error}"
        raise ConfigError(msg) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(_toml_message(path, error)) from None
    try:
        # Keys as the file format spells them (include-dirs), not Python's (include_dirs).
        return WasmforgeConfig.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as error:
        raise ConfigError(format_validation_error(path, text, error)) from None


def _toml_message(path: Path, error: tomllib.TOMLDecodeError) -> str:
    # tomllib reports "Message (at line L, column C)": move the position to the front.
    match = re.search(r"^(.*) \(at line (\d+), column (\d+)\)$", str(error))
    if match:
        return f"{path}:{match[2]}:{match[3]}: {match[1]}"
    return f"{path}: {error}"


def format_validation_error(path: Path, text: str, error: ValidationError) -> str:
    """The first problem as ``file:line: key.path: message (did you mean 'x'?)``; a count of more."""
    # An unknown key is usually a misspelt one, whose "missing" error is then a consequence.
    problems = sorted(error.errors(), key=lambda e: e["type"] != "extra_forbidden")
    first = problems[0]
    loc = _display_loc(first["loc"])
    key = ".".join(loc) or "(top level)"
    kind = first["type"]
    if kind == "extra_forbidden":
        message = "unknown key"
        # A key that exists in another toolchain's table is no typo: say where it belongs.
        note = _toolchain_note(first["loc"])
        suggestion = None if note else _suggest(first["loc"])
        message += f" (did you mean {suggestion!r}?)" if suggestion else note
    elif kind == "missing":
        message = "required key is missing"
    elif kind == "union_tag_invalid":
        message = f"unknown kind {first.get('ctx', {}).get('tag')!r} (expected one of: {_kinds()})"
    elif kind == "union_tag_not_found":
        message = f"missing 'kind' (one of: {_kinds()})"
    elif kind == "value_error" and isinstance(first["input"], dict | list):
        # A check of a whole table (a [[test]] entry, the list of them) names what is wrong
        # itself; the table, cut at 60 characters, would only hide it.
        message = first["msg"].replace("Value error, ", "")
    else:
        message = f"{first['msg']} (got {_short(first['input'])})"
        message = message.replace("Value error, ", "")
    line = _line_of(text, loc)
    where = f"{path}:{line}" if line else str(path)
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    return f"{where}: {key}: {message}{more}"


# Keys that belong to some toolchain tables only: what to say when another table has them.
_C_TOOLCHAIN_KEYS = ("cflags", "ldflags")


def _toolchain_note(loc: tuple[int | str, ...]) -> str:
    """Why ``[toolchains]`` has no such table or key, when it is one that exists elsewhere."""
    if loc[:1] != ("toolchains",):
        return ""
    if loc == ("toolchains", "wat"):
        return ": WAT has no toolchain image (WABT runs inside wasmforge)"
    if len(loc) == 3 and loc[2] in _C_TOOLCHAIN_KEYS:
        return (": only [toolchains.wasi-sdk] and [toolchains.emscripten] take cflags and ldflags "
                "([toolchains.rust] takes rustflags)")
    return ""


def _kinds() -> str:
    return ", ".join(TARGET_KINDS)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _display_loc(loc: tuple[int | str, ...]) -> list[str]:
    # A discriminated union puts the tag ('wasi-sdk') into the location; the user never wrote it.
    # A bad dict key (an env name) is reported at the key itself.
    shown = [str(part) for part in loc if part != "[key]"]
    if len(shown) >= 3 and shown[0] == "targets" and shown[2] in TARGET_KINDS:
        del shown[2]
    return shown


def _suggest(loc: tuple[int | str, ...]) -> str | None:
    """The closest valid key next to the unknown one, found by walking the models along ``loc``."""
    model = _model_at(WasmforgeConfig, loc[:-1])
    if model is None:
        return None
    valid = [field.alias or name for name, field in model.model_fields.items()]
    matches = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next(
                (f for n, f in current.model_fields.items() if part in (n, f.alias)), None
            )
            if field is None:
                return None
            current = field.annotation
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        elif typing.get_origin(current) is list and isinstance(part, int):  # [[test]] entries
            current = typing.get_args(current)[0]
        elif isinstance(current, list):  # union members: pick by discriminator value
            current = next(
                (m for m in current if part in typing.get_args(m.model_fields["kind"].annotation)),
                None,
            )
            if current is None:
                return None
        else:
            return None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated/Optional; a union of models becomes a list of its members."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        if models and "kind" in models[0].model_fields:
            return models
        return members[0] if models == [] else models[0]
    return annotation


def _line_of(text: str, loc: list[str]) -> int | None:
    """Best effort: the line where the last key of ``loc`` is written, if that is unambiguous."""
    if not loc:
        return None
    if len(loc) >= 2 and loc[-1].isdigit():  # the N-th [[table]] of an array of tables
        header = re.compile(rf"^\s*\[\[\s*{re.escape(loc[-2])}\s*\]\]\s*$")
        headers = [n for n, line in enumerate(text.splitlines(), start=1) if header.search(line)]
        if int(loc[-1]) < len(headers):
            return headers[int(loc[-1])]
    key = re.escape(loc[-1])
    pattern = re.compile(rf"^\s*(\"{key}\"|'{key}'|{key})\s*=|^\s*\[+[^\]]*\b{key}\]+\s*$")
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if pattern.search(line)]
    if len(hits) == 1:
        return hits[0]
    if not hits and len(loc) > 1:
        return _line_of(text, loc[:-1])
    return None
