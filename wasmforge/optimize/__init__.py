"""Optimise and validate WebAssembly modules: wasm-opt with the features the module itself uses,
exact stripping of debug info, names and producers, validation after every transforming step, and
size reports by section category.

The build calls :func:`wasmforge.optimize.pipeline.optimize_module`; ``wasmforge opt`` calls the same
function with :func:`wasmforge.optimize.invoke.host_invoker`.
"""
