from __future__ import annotations

import json
import tomllib
from pathlib import Path

from wasmforge.config.schema import config_schema_text

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
