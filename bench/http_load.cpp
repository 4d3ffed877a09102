// SPDX-License-Identifier: Apache-2.0
//
// bench-http-load: keep-alive HTTP/1.1 GETs against one server, from one thread, printing one JSON line with
// requests per second and latency percentiles. Two modes:
//   closed loop (default): each of --connections sends its next request when the previous answer arrived;
//     measures the server's throughput.
//   open loop (--rate R): requests are due at a fixed total rate R spread over the connections, and latency
//     is measured from when a request was due, not when it was sent, so a stalled server is not hidden
//     (coordinated omission). A connection still waiting when its next request is due sends it late.
//   first answer (--until-status): one request at a time on a fresh connection, every millisecond, until one
//     is answered with --expect-status or --seconds pass; prints how long that took and how many attempts.
// Non-2xx answers and connection errors are counted; the run does not stop on them.
//
// usage: bench-http-load --addr A --port P --path /x [--header 'Name: value']... [--connections N]
//                        [--requests N | --seconds S] [--rate R] [--expect-status 200] [--until-status]
#include <arpa/inet.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "header_option.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Options {
  std::string addr = "127.0.0.1";
  unsigned short port = 80;
  std::string path = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  int connections = 16;
  long requests = 0;      // stop after this many (0: use seconds)
  double seconds = 5;
  double rate = 0;        // open loop when > 0
  unsigned expect_status = 200;
  bool until_status = false;
};

struct Totals {
  std::vector<uint32_t> latencies_us;
  long ok = 0, bad_status = 0, errors = 0, sent = 0;
  Clock::time_point start, end;
};

asio::awaitable<void> connection(const Options& o, Totals& t, int index, Clock::time_point deadline) {
  auto ex = co_await asio::this_coro::executor;
  beast::tcp_stream stream(ex);
  beast::flat_buffer buffer;
  http::request<http::empty_body> req{http::verb::get, o.path, 11};
  req.set(http::field::host, o.addr);
  for (const auto& [k, v] : o.headers) req.set(k, v);
  req.keep_alive(true);
  bool connected = false;
  // Open loop: this connection's requests are due every connections/rate seconds, staggered by index.
  std::chrono::nanoseconds interval{0};
  Clock::time_point due = t.start;
  if (o.rate > 0) {
    interval = std::chrono::nanoseconds(static_cast<long>(1e9 * o.connections / o.rate));
    due = t.start + interval * index / o.connections;
  }
  asio::steady_timer timer(ex);
  for (;;) {
    if (o.requests > 0 ? t.sent >= o.requests : Clock::now() >= deadline) break;
    if (o.rate > 0) {
      if (due >= deadline && o.requests == 0) break;
      timer.expires_at(due);
      co_await timer.async_wait(kTuple);
    }
    ++t.sent;
    auto began = o.rate > 0 ? due : Clock::now();
    due += interval;
    if (!connected) {
      auto [ec] = co_await stream.async_connect(asio::ip::tcp::endpoint(asio::ip::make_address(o.addr), o.port), kTuple);
      if (ec) {
        ++t.errors;
        continue;
      }
      connected = true;
    }
    stream.expires_after(std::chrono::seconds(10));
    auto [wec, wn] = co_await http::async_write(stream, req, kTuple);
    http::response<http::string_body> res;
    beast::error_code rec = wec;
    if (!wec) std::tie(rec, std::ignore) = co_await http::async_read(stream, buffer, res, kTuple);
    if (rec) {
      ++t.errors;
      beast::error_code ignored;
      stream.socket().close(ignored);
      connected = false;
      continue;
    }
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - began).count();
    t.latencies_us.push_back(static_cast<uint32_t>(std::min<long>(us, UINT32_MAX)));
    if (res.result_int() == o.expect_status) ++t.ok;
    else ++t.bad_status;
    if (!res.keep_alive()) {
      beast::error_code ignored;
      stream.socket().close(ignored);
      connected = false;
    }
  }
  t.end = std::max(t.end, Clock::now());
}

