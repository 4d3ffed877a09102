// SPDX-License-Identifier: Apache-2.0
//
// IMDS path classification (agent/imds/imds_paths.h) on any request target. Input: the target.
//
// Properties, checked against a plain reading of the rules rather than the code's own helpers:
//   - kToken exactly when the path (query dropped) is `/metadata/identity/oauth2/token`, `metadata` in any
//     case, with at most one trailing `/`;
//   - nothing classified kOther normalizes to a path that still reads identity, oauth2, token in that order
//     (such a path could reach the real IMDS's token endpoint if relayed), nor to one under /metadata/identity
//     but for exactly `/metadata/identity/info` (MSI v2's issuecredential would issue a credential for the node);
//   - kIdentityNotServed exactly for the rest of /metadata/identity as normalized;
//   - normalize_path always answers an absolute path, and is_instance_metadata agrees with it.
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/imds/imds_paths.h"
#include "fuzz_check.h"

namespace {

using namespace podid::agent::imds;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool is_exactly_token_path(std::string_view path) {
  if (path.size() == 32 && path.back() == '/') path.remove_suffix(1);
  return path.size() == 31 && lower(path.substr(0, 9)) == "/metadata" && path.substr(9) == "/identity/oauth2/token";
}

bool reads_as_token_path(std::string_view path) {
  size_t at = path.find("identity");
  if (at == std::string_view::npos) return false;
  at = path.find("oauth2", at + 8);
  return at != std::string_view::npos && path.find("token", at + 6) != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view target(reinterpret_cast<const char*>(data), size);
  std::string_view path = target.substr(0, target.find('?'));
  PathKind kind = classify_path(target);
  std::string normalized = normalize_path(target);

  FUZZ_CHECK((kind == PathKind::kToken) == is_exactly_token_path(path), "kToken is not exactly the token path");
  FUZZ_CHECK(!normalized.empty() && normalized.front() == '/', "normalize_path answered a relative path");
  bool identity_category = normalized == "/metadata/identity" || normalized.starts_with("/metadata/identity/");
  if (kind == PathKind::kOther) {
    FUZZ_CHECK(!reads_as_token_path(normalized), "a path that normalizes to the token path was classified kOther");
    FUZZ_CHECK(!identity_category || path == "/metadata/identity/info",
               "a path under /metadata/identity other than /info was classified kOther");
  }
  if (kind == PathKind::kIdentityNotServed) {
    FUZZ_CHECK(identity_category && path != "/metadata/identity/info" && !reads_as_token_path(normalized),
               "kIdentityNotServed for a path outside the identity category, or for /info or the token");
  }
  FUZZ_CHECK(is_instance_metadata(target) == normalized.starts_with("/metadata/instance"),
             "is_instance_metadata disagrees with normalize_path");
  FUZZ_CHECK(path_of(target) == path, "path_of kept part of the query");
  return 0;
}
