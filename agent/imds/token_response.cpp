// SPDX-License-Identifier: Apache-2.0
#include "agent/imds/token_response.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>

#include "agent/imds/imds_errors.h"  // kJsonContentType

namespace podid::agent::imds {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

void append_number(std::string& out, long long n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), n);
  out.append(buf, end);
}

// `"key":"` ... `"` with a comma before every key but the first.
void append_string_field(std::string& out, std::string_view key, std::string_view value) {
  out += out.size() == 1 ? "\"" : ",\"";
  out += key;
  out += "\":\"";
  append_json_escaped(out, value);
  out += '"';
}

void append_number_field(std::string& out, std::string_view key, long long value) {
  out += out.size() == 1 ? "\"" : ",\"";
  out += key;
  out += "\":\"";
  append_number(out, value);
  out += '"';
}

// True when none of the 8 bytes at p needs escaping (no byte < 0x20, no '"', no '\\'): the word-at-a-time
// tests of "Bit Twiddling Hacks" (hasless / haszero). A ~1 KB token is scanned 8 bytes per step.
bool plain8(const char* p) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  auto has_less = [&](uint64_t x, uint64_t n) { return ((x - kOnes * n) & ~x & kHigh) != 0; };
  auto has_byte = [&](uint64_t b) { uint64_t x = v ^ (kOnes * b); return ((x - kOnes) & ~x & kHigh) != 0; };
  return !has_less(v, 0x20) && !has_byte('"') && !has_byte('\\');
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t clean = 0;  // copy runs of plain bytes at once
  for (size_t i = 0; i < s.size(); ++i) {
    while (i + 8 <= s.size() && plain8(s.data() + i)) i += 8;
    if (i >= s.size()) break;
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + clean, i - clean);
    clean = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
  }
  out.append(s.data() + clean, s.size() - clean);
}

std::string token_response_body(const AccessToken& token, system_clock::time_point now) {
  long long expires_on = epoch_seconds(token.expires_on);
  long long expires_in = std::max(0LL, expires_on - epoch_seconds(now));
  long long ext_expires_in = expires_in;
  if (token.ext_expires_in.count() > 0) {
    long long ext_until = epoch_seconds(token.issued_at) + token.ext_expires_in.count();
    ext_expires_in = std::max(expires_in, ext_until - epoch_seconds(now));
  }

  std::string out;
  // Fixed text is ~170 bytes and each number at most 20; escaping rarely adds anything.
  out.reserve(256 + token.access_token.size() + token.resource.size() + token.token_type.size() +
              token.client_id.size());
  out += '{';
  append_string_field(out, "access_token", token.access_token);
  append_string_field(out, "refresh_token", "");
  append_number_field(out, "expires_in", expires_in);
  append_number_field(out, "expires_on", expires_on);
  append_number_field(out, "ext_expires_in", ext_expires_in);
  append_number_field(out, "not_before", epoch_seconds(token.not_before));
  append_string_field(out, "resource", token.resource);
  append_string_field(out, "token_type", token.token_type.empty() ? std::string_view{"Bearer"} : token.token_type);
  append_string_field(out, "client_id", token.client_id);
  out += '}';
  return out;
}

http::Response token_response(const http::Request& req, const AccessToken& token, system_clock::time_point now) {
  return http::text_response(req, http::Status::ok, token_response_body(token, now), std::string(kJsonContentType));
}

long long epoch_seconds(system_clock::time_point t) {
  return std::chrono::floor<seconds>(t.time_since_epoch()).count();
}

}  // namespace podid::agent::imds
