# ASan + UBSan for the whole build when LIAISON_SANITIZE is on (scripts/test builds a second tree).
if(LIAISON_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()
