# SPDX-License-Identifier: Apache-2.0
#
# Fuzz targets (tests/fuzz). Each target is one source defining LLVMFuzzerTestOneInput, built one of two ways:
#
#   - PODID_FUZZ=ON, a clang build (scripts/fuzz configures it from cmake/fuzz-build.cmake): a libFuzzer binary
#     `fuzz-<name>` (-fsanitize=fuzzer, everything built with ASan + UBSan). The target `podid-fuzzers` builds
#     them all.
#   - otherwise, the normal build: the same source linked with a small driver that runs every file of the
#     target's corpus through it once, registered as the ctest `fuzz_replay.<name>` (KIND unit): CI replays every
#     corpus, crash inputs included, in seconds.
#
# podid_add_fuzzer(<name> COMPONENT <component> SOURCES <...> [LIBS <...>])
#   The corpus is tests/fuzz/corpus/<name>/.

option(PODID_FUZZ "Build the libFuzzer targets of tests/fuzz (a clang build with sanitizers; see scripts/fuzz)" OFF)

set(PODID_FUZZ_CORPUS_DIR ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus)

if(PODID_FUZZ AND NOT TARGET podid-fuzzers)
  add_custom_target(podid-fuzzers)
endif()

function(podid_add_fuzzer name)
  cmake_parse_arguments(F "" "COMPONENT" "SOURCES;LIBS" ${ARGN})
  _podid_check_labels(unit "${F_COMPONENT}")
  set(target fuzz-${name})
  set(corpus ${PODID_FUZZ_CORPUS_DIR}/${name})
  if(NOT IS_DIRECTORY ${corpus})
    message(FATAL_ERROR "podid_add_fuzzer(${name}): no seed corpus at ${corpus}")
  endif()
  add_executable(${target} ${F_SOURCES})
  target_link_libraries(${target} PRIVATE podid_fuzz_support ${F_LIBS})
  if(PODID_FUZZ)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
    add_dependencies(podid-fuzzers ${target})
  else()
    target_sources(${target} PRIVATE ${PROJECT_SOURCE_DIR}/tests/fuzz/support/replay_main.cpp)
    add_test(NAME fuzz_replay.${name} COMMAND ${target} ${corpus})
    set_tests_properties(fuzz_replay.${name} PROPERTIES LABELS "unit;${F_COMPONENT}" TIMEOUT 120)
  endif()
endfunction()
