# Warnings for liaison's own targets only (third-party headers are included as SYSTEM).
function(liaison_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align -Woverloaded-virtual
                                           -Wnull-dereference -Wimplicit-fallthrough)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 reports std::optional<T> members as maybe-uninitialized at -O2 (GCC bug 80635):
    # false positives only; -Wuninitialized stays on.
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
  endif()
  if(LIAISON_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
