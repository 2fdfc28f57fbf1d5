from __future__ import annotations

from collections.abc import Iterator

import pytest

from wasmforge.console import Console, set_console


@pytest.fixture(autouse=True)
def _fresh_console() -> Iterator[None]:
    """Each test starts with a plain console, whatever an earlier CLI invocation set."""
    set_console(Console(env={}))
    yield
    set_console(Console(env={}))
