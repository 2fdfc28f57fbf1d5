"""Emscripten ``node`` targets get the host's file system (NODERAWFS) unless they turn it off; the
manifest records it, and ``run --dir`` holds only where NODERAWFS can honour it."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from wasmforge.build.manifest import BuildManifest
from wasmforge.build.plan import ABSTRACT_LAYOUT, TargetPlan, plan_build
from wasmforge.cache.key import KeyInputs, action_key
from wasmforge.commands.run import _check_node_dirs
from wasmforge.config.model import WasmforgeConfig
from wasmforge.config.resolve import resolve_profile
from wasmforge.errors import ConfigError, UserError

NODE = '[targets.app]\nkind = "emscripten"\nenvironment = "node"\nsources = ["main.c"]\n'
RAWFS = "-sNODERAWFS=1"


def _plan(root: Path, text: str) -> TargetPlan:
    (root / "main.c").write_text("int main(void) { return 0; }\n")
    config = WasmforgeConfig.model_validate(tomllib.loads('[project]\nname = "p"\n' + text))
    (target,) = plan_build(root, config, resolve_profile(config, "debug"), ABSTRACT_LAYOUT).targets
    return target


def _link_argv(target: TargetPlan) -> tuple[str, ...]:
    return target.action("link").steps[0].argv


def _settings_named(argv: tuple[str, ...], key: str) -> list[str]:
    return [word for word in argv if word.startswith(f"-s{key}")]


def test_node_targets_link_with_noderawfs_by_default(tmp_path: Path) -> None:
    target = _plan(tmp_path, NODE)
    assert _settings_named(_link_argv(target), "NODERAWFS") == [RAWFS]
    assert target.node_rawfs
    # A link setting: the compile does not change, so its cached objects stay valid.
    assert not _settings_named(target.action("compile main.c").steps[0].argv, "NODERAWFS")


def test_node_rawfs_false_leaves_it_out(tmp_path: Path) -> None:
    target = _plan(tmp_path, NODE + "node-rawfs = false\n")
    assert not _settings_named(_link_argv(target), "NODERAWFS")
    assert not target.node_rawfs


@pytest.mark.parametrize(("extra", "theirs", "on"), [
    ("settings = { NODERAWFS = true }\n", ["-sNODERAWFS=1"], True),
    ("settings = { NODERAWFS = 0 }\n", ["-sNODERAWFS=0"], False),
    ('ldflags = ["-sNODERAWFS"]\n', ["-sNODERAWFS"], True),
    ('ldflags = ["-s", "NODERAWFS=0"]\n', ["NODERAWFS=0"], False),
    ('cflags = ["-sNODERAWFS=1"]\nldflags = ["-sNODERAWFS=0"]\n',  # emcc: the last one wins
     ["-sNODERAWFS=1", "-sNODERAWFS=0"], False),
    ('ldflags = ["-sNODERAWFS=0x1"]\n', ["-sNODERAWFS=0x1"], True),
])
def test_the_users_own_noderawfs_is_used_as_given(
    tmp_path: Path, extra: str, theirs: list[str], on: bool,
) -> None:
    target = _plan(tmp_path, NODE + extra)
    # Theirs alone: wasmforge neither repeats nor contradicts it.
    assert [word for word in _link_argv(target) if "NODERAWFS" in word] == theirs
    assert target.node_rawfs is on


def test_the_users_own_noderawfs_agreeing_with_node_rawfs_is_fine(tmp_path: Path) -> None:
    target = _plan(tmp_path, NODE + "node-rawfs = false\nsettings = { NODERAWFS = false }\n")
    assert _settings_named(_link_argv(target), "NODERAWFS") == ["-sNODERAWFS=0"]
    assert not target.node_rawfs


@pytest.mark.parametrize("extra", [
    "node-rawfs = false\nsettings = { NODERAWFS = 1 }\n",
    'node-rawfs = true\nldflags = ["-sNODERAWFS=0"]\n',
])
def test_node_rawfs_contradicting_the_flags_is_a_config_error(tmp_path: Path, extra: str) -> None:
    with pytest.raises(ConfigError, match=r"^targets\.app\.node-rawfs = \w+ contradicts NODERAWFS"):
        _plan(tmp_path, NODE + extra)


@pytest.mark.parametrize("flags", [
    '["--embed-file", "data.txt"]', '["--preload-file=assets"]', '["--use-preload-plugins"]',
])
def test_embedded_files_keep_the_virtual_file_system(tmp_path: Path, flags: str) -> None:
    # emcc refuses NODERAWFS with files packed into the program: the default gives way.
    target = _plan(tmp_path, NODE + f"ldflags = {flags}\n")
    assert not _settings_named(_link_argv(target), "NODERAWFS")
    assert not target.node_rawfs
    with pytest.raises(ConfigError, match=r"^targets\.app\.node-rawfs: NODERAWFS replaces"):
        _plan(tmp_path, NODE + f"ldflags = {flags}\nnode-rawfs = true\n")


@pytest.mark.parametrize("environment", ["web", "standalone"])
def test_only_node_targets_get_it(tmp_path: Path, environment: str) -> None:
    text = NODE.replace('"node"', f'"{environment}"')
    target = _plan(tmp_path, text)
    assert not _settings_named(_link_argv(target), "NODERAWFS")
    assert not target.node_rawfs
    with pytest.raises(ConfigError, match=r"^targets\.app\.node-rawfs: only for environment"):
        _plan(tmp_path, text + "node-rawfs = false\n")


def test_turning_it_off_changes_the_link_key_and_no_compile_key(tmp_path: Path) -> None:
    on = _plan(tmp_path, NODE)
    off = _plan(tmp_path, NODE + "node-rawfs = false\n")
    inputs = KeyInputs(toolchain="recipe:" + "4" * 64, epoch=0, sources={}, trees={}, consumed={})

    def key(target: TargetPlan, action: str) -> str:
        return action_key("app", target.action(action), inputs)

    assert key(on, "link") != key(off, "link")
    assert key(on, "compile main.c") == key(off, "compile main.c")


def _manifest(tmp_path: Path, **entry: object) -> BuildManifest:
    document = {"schema": 1, "project": "p", "profile": "debug", "targets": [{
        "name": "app", "kind": "emscripten", "profile": "debug", "main_module": "app.wasm",
        "files": [], "js_glue": True, "exec_model": None, "source_date_epoch": 0,
        "toolchain": "emscripten", "toolchain_image_id": None, "runner": "docker",
        "environment": "node", **entry}]}
    (tmp_path / "debug").mkdir(exist_ok=True)
    (tmp_path / "debug" / "wasmforge-build.json").write_text(json.dumps(document))
    return BuildManifest.read(tmp_path, "debug")


def test_the_manifest_records_noderawfs_and_older_ones_mean_without(tmp_path: Path) -> None:
    built = _manifest(tmp_path, node_rawfs=True).targets["app"]
    assert built.node_rawfs
    assert built.to_json()["node_rawfs"] is True
    # Written before wasmforge added NODERAWFS by default: those builds were linked without it.
    assert not _manifest(tmp_path).targets["app"].node_rawfs
    with pytest.raises(UserError, match=r"targets\.app: malformed entry \(node_rawfs is 'yes'"):
        _manifest(tmp_path, node_rawfs="yes")


def test_dir_for_node_is_the_host_path_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              ) -> None:
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    _check_node_dirs("app", True, [("data", "data"), ("data", str(data)), (str(data), "./data")])
    with pytest.raises(UserError, match=r"^--dir data:/data: target 'app' runs under Node with "
                       r"the host's file system, where data can only be seen at its own path$"):
        _check_node_dirs("app", True, [("data", "/data")])
    with pytest.raises(UserError, match=r"^--dir data: target 'app' was built without NODERAWFS"):
        _check_node_dirs("app", False, [("data", "data")])
    _check_node_dirs("app", False, [])  # no --dir: nothing to honour
