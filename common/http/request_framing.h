// SPDX-License-Identifier: Apache-2.0
//
// RFC 9112 checks on a request header, made before its body is read. Pure functions: the server's read loop
// calls them, and tests call them without sockets.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "podid/http/server.h"

namespace podid::http::detail {

// Why the server refuses a request on its own, and with what status (the connection then closes).
struct Refusal {
  std::string_view reason;  // a metric label: "bad_host", "bad_transfer_encoding", ...
  Status status;
};

// Refuses what RFC 9112 says a server must not serve:
//   - HTTP/1.1 without exactly one Host, or any version with several (§3.2);
//   - a Transfer-Encoding that is not a lone `chunked`, which would leave the body's length unknown and the
//     next request read from the body (§6.3), or that comes with Content-Length (a smuggling shape), or on
//     HTTP/1.0 (§6.1).
std::optional<Refusal> check_request_framing(const Request& header);

// The origin form of an absolute-form target (RFC 9112 §3.2.2: a server must accept it):
// "http://169.254.169.254/metadata/x?y" -> "/metadata/x?y", "http://host?q" -> "/?q", "http://host" -> "/".
// Any other target is returned unchanged.
std::string origin_form(std::string_view target);

}  // namespace podid::http::detail
