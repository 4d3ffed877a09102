// SPDX-License-Identifier: Apache-2.0
#include "resolve.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <memory>

namespace podid::http::detail {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Shared by the lookup's completion handler and the waiting coroutine: whichever side gives up first leaves
// the other a live object to write into.
struct Lookup {
  explicit Lookup(const asio::any_io_executor& ex) : resolver(ex), timer(ex) {}
  tcp::resolver resolver;
  asio::steady_timer timer;
  bool done = false;
  boost::system::error_code ec;
  tcp::resolver::results_type results;
};

}  // namespace

asio::awaitable<Result<std::vector<tcp::endpoint>>> resolve(asio::any_io_executor executor, std::string host,
                                                            uint16_t port,
                                                            std::chrono::steady_clock::time_point deadline) {
  boost::system::error_code parse_ec;
  auto address = asio::ip::make_address(host, parse_ec);
  if (!parse_ec) co_return std::vector<tcp::endpoint>{tcp::endpoint(address, port)};

  auto lookup = std::make_shared<Lookup>(executor);
  lookup->timer.expires_at(deadline);
  lookup->resolver.async_resolve(host, std::to_string(port),
                                 [lookup](boost::system::error_code ec, tcp::resolver::results_type results) {
                                   lookup->done = true;
                                   lookup->ec = ec;
                                   lookup->results = std::move(results);
                                   lookup->timer.cancel();
                                 });
  auto [wait_ec] = co_await lookup->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (!lookup->done) {
    lookup->resolver.cancel();
    // The wait ended without an answer: either the deadline passed or the caller cancelled us.
    boost::system::error_code ec = wait_ec ? wait_ec : boost::system::error_code(boost::beast::error::timeout);
    co_return Error{ec, "resolve " + host};
  }
  if (lookup->ec) co_return Error{lookup->ec, "resolve " + host};
  std::vector<tcp::endpoint> endpoints;
  for (const auto& entry : lookup->results) endpoints.push_back(entry.endpoint());
  if (endpoints.empty()) co_return Error{boost::system::error_code(asio::error::host_not_found), "resolve " + host};
  co_return endpoints;
}

}  // namespace podid::http::detail
