"""The ``wasmforge.toml`` schema.

Keys are kebab-case in the file (``include-dirs``) and snake_case in Python. Every model forbids
unknown keys and is strict (no silent str→int coercion), so a typo is an error, not a no-op. Paths
stay ``str`` here: they are relative to the project root and are resolved by the planner.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from wasmforge.toolchain_sets import DEFAULT_SET, ToolchainSetName

OptLevel = Literal[0, 1, 2, 3, 4, "s", "z"]
PackageFormat = Literal["image", "artifact", "both"]
RunnerName = Literal["auto", "docker", "local"]


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_name(name: str) -> str:
    # A shell would refuse it (or split it at '='), and only after the container had started.
    if not _ENV_NAME.fullmatch(name):
        msg = "not an environment variable name (letters, digits and '_', not starting with a digit)"
        raise ValueError(msg)
    return name


EnvName = Annotated[str, AfterValidator(_env_name),
                    WithJsonSchema({"type": "string", "pattern": f"^{_ENV_NAME.pattern}$"})]


def _kebab(name: str) -> str:
    return name.replace("_", "-")


class StrictModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, alias_generator=_kebab, populate_by_name=True
    )


class ProjectConfig(StrictModel):
    """``[project]``: names the project; feeds OCI annotations."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    version: str = "0.1.0"
    description: str | None = None
    source: str | None = Field(default=None, description="Source repository URL (OCI annotation).")
    authors: list[str] = []
    licenses: str | None = None


class ProfileConfig(StrictModel):
    """``[profile.NAME]``: how a build is optimised. Unset keys come from ``inherits``."""

    inherits: str | None = None
    opt_level: OptLevel | None = Field(
        default=None, description="Compiler and wasm-opt level: 0-4, 's' or 'z'."
    )
    debug_info: bool | None = Field(default=None, description="Compile with DWARF debug info.")
    wasm_opt: bool | None = Field(default=None, description="Run wasm-opt after compiling.")
    wasm_opt_passes: list[str] | None = Field(
        default=None, description="Extra wasm-opt arguments, e.g. ['--converge']."
    )
    strip_debug: bool | None = None
    strip_names: bool | None = None
    strip_producers: bool | None = None
    component: bool | None = Field(
        default=None, description="Make every WASI target a WASI 0.2 component (a target's own "
        "'component' wins)."
    )


class PackageConfig(StrictModel):
    """``[targets.NAME.package]``: package this target as OCI when it is built."""

    format: PackageFormat = "image"
    image: str | None = Field(
        default=None, description="Image name and tag, e.g. 'ghcr.io/acme/hello:1.0'."
    )
    annotations: dict[str, str] = {}


class TargetBase(StrictModel):
    optimize: bool = Field(default=True, description="Let the profile run wasm-opt on this target.")
    output: str | None = Field(
        default=None, description="Output file name (default: the target name plus extension)."
    )
    env: dict[EnvName, str] = Field(
        default={}, description="Environment variables of the target's build steps.",
        json_schema_extra={"additionalProperties": False},  # names outside the pattern are errors
    )
    package: PackageConfig | None = None
    component: bool | None = Field(
        default=None, description="Make the WASI module a WASI 0.2 component (the core module is "
        "compiled and optimised as usual, then wrapped with the preview1 adapter). Default: the "
        "profile's 'component'."
    )
    wit: str | None = Field(
        default=None, description="With component: a WIT directory whose 'world' the component "
        "exports (for code that uses wit-bindgen output)."
    )
    world: str | None = Field(default=None, description="With wit: the world to export.")


class CFamilyFields(StrictModel):
    sources: list[str] = Field(default=[], description="Source files or globs.")
    include_dirs: list[str] = []
    defines: list[str] = Field(default=[], description="NAME or NAME=VALUE.")
    cflags: list[str] = []
    ldflags: list[str] = []
    libs: list[str] = Field(default=[], description="Libraries to link, e.g. 'm'.")


class WasiSdkTarget(TargetBase, CFamilyFields):
    """C and C++ to WASI with clang, wasi-libc and libc++."""

    kind: Literal["wasi-sdk"]
    triple: Literal["wasm32-wasip1", "wasm32-wasip2"] = Field(
        default="wasm32-wasip1",
        description="The WASI target: 'wasm32-wasip1' (a core module) or 'wasm32-wasip2' (a "
        "component exporting wasi:cli/run; needs the debian-13 set).",
    )
    language: Literal["c", "c++"] | None = Field(
        default=None, description="Default: c++ if any source is C++, else c."
    )
    exec_model: Literal["command", "reactor"] = "command"
    exports: list[str] = Field(default=[], description="Functions a reactor exports.")
    command: str | list[str] | None = Field(
        default=None,
        description="Build with your own command (make, cmake) instead of sources; "
        "a string runs under sh -c.",
    )
    artifact: str | None = Field(
        default=None, description="With command: the .wasm file the command produces."
    )


