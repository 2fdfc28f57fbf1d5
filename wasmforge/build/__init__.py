"""``wasmforge build``: a pure plan (targets -> steps with inputs, outputs and argv), then execution.

One module per target kind (``wasi_sdk``, ``rust``, ``emscripten``, ``wat``) turns its config into
steps; ``plan`` ties them together, ``execute`` runs them, ``manifest`` records what was built.
"""
