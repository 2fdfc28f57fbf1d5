"""Registry credentials, found the way Docker finds them.

Order: ``WASMFORGE_REGISTRY_USERNAME``/``_PASSWORD`` (CI secrets), then the Docker config file
(``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``): a per-registry ``credHelpers``
entry, the ``credsStore`` helper, then a base64 ``auths.<registry>.auth``. Nothing is cached on disk.
"""

from __future__ import annotations

import base64
import binascii
import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wasmforge.errors import RegistryError

ENV_USERNAME = "WASMFORGE_REGISTRY_USERNAME"
ENV_PASSWORD = "WASMFORGE_REGISTRY_PASSWORD"
DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io",
                   "registry-1.docker.io")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    source: str  # where they came from, for messages (never the secret itself)

    def __repr__(self) -> str:  # keep secrets out of tracebacks and logs
        return f"Credentials(username={self.username!r}, source={self.source!r})"


def docker_config_path(env: Mapping[str, str]) -> Path:
    base = env.get("DOCKER_CONFIG")
    if base:
        return Path(base) / "config.json"
    return Path(env.get("HOME") or Path.home()) / ".docker" / "config.json"


def find_credentials(registry: str, env: Mapping[str, str]) -> Credentials | None:
    username, password = env.get(ENV_USERNAME), env.get(ENV_PASSWORD)
    if username and password is not None:
        return Credentials(username, password, f"${ENV_USERNAME}")
    path = docker_config_path(env)
    config = _read_config(path)
    if config is None:
        return None
    keys = _registry_keys(registry)
    helpers = config.get("credHelpers") or {}
    for key in keys:
        if isinstance(helpers, dict) and isinstance(helpers.get(key), str):
            return _from_helper(helpers[key], key, path, env)
    auths = config.get("auths") or {}
    entry = _find_auth_entry(auths, keys) if isinstance(auths, dict) else None
    store = config.get("credsStore")
    if isinstance(store, str) and store:
        found = _from_helper(store, _server_key(auths, keys) or registry, path, env,
                             missing_ok=True)
        if found is not None:
            return found
    if entry is not None and entry.get("auth"):
        return _decode_auth(str(entry["auth"]), path, registry)
    return None


def _read_config(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        msg = f"{path}: cannot read the Docker config: {error.strerror}"
        raise RegistryError(msg) from None
    try:
        value = json.loads(text)
    except ValueError as error:
        msg = f"{path}: not valid JSON: {error}"
        raise RegistryError(msg) from None
    return value if isinstance(value, dict) else None


def _registry_keys(registry: str) -> list[str]:
    """The spellings a Docker config may use for ``registry``."""
    if registry in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return list(DOCKER_HUB_KEYS)
    return [registry, f"https://{registry}", f"http://{registry}", f"https://{registry}/v1/",
            f"https://{registry}/v2/"]


def _normalise(key: str) -> str:
    return key.removeprefix("https://").removeprefix("http://").rstrip("/").removesuffix("/v1") \
        .removesuffix("/v2")


def _find_auth_entry(auths: dict[str, Any], keys: list[str]) -> dict[str, Any] | None:
    key = _server_key(auths, keys)
    entry = auths.get(key) if key else None
    return entry if isinstance(entry, dict) else None


def _server_key(auths: Any, keys: list[str]) -> str | None:
    if not isinstance(auths, dict):
        return None
    wanted = {_normalise(k) for k in keys}
    return next((k for k in auths if _normalise(k) in wanted), None)


def _decode_auth(auth: str, path: Path, registry: str) -> Credentials:
    try:
        decoded = base64.b64decode(auth, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        msg = f"{path}: auths.{registry}.auth is not base64 of 'user:password'"
        raise RegistryError(msg) from None
    username, sep, password = decoded.partition(":")
    if not sep:
        msg = f"{path}: auths.{registry}.auth does not contain 'user:password'"
        raise RegistryError(msg)
    return Credentials(username, password, str(path))


def _from_helper(
    helper: str, server: str, path: Path, env: Mapping[str, str], *, missing_ok: bool = False
) -> Credentials | None:
    """Ask ``docker-credential-<helper> get`` (the Docker credential-helper protocol)."""
    program = shutil.which(f"docker-credential-{helper}", path=env.get("PATH"))
    if program is None:
        if missing_ok:  # a credsStore for everything: say so, and go on without it
            from wasmforge.console import get_console

            get_console().warn(f"{path}: credsStore docker-credential-{helper} is not installed;"
                               f" no stored credentials for {server}")
            return None
        msg = f"{path}: credential helper docker-credential-{helper} is not installed"
        raise RegistryError(msg)
    try:
        done = subprocess.run(
            [program, "get"], input=server.encode(), capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        msg = f"docker-credential-{helper}: {error}"
        raise RegistryError(msg) from None
    if done.returncode != 0:
        # Helpers say "credentials not found in native keychain" for unknown servers: not an error.
        if missing_ok or b"not found" in done.stdout + done.stderr:
            return None
        msg = f"docker-credential-{helper} get failed: {done.stderr.decode(errors='replace').strip()}"
        raise RegistryError(msg)
    try:
        answer = json.loads(done.stdout)
        return Credentials(str(answer["Username"]), str(answer["Secret"]),
                           f"docker-credential-{helper}")
    except (ValueError, KeyError, TypeError):
        msg = f"docker-credential-{helper} get: unexpected answer (expected Username and Secret)"
        raise RegistryError(msg) from None
