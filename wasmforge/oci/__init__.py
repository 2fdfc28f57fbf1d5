"""OCI packaging of WebAssembly modules: images and artifacts, layouts, registries, pulls.

``package_module`` (``package.py``) is the core; ``layout.py`` reads and writes OCI image layouts,
``registry.py`` speaks the OCI distribution API, ``pull.py`` and ``inspect.py`` read images back.
"""
