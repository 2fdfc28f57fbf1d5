"""The no-op fast path of ``wasmforge build``: a rebuild with nothing changed is answered from the
stamp of the last build (every target "from_cache": "local"); anything else goes to the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wasmforge.build.noop import answer_noop
from wasmforge.cache.digests import FileStat
from wasmforge.cache.location import default_cache_dir
from wasmforge.cache.stamp import Stamp, request_id, stamp_path
from wasmforge.gitinfo import head_commit


def report(root: Path) -> dict[str, Any]:
    """A build's --json result, as the stamp keeps it."""
    def target(name: str, seconds: float) -> dict[str, Any]:
        return {
            "name": name, "kind": "wasi-sdk", "toolchain": "wasi-sdk",
            "toolchain_image_id": "sha256:" + "ab" * 32,
            "main_module": str(root / "dist" / f"{name}.wasm"), "exec_model": "command",
            "js_glue": None, "files": [{"path": f"{name}.wasm", "size": 2048}],
            "seconds": seconds, "from_cache": None, "optimize": None,
        }

    return {
        "profile": "release", "runner": "docker", "out_dir": str(root / "dist"),
        "manifest": str(root / "dist" / "wasmforge-build.json"), "source_date_epoch": 0,
        "reproducible": None, "targets": [target("hello", 3.5), target("lib", 1.25)],
        "packages": [],
    }


def environment(tmp_path: Path) -> dict[str, str]:
    return {"WASMFORGE_CACHE_DIR": str(tmp_path / "c"), "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path / "home")}


def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "wasmforge.toml").write_text('[project]\nname = "p"\n')
    (root / "src" / "hello.c").write_text("int main(void) { return 0; }\n")
    return root


def write_stamp(root: Path, args: list[str], env: dict[str, str], **changes: Any) -> Path:
    """What the last ``wasmforge <args>`` in ``root`` left behind."""
    request = request_id(str(root), args, env)
    files = {str(p): FileStat.of(p.stat()) for p in (root / "wasmforge.toml",
                                                     root / "src" / "hello.c")}
    fields: dict[str, Any] = {
        "request": request, "project": str(root), "git": head_commit(root), "files": files,
        "dirs": {str(root / "src"): FileStat.of((root / "src").stat())},
        "globs": [("src/*.c", ["src/hello.c"])], "report": report(root),
    }
    fields.update(changes)
    path = stamp_path(default_cache_dir(env), request)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(Stamp(**fields).to_bytes())
    return path


# When the fast path declines ----------------------------------------------------------------------


def test_no_stamp_means_a_full_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path)
    assert answer_noop(["build"], environment(tmp_path), str(root)) is None
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    "args",
    [
        ["build", "--no-cache"],
        ["build", "--check-reproducible"],
        ["build", "--help"],
        ["build", "-h"],
        ["--json", "build", "--no-cache"],
        ["build", "--release", "--check-reproducible"],
        ["build", "--no-cache=true"],
        ["build", "--check-reproducible=1"],
    ],
)
def test_options_that_ask_for_work_always_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    root = project(tmp_path)
    env = environment(tmp_path)
    write_stamp(root, args, env)  # even a valid stamp for exactly this command line
    assert answer_noop(args, env, str(root)) is None
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["plan"],
        ["cache", "stats"],
        ["--json", "plan", "build"],
        ["--version"],
        ["--runner", "local", "build"],  # an option the fast path does not know: the CLI decides
        ["build-it"],
    ],
)
def test_anything_but_a_build_goes_to_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    root = project(tmp_path)
    env = environment(tmp_path)
    write_stamp(root, args, env)
    assert answer_noop(args, env, str(root)) is None
    assert capsys.readouterr() == ("", "")


def test_a_stamp_of_another_command_line_is_not_used(tmp_path: Path) -> None:
    root = project(tmp_path)
    env = environment(tmp_path)
    write_stamp(root, ["build", "--release"], env)
    assert answer_noop(["build"], env, str(root)) is None
    assert answer_noop(["build", "--release", "-t", "hello"], env, str(root)) is None


def test_a_stamp_of_another_directory_or_environment_is_not_used(tmp_path: Path) -> None:
    root = project(tmp_path)
    env = environment(tmp_path)
    write_stamp(root, ["build"], env)
    assert answer_noop(["build"], env, str(root / "src")) is None
    assert answer_noop(["build"], {**env, "WASMFORGE_PROFILE": "release"}, str(root)) is None
    assert answer_noop(["build"], {**env, "SOURCE_DATE_EPOCH": "1"}, str(root)) is None


