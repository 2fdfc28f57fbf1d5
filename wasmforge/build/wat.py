"""``kind = "wat"``: WebAssembly text assembled by WABT's wat2wasm, on the host (WABT ships with
wasmforge, so no container is needed)."""

from __future__ import annotations

from wasmforge.build.action import Action
from wasmforge.build.plan import Output, PlanContext, TargetPlan, module_name
from wasmforge.build.sources import project_file
from wasmforge.config.model import WatTarget
from wasmforge.errors import ConfigError, UserError
from wasmforge.kinds import toolchain_of
from wasmforge.runner.base import Step
from wasmforge.wasm.wabt import feature_flags, feature_request


def _feature_flags(name: str, features: list[str]) -> list[str]:
    """WABT's flags for ``features``: only real changes from its defaults, names checked."""
    try:
        return feature_flags("wat2wasm", feature_request(features, (), ()))
    except UserError as error:
        msg = f"targets.{name}.features: {error.message}"
        raise ConfigError(msg, hint=error.hint) from None


def plan_target(name: str, target: WatTarget, context: PlanContext) -> tuple[TargetPlan, bool]:
    source = project_file(context.root, name, "source", target.source)
    layout = context.host_layout
    produced = f"{name}.wasm"
    argv = [
        "wat2wasm", layout.in_src(source),
        *_feature_flags(name, target.features),
        # Keep the text's $names in the name section unless the profile drops names anyway.
        *(["--debug-names"] if not context.profile.strip_names else []),
        "-o", f"{layout.out(name)}/{produced}",
    ]
    step = Step(description="assembly", argv=tuple(argv), cwd=layout.src,
                env=tuple(sorted(target.env.items())))
    action = Action(name="assemble", kind="assemble", toolchain=toolchain_of("wat"),
                    steps=(step,), sources=(source,), produces=(produced,))
    final = module_name(name, target.output)
    plan = TargetPlan(
        name=name, kind="wat", toolchain=action.toolchain, actions=(action,),
        outputs=(Output(produced=produced, name=final),), main_module=final, js_glue=False,
        inputs=(source,),
    )
    return plan, target.optimize
