"""Planning components: the componentize action after a target's last action, what it is keyed
by, and the config errors around it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_plan import _config, _files, _only, _plan
from wasmforge.build.component import ADAPTER_PINS, COMPONENT_DIR
from wasmforge.build.plan import ABSTRACT_LAYOUT, plan_build
from wasmforge.config.resolve import BuildFlags, resolve_profile, resolve_settings
from wasmforge.errors import ConfigError
from wasmforge.kinds import HOST_TOOLCHAIN

C_TARGET = '[targets.hello]\nkind = "wasi-sdk"\nsources = ["main.c"]\n'


def test_a_component_target_ends_with_componentize(tmp_path: Path) -> None:
    _files(tmp_path, "main.c")
    target = _only(_plan(tmp_path, C_TARGET + "component = true\n", profile="release"))
    *_, optimize, componentize = target.actions
    assert optimize.kind == "optimize"
    assert componentize.kind == "componentize"
    assert componentize.toolchain == HOST_TOOLCHAIN
    assert componentize.consumes == optimize.produces
    assert componentize.after == ("optimize",)
    assert componentize.params == (("adapters", ADAPTER_PINS), ("world", ""))
    (output,) = target.outputs
    assert output.produced == f"{COMPONENT_DIR}/hello.wasm"
    assert output.name == "hello.wasm"  # the component is the target's module


def test_the_profile_makes_components_and_a_target_can_say_no(tmp_path: Path) -> None:
    _files(tmp_path, "main.c")
    text = ('[profile.p2]\ninherits = "release"\ncomponent = true\n' + C_TARGET
            + '[targets.page]\nkind = "emscripten"\nsources = ["main.c"]\n'
            + '[targets.plain]\nkind = "wasi-sdk"\nsources = ["main.c"]\ncomponent = false\n')
    plan = _plan(tmp_path, text, profile="p2")
    kinds = {t.name: [a.kind for a in t.actions] for t in plan.targets}
    assert kinds["hello"][-1] == "componentize"
    assert "componentize" not in kinds["page"]  # JS glue is never a component
    assert "componentize" not in kinds["plain"]


def test_build_component_flag_is_the_profiles_key(tmp_path: Path) -> None:
    _files(tmp_path, "main.c")
    config = _config(C_TARGET)
    settings = resolve_settings(tmp_path, config, {}, BuildFlags(component=True))
    assert settings.profile.component
    plan = plan_build(tmp_path, config, settings.profile, ABSTRACT_LAYOUT)
    assert plan.targets[0].actions[-1].kind == "componentize"


def test_component_does_not_change_the_optimize_key(tmp_path: Path) -> None:
    _files(tmp_path, "main.c")
    plain = _only(_plan(tmp_path, C_TARGET, profile="release")).action("optimize")
    wrapped = _only(_plan(tmp_path, C_TARGET + "component = true\n", profile="release"))
    assert wrapped.action("optimize").params == plain.params


def test_a_wit_world_is_an_input_tree(tmp_path: Path) -> None:
    _files(tmp_path, "main.c", "wit/world.wit")
    target = _only(_plan(tmp_path, C_TARGET + 'component = true\nwit = "wit"\nworld = "w"\n'))
    componentize = target.action("componentize")
    assert componentize.trees == ("wit",)
    assert ("world", "w") in componentize.params
    assert "wit" in target.inputs


@pytest.mark.parametrize(("extra", "message"), [
    ('component = true\nwit = "wit"\n', "'wit' and 'world' go together"),
    ('wit = "wit"\nworld = "w"\n', "a WIT world is for components"),
    ('component = true\nwit = "nowhere"\nworld = "w"\n', "nowhere"),
])
def test_wit_mistakes_are_config_errors(tmp_path: Path, extra: str, message: str) -> None:
    _files(tmp_path, "main.c", "wit/world.wit")
    with pytest.raises(ConfigError, match=message):
        _plan(tmp_path, C_TARGET + extra)


def test_js_glue_cannot_be_a_component(tmp_path: Path) -> None:
    _files(tmp_path, "main.c")
    with pytest.raises(ConfigError, match=r"targets.page.component: Emscripten web output is JS "
                                          r"glue.*environment = \"standalone\""):
        _plan(tmp_path, '[targets.page]\nkind = "emscripten"\nsources = ["main.c"]\n'
                        'component = true\n')


def test_every_kind_can_be_a_component(tmp_path: Path) -> None:
    _files(tmp_path, "main.c", "hello.wat", "lib.rs")
    text = (C_TARGET + "component = true\n"
            '[targets.wat]\nkind = "wat"\nsource = "hello.wat"\ncomponent = true\n'
            '[targets.rs]\nkind = "rust"\nsource = "lib.rs"\ncomponent = true\n'
            '[targets.em]\nkind = "emscripten"\nsources = ["main.c"]\n'
            'environment = "standalone"\ncomponent = true\n')
    for target in _plan(tmp_path, text).targets:
        assert target.actions[-1].kind == "componentize", target.name


def test_profiles_resolve_component() -> None:
    config = _config('[profile.c]\ninherits = "debug"\ncomponent = true\n' + C_TARGET)
    assert resolve_profile(config, "c").component
    assert not resolve_profile(config, "release").component


def test_a_wasip2_rust_target_is_always_a_component(tmp_path: Path) -> None:
    _files(tmp_path, "lib.rs")
    rust = '[targets.rs]\nkind = "rust"\nsource = "lib.rs"\ntriple = "wasm32-wasip2"\n'
    target = _only(_plan(tmp_path, rust))
    assert target.actions[-1].kind == "componentize"  # a component passes through, validated
    with pytest.raises(ConfigError, match=r"component = false contradicts triple"):
        _plan(tmp_path, rust + "component = false\n")