class RustTarget(TargetBase):
    """A Cargo project or a single .rs file, to WASI."""

    kind: Literal["rust"]
    path: str = Field(default=".", description="Directory of Cargo.toml.")
    source: str | None = Field(default=None, description="A single .rs file instead of Cargo.")
    crate_type: Literal["bin", "cdylib"] = "bin"
    bin: str | None = Field(default=None, description="Which binary of the package.")
    features: list[str] = []
    no_default_features: bool = False
    rustflags: list[str] = []
    triple: Literal["wasm32-wasi", "wasm32-wasip1", "wasm32-wasip2"] | None = Field(
        default=None,
        description="Rust's name for the WASI target (default: the set's, 'wasm32-wasip1' with "
        "debian-13's Rust 1.85, 'wasm32-wasi' with debian-12's 1.63). 'wasm32-wasi' is known up "
        "to Rust 1.83, 'wasm32-wasip1' from 1.78 on, 'wasm32-wasip2' (a component) from 1.82 on.",
    )


class EmscriptenTarget(TargetBase, CFamilyFields):
    """C/C++ with emcc: a web page or Node module (JS + wasm), or a standalone WASI module."""

    kind: Literal["emscripten"]
    environment: Literal["web", "node", "standalone"] = "web"
    html: bool = Field(default=False, description="Also emit an HTML page (web only).")
    exports: list[str] = Field(default=[], description="C functions to export, e.g. 'add'.")
    settings: dict[str, str | int | bool | list[str]] = Field(
        default={}, description="Extra -s KEY=VALUE settings."
    )
    node_rawfs: bool = Field(
        default=True,
        description="Node only: link with -sNODERAWFS, so the program reads and writes the host's "
        "files at their own paths, from the current directory, as any Node program does. Off by "
        "default for a target that embeds or preloads files (emcc cannot combine the two); a "
        "NODERAWFS of your own in settings or flags is used as given.",
    )


class WatTarget(TargetBase):
    """WebAssembly text assembled with WABT."""

    kind: Literal["wat"]
    source: str
    features: list[str] = Field(
        default=[], description="Extra WABT features to enable, e.g. 'threads'."
    )


Target = Annotated[
    WasiSdkTarget | RustTarget | EmscriptenTarget | WatTarget, Field(discriminator="kind")
]


class ToolchainOverride(StrictModel):
    """``[toolchains.KIND]``: use your own digest-pinned image or recipe for a toolchain kind."""

    image: str | None = Field(
        default=None, description="Image reference pinned by digest: 'repo@sha256:...'."
    )
    recipe: str | None = Field(default=None, description="Directory with a Dockerfile.")
    set: ToolchainSetName | None = Field(
        default=None,
        description="The toolchain set this kind's shipped image comes from, overriding "
        "[toolchains] set (also the Debian base a recipe of your own builds on).",
    )

    @field_validator("image")
    @classmethod
    def _pinned_by_digest(cls, value: str | None) -> str | None:
        if value is not None and "@sha256:" not in value:
            msg = "must be pinned by digest ('name@sha256:<64 hex>'), tags can change"
            raise ValueError(msg)
        return value


class CToolchainOverride(ToolchainOverride):
    """``[toolchains.wasi-sdk]``, ``[toolchains.emscripten]``: also flags for every target of the
    kind, given before the target's own (for clang a later flag wins, so a target can override).
    Per kind because the compilers differ: clang 16 in wasi-sdk, emcc 3.1.6's clang 14, which warns
    about flags it does not know."""

    cflags: list[str] = Field(
        default=[], description="Compile flags of every target of this kind, before its cflags."
    )
    ldflags: list[str] = Field(
        default=[], description="Link flags of every target of this kind, before its ldflags."
    )


class RustToolchainOverride(ToolchainOverride):
    """``[toolchains.rust]``: also rustc flags for every Rust target, before the target's own."""

    rustflags: list[str] = Field(
        default=[], description="rustc flags of every Rust target, before its rustflags."
    )


