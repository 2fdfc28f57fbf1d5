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


@pytest.fixture(autouse=True, scope="session")
def _own_build_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Builds in tests keep their results in a cache of the test run, not the user's: a result
    left by an earlier run (or a developer's own builds) would let a build succeed that a test
    expects to run, or fail."""
    import os

    previous = os.environ.get("WASMFORGE_CACHE_DIR")
    os.environ["WASMFORGE_CACHE_DIR"] = str(tmp_path_factory.mktemp("build-cache"))
    yield
    if previous is None:
        os.environ.pop("WASMFORGE_CACHE_DIR", None)
    else:
        os.environ["WASMFORGE_CACHE_DIR"] = previous
