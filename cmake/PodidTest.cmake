# SPDX-License-Identifier: Apache-2.0
#
# Test registration. Every test carries two labels: a kind (unit, bpf, e2e, real-client) and a component
# (agent, controller, cli, harness, deploy), so `ctest -L bpf` or `ctest -L agent` selects a slice. The fuzz
# corpora replays (podid_add_fuzzer, PodidFuzz.cmake) are checked against the same lists.
#
# Privileged tests (bpf, e2e, and the few unit tests that need root, such as the cgroup2 ones) skip with a clear
# message when not root: GTEST_SKIP (ctest reports it as skipped), pytest.skip through
# tests/harness/podid_harness/privileged.py, or exit code 77 from scripts/in-isolated-netns (SKIP_RETURN_CODE).
# CI sets PODID_REQUIRE_PRIVILEGED=1, which makes each of them fail instead, and scripts/test then also fails a
# run in which ctest reports any test skipped.

include(GoogleTest)

set(PODID_KINDS unit bpf e2e real-client)
set(PODID_COMPONENTS agent controller cli harness deploy)

function(_podid_check_labels kind component)
  if(NOT kind IN_LIST PODID_KINDS)
    message(FATAL_ERROR "podid test: KIND '${kind}' is not one of ${PODID_KINDS}")
  endif()
  if(NOT component IN_LIST PODID_COMPONENTS)
    message(FATAL_ERROR "podid test: COMPONENT '${component}' is not one of ${PODID_COMPONENTS}")
  endif()
endfunction()

# podid_add_test(<target> KIND <kind> COMPONENT <component> SOURCES <...> [LIBS <...>])
#   A GoogleTest binary; each TEST becomes its own ctest entry.
function(podid_add_test target)
  cmake_parse_arguments(T "" "KIND;COMPONENT" "SOURCES;LIBS" ${ARGN})
  _podid_check_labels("${T_KIND}" "${T_COMPONENT}")
  add_executable(${target} ${T_SOURCES})
  target_link_libraries(${target} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${target}
    DISCOVERY_MODE PRE_TEST
    TEST_LIST ${target}_TESTS
    PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
  # gtest_discover_tests (CMake 3.25) splits list-valued PROPERTIES, so the two labels are set after
  # discovery, from an include file ctest runs once the test list is known.
  set(labels_file ${CMAKE_CURRENT_BINARY_DIR}/${target}_labels.cmake)
  file(WRITE ${labels_file}
    "if(${target}_TESTS)\n  set_tests_properties(\${${target}_TESTS} PROPERTIES LABELS \"${T_KIND};${T_COMPONENT}\")\nendif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${labels_file})
endfunction()

# podid_add_pytest(<name> KIND <kind> COMPONENT <component> PATH <dir-or-file>... [ISOLATED_NETNS] [TIMEOUT s]
#                  [ARGS <pytest args>...] [ENV <k=v>...])
#   One ctest entry running `/usr/bin/python3 -m pytest PATH...`, one session for every PATH (Debian's python,
#   which has python3-pytest and friends; the pyenv python3 on PATH does not). ISOLATED_NETNS runs the session
#   in a fresh network namespace holding only loopback, so a client that ignores its endpoint settings can reach
#   nothing off this process tree, least of all the real 169.254.169.254.
function(podid_add_pytest name)
  cmake_parse_arguments(T "ISOLATED_NETNS" "KIND;COMPONENT;TIMEOUT" "PATH;ARGS;ENV" ${ARGN})
  _podid_check_labels("${T_KIND}" "${T_COMPONENT}")
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  set(cmd /usr/bin/python3 -m pytest -q -p no:cacheprovider -rs ${T_ARGS} ${T_PATH})
  if(T_ISOLATED_NETNS)
    set(cmd ${PROJECT_SOURCE_DIR}/scripts/in-isolated-netns ${cmd})
  endif()
  add_test(NAME ${name} COMMAND ${cmd} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES
    LABELS "${T_KIND};${T_COMPONENT}"
    SKIP_RETURN_CODE 77
    TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "PYTHONPATH=${PROJECT_SOURCE_DIR}/tests/harness;PODID_BUILD_DIR=${PROJECT_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1;${T_ENV}")
endfunction()
