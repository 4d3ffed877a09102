// SPDX-License-Identifier: Apache-2.0
#include "agent/imds/imds_paths.h"

#include <vector>

#include "podid/ascii.h"

namespace podid::agent::imds {
namespace {

constexpr std::string_view kTokenTail = "/identity/oauth2/token";
// The one identity-category path other than the token that may be relayed (exactly so: tenant id only).
constexpr std::string_view kIdentityInfo = "/metadata/identity/info";
// Double encoding (`%2574`) needs two rounds; more rounds cost nothing and leave no margin to an attacker.
constexpr int kMaxDecodeRounds = 4;

void append_utf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// One round of `%XX` and IIS-style `%uXXXX` decoding; an escape that is not one stays as it is.
std::string decode_once(std::string_view in, bool& changed) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      int hi = ascii::hex_value(in[i + 1]);
      int lo = ascii::hex_value(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        changed = true;
        continue;
      }
    }
    if (in[i] == '%' && i + 5 < in.size() && (in[i + 1] == 'u' || in[i + 1] == 'U')) {
      unsigned cp = 0;
      bool ok = true;
      for (size_t k = 2; k < 6; ++k) {
        int v = ascii::hex_value(in[i + k]);
        if (v < 0) ok = false;
        cp = cp * 16 + static_cast<unsigned>(v < 0 ? 0 : v);
      }
      if (ok) {
        append_utf8(out, cp);
        i += 5;
        changed = true;
        continue;
      }
    }
    out += in[i];
  }
  return out;
}

// Decoded (repeatedly), `\` as `/`, and every letter a case-insensitive or "best fit" comparison could take for
// an ASCII letter of the token path lowered to it: full-width forms (U+FF01..FF5E), dotless and dotted i
// (U+0131, U+0130: .NET's OrdinalIgnoreCase upper-cases `ı` to `I`), the Kelvin sign (U+212A lowers to `k`).
std::string fold(std::string_view path) {
  std::string decoded(path);
  for (int round = 0; round < kMaxDecodeRounds; ++round) {
    bool changed = false;
    decoded = decode_once(decoded, changed);
    if (!changed) break;
  }
  std::string out;
  out.reserve(decoded.size());
  auto byte = [&](size_t i) { return static_cast<unsigned char>(decoded[i]); };
  for (size_t i = 0; i < decoded.size(); ++i) {
    unsigned char c = byte(i);
    if (c == '\\') {
      out += '/';
    } else if (c < 0x80) {
      out += ascii::lower(static_cast<char>(c));
    } else if (c == 0xEF && i + 2 < decoded.size() && (byte(i + 1) == 0xBC || byte(i + 1) == 0xBD)) {
      unsigned cp = 0xF000 | ((byte(i + 1) & 0x3F) << 6) | (byte(i + 2) & 0x3F);
      if (cp >= 0xFF01 && cp <= 0xFF5E) {
        out += ascii::lower(static_cast<char>(0x21 + (cp - 0xFF01)));
        i += 2;
      } else {
        out += static_cast<char>(c);
      }
    } else if (c == 0xC4 && i + 1 < decoded.size() && (byte(i + 1) == 0xB0 || byte(i + 1) == 0xB1)) {
      out += 'i';
      i += 1;
    } else if (c == 0xE2 && i + 2 < decoded.size() && byte(i + 1) == 0x84 && byte(i + 2) == 0xAA) {
      out += 'k';
      i += 2;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// `identity`, then `oauth2`, then `token`, in that order, anywhere: NMI's
// `/(?i:metadata)/identity(.*?)oauth2(.*?)token`, widened to any prefix and any case, because a path like that
// that does not start with /metadata is not a legitimate request either.
bool resembles_token_path(std::string_view folded) {
  size_t at = folded.find("identity");
  if (at == std::string_view::npos) return false;
  at = folded.find("oauth2", at + 8);
  if (at == std::string_view::npos) return false;
  return folded.find("token", at + 6) != std::string_view::npos;
}

// RFC 3986 remove_dot_segments, plus empty segments dropped and `;params` cut from each segment.
std::string resolve_segments(std::string_view folded) {
  std::vector<std::string_view> stack;
  bool trailing_slash = false;
  size_t pos = 0;
  while (pos <= folded.size()) {
    size_t end = folded.find('/', pos);
    if (end == std::string_view::npos) end = folded.size();
    std::string_view segment = folded.substr(pos, end - pos);
    if (size_t semi = segment.find(';'); semi != std::string_view::npos) segment = segment.substr(0, semi);
    bool last = end == folded.size();
    if (segment == "..") {
      if (!stack.empty()) stack.pop_back();
      trailing_slash = true;
    } else if (segment == "." || segment.empty()) {
      trailing_slash = trailing_slash || (last && !stack.empty());
    } else {
      stack.push_back(segment);
      trailing_slash = false;
    }
    pos = end + 1;
  }
  std::string out;
  out.reserve(folded.size() + 1);
  for (auto segment : stack) {
    out += '/';
    out += segment;
  }
  if (out.empty() || trailing_slash) out += '/';
  return out;
}

// `/metadata/identity` itself or anything below it, as a lenient server would read the path.
bool is_identity_category(std::string_view resolved) {
  constexpr std::string_view kCategory = "/metadata/identity";
  return resolved.starts_with(kCategory) && (resolved.size() == kCategory.size() || resolved[kCategory.size()] == '/');
}

bool is_exact_token_path(std::string_view path) {
  if (path.size() == 1 + 8 + kTokenTail.size() + 1 && path.back() == '/') path.remove_suffix(1);
  return path.size() == 1 + 8 + kTokenTail.size() && path[0] == '/' && ascii::iequals(path.substr(1, 8), "metadata") &&
         path.substr(9) == kTokenTail;
}

}  // namespace

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

std::string normalize_path(std::string_view target) { return resolve_segments(fold(path_of(target))); }

PathKind classify_path(std::string_view target) {
  std::string_view path = path_of(target);
  if (is_exact_token_path(path)) return PathKind::kToken;
  std::string folded = fold(path);
  std::string resolved = resolve_segments(folded);
  if (resembles_token_path(folded) || resembles_token_path(resolved)) return PathKind::kMalformedToken;
  if (is_identity_category(resolved) && path != kIdentityInfo) return PathKind::kIdentityNotServed;
  return PathKind::kOther;
}

bool is_msi_v2_path(std::string_view target) {
  std::string resolved = normalize_path(target);
  return resolved.find("getplatformmetadata") != std::string::npos || resolved.find("issuecredential") != std::string::npos;
}

bool is_instance_metadata(std::string_view target) { return normalize_path(target).starts_with("/metadata/instance"); }

}  // namespace podid::agent::imds
