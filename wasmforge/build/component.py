"""Planning a target's component: one more action after the module is built (and optimised).

    build / link / assemble ─► optimize ─► componentize ─► published as <target>.wasm

The componentize action runs on the host (wasm-tools is a dependency of wasmforge) over the final
core module, with the pinned preview1 adapter (``wasmforge.component.adapters``); its key covers the
module, both adapters' pins, the WIT directory and the world. Which adapter is used follows from the
module itself: one exporting ``_start`` is a command, anything else a reactor. A ``wasm32-wasip2``
target is always a component: the shipped toolchains link it as a core module importing WASI 0.2
(and a few preview 1 functions, which the adapter provides), as ``wasm-component-ld`` would before
componentizing; a toolchain that already emits a component (an image of the user's own with
``wasm-component-ld``) passes through, validated.
"""

from __future__ import annotations

import dataclasses

from wasmforge.build.action import Action
from wasmforge.build.plan import Output, PlanContext, TargetPlan
from wasmforge.build.sources import project_dir
from wasmforge.component.adapters import ADAPTER_SHA256, NPM_PACKAGE, NPM_VERSION
from wasmforge.config.model import EmscriptenTarget, RustTarget, Target, WasiSdkTarget
from wasmforge.errors import ConfigError
from wasmforge.kinds import HOST_TOOLCHAIN
from wasmforge.toolchain_sets import WASIP2

# Where the componentize action leaves the component (inside the target's dir).
COMPONENT_DIR = ".wasmforge/component"
ADAPTER_PINS = f"{NPM_PACKAGE}@{NPM_VERSION} " + " ".join(
    f"{kind}:{digest}" for kind, digest in sorted(ADAPTER_SHA256.items()))


def wants_component(target: Target, context: PlanContext) -> bool:
    """The target's own ``component``, else the profile's (which JS glue targets ignore). A
    wasm32-wasip2 target's output is a component whatever they say."""
    if _is_wasip2(target):
        return True
    if target.component is not None:
        return target.component
    js_glue = isinstance(target, EmscriptenTarget) and target.environment != "standalone"
    return context.profile.component and not js_glue


def _is_wasip2(target: Target) -> bool:
    return isinstance(target, RustTarget | WasiSdkTarget) and target.triple == WASIP2


def with_componentizer(
    name: str, plan: TargetPlan, target: Target, context: PlanContext,
) -> TargetPlan:
    """``plan`` with a componentize action over its main module, when the target is a component."""
    if _is_wasip2(target) and target.component is False:
        msg = (f"targets.{name}.component = false contradicts triple = \"{WASIP2}\", whose "
               "output is a component")
        raise ConfigError(msg, hint="use triple = \"wasm32-wasip1\" for a core module")
    if (target.wit is None) != (target.world is None):
        msg = f"targets.{name}: 'wit' and 'world' go together (the WIT directory and its world)"
        raise ConfigError(msg)
    if not wants_component(target, context):
        if target.wit is not None:
            msg = f"targets.{name}.wit: a WIT world is for components: set component = true"
            raise ConfigError(msg)
        return plan
    if plan.js_glue:
        msg = (f"targets.{name}.component: Emscripten {getattr(target, 'environment', '')} output "
               "is JS glue, not a WASI module; a component needs environment = \"standalone\"")
        raise ConfigError(msg)
    wit = project_dir(context.root, name, "wit", target.wit).removeprefix("./") \
        if target.wit is not None else None
    main = next(o for o in plan.outputs if o.name == plan.main_module)
    component = f"{COMPONENT_DIR}/{main.name}"
    action = Action(
        name="componentize", kind="componentize", toolchain=HOST_TOOLCHAIN,
        consumes=(main.produced,), produces=(component,),
        trees=(wit,) if wit else (), tree_excludes=context.tree_excludes,
        params=(("adapters", ADAPTER_PINS), ("world", target.world or "")),
        after=tuple(a.name for a in plan.actions if main.produced in a.produces),
    )
    outputs = tuple(Output(produced=component, name=o.name) if o is main else o
                    for o in plan.outputs)
    return dataclasses.replace(plan, actions=(*plan.actions, action), outputs=outputs,
                               inputs=(*plan.inputs, *((wit,) if wit else ())))
