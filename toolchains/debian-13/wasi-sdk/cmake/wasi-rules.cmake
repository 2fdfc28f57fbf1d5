# What CMake needs to know about WASI beyond its own platform module: static linking only, object
# files are .o, executables are .wasm modules. CMake 3.31's own Platform/WASI(-Initialize).cmake
# set only WASI=1, and CMake's own modules win over ones on CMAKE_MODULE_PATH (policy CMP0017), so
# the toolchain file loads this one as CMAKE_USER_MAKE_RULES_OVERRIDE, after CMake's platform files
# for each language. UNIX comes too late here to pick the object suffix, hence the <LANG>_OUTPUT_EXTENSIONs.
set(WASI 1)
set(UNIX 1)
set(CMAKE_EXECUTABLE_SUFFIX ".wasm")
set(CMAKE_STATIC_LIBRARY_PREFIX "lib")
set(CMAKE_STATIC_LIBRARY_SUFFIX ".a")
set(CMAKE_C_OUTPUT_EXTENSION ".o")
set(CMAKE_CXX_OUTPUT_EXTENSION ".o")
set(CMAKE_ASM_OUTPUT_EXTENSION ".o")
set_property(GLOBAL PROPERTY TARGET_SUPPORTS_SHARED_LIBS FALSE)
# find_path/find_library/find_package search <prefix>/include and <prefix>/lib under each of these,
# re-rooted into the target's sysroot (CMAKE_FIND_ROOT_PATH); CMake sets none for WASI.
list(APPEND CMAKE_SYSTEM_PREFIX_PATH "/")
list(REMOVE_DUPLICATES CMAKE_SYSTEM_PREFIX_PATH)
