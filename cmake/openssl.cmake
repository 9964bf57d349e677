# OpenSSL is the one inside Node: the addon compiles against Node's bundled OpenSSL headers and
# leaves the EVP symbols undefined, so they bind to the node process at load time. Where Node is
# built against a shared system OpenSSL, that library's headers are used instead (same ABI as Node).
# Standalone builds (C++ tests, fuzzers) have no node process, so they link the system libcrypto.

function(modelcache_openssl_for_addon target)
  execute_process(
    COMMAND "${MODELCACHE_NODE}" -p "const p=require('path');process.config.variables.node_shared_openssl?'':p.resolve(process.execPath,'..','..','include','node')"
    OUTPUT_VARIABLE node_inc OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(node_inc AND EXISTS "${node_inc}/openssl/evp.h")
    target_include_directories(${target} SYSTEM PRIVATE "${node_inc}")
    message(STATUS "modelcache: OpenSSL headers from Node at ${node_inc}")
  else()
    find_package(OpenSSL REQUIRED COMPONENTS Crypto)
    target_include_directories(${target} SYSTEM PRIVATE "${OPENSSL_INCLUDE_DIR}")
    message(STATUS "modelcache: OpenSSL headers from ${OPENSSL_INCLUDE_DIR} (Node uses a shared OpenSSL)")
  endif()
endfunction()

function(modelcache_openssl_standalone target)
  find_package(OpenSSL REQUIRED COMPONENTS Crypto)
  target_link_libraries(${target} PUBLIC OpenSSL::Crypto)
endfunction()
