# CMake toolchain file for WebAssembly/WASI with Debian 13's clang 22 and wasi-libc.
# Use: cmake -DCMAKE_TOOLCHAIN_FILE=/usr/share/wasmforge/wasi-sdk.cmake (the image sets
# CMAKE_TOOLCHAIN_FILE in the environment, which CMake 3.21+ reads by itself).
# Targets wasm32-wasip1; -DWASI_TARGET=wasm32-wasip2 gives wasip2 core modules (C only).

# CMake 3.31 knows WASI as a system name but sets almost nothing for it; wasi-rules.cmake next to
# this file fills in the rest (see there why it is not a Platform/WASI.cmake as for CMake 3.25). A
# project that sets its own CMAKE_USER_MAKE_RULES_OVERRIDE must include() this one from it.
set(CMAKE_USER_MAKE_RULES_OVERRIDE "${CMAKE_CURRENT_LIST_DIR}/wasi-rules.cmake")

set(CMAKE_SYSTEM_NAME WASI)
set(CMAKE_SYSTEM_VERSION 1)
set(CMAKE_SYSTEM_PROCESSOR wasm32)

if(NOT WASI_TARGET)
  set(WASI_TARGET wasm32-wasip1)
endif()
# CMake's compiler checks re-read this file in a fresh project: hand the choice on to them.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES WASI_TARGET)
set(CMAKE_C_COMPILER clang-22)
set(CMAKE_CXX_COMPILER clang++-22)
set(CMAKE_ASM_COMPILER clang-22)
set(CMAKE_C_COMPILER_TARGET ${WASI_TARGET})
set(CMAKE_CXX_COMPILER_TARGET ${WASI_TARGET})
set(CMAKE_ASM_COMPILER_TARGET ${WASI_TARGET})
# Static libraries must carry a wasm symbol index, which only LLVM's archiver writes.
set(CMAKE_AR llvm-ar-22 CACHE FILEPATH "archiver")
set(CMAKE_RANLIB llvm-ranlib-22 CACHE FILEPATH "ranlib")

# For wasip2 clang 22 links with wasm-component-ld, which Debian does not package: -fuse-ld=lld
# makes it use wasm-ld, which writes a core module (wasi:* 0.2 imports), not a component.
if(WASI_TARGET STREQUAL "wasm32-wasip2")
  set(CMAKE_EXE_LINKER_FLAGS_INIT "-fuse-ld=lld")
endif()

# Debian installs the WASI sysroots into /usr (include/<target>, lib/<target>; wasm32-wasip1 is a
# link to wasm32-wasi), which clang finds by itself. find_path/find_library look only in the
# target's sysroot, never in the build host's: the image gathers it (links) as
# sysroot/<target>/{include,lib}, the layout CMake's re-rooting expects (the /usr/include/<target>
# roots used with CMake 3.25 found nothing, as CMake looked for <root>/include and <root>/lib).
set(CMAKE_FIND_ROOT_PATH /usr/share/wasmforge/sysroot/${WASI_TARGET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# WASI has no exceptions and no threads in this toolchain.
set(CMAKE_CXX_FLAGS_INIT "-fno-exceptions")
