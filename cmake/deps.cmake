# Third-party C sources come from npm packages that ship them, pinned exactly in package.json
# (devDependencies):
#   zstd   <- zstd-napi    (deps/zstd/lib)
#   lz4    <- lz4          (deps/lz4/lib)
#   xxHash <- xxhash-addon (xxHash/)
# The published package carries a copy of the files we build under deps/<package>/, with the same
# paths as in the package (scripts/pack.mjs makes it at `npm pack`); a clone reads them from
# node_modules, found with Node's own module resolution, so a hoisted or nested tree both work.

find_program(MODELCACHE_NODE NAMES node nodejs REQUIRED)

function(modelcache_resolve_package out pkg)
  if(IS_DIRECTORY "${PROJECT_SOURCE_DIR}/deps/${pkg}")
    set(${out} "${PROJECT_SOURCE_DIR}/deps/${pkg}" PARENT_SCOPE)
    return()
  endif()
  execute_process(
    COMMAND "${MODELCACHE_NODE}" -p "require('path').dirname(require.resolve('${pkg}/package.json'))"
    WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
    OUTPUT_VARIABLE dir OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT IS_DIRECTORY "${dir}")
    message(FATAL_ERROR "modelcache: the C sources from the npm package '${pkg}' are neither bundled under deps/ nor installed (in a clone, run npm install)")
  endif()
  set(${out} "${dir}" PARENT_SCOPE)
endfunction()

modelcache_resolve_package(ZSTD_PKG zstd-napi)
modelcache_resolve_package(LZ4_PKG lz4)
modelcache_resolve_package(XXHASH_PKG xxhash-addon)

set(ZSTD_LIB_DIR "${ZSTD_PKG}/deps/zstd/lib")
set(LZ4_LIB_DIR "${LZ4_PKG}/deps/lz4/lib")
set(XXHASH_DIR "${XXHASH_PKG}/xxHash")
foreach(f "${ZSTD_LIB_DIR}/zstd.h" "${LZ4_LIB_DIR}/lz4.h" "${XXHASH_DIR}/xxhash.h")
  if(NOT EXISTS "${f}")
    message(FATAL_ERROR "modelcache: expected third-party source ${f} is missing")
  endif()
endforeach()

file(GLOB ZSTD_SOURCES
  "${ZSTD_LIB_DIR}/common/*.c"
  "${ZSTD_LIB_DIR}/compress/*.c"
  "${ZSTD_LIB_DIR}/decompress/*.c")
set(ZSTD_DEFS ZSTD_MULTITHREAD=0 ZSTD_LEGACY_SUPPORT=0 XXH_NAMESPACE=ZSTD_)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64" AND NOT WIN32 AND NOT MODELCACHE_NO_ASM)
  enable_language(ASM)
  list(APPEND ZSTD_SOURCES "${ZSTD_LIB_DIR}/decompress/huf_decompress_amd64.S")
else()
  list(APPEND ZSTD_DEFS ZSTD_DISABLE_ASM=1)
endif()
add_library(mc_zstd STATIC ${ZSTD_SOURCES})
target_include_directories(mc_zstd SYSTEM PUBLIC "${ZSTD_LIB_DIR}")
target_compile_definitions(mc_zstd PRIVATE ${ZSTD_DEFS})
set_target_properties(mc_zstd PROPERTIES POSITION_INDEPENDENT_CODE ON C_VISIBILITY_PRESET hidden)

add_library(mc_lz4 STATIC "${LZ4_LIB_DIR}/lz4.c" "${LZ4_LIB_DIR}/lz4hc.c")
target_include_directories(mc_lz4 SYSTEM PUBLIC "${LZ4_LIB_DIR}")
set_target_properties(mc_lz4 PROPERTIES POSITION_INDEPENDENT_CODE ON C_VISIBILITY_PRESET hidden)

# xxHash is used header-only (XXH_INLINE_ALL in native/core/hash.cc), plus, on x86-64, its
# run-time dispatcher (SSE2 / AVX2 / AVX-512 chosen by cpuid at load), as xxhash-addon builds it.
# Included as <xxHash/xxhash.h>: lz4 ships an older xxhash.h that must not shadow it.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64" AND NOT MSVC)
  add_library(mc_xxhash STATIC "${XXHASH_DIR}/xxh_x86dispatch.c")
  target_include_directories(mc_xxhash SYSTEM PUBLIC "${XXHASH_PKG}")
  target_compile_definitions(mc_xxhash PUBLIC MODELCACHE_XXH_DISPATCH=1)
  target_compile_options(mc_xxhash PRIVATE $<$<NOT:$<CONFIG:Debug>>:-O3>)
  set_target_properties(mc_xxhash PROPERTIES POSITION_INDEPENDENT_CODE ON C_VISIBILITY_PRESET hidden)
else()
  add_library(mc_xxhash INTERFACE)
  target_include_directories(mc_xxhash SYSTEM INTERFACE "${XXHASH_PKG}")
endif()

# Release-grade optimisation for third-party code even in sanitizer/debug builds of our own.
foreach(t mc_zstd mc_lz4)
  target_compile_options(${t} PRIVATE $<$<NOT:$<CONFIG:Debug>>:-O3>)
endforeach()