class ToolchainsConfig(StrictModel):
    """``[toolchains]``: the toolchain set, and a table per toolchain kind. WAT has none: WABT runs
    inside wasmforge (its modules are optimised in the set's wasi-sdk image)."""

    set: ToolchainSetName = Field(
        default=DEFAULT_SET,
        description="Which shipped toolchain images to build with: 'debian-13' (clang 22, Rust "
        "1.85, Emscripten 3.1.69, binaryen 120) or 'debian-12' (clang 16, Rust 1.63, Emscripten "
        "3.1.6, binaryen 108: the bytes wasmforge built before the debian-13 set).",
    )
    wasi_sdk: CToolchainOverride | None = None
    rust: RustToolchainOverride | None = None
    emscripten: CToolchainOverride | None = None

    def overrides(self) -> dict[str, ToolchainOverride]:
        """The tables that are set, by toolchain kind ('wasi-sdk', 'rust', 'emscripten')."""
        return {_kebab(name): value for name in type(self).model_fields
                if isinstance(value := getattr(self, name), ToolchainOverride)}

    def set_for(self, kind: str) -> ToolchainSetName:
        """The set the image ``kind`` comes from: its table's ``set``, else the project's."""
        table = self.overrides().get(kind)
        return table.set if table is not None and table.set is not None else self.set

    def c_flags(self, kind: Literal["wasi-sdk", "emscripten"]) -> tuple[list[str], list[str]]:
        """The cflags and ldflags that every target of ``kind`` gets before its own."""
        table = self.wasi_sdk if kind == "wasi-sdk" else self.emscripten
        return (table.cflags, table.ldflags) if table is not None else ([], [])

    def rustflags(self) -> list[str]:
        """The rustflags that every Rust target gets before its own."""
        return self.rust.rustflags if self.rust is not None else []


class BuildConfig(StrictModel):
    """``[build]``: defaults for ``wasmforge build`` (environment and flags override them)."""

    out_dir: str = "dist"
    profile: str = "debug"
    runner: RunnerName = "auto"
    jobs: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="Actions run in parallel (default: the number of CPUs)."
    )


# "512MiB", "2 GB", "1.5GiB" or a number of bytes.
# The number and the unit are groups: config.resolve.parse_size reads them with this very pattern.
SIZE_PATTERN = r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]i?B|B)?\s*$"


class CacheConfig(StrictModel):
    """``[cache]``: the build cache shared through OCI registries, and the local store's size."""

    from_: str | None = Field(
        default=None, alias="from",
        description="Registry repository to restore build results from, e.g. "
        "'ghcr.io/acme/wasm-cache'.",
    )
    to: str | None = Field(
        default=None, description="Registry repository to upload build results to."
    )
    read_only: bool = Field(
        default=False, description="Never upload (for untrusted builds such as pull requests)."
    )
    max_size: Annotated[str, Field(pattern=SIZE_PATTERN)] | Annotated[int, Field(ge=0)] | None = (
        Field(default=None, description="Local cache size limit, e.g. '5GiB' (default 5GiB).")
    )


# "30m", "90s", "1h30m" or a number of seconds.
DURATION_PATTERN = r"^\s*([0-9]+\s*[hms]\s*)+$"


class LimitsConfig(StrictModel):
    """``[limits]``: what each build container may use (a build script cannot take the host)."""

    memory: Annotated[str, Field(pattern=SIZE_PATTERN)] | Annotated[int, Field(ge=0)] | None = (
        Field(default=None, description="Memory of a toolchain container, e.g. '8GiB' (default "
              "8GiB; 0: no limit).")
    )
    pids: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="Processes in a toolchain container (default 4096; 0: no limit)."
    )
    cpus: Annotated[float, Field(ge=0)] | None = Field(
        default=None, description="CPUs a toolchain container may use (default 0: all of them)."
    )
    step_timeout: Annotated[str, Field(pattern=DURATION_PATTERN)] | Annotated[
        int, Field(ge=1)] | None = Field(
        default=None, description="Longest a single build step may run, e.g. '30m' (default 1h)."
    )


class HttpRequestConfig(StrictModel):
    """``request`` of a ``[[test]]``: one HTTP request, handled by the target as ``wasmforge serve``
    runs it (a WAGI handler: CGI over WASI)."""

    method: str = Field(default="GET", pattern=r"^[A-Z]+$", description="GET, POST, ...")
    path: str = Field(
        default="/", pattern=r"^/[^\s#]*$",
        description="Path and query string, e.g. '/hello?name=Ada'.",
    )
    headers: dict[str, str] = Field(default={}, description="Request headers, e.g. "
                                    "{ content-type = 'text/plain' }.")
    body: str = Field(default="", description="The request body (UTF-8).")


