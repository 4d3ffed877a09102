// SPDX-License-Identifier: Apache-2.0
//
// bench-audit-line: what the agent's audit line costs, one per token decision. Writes --lines audit lines
// (agent/serve/audit.h, the fields of a served cached token) to --out, a file opened for appending as a log
// file is, and then the same number of write(2)s of a line of the same length, with no formatting (what any
// log line costs the kernel, nginx's access log included). Prints one JSON line: CPU nanoseconds per line
// (this process's user + system time), for both, side by side.
//
// usage: bench-audit-line --out FILE [--lines N]
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agent/serve/audit.h"

namespace {

long long cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<long long>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out;
  long lines = 200'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view flag = argv[i];
    if (flag == "--out") out = argv[i + 1];
    else if (flag == "--lines") lines = std::atol(argv[i + 1]);
  }
  if (out.empty() || lines <= 0) {
    std::fprintf(stderr, "usage: bench-audit-line --out FILE [--lines N]\n");
    return 2;
  }
  int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0600);
  if (fd < 0) {
    std::perror(out.c_str());
    return 1;
  }
  int saved = ::dup(STDERR_FILENO);
  ::dup2(fd, STDERR_FILENO);

  const podid::agent::TokenDecision decision{
      .ns = "shop", .pod = "web-7d9f8c6b5-x2x4k", .cgroup_id = 48213, .client_id = "2f1c2a0e-6b1d-4e8b-9d3a-0c1e2f3a4b5c",
      .resource = "https://vault.azure.net", .decision = "served", .reason = "bound", .source = "cache", .status = 200,
      .latency = std::chrono::microseconds(38)};
  long long start = cpu_ns();
  for (long i = 0; i < lines; ++i) podid::agent::audit_token_decision(decision);
  long long audited = cpu_ns() - start;
  off_t bytes = ::lseek(fd, 0, SEEK_END);

  std::string same_length(static_cast<size_t>(bytes / lines), 'x');
  same_length.back() = '\n';
  start = cpu_ns();
  for (long i = 0; i < lines; ++i) {
    if (::write(STDERR_FILENO, same_length.data(), same_length.size()) < 0) return 1;
  }
  long long written = cpu_ns() - start;

  ::dup2(saved, STDERR_FILENO);
  ::close(fd);
  ::unlink(out.c_str());
  std::printf("{\"lines\":%ld,\"line_bytes\":%zu,\"audit_ns_per_line\":%.0f,\"write_only_ns_per_line\":%.0f}\n", lines,
              same_length.size(), static_cast<double>(audited) / lines, static_cast<double>(written) / lines);
  return 0;
}
