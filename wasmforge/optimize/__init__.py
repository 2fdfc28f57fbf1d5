"""Optimise and validate WebAssembly modules: wasm-opt with the features the module itself uses,
exact stripping of debug info, names and producers, validation after every transforming step, and
size reports by section category.

The build calls :func:`wasmforge.optimize.pipeline.optimize_module` with its runner's invoker;
``wasmforge opt`` calls the same function with the invoker of the runner it chooses (the wasi-sdk image
of a toolchain set, or :func:`wasmforge.optimize.invoke.host_invoker` with ``--runner local``).
"""
