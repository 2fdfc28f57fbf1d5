"""The JSON schema of wasmforge.toml, for editors (Even Better TOML / taplo, VS Code, ...).

The checked-in copy is ``schema/wasmforge.schema.json``; ``nox -s schema`` regenerates it and a unit
test fails when it is stale.
"""

from __future__ import annotations

import json

from wasmforge.config.model import WasmforgeConfig

SCHEMA_ID = "https://wasmforge.dev/schema/wasmforge.schema.json"


def config_schema_text() -> str:
    schema = WasmforgeConfig.model_json_schema(by_alias=True, mode="validation")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(config_schema_text())
