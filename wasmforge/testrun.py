"""``wasmforge test``: the ``[[test]]`` checks of ``wasmforge.toml``, run on the built targets.

A check is one of three things, each through the machinery the matching command uses, so that a
check passes exactly when the command would behave as it says:

- a run: the module as ``wasmforge run`` runs it (``wasmforge.wasirun``), with its stdin from the
  check (empty when none is given: a check never waits on the terminal) and its stdout and stderr
  captured into files;
- an invoke: one exported function called as ``wasmtime run --invoke`` calls it;
- a request: one HTTP request handled in-process as ``wasmforge serve`` handles it (a WAGI
  handler, ``wasmforge.serve.executor``), without a socket; for an Emscripten web page, sent to
  serve's own server (its static files are the server's doing), on a free port of this machine.

Each check reports the first difference only: once the exit code or the status is wrong, the output
that follows is rarely worth comparing.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wasmforge.build.manifest import ManifestEntry
from wasmforge.config.model import ProjectTestConfig
from wasmforge.errors import WasmforgeError

# How much of an output a failure line quotes.
_QUOTE = 80


@dataclass(frozen=True)
class BuiltTarget:
    """Where a check finds its target's build output."""

    entry: ManifestEntry
    directory: Path  # the publish dir: <out>/<profile>

    @property
    def main(self) -> Path:
        return self.entry.main_path(self.directory)


@dataclass(frozen=True)
class CheckResult:
    name: str
    target: str
    kind: str  # run | invoke | request
    passed: bool
    problem: str | None  # the first difference, one line
    seconds: float
    observed: dict[str, Any] = field(default_factory=dict)  # exit code, output, status, ...

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "target": self.target, "kind": self.kind,
                "passed": self.passed, "problem": self.problem,
                "seconds": round(self.seconds, 3), "observed": self.observed}


def check_kind(test: ProjectTestConfig) -> str:
    return "request" if test.request is not None else "invoke" if test.invoke else "run"


def run_check(test: ProjectTestConfig, built: BuiltTarget) -> CheckResult:
    """Run one check; a check that cannot run at all (a reactor run as a command, a function that
    is not exported) fails with wasmforge's own one-line reason."""
    from wasmforge.config.resolve import parse_duration

    timeout = float(parse_duration(test.timeout, f"test {test.name!r}: timeout"))
    kind = check_kind(test)
    started = time.monotonic()
    observed: dict[str, Any] = {}
    try:
        if not built.main.is_file():
            problem: str | None = f"{built.main}: the target's built output is missing"
        elif not built.entry.wasi and kind == "request" and built.entry.environment == "web":
            problem = _page_request(test, built, timeout, observed)
        elif not built.entry.wasi:
            problem = (f"target {built.entry.name!r} is Emscripten "
                       f"{built.entry.environment or 'web'} output, not a WASI module: "
                       "wasmforge test runs WASI modules and components, and requests web pages")
        elif kind == "request":
            problem = _request(test, built, timeout, observed)
        elif kind == "invoke":
            problem = _invoke(test, built, timeout, observed)
        else:
            problem = _run(test, built, timeout, observed)
    except WasmforgeError as error:
        problem = error.message
    return CheckResult(name=test.name, target=test.target, kind=kind, passed=problem is None,
                       problem=problem, seconds=time.monotonic() - started, observed=observed)


def _run(test: ProjectTestConfig, built: BuiltTarget, timeout: float,
         observed: dict[str, Any]) -> str | None:
    from wasmforge.wasirun import WasiProgram, run_wasi

    main = built.main
    with tempfile.TemporaryDirectory(prefix="wasmforge-test-") as scratch:
        stdin, stdout, stderr = (Path(scratch) / name for name in ("stdin", "stdout", "stderr"))
        stdin.write_text(test.stdin or "", encoding="utf-8")
        stdout.touch()
        stderr.touch()
        program = WasiProgram(main.read_bytes(), (main.name, *test.args),
                              tuple(test.env.items()), (), str(main),
                              stdin=stdin, stdout=stdout, stderr=stderr)
        code = run_wasi(program, timeout=timeout)
        out = stdout.read_bytes().decode("utf-8", errors="replace")
        err = stderr.read_bytes().decode("utf-8", errors="replace")
    observed.update(exit_code=code, stdout=out, stderr=err)
    expected_exit = 0 if test.expect_exit is None else test.expect_exit
    if code != expected_exit:
        said = f"; stderr: {_quote(err.strip())}" if err.strip() else ""
        return f"exit code {code}, expected {expected_exit}{said}"
    return _compare_text("stdout", out, test.expect_stdout, test.expect_stdout_contains)


def _invoke(test: ProjectTestConfig, built: BuiltTarget, timeout: float,
            observed: dict[str, Any]) -> str | None:
    from wasmforge.wasirun import WasiProgram, invoke_wasi

    assert test.invoke is not None
    main = built.main
    with tempfile.TemporaryDirectory(prefix="wasmforge-test-") as scratch:
        stdin, stdout, stderr = (Path(scratch) / name for name in ("stdin", "stdout", "stderr"))
        for file in (stdin, stdout, stderr):
            file.touch()
        program = WasiProgram(main.read_bytes(), (main.name,), tuple(test.env.items()), (),
                              str(main), stdin=stdin, stdout=stdout, stderr=stderr)
        invoked = invoke_wasi(program, test.invoke, test.args, timeout=timeout)
        out = stdout.read_bytes().decode("utf-8", errors="replace")
    observed.update(results=list(invoked.results), stdout=out)
    if invoked.exit_code is not None:
        observed["exit_code"] = invoked.exit_code
        return f"{test.invoke} did not return: exit code {invoked.exit_code}"
    if test.expect_result is not None:
        got = invoked.results[0] if len(invoked.results) == 1 else list(invoked.results)
        if not _same_value(got, test.expect_result):
            return f"{test.invoke} returned {got!r}, expected {test.expect_result!r}"
    return _compare_text("stdout", out, test.expect_stdout, test.expect_stdout_contains)


