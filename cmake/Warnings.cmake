# Project-wide warning and sanitizer flags, applied through an interface target so third-party
# code is not affected.
add_library(labdesk_warnings INTERFACE)
target_compile_options(labdesk_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough
  # Designated initializers that leave defaulted members out are intended (C++20 style).
  -Wno-missing-field-initializers)
if(LABDESK_WERROR)
  target_compile_options(labdesk_warnings INTERFACE -Werror)
endif()
if(LABDESK_FUZZ)
  # libFuzzer's coverage on our code; the fuzz binaries link -fsanitize=fuzzer (tests/fuzz).
  set(_fuzz -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_compile_options(labdesk_warnings INTERFACE ${_fuzz})
  target_link_options(labdesk_warnings INTERFACE -fsanitize=address,undefined)
endif()
if(LABDESK_SANITIZE)
  # GCC's "undefined" leaves out float-cast-overflow (clang's includes it): a double out of an
  # integer's range cast to it is undefined behaviour all the same (a JSON number did it once).
  set(_san -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer
      -fno-sanitize-recover=undefined,float-cast-overflow)
  target_compile_options(labdesk_warnings INTERFACE ${_san})
  target_link_options(labdesk_warnings INTERFACE ${_san})
endif()

# labdesk_component(NAME SOURCES...) declares a component library with the project's flags.
function(labdesk_library name)
  add_library(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE labdesk_warnings)
endfunction()
