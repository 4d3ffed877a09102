// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <cctype>
#include <charconv>

#include "podid/http/client.h"
#include "podid/error.h"

namespace podid::http {
namespace {

Error invalid(std::string_view text, std::string_view why) {
  return invalid_argument("invalid URL \"" + std::string(text) + "\": " + std::string(why));
}

uint16_t default_port(std::string_view scheme) { return scheme == "https" ? 443 : 80; }

}  // namespace

Result<Url> Url::parse(std::string_view text) {
  // Bytes that could split a request line or a header (CR, LF, space) never reach the wire from here.
  if (std::any_of(text.begin(), text.end(), [](unsigned char c) { return c <= 0x20 || c == 0x7f; })) {
    return invalid(text, "control character or space");
  }
  if (text.find('#') != std::string_view::npos) return invalid(text, "fragments are not supported");
  auto sep = text.find("://");
  if (sep == std::string_view::npos) return invalid(text, "no scheme");
  Url url;
  url.scheme = std::string(text.substr(0, sep));
  std::transform(url.scheme.begin(), url.scheme.end(), url.scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (url.scheme != "http" && url.scheme != "https") return invalid(text, "scheme is not http or https");

  std::string_view rest = text.substr(sep + 3);
  auto authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view target = authority_end == std::string_view::npos ? "" : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) return invalid(text, "userinfo is not supported");

  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return invalid(text, "unclosed '['");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid(text, "junk after ']'");
      port_text = after.substr(1);
      if (port_text.empty()) return invalid(text, "empty port");
    }
  } else {
    auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return invalid(text, "empty port");
    }
  }
  if (url.host.empty()) return invalid(text, "empty host");

  url.port = default_port(url.scheme);
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      return invalid(text, "bad port");
    }
    url.port = static_cast<uint16_t>(value);
  }

  if (target.empty()) {
    url.target = "/";
  } else if (target.front() == '?') {
    url.target = "/" + std::string(target);
  } else {
    url.target = std::string(target);
  }
  return url;
}

Url Url::with_target(std::string target) const {
  Url copy = *this;
  copy.target = target.empty() || target.front() != '/' ? "/" + target : std::move(target);
  return copy;
}

std::string Url::host_header() const {
  std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != default_port(scheme)) out += ":" + std::to_string(port);
  return out;
}

std::string Url::to_string() const { return scheme + "://" + host_header() + target; }

}  // namespace podid::http
