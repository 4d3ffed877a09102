// SPDX-License-Identifier: Apache-2.0
//
// The decoders of bytes from outside (common/encoding): base64 (Secret data, kubeconfig *-data), base64url (JWT
// segments, and the `oid` claim the agent reads from an upstream's token, podid/azure/jwt_claims.h), and the
// percent-encoder of values sent upstream. Input: any bytes, used as text to decode and as data to encode.
//
// Properties: encoding then decoding gives the bytes back (both alphabets); what decodes re-encodes to text of
// the same length class; percent-encoding leaves only unreserved characters and %XX; reading a claim never
// throws.
#include <cstdint>
#include <string>
#include <string_view>

#include "podid/azure/jwt_claims.h"
#include "fuzz_check.h"
#include "podid/encoding/base64.h"
#include "podid/encoding/percent.h"

using namespace podid::encoding;

namespace {
bool upper_hex(char h) { return (h >= '0' && h <= '9') || (h >= 'A' && h <= 'F'); }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);

  FUZZ_CHECK(base64_decode(base64_encode(bytes)) == std::string(bytes), "base64 does not round-trip");
  FUZZ_CHECK(base64url_decode(base64url_encode(bytes)) == std::string(bytes), "base64url does not round-trip");
  if (auto decoded = base64_decode(bytes)) {
    FUZZ_CHECK(base64_encode(*decoded).size() == bytes.size(), "base64 decoded to a length it cannot encode from");
  }
  if (auto decoded = base64url_decode(bytes)) {
    FUZZ_CHECK(decoded->size() <= bytes.size(), "base64url decoded to more bytes than it read");
  }

  std::string encoded = percent_encode(bytes);
  for (size_t i = 0; i < encoded.size(); ++i) {
    char c = encoded[i];
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_' || c == '~';
    if (c == '%') {
      FUZZ_CHECK(i + 2 < encoded.size() && upper_hex(encoded[i + 1]) && upper_hex(encoded[i + 2]),
                 "a malformed escape");
      i += 2;
      continue;
    }
    FUZZ_CHECK(unreserved, "percent_encode left a reserved character");
  }

  if (auto oid = podid::azure::unverified_jwt_claim(bytes, "oid")) {
    FUZZ_CHECK(bytes.find('.') != std::string_view::npos, "a claim read from text that is no JWT");
  }
  return 0;
}
