// SPDX-License-Identifier: Apache-2.0
//
// Output of doctor and explain: for a person (a table; colour when writing to a terminal and NO_COLOR is unset)
// or `-o json` for tools (one JSON document on stdout, fields named as in docs/doctor.md). Pure: text in, text
// out; the caller decides colour.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "cli/explain.h"
#include "cli/findings.h"

namespace podid::cli {

// What a doctor run looked at and how many calls it took (the bounds of docs/doctor.md).
struct RunSummary {
  size_t identities = 0, bindings = 0, pods = 0, nodes = 0;
  bool arm_checked = false;
  std::string arm_skipped_because;            // when !arm_checked
  std::map<std::string, unsigned> arm_calls;  // by operation
};

std::string render_findings_table(const std::vector<Finding>& findings, const RunSummary& summary, bool colour);
std::string render_findings_json(const std::vector<Finding>& findings, const RunSummary& summary);

std::string render_explanation_text(const Explanation& e, bool colour);
std::string render_explanation_json(const Explanation& e);

}  // namespace podid::cli
