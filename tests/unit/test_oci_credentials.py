from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from wasmforge.errors import RegistryError
from wasmforge.oci.credentials import find_credentials


def _config(tmp_path: Path, document: dict[str, object]) -> dict[str, str]:
    (tmp_path / "config.json").write_text(json.dumps(document))
    return {"DOCKER_CONFIG": str(tmp_path), "PATH": os.environ.get("PATH", "")}


def test_auths_entry_is_decoded(tmp_path: Path) -> None:
    auth = base64.b64encode(b"alice:s3cret:with-colon").decode()
    env = _config(tmp_path, {"auths": {"https://registry.example.com/v1/": {"auth": auth}}})
    found = find_credentials("registry.example.com", env)
    assert found is not None
    assert (found.username, found.password) == ("alice", "s3cret:with-colon")
    assert "s3cret" not in repr(found)


def test_environment_wins(tmp_path: Path) -> None:
    env = _config(tmp_path, {"auths": {"r.example": {"auth": base64.b64encode(b"a:b").decode()}}})
    env |= {"WASMFORGE_REGISTRY_USERNAME": "ci", "WASMFORGE_REGISTRY_PASSWORD": "token"}
    found = find_credentials("r.example", env)
    assert found is not None
    assert (found.username, found.password) == ("ci", "token")


def test_no_config_no_credentials(tmp_path: Path) -> None:
    assert find_credentials("r.example", {"DOCKER_CONFIG": str(tmp_path)}) is None


def test_bad_auth_names_the_file(tmp_path: Path) -> None:
    env = _config(tmp_path, {"auths": {"r.example": {"auth": "%%%"}}})
    with pytest.raises(RegistryError, match=r"config\.json"):
        find_credentials("r.example", env)


def test_credential_helper_is_asked(tmp_path: Path) -> None:
    helper = tmp_path / "bin" / "docker-credential-wftest"
    helper.parent.mkdir()
    helper.write_text('#!/bin/sh\nread server\n'
                      'printf \'{"ServerURL":"%s","Username":"bob","Secret":"pw"}\' "$server"\n')
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    env = _config(tmp_path, {"credHelpers": {"r.example": "wftest"}})
    env["PATH"] = f"{helper.parent}:{env['PATH']}"
    found = find_credentials("r.example", env)
    assert found is not None
    assert (found.username, found.password) == ("bob", "pw")
