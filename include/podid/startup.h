// SPDX-License-Identifier: Apache-2.0
//
// How both binaries start and refuse to start. A refusal is one structured error line naming the reason (what
// a log pipeline sees) and the same reason on stderr for a person at a terminal (what `kubectl logs` of a
// crash-looping pod shows first); the process then exits 1.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace podid {

// Logs and prints why `program` cannot start; returns the exit status (1).
int refuse_start(std::string_view program, const std::string& why,
                 nlohmann::json fields = nlohmann::json::object());

}  // namespace podid
