// SPDX-License-Identifier: Apache-2.0
#include "podid/encoding/jwt_claims.h"

#include <nlohmann/json.hpp>

#include "podid/encoding/base64.h"

namespace podid::encoding {

std::optional<std::string> unverified_jwt_claim(std::string_view jwt, std::string_view claim) {
  auto first = jwt.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  auto second = jwt.find('.', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  auto payload = base64url_decode(jwt.substr(first + 1, second - first - 1));
  if (!payload) return std::nullopt;
  auto claims = nlohmann::json::parse(*payload, nullptr, /*allow_exceptions=*/false);
  if (!claims.is_object()) return std::nullopt;
  auto it = claims.find(claim);
  if (it == claims.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace podid::encoding
