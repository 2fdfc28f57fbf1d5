"""Developer and CI tasks. Run from the project venv: ``.venv/bin/nox -s tests``.

Sessions run in the environment nox itself runs in (``venv_backend="none"``): ``.ci/setup.sh``
already made that venv with every dependency, and a second venv per session would only add
minutes of installs to every CI run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "typecheck", "tests"]


@nox.session
def tests(session: nox.Session) -> None:
    """Unit tests, then integration tests (real Docker, toolchains, registry, runtime)."""
    args = session.posargs or []
    session.run(sys.executable, "-m", "pytest", "tests/unit", *args)
    session.run(sys.executable, "-m", "pytest", "tests/integration", "--durations=15", *args)


@nox.session
def lint(session: nox.Session) -> None:
    session.run(sys.executable, "-m", "ruff", "check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.run(sys.executable, "-m", "mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Start-up time, output sizes, the build cache and serve, printed as ratios measured in one
    run."""
    session.run(sys.executable, "benchmarks/bench_startup.py")
    session.run(sys.executable, "benchmarks/bench_sizes.py", "--build")
    session.run(sys.executable, "benchmarks/bench_cache.py")
    session.run(sys.executable, "benchmarks/bench_serve.py")


@nox.session
def schema(session: nox.Session) -> None:
    """Regenerate schema/wasmforge.schema.json from the config model."""
    with Path("schema/wasmforge.schema.json").open("w", encoding="utf-8") as out:
        session.run(sys.executable, "-m", "wasmforge.config.schema", stdout=out)


@nox.session
def samples(session: nox.Session) -> None:
    """The main job: build every sample (release) and package it as OCI."""
    session.run(sys.executable, "samples/build_all.py", *session.posargs)