def test_a_stale_stamp_means_a_full_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path)
    env = environment(tmp_path)
    write_stamp(root, ["build"], env)
    (root / "src" / "hello.c").write_text("int main(void) { return 1; }\n")
    assert answer_noop(["build"], env, str(root)) is None
    assert capsys.readouterr() == ("", "")


def test_a_new_source_matching_a_glob_means_a_full_build(tmp_path: Path) -> None:
    root = project(tmp_path)
    env = environment(tmp_path)
    write_stamp(root, ["build"], env, dirs={})
    (root / "src" / "extra.c").write_text("int x;\n")
    assert answer_noop(["build"], env, str(root)) is None


def test_a_damaged_stamp_means_a_full_build(tmp_path: Path) -> None:
    root = project(tmp_path)
    env = environment(tmp_path)
    path = write_stamp(root, ["build"], env)
    path.write_bytes(path.read_bytes()[:40])
    assert answer_noop(["build"], env, str(root)) is None


def test_a_cache_dir_that_cannot_be_read_means_a_full_build(tmp_path: Path) -> None:
    root = project(tmp_path)
    env = {**environment(tmp_path), "WASMFORGE_CACHE_DIR": str(root / "wasmforge.toml")}
    assert answer_noop(["build"], env, str(root)) is None


# When it answers ----------------------------------------------------------------------------------


def test_nothing_changed_prints_the_last_report_served_from_the_local_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path)
    env = environment(tmp_path)
    args = ["--json", "build", "--release"]
    write_stamp(root, args, env)
    assert answer_noop(args, env, str(root)) == 0
    out = capsys.readouterr().out
    printed = json.loads(out)
    expected = report(root)
    assert [t["from_cache"] for t in printed["targets"]] == ["local", "local"]
    for target in printed["targets"]:
        assert 0 <= target["seconds"] < 1  # the answer's time, not the old build's
    strip = ("from_cache", "seconds")
    assert [{k: v for k, v in t.items() if k not in strip} for t in printed["targets"]] == \
        [{k: v for k, v in t.items() if k not in strip} for t in expected["targets"]]
    assert {k: v for k, v in printed.items() if k != "targets"} == \
        {k: v for k, v in expected.items() if k != "targets"}


def test_json_after_the_command_also_prints_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path)
    env = environment(tmp_path)
    args = ["build", "--json"]
    write_stamp(root, args, env)
    assert answer_noop(args, env, str(root)) == 0
    assert json.loads(capsys.readouterr().out)["profile"] == "release"


def test_without_json_the_summary_goes_to_stderr_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path)
    env = environment(tmp_path)
    write_stamp(root, ["build"], env)
    assert answer_noop(["build"], env, str(root)) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "built (release)" in err
    rows = [line for line in err.splitlines() if line.startswith(("hello", "lib"))]
    assert len(rows) == 2
    assert all(row.rstrip().endswith("local") for row in rows)


def test_quiet_prints_nothing_but_still_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path)
    env = environment(tmp_path)
    write_stamp(root, ["-q", "build"], env)
    assert answer_noop(["-q", "build"], env, str(root)) == 0
    assert capsys.readouterr() == ("", "")


def test_verbose_says_why_nothing_was_built(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path)
    env = environment(tmp_path)
    write_stamp(root, ["-v", "build"], env)
    assert answer_noop(["-v", "build"], env, str(root)) == 0
    assert "nothing changed since the last build" in capsys.readouterr().err


def test_the_stamp_is_not_changed_by_answering(tmp_path: Path) -> None:
    root = project(tmp_path)
    env = environment(tmp_path)
    path = write_stamp(root, ["build"], env)
    before = path.read_bytes()
    assert answer_noop(["build"], env, str(root)) == 0
    assert answer_noop(["build"], env, str(root)) == 0
    assert path.read_bytes() == before
    saved = json.loads(before.partition(b"\n")[2])
    assert [t["from_cache"] for t in saved["report"]["targets"]] == [None, None]


@pytest.mark.parametrize(
    "bad_report",
    [{}, {"profile": "release", "targets": [{"name": "hello"}]}],
)
def test_a_stamp_whose_report_is_not_a_build_report_means_a_full_build(
    tmp_path: Path, bad_report: dict[str, Any]
) -> None:
    """Any doubt means None (noop's docstring): a stamp that parses but whose report cannot be
    printed must send the build to the CLI, not crash ``wasmforge build``."""
    root = project(tmp_path)
    env = environment(tmp_path)
    write_stamp(root, ["build"], env, report=bad_report)
    assert answer_noop(["build"], env, str(root)) is None
