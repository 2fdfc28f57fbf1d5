"""The command line's contract: version, exit codes, one-line errors, JSON on stdout only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wasmforge import __version__
from wasmforge.cli import main
from wasmforge.errors import ExitCode


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wasmforge", *args],
        capture_output=True, text=True, cwd=cwd, check=False,
        env={"PATH": "/usr/bin:/bin", "CI": "true"},
    )


def test_version() -> None:
    done = run_cli("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"wasmforge {__version__}"


def test_unknown_command_is_a_usage_error() -> None:
    done = run_cli("frobnicate")
    assert done.returncode == ExitCode.USER_ERROR
    assert "Traceback" not in done.stderr


def test_user_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    done = run_cli("new", "wat", "taken", cwd=tmp_path)
    assert done.returncode == ExitCode.USER_ERROR
    assert done.stderr.strip() == "error: taken: already exists and is not empty; not writing into it"
    assert done.stdout == ""


def test_json_goes_to_stdout_and_human_output_to_stderr(tmp_path: Path) -> None:
    done = run_cli("new", "wat", "app", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["template"] == "wat"
    assert "created app" in done.stderr


def test_global_json_flag_before_the_command(tmp_path: Path) -> None:
    done = run_cli("--json", "new", "--list", cwd=tmp_path)
    assert done.returncode == 0
    assert any(t["name"] == "wat" for t in json.loads(done.stdout))


def test_main_exits_with_the_error_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["new", "no-such-template", str(tmp_path / "x")])
    assert exited.value.code == ExitCode.USER_ERROR
    assert "unknown template 'no-such-template'" in capsys.readouterr().err


def test_command_table_matches_what_modules_register() -> None:
    import importlib

    import typer

    from wasmforge.commands import COMMAND_MODULES

    for module_name in set(COMMAND_MODULES.values()):
        probe = typer.Typer()
        importlib.import_module(module_name).register(probe)
        registered = {c.name for c in probe.registered_commands}
        registered |= {g.name or (g.typer_instance.info.name if g.typer_instance else None)
                       for g in probe.registered_groups}
        expected = {name for name, module in COMMAND_MODULES.items() if module == module_name}
        assert registered == expected, module_name


def test_help_lists_every_command() -> None:
    from wasmforge.commands import COMMAND_MODULES

    done = run_cli("--help")
    assert done.returncode == 0
    for name in COMMAND_MODULES:
        assert name in done.stdout
