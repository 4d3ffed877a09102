# SPDX-License-Identifier: Apache-2.0
#
# Initial cache of the fuzz build (scripts/fuzz: cmake -C cmake/fuzz-build.cmake -S . -B build-fuzz): Debian's
# clang 14, every object built with ASan + UBSan and libFuzzer's coverage, the fuzz targets turned on.
#
# -fno-sanitize=function: clang 14 cannot emit UBSan's function-type check for coroutines (the .resume and
# .destroy parts of a split coroutine end in "error: Cannot represent a difference across sections"), and the
# code base is coroutines throughout. The check only concerns calls through a function pointer of the wrong
# type, which C++ code here never casts. Every other UBSan check stays on and aborts.

set(CMAKE_C_COMPILER clang-14 CACHE STRING "")
set(CMAKE_CXX_COMPILER clang++-14 CACHE STRING "")
set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "")
set(PODID_FUZZ_SANITIZERS
    "-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize=function -fno-sanitize-recover=undefined -fno-omit-frame-pointer")
set(CMAKE_C_FLAGS "${PODID_FUZZ_SANITIZERS}" CACHE STRING "")
set(CMAKE_CXX_FLAGS "${PODID_FUZZ_SANITIZERS}" CACHE STRING "")
set(CMAKE_C_FLAGS_RELWITHDEBINFO "-O2 -gline-tables-only -DNDEBUG" CACHE STRING "")
set(CMAKE_CXX_FLAGS_RELWITHDEBINFO "-O2 -gline-tables-only -DNDEBUG" CACHE STRING "")
set(PODID_FUZZ ON CACHE BOOL "")
