// SPDX-License-Identifier: Apache-2.0
//
// FUZZ_CHECK: a property every input must keep (nothing served that should not be, nothing relayed that must
// not be, limits held). A violation aborts with the property's text, which libFuzzer reports as a crash and
// saves the input; in the replay build it fails the ctest.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace podid::fuzz {

[[noreturn]] inline void check_failed(const char* condition, const char* why, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: fuzz property violated: %s\n  (%s)\n", file, line, why, condition);
  std::abort();
}

}  // namespace podid::fuzz

#define FUZZ_CHECK(condition, why) \
  ((condition) ? static_cast<void>(0) : ::podid::fuzz::check_failed(#condition, why, __FILE__, __LINE__))
