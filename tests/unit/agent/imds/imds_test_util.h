// SPDX-License-Identifier: Apache-2.0
//
// Requests for the IMDS protocol tests, built the way the server gets them: raw bytes through Beast's parser,
// so header-name case, whitespace trimming and chunked bodies behave as on the wire.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <string>
#include <string_view>

#include "podid/http/server.h"

namespace podid::agent::imds::testing {

// Parses one complete HTTP/1.x request; fails the test if Beast refuses it.
inline http::Request parse_request(std::string_view raw) {
  boost::beast::http::request_parser<boost::beast::http::string_body> parser;
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(raw.data(), raw.size()), ec);
  EXPECT_FALSE(ec) << ec.message() << " parsing:\n" << raw;
  EXPECT_TRUE(parser.is_done()) << "incomplete request:\n" << raw;
  return parser.release();
}

// `GET <target>` with `Metadata: true` and the given extra header lines (each ending in \r\n).
inline http::Request get(std::string_view target, std::string_view extra_headers = "",
                         std::string_view metadata_line = "Metadata: true\r\n") {
  std::string raw = "GET " + std::string(target) + " HTTP/1.1\r\nHost: 169.254.169.254\r\n";
  raw += metadata_line;
  raw += extra_headers;
  raw += "\r\n";
  return parse_request(raw);
}

}  // namespace podid::agent::imds::testing
