# CMake toolchain file for WebAssembly/WASI with Debian 12's clang 16 and wasi-libc.
# Use: cmake -DCMAKE_TOOLCHAIN_FILE=/usr/share/wasmforge/wasi-sdk.cmake (the image sets
# CMAKE_TOOLCHAIN_FILE in the environment, which CMake 3.21+ reads by itself).

# WASI is not a platform CMake 3.25 knows; Platform/WASI.cmake next to this file describes it.
list(APPEND CMAKE_MODULE_PATH "${CMAKE_CURRENT_LIST_DIR}")

set(CMAKE_SYSTEM_NAME WASI)
set(CMAKE_SYSTEM_VERSION 1)
set(CMAKE_SYSTEM_PROCESSOR wasm32)

set(WASI_TARGET wasm32-wasi)
set(CMAKE_C_COMPILER clang-16)
set(CMAKE_CXX_COMPILER clang++-16)
set(CMAKE_ASM_COMPILER clang-16)
set(CMAKE_C_COMPILER_TARGET ${WASI_TARGET})
set(CMAKE_CXX_COMPILER_TARGET ${WASI_TARGET})
set(CMAKE_ASM_COMPILER_TARGET ${WASI_TARGET})
# Static libraries must carry a wasm symbol index, which only LLVM's archiver writes.
set(CMAKE_AR llvm-ar-16 CACHE FILEPATH "archiver")
set(CMAKE_RANLIB llvm-ranlib-16 CACHE FILEPATH "ranlib")

# Debian installs the WASI sysroot into /usr (include/wasm32-wasi, lib/wasm32-wasi), which clang
# finds by itself; only look for libraries and headers there, never in the build host's.
set(CMAKE_FIND_ROOT_PATH /usr/include/wasm32-wasi /usr/lib/wasm32-wasi)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# WASI has no exceptions and no threads in this toolchain.
set(CMAKE_CXX_FLAGS_INIT "-fno-exceptions")
set(CMAKE_EXECUTABLE_SUFFIX ".wasm")
