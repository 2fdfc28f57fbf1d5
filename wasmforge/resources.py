"""Where shipped data lives: toolchain recipes and project templates.

In a wheel they are under ``wasmforge/_data/`` (pyproject force-includes them); in a source checkout
they are the top-level ``toolchains/`` and ``templates/`` folders of the repository.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """``toolchains`` or ``templates``: the shipped copy if installed, else the checkout's."""
    shipped = PACKAGE_DIR / "_data" / name
    if shipped.is_dir():
        return shipped
    return PACKAGE_DIR.parent / name


def toolchains_dir() -> Path:
    return data_dir("toolchains")


def templates_dir() -> Path:
    return data_dir("templates")
