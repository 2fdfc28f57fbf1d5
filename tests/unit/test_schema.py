from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from wasmforge.config.schema import config_schema_text
from wasmforge.errors import ExitCode

ROOT = Path(__file__).resolve().parents[2]


def test_checked_in_schema_is_current() -> None:
    checked_in = (ROOT / "schema" / "wasmforge.schema.json").read_text()
    assert checked_in == config_schema_text(), "run: nox -s schema"


def test_schema_forbids_unknown_keys_and_names_kebab_keys() -> None:
    schema = json.loads(config_schema_text())
    wasi = schema["$defs"]["WasiSdkTarget"]
    assert wasi["additionalProperties"] is False
    assert "include-dirs" in wasi["properties"]


def test_every_sample_config_loads() -> None:
    from wasmforge.config.load import load_config

    configs = sorted((ROOT / "samples").glob("*/wasmforge.toml"))
    for path in configs:
        tomllib.loads(path.read_text())
        load_config(path)


def _schema_command(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge", "schema", *args], cwd=cwd,
                          capture_output=True, text=True, check=False, timeout=60)


def test_schema_command_prints_the_schema(tmp_path: Path) -> None:
    done = _schema_command(cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == config_schema_text()
    assert _schema_command("--json", cwd=tmp_path).stdout == config_schema_text()


def test_schema_command_writes_a_file_making_its_directory(tmp_path: Path) -> None:
    done = _schema_command("-o", ".wasmforge/wasmforge.schema.json", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    written = tmp_path / ".wasmforge" / "wasmforge.schema.json"
    assert written.read_text() == config_schema_text()
    assert json.loads(done.stdout) == {"path": ".wasmforge/wasmforge.schema.json",
                                       "bytes": len(config_schema_text().encode())}
    assert "wrote .wasmforge/wasmforge.schema.json" in done.stderr


def test_schema_command_refuses_a_directory(tmp_path: Path) -> None:
    done = _schema_command("-o", str(tmp_path), cwd=tmp_path)
    assert done.returncode == ExitCode.USER_ERROR
    assert done.stderr.strip() == f"error: {tmp_path}: is a directory; -o takes a file name"


def test_the_schema_describes_test_entries() -> None:
    schema = json.loads(config_schema_text())
    entry = schema["$defs"]["ProjectTestConfig"]
    assert entry["additionalProperties"] is False
    assert {"name", "target", "args", "stdin", "invoke", "request", "expect-stdout",
            "expect-stdout-contains", "expect-exit", "expect-result", "expect-status",
            "expect-headers", "expect-body", "expect-body-contains"} <= set(entry["properties"])
    assert schema["properties"]["test"]["items"] == {"$ref": "#/$defs/ProjectTestConfig"}
