"""``wasmforge test`` and the ``[[test]]`` entries of wasmforge.toml: the model's rules, and real
checks of WAT targets (built in-process by WABT, run by wasmtime) that pass and fail, through the
command line with its exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.oci_samples import EXIT_WAT, HELLO_OUTPUT, HELLO_WAT
from tests.wagi_modules import CGI_ENV, ECHO, LOOP, TRAP
from wasmforge.config.load import load_config
from wasmforge.errors import ConfigError, ExitCode
from wasmforge.testrun import first_difference

# Copies its stdin to its stdout.
CAT_WAT = """(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "_start") (local $n i32)
    (block $done
      (loop $more
        (i32.store (i32.const 0) (i32.const 1024))
        (i32.store (i32.const 4) (i32.const 65536))
        (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
        (local.set $n (i32.load (i32.const 8)))
        (br_if $done (i32.eqz (local.get $n)))
        (i32.store (i32.const 4) (local.get $n))
        (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (br $more)))))
"""

# Prints its argv, then its environment, one per line.
ARGS_ENV_WAT = """(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $asz (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $aget (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $esz (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $eget (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $print (param $ptr i32) (param $len i32) (local $i i32)
    (block $end (loop $each
      (br_if $end (i32.ge_u (local.get $i) (local.get $len)))
      (if (i32.eqz (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
        (then (i32.store8 (i32.add (local.get $ptr) (local.get $i)) (i32.const 10))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each)))
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    (drop (call $asz (i32.const 16) (i32.const 20)))
    (drop (call $aget (i32.const 1024) (i32.const 8192)))
    (call $print (i32.const 8192) (i32.load (i32.const 20)))
    (drop (call $esz (i32.const 16) (i32.const 20)))
    (drop (call $eget (i32.const 1024) (i32.const 8192)))
    (call $print (i32.const 8192) (i32.load (i32.const 20)))))
"""

LOOP_WAT = '(module (func (export "_start") (loop $forever (br $forever))))\n'
TRAP_WAT = '(module (func (export "_start") unreachable))\n'

# A reactor: _initialize sets the base that add adds.
REACTOR_WAT = """(module
  (global $base (mut i32) (i32.const 0))
  (func (export "_initialize") (global.set $base (i32.const 100)))
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (global.get $base) (i32.add (local.get 0) (local.get 1))))
  (func (export "half") (param f64) (result f64) (f64.mul (local.get 0) (f64.const 0.5))))
"""

MODULES = {"hello": HELLO_WAT, "exit3": EXIT_WAT, "cat": CAT_WAT, "argsenv": ARGS_ENV_WAT,
           "loop": LOOP_WAT, "trap": TRAP_WAT, "lib": REACTOR_WAT}

# name -> (the entry's keys, the problem it must report; None: it passes)
CHECKS: dict[str, tuple[str, str | None]] = {
    "hello exact": ('target = "hello"\nexpect-stdout = "hello from wasm\\n"', None),
    "hello contains": ('target = "hello"\nexpect-stdout-contains = "from"', None),
    "hello differs": ('target = "hello"\nexpect-stdout = "hello from wasm\\nand more\\n"',
                      "stdout line 2: the end, expected 'and more\\n'"),
    "hello lacks": ('target = "hello"\nexpect-stdout-contains = "goodbye"',
                    "stdout does not contain 'goodbye'"),
    "exit as expected": ('target = "exit3"\nexpect-exit = 3', None),
    "exit unexpected": ('target = "exit3"', "exit code 3, expected 0"),
    "stdin": ('target = "cat"\nstdin = "one\\ntwo\\n"\nexpect-stdout = "one\\ntwo\\n"', None),
    "no stdin is empty": ('target = "cat"\nexpect-stdout = ""', None),
    "args and env": (('target = "argsenv"\nargs = ["a", "b c"]\nenv = { GREETING = "hi" }\n'
                      'expect-stdout = "argsenv.wasm\\na\\nb c\\nGREETING=hi\\n"'), None),
    "timeout": ('target = "loop"\ntimeout = 1', "exit code 124, expected 0"),
    "trap": ('target = "trap"', "exit code 134, expected 0"),
    "trap expected": ('target = "trap"\nexpect-exit = 134', None),
    "invoke": ('target = "lib"\ninvoke = "add"\nargs = ["2", "3"]\nexpect-result = 105', None),
    "invoke float": ('target = "lib"\ninvoke = "half"\nargs = ["5"]\nexpect-result = 2.5', None),
    "invoke wrong result": (('target = "lib"\ninvoke = "add"\nargs = ["2", "3"]\n'
                             'expect-result = 5'), "add returned 105, expected 5"),
    "invoke missing export": ('target = "lib"\ninvoke = "sub"\nargs = []',
                              "exports no function 'sub' (its functions: _initialize, add, half)"),
    "invoke bad argument": ('target = "lib"\ninvoke = "add"\nargs = ["2", "x"]',
                            "add: argument 2 'x' is not a valid i32"),
    "run a reactor": ('target = "lib"', "exports no _start function"),
}


def _project(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = ['[project]\nname = "checks"\n']
    for name, text in MODULES.items():
        (directory / f"{name}.wat").write_text(text, encoding="utf-8")
        lines.append(f'[targets.{name}]\nkind = "wat"\nsource = "{name}.wat"\n')
    for name, (keys, _) in CHECKS.items():
        lines.append(f'[[test]]\nname = "{name}"\n{keys}\n')
    (directory / "wasmforge.toml").write_text("\n".join(lines), encoding="utf-8")
    return directory


def _wasmforge(*args: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WASMFORGE_CACHE_DIR": str(cache), "CI": "true"}
    return subprocess.run([sys.executable, "-m", "wasmforge", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False, timeout=120)


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str],
                                                               dict[str, Any]]:
    work = tmp_path_factory.mktemp("checks")
    done = _wasmforge("test", "--json", cwd=_project(work / "project"), cache=work / "cache")
    return done, json.loads(done.stdout)


def test_a_failed_check_exits_9_after_running_every_check(
    checked: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    done, report = checked
    assert done.returncode == ExitCode.TESTS_FAILED, done.stderr
    assert int(ExitCode.TESTS_FAILED) == 9  # documented in README.md
    assert [t["name"] for t in report["tests"]] == list(CHECKS)  # file order, all of them
    failing = [name for name, (_, problem) in CHECKS.items() if problem]
    assert report["failed"] == len(failing)
    assert report["passed"] == len(CHECKS) - len(failing)
    assert done.stderr.rstrip().endswith(
        f"error: {len(failing)} of {len(CHECKS)} checks failed: {', '.join(failing)}")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("name", list(CHECKS))
def test_each_check_passes_or_names_its_first_difference(
    checked: tuple[subprocess.CompletedProcess[str], dict[str, Any]], name: str,
) -> None:
    done, report = checked
    result = next(t for t in report["tests"] if t["name"] == name)
    expected = CHECKS[name][1]
    if expected is None:
        assert result["passed"], result
        assert f"ok    {name} (" in done.stderr
    else:
        assert not result["passed"]
        assert expected in result["problem"]
        assert f"FAIL  {name} ({result['target']}, {result['kind']}): " in done.stderr


def test_what_a_run_printed_is_in_the_report(
    checked: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    _, report = checked
    hello = next(t for t in report["tests"] if t["name"] == "hello exact")
    assert hello["observed"] == {"exit_code": 0, "stdout": HELLO_OUTPUT, "stderr": ""}
    assert hello["kind"] == "run"
    invoke = next(t for t in report["tests"] if t["name"] == "invoke")
    assert invoke["kind"] == "invoke"
    assert invoke["observed"]["results"] == [105]


def test_only_the_checks_of_one_target_pass_with_exit_0(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    done = _wasmforge("test", "-t", "cat", "--target", "argsenv", cwd=project,
                      cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    assert "3 passed, 0 failed (debug" in done.stderr
    assert "hello" not in done.stderr  # neither checked nor built


def test_release_profile_checks_the_release_build(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    done = _wasmforge("test", str(project), "--release", "-t", "cat", "--json", cwd=tmp_path,
                      cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["profile"] == "release"
    assert (project / "dist" / "release" / "cat.wasm").is_file()
    assert not (project / "dist" / "release" / "oci").exists()  # test does not package


def test_a_project_without_checks_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "hello.wat").write_text(HELLO_WAT)
    (tmp_path / "wasmforge.toml").write_text(
        '[project]\nname = "p"\n[targets.hello]\nkind = "wat"\nsource = "hello.wat"\n')
    done = _wasmforge("test", cwd=tmp_path, cache=tmp_path / "cache")
    assert done.returncode == ExitCode.USER_ERROR
    assert "no [[test]] checks" in done.stderr
    assert not (tmp_path / "dist").exists()  # nothing built for nothing to check


def test_an_unknown_target_is_a_user_error(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    done = _wasmforge("test", "-t", "nope", cwd=project, cache=tmp_path / "cache")
    assert done.returncode == ExitCode.USER_ERROR
    assert "error: --target: no target named 'nope'" in done.stderr


def test_a_build_failure_is_the_builds_exit_code(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    (project / "hello.wat").write_text("(module (func $f (result i32)))\n")
    done = _wasmforge("test", "-t", "hello", cwd=project, cache=tmp_path / "cache")
    assert done.returncode == ExitCode.TOOLCHAIN_FAILED, done.stderr
    assert "Traceback" not in done.stderr


# Request checks: WAGI handlers in WAT, handled as wasmforge serve handles them ----------------

WAGI_MODULES = {"echo": ECHO, "cgi": CGI_ENV, "crash": TRAP, "spin": LOOP}
# ECHO answers with the request body as its whole output: the check chooses the response.
_ECHOED = 'target = "echo"\nrequest = {{ method = "POST", path = "/", body = "{}" }}'
REQUEST_CHECKS: dict[str, tuple[str, str | None]] = {
    "headers and body": (_ECHOED.format("content-type: text/plain\\nX-Thing: one\\n\\nhi")
                         + '\nexpect-headers = { Content-Type = "text/plain", x-thing = "one" }'
                         '\nexpect-body = "hi"', None),
    "status from the handler": (_ECHOED.format("Status: 404\\ncontent-type: text/plain\\n\\nno")
                                + "\nexpect-status = 404", None),
    "status differs": (_ECHOED.format("Status: 404\\ncontent-type: text/plain\\n\\nno"),
                       "status 404, expected 200; body: 'no'"),
    "header differs": (_ECHOED.format("content-type: text/plain\\n\\nhi")
                       + '\nexpect-headers = { content-type = "text/html" }',
                       "header content-type: 'text/plain', expected 'text/html'"),
    "header missing": (_ECHOED.format("content-type: text/plain\\n\\nhi")
                       + '\nexpect-headers = { x-missing = "1" }',
                       "no x-missing header (headers: content-type)"),
    "body differs": (_ECHOED.format("content-type: text/plain\\n\\nhi")
                     + '\nexpect-body = "ho"', "body line 1: 'hi', expected 'ho'"),
    "body lacks": (_ECHOED.format("content-type: text/plain\\n\\nhi")
                   + '\nexpect-body-contains = "Hello"', "body does not contain 'Hello'"),
    "path and query": (('target = "cgi"\nrequest = { path = "/hello?name=Ada" }\n'
                       'expect-body-contains = "QUERY_STRING=name=Ada\\n"'),
                       None),
    "env and headers": (('target = "cgi"\nrequest = { path = "/", headers = { X-Key = "k" } }\n'
                        'env = { GREETING = "hi" }\nexpect-body-contains = "GREETING=hi"'), None),
    "a trap is a 500": ('target = "crash"\nrequest = { path = "/" }\nexpect-status = 500', None),
    "a trap fails": ('target = "crash"\nrequest = { path = "/" }',
                     "status 500, expected 200 (trapped: wasm trap: wasm `unreachable`"),
    "too slow": ('target = "spin"\nrequest = { path = "/" }\ntimeout = 1',
                 "status 504, expected 200 (still running after 1 s: stopped)"),
}


def test_request_checks_pass_or_name_their_first_difference(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    lines = ['[project]\nname = "svc"\n']
    for name, text in WAGI_MODULES.items():
        (project / f"{name}.wat").write_text(text, encoding="utf-8")
        lines.append(f'[targets.{name}]\nkind = "wat"\nsource = "{name}.wat"\n')
    for name, (keys, _) in REQUEST_CHECKS.items():
        lines.append(f'[[test]]\nname = "{name}"\n{keys}\n')
    (project / "wasmforge.toml").write_text("\n".join(lines), encoding="utf-8")
    done = _wasmforge("test", "--json", cwd=project, cache=tmp_path / "cache")
    assert done.returncode == ExitCode.TESTS_FAILED, done.stderr
    results = {t["name"]: t for t in json.loads(done.stdout)["tests"]}
    assert list(results) == list(REQUEST_CHECKS)
    for name, (_, problem) in REQUEST_CHECKS.items():
        result = results[name]
        assert result["kind"] == "request"
        if problem is None:
            assert result["passed"], result
        else:
            assert not result["passed"], name
            assert problem in result["problem"], result["problem"]
    routed = results["path and query"]["observed"]["body"]
    # The target alone answers every path, as serve routes a project of one target.
    assert "\nPATH_INFO=/hello\n" in routed
    assert "\nSCRIPT_NAME=\n" in routed
    cgi = results["env and headers"]["observed"]
    assert cgi["status"] == 200
    assert "HTTP_X_KEY=k" in cgi["body"]
    assert "HTTP_HOST=127.0.0.1" in cgi["body"]  # a request without a Host header gets one


# The model -------------------------------------------------------------------------------------

BASE = '[project]\nname = "p"\n[targets.app]\nkind = "wat"\nsource = "app.wat"\n'


def _load(tmp_path: Path, tests: str) -> Any:
    path = tmp_path / "wasmforge.toml"
    path.write_text(BASE + tests, encoding="utf-8")
    return load_config(path)


def test_the_three_kinds_of_check_load(tmp_path: Path) -> None:
    config = _load(tmp_path, """
[[test]]
name = "run"
target = "app"
args = ["x"]
stdin = "in"
env = { A = "1" }
expect-stdout-contains = "x"
expect-exit = 2

[[test]]
name = "call"
target = "app"
invoke = "add"
args = ["1", "2"]
expect-result = 3

[[test]]
name = "request"
target = "app"
request = { method = "POST", path = "/echo?x=1", body = "hi", headers = { X-One = "1" } }
expect-status = 201
expect-headers = { Content-Type = "text/plain" }
expect-body = "hi"
timeout = "5s"
""")
    run, call, request = config.test
    assert (run.args, run.stdin, run.env, run.expect_exit, run.timeout) == (
        ["x"], "in", {"A": "1"}, 2, "30s")
    assert (call.invoke, call.expect_result) == ("add", 3)
    assert request.request is not None
    assert (request.request.method, request.request.path, request.request.body) == (
        "POST", "/echo?x=1", "hi")
    assert request.expect_headers == {"Content-Type": "text/plain"}
    assert request.expect_status == 201


def test_no_tests_is_the_default(tmp_path: Path) -> None:
    assert _load(tmp_path, "").test == []


@pytest.mark.parametrize(("tests", "said"), [
    ('[[test]]\nname = "a"\ntarget = "app"\nrequest = { path = "/" }\nargs = ["1"]\n',
     "wasmforge.toml:6: test.0: args: not a key of a request check (test 'a')"),
    ('[[test]]\nname = "a"\ntarget = "app"\nexpect-status = 200\n',
     "test.0: expect-status: not a key of a command run check"),
    ('[[test]]\nname = "a"\ntarget = "app"\ninvoke = "f"\nstdin = "x"\nexpect-exit = 1\n',
     "test.0: expect-exit, stdin: not a key of an invoke check"),
    ('[[test]]\nname = "a"\ntarget = "app"\nexpect-result = 1\n',
     "expect-result: not a key of a command run check"),
    ('[[test]]\nname = "a"\ntarget = "app"\ninvoke = "f"\nrequest = { path = "/" }\n',
     "give request or invoke, not both"),
    ('[[test]]\nname = "a"\ntarget = "nope"\n',
     "test: test 'a': no target 'nope' (targets: app)"),
    ('[[test]]\nname = "a"\ntarget = "app"\n[[test]]\nname = "a"\ntarget = "app"\n',
     "test: two tests are named 'a'"),
    (('[[test]]\nname = "a"\ntarget = "app"\n[[test]]\nname = "b"\ntarget = "app"\n'
      'expect-stdot = "x"\n'),
     "wasmforge.toml:12: test.1.expect-stdot: unknown key (did you mean 'expect-stdout'?)"),
    ('[[test]]\nname = "a"\ntarget = "app"\nrequest = { path = "/", methd = "GET" }\n',
     "test.0.request.methd: unknown key (did you mean 'method'?)"),
    ('[[test]]\nname = "a"\ntarget = "app"\nrequest = { path = "hello" }\n',
     "test.0.request.path: String should match pattern"),
    ('[[test]]\nname = "a"\ntarget = "app"\nrequest = { method = "get" }\n',
     "test.0.request.method: String should match pattern"),
    ('[[test]]\nname = "a"\ntarget = "app"\nrequest = { path = "/" }\nexpect-status = 99\n',
     "test.0.expect-status: Input should be greater than or equal to 100"),
    ('[[test]]\nname = "a"\ntarget = "app"\nexpect-exit = 256\n',
     "test.0.expect-exit: Input should be less than or equal to 255"),
    ('[[test]]\nname = "a"\ntarget = "app"\ntimeout = "soon"\n', "test.0.timeout"),
    ('[[test]]\ntarget = "app"\n', "test.0.name: required key is missing"),
    ('[[test]]\nname = "a"\ntarget = "app"\nenv = { "1X" = "y" }\n', "test.0.env.1X"),
])
def test_a_wrong_check_is_one_config_error_naming_it(tmp_path: Path, tests: str,
                                                     said: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, tests)
    assert said in raised.value.message
    assert "\n" not in raised.value.message


@pytest.mark.parametrize(("got", "expected", "said"), [
    ("a\nb\n", "a\nc\n", "line 2: 'b\\n', expected 'c\\n'"),
    ("a\n", "a\nb\n", "line 2: the end, expected 'b\\n'"),
    ("a\nb\n", "a\n", "line 2: 'b\\n', expected the end"),
    ("a", "a\n", "line 1: 'a', expected 'a\\n'"),
    ("", "x", "line 1: the end, expected 'x'"),
])
def test_first_difference(got: str, expected: str, said: str) -> None:
    assert first_difference(got, expected) == said
