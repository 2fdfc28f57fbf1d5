"""Finding a target's source files: globs relative to the project root, checked to exist."""

from __future__ import annotations

from pathlib import Path

from wasmforge.errors import ConfigError

C_EXTENSIONS = (".c",)
CXX_EXTENSIONS = (".cc", ".cpp", ".cxx", ".c++", ".C")


def expand_sources(
    root: Path, target: str, patterns: list[str], key: str = "sources",
    record: dict[str, tuple[str, ...]] | None = None,
) -> list[str]:
    """Project-relative POSIX paths of the files ``patterns`` name, sorted within each pattern (so the
    command line, and with it the output, does not depend on directory order). Each glob and its
    matches go into ``record``: a new file that matches would change the plan."""
    found: list[str] = []
    for pattern in patterns:
        where = f"targets.{target}.{key}"
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            msg = f"{where}: {pattern!r} must be a path inside the project"
            raise ConfigError(msg)
        if any(c in pattern for c in "*?["):
            everything = sorted(root.glob(pattern))  # one walk for both checks
            broken = [p for p in everything if p.is_symlink() and not p.exists()]
            if broken:  # a link to nothing would quietly leave a source out of the build
                msg = (f"{where}: {broken[0].relative_to(root).as_posix()!r} (matched by "
                       f"{pattern!r}) is a link to nothing (dangling, or a loop)")
                raise ConfigError(msg)
            matches = _files_among(everything)
            if not matches:
                msg = f"{where}: {pattern!r} matches no file"
                raise ConfigError(msg)
            new = [m.relative_to(root).as_posix() for m in matches]
            if record is not None:
                record[pattern] = tuple(new)
        else:
            if not (root / pattern).is_file():
                msg = f"{where}: {pattern!r}: no such file"
                raise ConfigError(msg)
            new = [Path(pattern).as_posix()]
        for name in new:
            # Containers see only the project: a symlink out of it would build locally and fail
            # there (and the build would depend on files outside what the project pins).
            if not (root / name).resolve().is_relative_to(root.resolve()):
                msg = f"{where}: {name!r} is a link to a file outside the project"
                raise ConfigError(msg, hint="copy the file into the project")
        found.extend(n for n in new if n not in found)
    return found


def glob_files(root: Path, pattern: str) -> list[Path]:
    """The files under ``root`` that ``pattern`` matches, sorted."""
    return _files_among(sorted(root.glob(pattern)))


def _files_among(paths: list[Path]) -> list[Path]:
    return [p for p in paths if p.is_file()]


def project_file(root: Path, target: str, key: str, value: str) -> str:
    """A single project-relative file named by ``targets.<target>.<key>``, checked to exist."""
    return expand_sources(root, target, [value], key)[0]


def project_dir(root: Path, target: str, key: str, value: str) -> str:
    where = f"targets.{target}.{key}"
    if Path(value).is_absolute() or ".." in Path(value).parts:
        msg = f"{where}: {value!r} must be a directory inside the project"
        raise ConfigError(msg)
    if not (root / value).is_dir():
        msg = f"{where}: {value!r}: no such directory"
        raise ConfigError(msg)
    return Path(value).as_posix()


def is_cxx(path: str) -> bool:
    return path.endswith(CXX_EXTENSIONS)


def referenced_paths(root: Path, words: list[str]) -> tuple[list[str], list[str]]:
    """The project files and directories that flags name (``-Llib``, ``--js-library=x.js``,
    ``-Wl,--export-file=f``, ``lib/libfoo.a``, ``@flags.rsp``): inputs of a link that no tool reports. Returns
    (files, directories), project-relative; words that name nothing in the project are skipped."""
    files: list[str] = []
    dirs: list[str] = []
    for word in words:
        candidates = {word, word.split("=", 1)[-1], *word.split(","), word.removeprefix("-L")}
        candidates |= {part.split("=", 1)[-1] for part in word.split(",")}
        # @file anywhere (clang's response files, emcc's -sSETTING=@file): the file is the input.
        candidates |= {c.removeprefix("@") for c in candidates}
        for candidate in sorted(candidates):
            if not candidate or candidate.startswith("-") or Path(candidate).is_absolute() \
                    or ".." in Path(candidate).parts:
                continue
            path = root / candidate
            relative = Path(candidate).as_posix()
            if path.is_file() and relative not in files:
                files.append(relative)
            elif path.is_dir() and relative not in dirs:
                dirs.append(relative)
    return files, dirs
