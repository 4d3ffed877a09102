// SPDX-License-Identifier: Apache-2.0
//
// What `podid doctor` reports: one Finding per problem, each with the object at fault, the cause in a sentence
// and the exact command that fixes it. Checks are pure functions returning findings (cluster_checks.h,
// arm_checks.h); output (render.h) and the exit status are decided from the list alone.
//
// Severity: kError = a pod will not get its identity (or a token will fail) until this is fixed; kWarning = it
// works today but by accident, or not the way its author meant; kInfo = worth knowing, nothing wrong (does not
// change the exit status).
#pragma once

#include <string>
#include <vector>

namespace podid::cli {

enum class Severity { kInfo, kWarning, kError };
const char* to_string(Severity severity);

struct Finding {
  Severity severity = Severity::kError;
  std::string code;    // stable CamelCase, for tools (`-o json`) and docs/doctor.md: "BindingIdentityMissing"
  std::string object;  // "AzureIdentityBinding shop/web", "Node aks-pool-vmss000000"
  std::string cause;   // what is wrong and what it does to pods
  std::string fix;     // the command(s) that fix it, one per line; "" when nothing is to be run
};

// Errors first, then warnings, then info; within one severity by object, then code. Stable for equal keys.
void sort_findings(std::vector<Finding>& findings);

// 0 when nothing is wrong (no warning, no error), 1 otherwise.
int exit_status(const std::vector<Finding>& findings);

}  // namespace podid::cli
