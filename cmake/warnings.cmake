# One place for the flags every mtlsd target is built with.
add_library(mtlsd_build_flags INTERFACE)
target_compile_options(mtlsd_build_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow
  -Woverloaded-virtual -Wimplicit-fallthrough
  $<$<BOOL:${MTLSD_WERROR}>:-Werror>)
# Boost.Asio: use std::chrono/coroutines, no deprecated interfaces.
target_compile_definitions(mtlsd_build_flags INTERFACE
  BOOST_ASIO_NO_DEPRECATED
  OPENSSL_API_COMPAT=30000
  OPENSSL_NO_DEPRECATED)

if(MTLSD_SANITIZE)
  target_compile_options(mtlsd_build_flags INTERFACE
    -fsanitize=${MTLSD_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(mtlsd_build_flags INTERFACE -fsanitize=${MTLSD_SANITIZE})
  # GCC 12's flow analysis misfires under sanitizer instrumentation (inside
  # <regex>/std::function, and on Asio coroutine frames, which are freed by the
  # promise's own operator delete); the release build keeps both as errors.
  target_compile_options(mtlsd_build_flags INTERFACE -Wno-maybe-uninitialized -Wno-mismatched-new-delete)
  # TSan cannot model the standalone fences Asio's scheduler uses, and GCC says
  # so at every use; the accesses around them are still instrumented.
  if(MTLSD_SANITIZE MATCHES "thread")
    target_compile_options(mtlsd_build_flags INTERFACE -Wno-tsan)
  endif()
endif()
