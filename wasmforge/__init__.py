"""wasmforge: reproducible WebAssembly builds and OCI packaging."""

__version__ = "0.1.0"