# The keys of each kind of check: a [[test]] is a run, an invoke or a request, and a key of another
# kind would be silently ignored, so it is an error.
_RUN_ONLY = ("stdin", "expect_exit")
_RUN_OR_INVOKE = ("args", "expect_stdout", "expect_stdout_contains")
_INVOKE_ONLY = ("expect_result",)
_REQUEST_ONLY = ("expect_status", "expect_headers", "expect_body", "expect_body_contains")


class ProjectTestConfig(StrictModel):
    """``[[test]]``: a check ``wasmforge test`` makes of a built target. One of: a run of the
    command (``args``, ``stdin``, ``env`` → ``expect-stdout``, ``expect-exit``), a call of an
    exported function (``invoke`` with ``args`` → ``expect-result``), or an HTTP request to it as a
    WAGI handler (``request`` → ``expect-status``, ``expect-headers``, ``expect-body``)."""

    name: str = Field(min_length=1, description="Shown in the report.")
    target: str = Field(description="The target to build and check.")
    args: list[str] = Field(
        default=[], description="Command arguments (argv after the module's name); with invoke, "
        "the function's arguments, read by its parameter types as 'wasmtime run --invoke' does.",
    )
    stdin: str | None = Field(default=None, description="Text on the command's standard input.")
    env: dict[EnvName, str] = Field(
        default={}, description="Environment variables of the command or the handler.",
        json_schema_extra={"additionalProperties": False},
    )
    invoke: str | None = Field(
        default=None, description="Call this exported function instead of running a command "
        "(a reactor's export, or a component's top-level function export).",
    )
    request: HttpRequestConfig | None = None
    timeout: Annotated[str, Field(pattern=DURATION_PATTERN)] | Annotated[int, Field(ge=1)] = Field(
        default="30s", description="Longest the check may run, e.g. '10s'."
    )
    expect_stdout: str | None = Field(default=None, description="Standard output, exactly.")
    expect_stdout_contains: str | None = Field(
        default=None, description="Text standard output must contain."
    )
    expect_exit: Annotated[int, Field(ge=0, le=255)] | None = Field(
        default=None, description="The command's exit code (default 0)."
    )
    expect_result: int | float | bool | str | None = Field(
        default=None, description="With invoke: the function's result."
    )
    expect_status: Annotated[int, Field(ge=100, le=599)] | None = Field(
        default=None, description="The response's status code (default 200)."
    )
    expect_headers: dict[str, str] = Field(
        default={}, description="Response headers and their values, exactly (names in any case)."
    )
    expect_body: str | None = Field(default=None, description="The response body, exactly.")
    expect_body_contains: str | None = Field(
        default=None, description="Text the response body must contain."
    )

    @model_validator(mode="after")
    def _one_kind_of_check(self) -> ProjectTestConfig:
        given = self.model_fields_set
        if self.request is not None:
            kind, allowed = "a request", set(_REQUEST_ONLY)
        elif self.invoke is not None:
            kind, allowed = "an invoke", {*_RUN_OR_INVOKE, *_INVOKE_ONLY}
        else:
            kind, allowed = "a command run", {*_RUN_ONLY, *_RUN_OR_INVOKE}
        if self.request is not None and self.invoke is not None:
            msg = "give request or invoke, not both"
            raise ValueError(msg)
        every = {*_RUN_ONLY, *_RUN_OR_INVOKE, *_INVOKE_ONLY, *_REQUEST_ONLY}
        wrong = sorted(_kebab(key) for key in given & (every - allowed))
        if wrong:
            msg = f"{', '.join(wrong)}: not a key of {kind} check (test {self.name!r})"
            raise ValueError(msg)
        return self


class ServeRouteConfig(StrictModel):
    """A route of ``[serve.routes]`` written as a table: the target, and what its handler gets."""

    target: str = Field(description="The target whose module answers the route.")
    dirs: list[Annotated[str, Field(pattern=r"^[^:]+(:.+)?$")]] = Field(
        default=[], description="Directories preopened for the handler, 'HOST[:GUEST]' (HOST "
        "relative to the project; GUEST defaults to HOST), as 'wasmforge run --dir'.",
    )
    env: dict[EnvName, str] = Field(
        default={}, description="Environment variables of the handler (the request's CGI "
        "variables win over them).", json_schema_extra={"additionalProperties": False},
    )


