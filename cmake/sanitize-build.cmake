# SPDX-License-Identifier: Apache-2.0
#
# Initial cache of the sanitized build (scripts/test-sanitized: cmake -C cmake/sanitize-build.cmake -S . -B
# build-asan): the project's own compiler (g++ 12) with AddressSanitizer and UndefinedBehaviorSanitizer on every
# object, a finding fatal (-fno-sanitize-recover), -O1 so that it builds quickly and reports precisely. The unit
# tests and the fuzz corpora's replays run on it.
set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "")
set(PODID_SANITIZERS "-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer")
set(CMAKE_C_FLAGS "${PODID_SANITIZERS}" CACHE STRING "")
set(CMAKE_CXX_FLAGS "${PODID_SANITIZERS}" CACHE STRING "")
set(CMAKE_C_FLAGS_RELWITHDEBINFO "-O1 -g1 -DNDEBUG" CACHE STRING "")
set(CMAKE_CXX_FLAGS_RELWITHDEBINFO "-O1 -g1 -DNDEBUG" CACHE STRING "")
set(CMAKE_EXE_LINKER_FLAGS "${PODID_SANITIZERS}" CACHE STRING "")
