// SPDX-License-Identifier: Apache-2.0
#include "cli/findings.h"

#include <algorithm>
#include <tuple>

namespace podid::cli {

const char* to_string(Severity severity) {
  switch (severity) {
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kError:
      return "error";
  }
  return "?";
}

void sort_findings(std::vector<Finding>& findings) {
  std::stable_sort(findings.begin(), findings.end(), [](const Finding& a, const Finding& b) {
    return std::tuple(-static_cast<int>(a.severity), a.object, a.code) <
           std::tuple(-static_cast<int>(b.severity), b.object, b.code);
  });
}

int exit_status(const std::vector<Finding>& findings) {
  for (const Finding& f : findings) {
    if (f.severity != Severity::kInfo) return 1;
  }
  return 0;
}

}  // namespace podid::cli
