// SPDX-License-Identifier: Apache-2.0
//
// An upstream's answer as the agent's and the controller's HTTP client reads it (common/http/response_reader.h:
// its parser, its limits), from scripted bytes; and the serialisation of a response as the server writes it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/write.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "http/response_reader.h"
#include "scripted_stream.h"

namespace podid::fuzz {

// The whole response, or the client's error.
inline Result<http::Response> read_response(boost::asio::io_context& io, const StreamInput& input,
                                            const http::ClientOptions& options = {}) {
  std::optional<Result<http::Response>> out;
  ScriptedStream stream(io.get_executor(), input.bytes, input.plan);
  auto read = [&]() -> boost::asio::awaitable<void> {
    boost::beast::flat_buffer buffer;
    const http::detail::ReadContext context{options, "GET http://upstream/", std::chrono::steady_clock::now()};
    auto result = co_await http::detail::read_whole(stream, buffer, context, false);
    out.emplace(std::move(result));
  };
  run_to_end(io, read());
  return std::move(*out);
}

// The answer in a stream target's input (ReadPlan seed, then the bytes), as the client reads it; nullopt for an
// empty input or the client's error (the pod then gets the agent's own answer, not these bytes).
inline std::optional<http::Response> upstream_answer(const uint8_t* data, size_t size) {
  static boost::asio::io_context io;
  auto input = stream_input(data, size);
  if (!input) return std::nullopt;
  auto response = read_response(io, *input);
  if (!response) return std::nullopt;
  return std::move(*response);
}

// The bytes the server would write for `res`.
inline std::string serialize(const http::Response& res) {
  std::ostringstream out;
  out << res;
  return out.str();
}

}  // namespace podid::fuzz
