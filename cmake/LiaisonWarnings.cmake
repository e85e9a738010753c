# Warnings for liaison's own targets only (third-party headers are included as SYSTEM).
function(liaison_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align -Woverloaded-virtual
                                           -Wnull-dereference -Wimplicit-fallthrough)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 reports std::optional<T> members as maybe-uninitialized at -O2 (GCC bug 80635):
    # false positives only; -Wuninitialized stays on.
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
    # GCC 12 at -O3 reports std::string's operator+ ("x" + std::string(…)) as overlapping
    # memcpy (GCC bug 105329): false positives in libstdc++'s own code.
    target_compile_options(${target} PRIVATE -Wno-restrict)
    # In test programs, GoogleTest assertions over std::variant/std::get_if trip GCC 12's
    # -Wnull-dereference at -O3 (false positives); the product code keeps the warning.
    if(target MATCHES "_tests$|^liaison_test_support$")
      target_compile_options(${target} PRIVATE -Wno-null-dereference)
    endif()
  endif()
  if(LIAISON_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
