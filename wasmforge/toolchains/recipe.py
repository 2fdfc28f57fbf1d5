"""Reading toolchain recipes: ``toolchains/<set>/base.toml`` and ``toolchains/<set>/<name>/``.

A recipe directory holds a ``Dockerfile`` and ``toolchain.toml`` (description, pinned
``[packages]``, ``[env]`` and the ``[[verify]]`` checks). A user's own recipe (``[toolchains.KIND]
recipe = ...``) needs only a Dockerfile; without a toolchain.toml it inherits the shipped recipe's
checks.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wasmforge.errors import ConfigError, UserError
from wasmforge.resources import toolchains_dir
from wasmforge.toolchain_sets import DEFAULT_SET, TOOLCHAIN_SETS

RECIPE_FILE = "toolchain.toml"
BASE_FILE = "base.toml"
DOCKERFILE = "Dockerfile"

# Debian's rules for package names and versions (Policy 5.6.1 and 5.6.12): a typo in a pin is
# caught before apt sees it, and nothing can smuggle shell syntax into the PACKAGES build argument.
_PACKAGE_NAME = r"^[a-z0-9][a-z0-9+.-]+$"
_PACKAGE_VERSION = r"^([0-9]+:)?[0-9][A-Za-z0-9.+~-]*$"
_DIGEST_REFERENCE = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")


def _kebab(name: str) -> str:
    return name.replace("_", "-")


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, alias_generator=_kebab, populate_by_name=True
    )


class VerifyCheck(_Strict):
    """One ``[[verify]]`` entry: run ``command`` and find ``expect`` in what it prints."""

    name: Annotated[str, Field(min_length=1)]
    command: Annotated[list[str], Field(min_length=1)]
    expect: Annotated[str, Field(min_length=1)]


class RecipeFile(_Strict):
    """The schema of ``toolchain.toml``."""

    description: str = ""
    packages: dict[
        Annotated[str, Field(pattern=_PACKAGE_NAME)],
        Annotated[str, Field(pattern=_PACKAGE_VERSION)],
    ] = {}
    env: dict[str, str] = {}
    verify: list[VerifyCheck] = []


class BaseFile(_Strict):
    """The schema of ``base.toml``."""

    # None: no published image is pinned, the base is always created with debootstrap.
    image: Annotated[str, Field(pattern=_DIGEST_REFERENCE.pattern)] | None = None
    suite: Annotated[str, Field(pattern=r"^[a-z]+$")]
    mirror: Annotated[str, Field(pattern=r"^https?://\S+$")]
    variant: Annotated[str, Field(pattern=r"^[a-z]+$")] = "minbase"


@dataclass(frozen=True)
class Recipe:
    """A toolchain recipe directory and what its metadata says."""

    name: str
    directory: Path
    description: str
    packages: dict[str, str]
    env: dict[str, str]
    checks: tuple[VerifyCheck, ...]

    @property
    def package_pins(self) -> list[str]:
        """``name=version`` for apt-get, in file order."""
        return [f"{name}={version}" for name, version in self.packages.items()]


@dataclass(frozen=True)
class BaseSpec:
    """The pinned base image and how to recreate it offline."""

    image: str | None  # digest-pinned reference; None: debootstrap only
    suite: str
    mirror: str
    variant: str = "minbase"

    @property
    def identity(self) -> str:
        """What stands for this base in recipe tags: the same on every machine. A debootstrapped
        suite is named by what debootstrap is given (its packages are pinned by the recipes)."""
        if self.image is not None:
            return self.image
        return f"debootstrap:{self.suite}:{self.variant}:{self.mirror}"

    @property
    def short_name(self) -> str:
        """The part of the local base tag after the suite: a digest prefix, or "debootstrap"."""
        if self.image is None:
            return "debootstrap"
        return self.image.rsplit("@", 1)[1].removeprefix("sha256:")[:16]


def set_dir(toolchain_set: str = DEFAULT_SET) -> Path:
    """The folder of a shipped toolchain set; a user error naming the known sets otherwise."""
    if toolchain_set not in TOOLCHAIN_SETS:
        msg = f"unknown toolchain set {toolchain_set!r} (known: {', '.join(TOOLCHAIN_SETS)})"
        raise UserError(msg)
    return toolchains_dir() / toolchain_set


def recipe_names(root: Path | None = None, toolchain_set: str = DEFAULT_SET) -> list[str]:
    """A set's shipped images: every directory of its folder with a toolchain.toml, sorted."""
    folder = root or set_dir(toolchain_set)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / RECIPE_FILE).is_file())


def load_recipe(directory: Path, name: str | None = None) -> Recipe:
    """Parse a recipe directory; a bad file is one ConfigError naming the file, line and key."""
    if not directory.is_dir():
        msg = f"{directory}: toolchain recipe directory not found"
        raise UserError(msg)
    if not (directory / DOCKERFILE).is_file():
        msg = f"{directory}: no {DOCKERFILE} in this toolchain recipe"
        raise UserError(msg)
    path = directory / RECIPE_FILE
    data = RecipeFile() if not path.is_file() else _parse(path, RecipeFile)
    return Recipe(
        name=name or directory.name,
        directory=directory,
        description=data.description,
        packages=dict(data.packages),
        env=dict(data.env),
        checks=tuple(data.verify),
    )


def shipped_recipe(name: str, toolchain_set: str = DEFAULT_SET) -> Recipe:
    """The shipped recipe called ``name`` in a set; a user error listing the known ones otherwise."""
    names = recipe_names(toolchain_set=toolchain_set)
    if name not in names:
        msg = (f"unknown toolchain {name!r} in the {toolchain_set} set "
               f"(known: {', '.join(names) or 'none'})")
        raise UserError(msg)
    return load_recipe(set_dir(toolchain_set) / name)


def load_base(path: Path | None = None, toolchain_set: str = DEFAULT_SET) -> BaseSpec:
    """The base image of a set, from ``toolchains/<set>/base.toml`` (or ``path``)."""
    path = path or set_dir(toolchain_set) / BASE_FILE
    if not path.is_file():
        msg = f"{path}: base image description not found"
        raise UserError(msg)
    data = _parse(path, BaseFile)
    return BaseSpec(image=data.image, suite=data.suite, mirror=data.mirror, variant=data.variant)


_Model = TypeVar("_Model", bound=BaseModel)


def _parse(path: Path, model: type[_Model]) -> _Model:
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as error:
        msg = f"{path}: cannot read: {error.strerror}"
        raise ConfigError(msg) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        msg = f"{path}: {error}"
        raise ConfigError(msg) from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_validation_message(path, text, error)) from None


def _validation_message(path: Path, text: str, error: ValidationError) -> str:
    """``file:line: key.path: message`` for the first problem, and how many more there are."""
    problems = error.errors()
    first = problems[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "missing":
        message = "required key is missing"
    else:
        message = f"{first['msg']} (got {first['input']!r})"
    line = _line_of_key(text, [str(p) for p in first["loc"] if isinstance(p, str)])
    where = f"{path}:{line}" if line else str(path)
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    return f"{where}: {key}: {message}{more}"


def _line_of_key(text: str, keys: list[str]) -> int | None:
    """The line where the innermost named key is written, when that is unambiguous."""
    for key in reversed(keys):
        quoted = re.escape(key)
        pattern = re.compile(
            rf"^\s*(\"{quoted}\"|'{quoted}'|{quoted})\s*=|^\s*\[+\s*{quoted}\s*\]+"
        )
        hits = [n for n, line in enumerate(text.splitlines(), start=1) if pattern.search(line)]
        if len(hits) == 1:
            return hits[0]
    return None
