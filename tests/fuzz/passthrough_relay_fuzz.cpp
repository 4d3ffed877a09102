// SPDX-License-Identifier: Apache-2.0
//
// The real IMDS's answer to a relayed request, read by the agent's HTTP client and relayed to the pod
// (agent/imds/passthrough.h relay_response). Input: ReadPlan seed (its low bit also picks the pod's HTTP
// version: even 1.1, odd 1.0), then the upstream's response bytes.
//
// Properties: what the pod receives parses as one complete HTTP response with the upstream's status and body
// (none for 1xx, 204, 304), a Content-Length that matches, and no hop-by-hop header of the upstream's
// connection (Transfer-Encoding, Keep-Alive, Upgrade, Trailer, TE, Proxy-*, nor one the upstream's Connection
// names).
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/imds/passthrough.h"
#include "fuzz_check.h"
#include "hop_by_hop.h"
#include "podid/ascii.h"
#include "read_response.h"

namespace {

namespace bhttp = boost::beast::http;
using podid::http::Request;
using podid::http::Response;

void check_relayed(const Response& upstream, const Request& from_pod, const std::string& wire) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.header_limit(UINT32_MAX);
  parser.body_limit(boost::none);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t used = parser.put(boost::asio::buffer(wire), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  FUZZ_CHECK(!ec && parser.is_done(), "the pod would receive a response it cannot parse");
  FUZZ_CHECK(used == wire.size() || ec, "the relayed response carries bytes after its end");
  const Response& got = parser.get();
  unsigned status = upstream.result_int();
  FUZZ_CHECK(got.result_int() == status, "the relayed status differs from the upstream's");
  FUZZ_CHECK(got.version() == from_pod.version(), "the relayed response is not in the pod's HTTP version");
  bool bodiless = status < 200 || status == 204 || status == 304;
  FUZZ_CHECK(got.body() == (bodiless ? std::string() : upstream.body()), "the relayed body differs");
  auto named = podid::fuzz::connection_names(upstream);
  for (const auto& field : got) {
    std::string_view name = field.name_string();
    if (podid::ascii::iequals(name, "Connection")) {
      // Only the pod's own connection's (keep-alive or close), which the agent writes.
      FUZZ_CHECK(podid::ascii::iequals(field.value(), "close") || podid::ascii::iequals(field.value(), "keep-alive"),
                 "the upstream's Connection reached the pod");
      continue;
    }
    FUZZ_CHECK(!podid::fuzz::always_hop_by_hop(name), "a hop-by-hop header of the upstream reached the pod");
    if (!podid::ascii::iequals(name, "Content-Length")) {
      FUZZ_CHECK(!named.count(podid::ascii::lowered(name)), "a header the upstream's Connection names reached the pod");
    }
  }
  if (!bodiless) {
    FUZZ_CHECK(got[bhttp::field::content_length] == std::to_string(got.body().size()),
               "the relayed Content-Length does not match the body");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto upstream = podid::fuzz::upstream_answer(data, size);
  if (!upstream) return 0;

  Request from_pod{bhttp::verb::get, "/metadata/instance?api-version=2021-02-01", (data[0] & 1) ? 10u : 11u};
  from_pod.set(bhttp::field::host, "169.254.169.254");
  from_pod.set("Metadata", "true");
  Response relayed = podid::agent::imds::relay_response(*upstream, from_pod);
  check_relayed(*upstream, from_pod, podid::fuzz::serialize(relayed));
  return 0;
}
