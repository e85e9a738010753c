# ASan + UBSan for the whole build when LIAISON_SANITIZE is on (scripts/test builds a second tree).
if(LIAISON_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()

# libFuzzer harnesses (fuzz/, LIAISON_BUILD_FUZZERS): the whole tree gets coverage instrumentation
# plus ASan + UBSan; only the harnesses link libFuzzer itself (fuzz/CMakeLists.txt). A tree of its
# own, built with clang (scripts/fuzz: build-fuzz), never the normal g++ one.
if(LIAISON_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "LIAISON_BUILD_FUZZERS needs clang (libFuzzer), not ${CMAKE_CXX_COMPILER_ID}: "
                        "configure a separate tree with CC=clang CXX=clang++, or run scripts/fuzz")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer -D_GLIBCXX_ASSERTIONS
                      -fsanitize-ignorelist=${PROJECT_SOURCE_DIR}/fuzz/rapidjson.ignorelist)
  add_link_options(-fsanitize=address,undefined)
endif()