def _route_table(value: object) -> object:
    """``"/x" = "target"`` is short for ``"/x" = { target = "target" }``."""
    if isinstance(value, str):
        return {"target": value}
    if not isinstance(value, dict | ServeRouteConfig):
        msg = "expected a target name or a table { target = \"...\", dirs = [...], env = {...} }"
        # A ValueError: pydantic reports it on the key (a TypeError would escape as a crash).
        raise ValueError(msg)  # noqa: TRY004
    return value


def _route_schema(schema: dict[str, Any]) -> None:
    """The schema says what the file may hold: a target name or a table (the model only has
    tables, each string being made one before validation)."""
    schema["additionalProperties"] = {"anyOf": [{"type": "string"},
                                                schema["additionalProperties"]]}


class ServeConfig(StrictModel):
    """``[serve]``: how ``wasmforge serve`` answers HTTP requests with WAGI handlers."""

    routes: dict[str, Annotated[ServeRouteConfig, BeforeValidator(_route_table)]] = Field(
        default={}, description="Route → target: an exact path ('/hello') or a prefix "
        "('/api/...': /api and everything under it; '/...': every path), to a target name or to "
        "a table { target = 'x', dirs = ['HOST:GUEST'], env = { K = 'v' } }. Without routes, one "
        "served target answers every path, and several each answer '/<target>/...'.",
        json_schema_extra=_route_schema,
    )

    @field_validator("routes")
    @classmethod
    def _route_patterns(cls, value: dict[str, ServeRouteConfig]) -> dict[str, ServeRouteConfig]:
        from wasmforge.serve.routes import parse_route

        for pattern in value:
            parse_route(pattern)  # its ValueError says what is wrong
        return value


class WasmforgeConfig(StrictModel):
    """The whole ``wasmforge.toml``."""

    model_config = ConfigDict(title="wasmforge.toml")

    project: ProjectConfig
    build: BuildConfig = BuildConfig()
    cache: CacheConfig = CacheConfig()
    limits: LimitsConfig = LimitsConfig()
    profile: dict[str, ProfileConfig] = {}
    toolchains: ToolchainsConfig = ToolchainsConfig()
    targets: dict[str, Target] = Field(min_length=1)
    test: list[ProjectTestConfig] = Field(
        default=[], description="[[test]]: the checks 'wasmforge test' runs on built targets."
    )
    serve: ServeConfig = ServeConfig()

    @field_validator("profile")
    @classmethod
    def _profile_names(cls, value: dict[str, ProfileConfig]) -> dict[str, ProfileConfig]:
        for name in value:  # a profile name becomes a directory: dist/<profile>/
            if not name or not name[0].isalnum() or not all(c.isalnum() or c in "-_" for c in name):
                msg = f"profile name {name!r} may only use letters, digits, '-' and '_'"
                raise ValueError(msg)
        return value

    @field_validator("targets")
    @classmethod
    def _target_names(cls, value: dict[str, Target]) -> dict[str, Target]:
        for name in value:
            if not name or not all(c.isalnum() or c in "-_." for c in name):
                msg = f"target name {name!r} may only use letters, digits, '-', '_' and '.'"
                raise ValueError(msg)
        return value

    @field_validator("test")
    @classmethod
    def _tests_name_targets(
        cls, value: list[ProjectTestConfig], info: ValidationInfo
    ) -> list[ProjectTestConfig]:
        targets = info.data.get("targets")  # absent when the targets were invalid themselves
        seen: set[str] = set()
        for test in value:
            if test.name in seen:
                msg = f"two tests are named {test.name!r}"
                raise ValueError(msg)
            seen.add(test.name)
            if targets is not None and test.target not in targets:
                msg = (f"test {test.name!r}: no target {test.target!r} (targets: "
                       f"{', '.join(targets)})")
                raise ValueError(msg)
        return value

    @field_validator("serve")
    @classmethod
    def _routes_name_targets(cls, value: ServeConfig, info: ValidationInfo) -> ServeConfig:
        targets = info.data.get("targets")  # absent when the targets were invalid themselves
        for pattern, route in value.routes.items():
            if targets is not None and route.target not in targets:
                msg = (f"route {pattern}: no target {route.target!r} (targets: "
                       f"{', '.join(targets)})")
                raise ValueError(msg)
        return value
