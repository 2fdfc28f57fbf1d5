"""Reading WebAssembly binaries and driving the WAT/wasm tools."""
