// SPDX-License-Identifier: Apache-2.0
#include "podid/startup.h"

#include <iostream>

#include "podid/log.h"

namespace podid {

int refuse_start(std::string_view program, const std::string& why, nlohmann::json fields) {
  fields["reason"] = why;
  log::error(std::string(program) + " cannot start", fields);
  std::cerr << program << ": " << why << "\n";
  return 1;
}

}  // namespace podid
