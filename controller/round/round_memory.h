// SPDX-License-Identifier: Apache-2.0
//
// What rounds learn and later rounds (and the controller's queueing decision) use. Owned by the Controller,
// touched only from its io_context thread; a round reads it when it interprets its result and updates it as
// round_interpretation.h says.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "controller/arm/resource_id.h"

namespace podid::controller {

struct RoundMemory {
  // Per compute key: the desired identity ids (canonical keys) the last completed round converged to.
  std::map<std::string, std::vector<std::string>, std::less<>> applied;
  // Computes the ledger names (also those no node is on any more), by key.
  std::map<std::string, arm::ResourceId, std::less<>> ledger_computes;
  // When each desired AAI ("ns/name") was first seen needed, for the assignment latency metric.
  std::map<std::string, std::chrono::steady_clock::time_point, std::less<>> first_needed;
  // Per identity ("ns/name") and compute key: why the last round there left it unassigned ("reason\nmessage").
  std::map<std::string, std::map<std::string, std::string>, std::less<>> identity_errors;
  // The last "Assigned" condition written per object ("<kind>/ns/name"), with the resourceVersion the object had
  // then: while the cache still shows that version, the write has not come back yet and is not repeated.
  struct WrittenCondition {
    std::string resource_version;
    std::string condition;  // status, reason, message
    bool operator==(const WrittenCondition&) const = default;
  };
  std::map<std::string, WrittenCondition, std::less<>> conditions_written;
};

// Canonical keys of a list of ids, sorted and unique (what RoundMemory::applied holds).
std::vector<std::string> canonical_set(const std::vector<std::string>& ids);

}  // namespace podid::controller
