"""Where build steps run: in a toolchain container (``docker``) or with host tools (``local``).

Both runners take the same :class:`~wasmforge.runner.base.Step` (argv, working directory, environment)
so that a command line logged by one can be rerun by hand with the other.
"""
