"""wasmforge.toml: the model (``model``), reading and error messages (``load``), and the one place
where defaults, the file, ``WASMFORGE_*`` variables and flags are merged (``resolve``)."""