def _same_value(got: Any, expected: float | bool | str) -> bool:
    # TOML's true is not wasm's 1: a bool matches only a component's bool result.
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(got) is type(expected) and got == expected
    return bool(got == expected)


def _request(test: ProjectTestConfig, built: BuiltTarget, timeout: float,
             observed: dict[str, Any]) -> str | None:
    from wasmforge.serve.executor import WagiHandler, WagiRequest
    from wasmforge.serve.routes import WILDCARD

    request = test.request
    assert request is not None
    path, _, query = request.path.partition("?")
    headers = dict(request.headers)
    if not any(name.lower() == "host" for name in headers):
        headers["Host"] = "127.0.0.1"
    # The target alone, answering every path: SCRIPT_NAME empty and PATH_INFO the whole path, as
    # wasmforge serve routes a project with one target and no routes.
    handler = WagiHandler(built.main, route=WILDCARD, dirs=(), env=test.env, timeout=timeout)
    response = handler.handle(WagiRequest(method=request.method, path=path, query=query,
                                          headers=tuple(headers.items()),
                                          body=request.body.encode("utf-8")))
    observed["stderr"] = response.stderr.decode("utf-8", errors="replace")
    if response.error:
        observed["error"] = response.error
    return _compare_response(test, response.status, response.headers, response.body,
                             response.error, observed)


def _page_request(test: ProjectTestConfig, built: BuiltTarget, timeout: float,
                  observed: dict[str, Any]) -> str | None:
    """A request for an Emscripten web target's files, sent over HTTP to wasmforge serve's own
    server, started for it on a free port of this machine: how static files are answered (paths,
    content types, methods) is the server's doing, not a handler's."""
    import http.client
    import threading

    from wasmforge.build.manifest import MANIFEST_NAME, BuildManifest
    from wasmforge.console import Console
    from wasmforge.serve.plan import ServePlan, load_serving
    from wasmforge.serve.server import WagiServer

    request = test.request
    assert request is not None
    name = built.entry.name
    manifest = BuildManifest(path=built.directory / MANIFEST_NAME, project="",
                             profile=built.entry.profile, targets={name: built.entry})
    routes, static = load_serving(ServePlan((), (name,)), manifest, built.directory,
                                  timeout=timeout)
    # Quiet: its access log would come between the check lines.
    server = WagiServer(routes, static, host="127.0.0.1", port=0, workers=1,
                        console=Console(quiet=True))
    serving = threading.Thread(target=server.serve_forever, name="wasmforge-test-serve",
                               daemon=True)
    serving.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
        try:
            connection.request(request.method, request.path, body=request.body.encode("utf-8"),
                               headers=request.headers)
            response = connection.getresponse()
            status, headers, body = response.status, response.getheaders(), response.read()
        finally:
            connection.close()
    finally:
        server.shutdown()
        serving.join()
    return _compare_response(test, status, headers, body, None, observed)


def _compare_response(test: ProjectTestConfig, status: int, headers: Sequence[tuple[str, str]],
                      raw_body: bytes, error: str | None, observed: dict[str, Any]) -> str | None:
    body = raw_body.decode("utf-8", errors="replace")
    response_headers = _header_map(headers)
    observed.update(status=status, headers=response_headers, body=body)
    expected_status = 200 if test.expect_status is None else test.expect_status
    if status != expected_status:
        why = f" ({error})" if error else f"; body: {_quote(body)}"
        return f"status {status}, expected {expected_status}{why}"
    for name, value in test.expect_headers.items():
        got = response_headers.get(name.lower())
        if got is None:
            shown = ", ".join(response_headers) or "none"
            return f"no {name} header (headers: {shown})"
        if got.strip() != value.strip():
            return f"header {name}: {_quote(got)}, expected {_quote(value)}"
    return _compare_text("body", body, test.expect_body, test.expect_body_contains)


def _header_map(headers: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Response headers by lower-case name (HTTP names are case-insensitive); of a name sent twice
    the last one."""
    return {name.lower(): value for name, value in headers}


def _compare_text(what: str, got: str, exactly: str | None, contains: str | None) -> str | None:
    if exactly is not None and got != exactly:
        return f"{what} {first_difference(got, exactly)}"
    if contains is not None and contains not in got:
        return f"{what} does not contain {_quote(contains)} ({what}: {_quote(got)})"
    return None


def first_difference(got: str, expected: str) -> str:
    """Where ``got`` first differs from ``expected``, line by line, in a few words."""
    got_lines, expected_lines = got.splitlines(keepends=True), expected.splitlines(keepends=True)
    for number, (mine, theirs) in enumerate(zip(got_lines, expected_lines, strict=False), 1):
        if mine != theirs:
            return f"line {number}: {_quote(mine)}, expected {_quote(theirs)}"
    if len(got_lines) > len(expected_lines):
        extra = got_lines[len(expected_lines)]
        return f"line {len(expected_lines) + 1}: {_quote(extra)}, expected the end"
    missing = expected_lines[len(got_lines)]
    return f"line {len(got_lines) + 1}: the end, expected {_quote(missing)}"


def _quote(text: str) -> str:
    shown = repr(text)
    return shown if len(shown) <= _QUOTE else shown[:_QUOTE - 4] + "...'"


def select_tests(tests: Sequence[ProjectTestConfig], targets: Sequence[str]) -> list[
        ProjectTestConfig]:
    """The checks of ``targets`` (all of them when none is named), in file order."""
    return [test for test in tests if not targets or test.target in targets]