asio::awaitable<void> until_status(const Options& o, Clock::time_point start, Clock::time_point deadline) {
  auto ex = co_await asio::this_coro::executor;
  http::request<http::empty_body> req{http::verb::get, o.path, 11};
  req.set(http::field::host, o.addr);
  for (const auto& [k, v] : o.headers) req.set(k, v);
  long attempts = 0;
  unsigned last = 0;
  asio::steady_timer pause(ex);
  while (Clock::now() < deadline) {
    ++attempts;
    beast::tcp_stream stream(ex);
    stream.expires_after(std::chrono::seconds(5));
    auto [ec] = co_await stream.async_connect(asio::ip::tcp::endpoint(asio::ip::make_address(o.addr), o.port), kTuple);
    if (!ec) std::tie(ec, std::ignore) = co_await http::async_write(stream, req, kTuple);
    http::response<http::string_body> res;
    beast::flat_buffer buffer;
    if (!ec) std::tie(ec, std::ignore) = co_await http::async_read(stream, buffer, res, kTuple);
    if (!ec) {
      last = res.result_int();
      if (last == o.expect_status) {
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
        std::printf("{\"ok\":true,\"elapsed_us\":%ld,\"attempts\":%ld}\n", static_cast<long>(us), attempts);
        co_return;
      }
    }
    pause.expires_after(std::chrono::milliseconds(1));
    co_await pause.async_wait(kTuple);
  }
  std::printf("{\"ok\":false,\"attempts\":%ld,\"last_status\":%u}\n", attempts, last);
}

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--addr") o.addr = next();
    else if (a == "--port") o.port = static_cast<unsigned short>(std::stoi(next()));
    else if (a == "--path") o.path = next();
    else if (a == "--header") {
      auto header = podid::bench::parse_header_option(next());
      if (!header) { std::cerr << "--header wants 'Name: value'\n"; return 2; }
      o.headers.push_back(std::move(*header));
    } else if (a == "--connections") o.connections = std::stoi(next());
    else if (a == "--requests") o.requests = std::stol(next());
    else if (a == "--seconds") o.seconds = std::stod(next());
    else if (a == "--rate") o.rate = std::stod(next());
    else if (a == "--expect-status") o.expect_status = static_cast<unsigned>(std::stoi(next()));
    else if (a == "--until-status") o.until_status = true;
    else { std::cerr << "unknown argument " << a << "\n"; return 2; }
  }
  if (o.connections < 1) { std::cerr << "--connections must be at least 1\n"; return 2; }
  asio::io_context io(1);
  Totals t;
  t.start = t.end = Clock::now();
  auto deadline = t.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  if (o.until_status) {
    asio::co_spawn(io, until_status(o, t.start, deadline), asio::detached);
    io.run();
    return 0;
  }
  for (int c = 0; c < o.connections; ++c) asio::co_spawn(io, connection(o, t, c, deadline), asio::detached);
  io.run();
  auto& l = t.latencies_us;
  std::sort(l.begin(), l.end());
  auto pct = [&](double p) -> long { return l.empty() ? -1 : l[std::min(l.size() - 1, static_cast<size_t>(p * l.size()))]; };
  double elapsed = std::chrono::duration<double>(t.end - t.start).count();
  std::printf("{\"requests\":%ld,\"ok\":%ld,\"bad_status\":%ld,\"errors\":%ld,\"seconds\":%.3f,\"per_second\":%.1f,"
              "\"p50_us\":%ld,\"p90_us\":%ld,\"p99_us\":%ld,\"max_us\":%ld}\n",
              t.sent, t.ok, t.bad_status, t.errors, elapsed, elapsed > 0 ? (t.ok + t.bad_status) / elapsed : 0.0,
              pct(0.5), pct(0.9), pct(0.99), l.empty() ? -1L : static_cast<long>(l.back()));
  return 0;
}
