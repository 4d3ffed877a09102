// SPDX-License-Identifier: Apache-2.0
//
// Name resolution with a deadline, for http::Client. asio's resolver runs getaddrinfo on a helper thread that
// cancel() cannot interrupt, so the deadline is enforced by not waiting for it any longer: a late answer is
// dropped when it comes.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "podid/result.h"

namespace podid::http::detail {

// The endpoints of host:port; an IP literal is returned as is, without a lookup. After `deadline`:
// beast::error::timeout. Meant for a single-threaded executor (the resolver's answer and the wait share it).
boost::asio::awaitable<Result<std::vector<boost::asio::ip::tcp::endpoint>>> resolve(
    boost::asio::any_io_executor executor, std::string host, uint16_t port,
    std::chrono::steady_clock::time_point deadline);

}  // namespace podid::http::detail
