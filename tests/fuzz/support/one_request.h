// SPDX-License-Identifier: Apache-2.0
//
// The first request in some bytes, exactly as the agent's server would hand it to a handler (its read loop, its
// limits, its framing checks, the target in origin form), or nullopt when the server would refuse or drop it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <optional>
#include <string_view>

#include "http/request_reader.h"
#include "scripted_stream.h"

namespace podid::fuzz {

inline std::optional<http::Request> one_request(boost::asio::io_context& io, std::string_view bytes) {
  namespace detail = http::detail;
  std::optional<http::Request> out;
  ScriptedStream stream(io.get_executor(), bytes, ReadPlan(0));
  auto read = [&]() -> boost::asio::awaitable<void> {
    boost::beast::flat_buffer buffer(http::kMaxReadBuffer);
    detail::RequestParser parser;
    detail::limit_request_parser(parser);
    detail::ReadResult result = co_await detail::read_request(stream, buffer, parser);
    if (result.kind != detail::ReadResult::kRequest) co_return;
    http::Request req = parser.release();
    std::string origin = detail::origin_form(req.target());
    if (origin.size() != req.target().size()) req.target(origin);
    out.emplace(std::move(req));
  };
  run_to_end(io, read());
  return out;
}

}  // namespace podid::fuzz
