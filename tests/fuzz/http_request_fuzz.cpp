// SPDX-License-Identifier: Apache-2.0
//
// What a pod sends the agent's listener, through the server's own read loop (common/http/request_reader.h):
// requests read one after another from one connection as serve_session reads them (pipelining, keep-alive),
// with the bytes cut into reads as the ReadPlan says. Input: ReadPlan seed, then the bytes.
//
// Properties: the loop ends (a request, a refusal or the peer gone) without throwing; the unparsed bytes held
// never exceed kMaxReadBuffer; a request handed on has passed the framing checks, has a body within
// kMaxBodyBytes, and its target in origin form starts with '/' when it was absolute; a refusal is a 4xx.
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "http/request_reader.h"
#include "podid/ascii.h"
#include "scripted_stream.h"

namespace {

using namespace podid::http;
namespace asio = boost::asio;

// No peer keeps a connection for more requests than its bytes hold; the bound keeps an input's cost linear.
constexpr int kMaxRequestsPerConnection = 256;

void check_request(const Request& req) {
  FUZZ_CHECK(!detail::check_request_framing(req).has_value(), "a request the framing rules refuse was handed on");
  FUZZ_CHECK(req.body().size() <= kMaxBodyBytes, "a body over kMaxBodyBytes was handed on");
  std::string_view target = req.target();
  std::string origin = detail::origin_form(target);
  bool absolute = podid::ascii::istarts_with(target, "http://") || podid::ascii::istarts_with(target, "https://");
  if (absolute) {
    FUZZ_CHECK(!origin.empty() && origin.front() == '/', "an absolute-form target did not become origin form");
    FUZZ_CHECK(origin.size() <= target.size(), "origin form grew the target");
  } else {
    FUZZ_CHECK(origin == target, "a target not in absolute form was changed");
  }
}

asio::awaitable<void> serve(podid::fuzz::ScriptedStream& stream) {
  boost::beast::flat_buffer buffer(kMaxReadBuffer);
  for (int i = 0; i < kMaxRequestsPerConnection; ++i) {
    detail::RequestParser parser;
    detail::limit_request_parser(parser);
    detail::ReadResult read = co_await detail::read_request(stream, buffer, parser);
    FUZZ_CHECK(buffer.size() <= kMaxReadBuffer, "the read buffer grew past kMaxReadBuffer");
    if (read.kind == detail::ReadResult::kGone) co_return;
    if (read.kind == detail::ReadResult::kRefused) {
      unsigned status = static_cast<unsigned>(read.refusal.status);
      FUZZ_CHECK(status >= 400 && status < 500, "a refusal that is not a 4xx");
      FUZZ_CHECK(!read.refusal.reason.empty(), "a refusal without a reason for the metric");
      co_return;  // the server answers and closes
    }
    check_request(parser.get());
    if (!parser.get().keep_alive()) co_return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static asio::io_context io;
  auto input = podid::fuzz::stream_input(data, size);
  if (!input) return 0;
  podid::fuzz::ScriptedStream stream(io.get_executor(), input->bytes, input->plan);
  try {
    podid::fuzz::run_to_end(io, serve(stream));
  } catch (const std::exception& e) {
    // serve_session would catch this and drop the connection, but the read loop bounds every field so that
    // Beast never reaches the limits where it throws: an exception here means a bound failed.
    podid::fuzz::check_failed("read_request threw", e.what(), __FILE__, __LINE__);
  }
  return 0;
}
