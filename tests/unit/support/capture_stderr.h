// SPDX-License-Identifier: Apache-2.0
//
// What a piece of code writes to stderr (podid::log's lines, the audit), for tests: runs fn with stderr redirected
// into a pipe and returns what was written. Keep what fn writes under the pipe's capacity (64 KiB).
#pragma once

#include <unistd.h>

#include <string>

namespace podid::testing_support {

template <class F>
std::string capture_stderr(F fn) {
  int fds[2];
  if (::pipe(fds) != 0) return "<pipe failed>";
  int saved = ::dup(STDERR_FILENO);
  ::dup2(fds[1], STDERR_FILENO);
  fn();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  return out;
}

}  // namespace podid::testing_support
