// SPDX-License-Identifier: Apache-2.0
//
// bench-pod-load: one pod's token requests at a fixed rate, told apart by what came back, for the soak
// (bench/soak_bench.py) and the kill and upgrade test (tests/e2e/agent/under_fire/). Runs inside a simulated
// pod against 169.254.169.254:80, which the kernel redirects to podid-agent.
//
// Open loop: requests are due at --rate per second in total, spread over --connections keep-alive connections
// (each closed and reopened after --requests-per-connection answers, as a client's pool recycles them, so
// attribution runs under load too). Latency counts from when a request was due, not when it was sent, so a
// stalled or restarting agent is not hidden. A connection still waiting when its next request is due sends it
// late; one that failed reconnects at its next due time (no retry storm while the agent is down).
//
// Every answer is classified:
//   200 with the expected identity (--expect-client-id: the body's client_id and the token's appid claim);
//   200 with another identity ("wrong_identity": the one thing that must never happen);
//   any other status, by status and IMDS error_description ("404 The identity of this pod is not ...");
//   answers whose Server header is not podid's ("not_from_agent": the pod reached something else);
// and every request that got no complete answer, by kind: refused (connect), closed_before_answer (the
// connection closed before any byte of the answer: a keep-alive race the client may retry), cut_mid_answer
// (part of an answer, then the connection went: never acceptable), timeout, other.
//
// Output, one JSON object per line on stdout:
//   {"type":"interval","t_ns":...,"sent":...,"answers":{"200":n,"404 ...":n},"transport":{...},
//    "wrong_identity":n,"not_from_agent":n,"latency":{"<bucket>":n,...}}     every --report-every seconds
//   {"type":"recovered","t_ns":...,"failed_since_ns":...}   the first expected 200 after requests failed
//   {"type":"total", same fields as an interval, summed}                     at the end
// t_ns is CLOCK_MONOTONIC (Python's time.monotonic_ns()), so a driver can line events up with what it did.
// SIGTERM or SIGINT ends the run early: requests under way finish, then the last interval and the total print.
// Latency buckets are logarithmic, 2% wide: bucket b holds latencies in [1.02^b, 1.02^(b+1)) microseconds, so
// drivers merge many pods' histograms exactly and read percentiles to within 2%.
//
// usage: bench-pod-load --path /metadata/... [--addr 169.254.169.254] [--port 80] [--header 'Name: value']...
//          [--rate 100] [--connections 4] [--seconds 10 | --requests N] [--report-every 1]
//          [--expect-client-id ID] [--requests-per-connection 0] [--timeout-ms 10000]
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "header_option.h"
#include "podid/ascii.h"
#include "podid/encoding/base64.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;
using nlohmann::json;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

struct Options {
  std::string addr = "169.254.169.254";
  unsigned short port = 80;
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;
  double rate = 100;
  int connections = 4;
  double seconds = 10;
  long requests = 0;  // stop after this many requests in total (0: run for --seconds)
  double report_every = 1;
  std::string expect_client_id;
  long requests_per_connection = 0;  // 0: keep each connection while it works
  long timeout_ms = 10000;
};

// Counts over one reporting interval (or the whole run).
struct Tally {
  long sent = 0;
  std::map<std::string, long> answers;    // "200", or "<status> <error_description>"
  std::map<std::string, long> transport;  // refused, closed_before_answer, cut_mid_answer, timeout, other
  long wrong_identity = 0;
  long not_from_agent = 0;
  std::map<int, long> latency;  // log bucket -> count

  void add(const Tally& o) {
    sent += o.sent;
    for (const auto& [k, v] : o.answers) answers[k] += v;
    for (const auto& [k, v] : o.transport) transport[k] += v;
    wrong_identity += o.wrong_identity;
    not_from_agent += o.not_from_agent;
    for (const auto& [k, v] : o.latency) latency[k] += v;
  }

  json to_json(std::string_view type) const {
    json lat = json::object();
    for (const auto& [k, v] : latency) lat[std::to_string(k)] = v;
    return {{"type", type},         {"t_ns", Clock::now().time_since_epoch().count()},
            {"sent", sent},         {"answers", answers},
            {"transport", transport}, {"wrong_identity", wrong_identity},
            {"not_from_agent", not_from_agent}, {"latency", lat}};
  }
};

int latency_bucket(std::chrono::nanoseconds d) {
  double us = std::max(1.0, std::chrono::duration<double, std::micro>(d).count());
  return static_cast<int>(std::floor(std::log(us) / std::log(1.02)));
}

std::string json_string(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The identity a 200 carries: the body's client_id, and the appid claim of its access token (unverified:
// the question is only whose token it is). Empty when missing or unreadable, which counts as wrong.
struct Identity {
  std::string client_id, appid;
};

Identity identity_of(const json& body) {
  Identity id{json_string(body, "client_id"), {}};
  std::string token = json_string(body, "access_token");
  auto first = token.find('.');
  auto second = token.find('.', first == std::string::npos ? 0 : first + 1);
  if (first == std::string::npos || second == std::string::npos) return id;
  auto claims = podid::encoding::base64url_decode(std::string_view(token).substr(first + 1, second - first - 1));
  if (!claims) return id;
  id.appid = json_string(json::parse(*claims, nullptr, false), "appid");
  return id;
}

// The kind of a non-200 answer: its status and IMDS's description of the error, as a pod's SDK would show it.
std::string answer_kind(unsigned status, const std::string& body) {
  json parsed = json::parse(body, nullptr, false);
  std::string what;
  if (parsed.is_object()) {
    what = json_string(parsed, "error_description");
    if (what.empty()) what = json_string(parsed, "error");
  }
  if (what.empty()) what = body.substr(0, 80);
  return std::to_string(status) + " " + what;
}

class PodLoad {
 public:
  explicit PodLoad(Options o) : o_(std::move(o)) {}

  void run() {
    asio::io_context io(1);
    start_ = Clock::now();
    auto length = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.seconds));
    deadline_ = start_ + length;
    for (int c = 0; c < o_.connections; ++c) asio::co_spawn(io, connection(c), asio::detached);
    asio::co_spawn(io, reporter(), asio::detached);
    signals_.emplace(io, SIGTERM, SIGINT);
    signals_->async_wait([this](boost::system::error_code ec, int) {
      if (!ec) stopped_ = true;
    });
    io.run();
    signals_.reset();  // both belong to io, which goes at the end of this function
    report_timer_.reset();
    flush();
    std::cout << total_.to_json("total").dump() << std::endl;
  }

 private:
  bool finished() const {
    if (stopped_) return true;
    return o_.requests > 0 ? total_.sent + window_.sent >= o_.requests : Clock::now() >= deadline_;
  }

  void flush() {
    std::cout << window_.to_json("interval").dump() << '\n' << std::flush;
    total_.add(window_);
    window_ = Tally{};
  }

  asio::awaitable<void> reporter() {
    report_timer_.emplace(co_await asio::this_coro::executor);
    auto every = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.report_every));
    for (auto at = start_ + every; live_connections_ > 0; at += every) {
      report_timer_->expires_at(at);
      co_await report_timer_->async_wait(kTuple);
      if (live_connections_ > 0) flush();
    }
  }

  void failed(const std::string& kind, Clock::time_point at) {
    ++window_.transport[kind];
    if (!failing_since_) failing_since_ = at;
  }

  void answered(const http::response<http::string_body>& res, Clock::time_point due, Clock::time_point now) {
    ++window_.latency[latency_bucket(now - due)];
    if (res[http::field::server] != "podid") ++window_.not_from_agent;
    unsigned status = res.result_int();
    if (status != 200) {
      ++window_.answers[answer_kind(status, res.body())];
      if (!failing_since_) failing_since_ = now;
      return;
    }
    ++window_.answers["200"];
    json body = json::parse(res.body(), nullptr, false);
    Identity got = body.is_object() ? identity_of(body) : Identity{};
    if (!o_.expect_client_id.empty() && (!podid::ascii::iequals(got.client_id, o_.expect_client_id) ||
                                         !podid::ascii::iequals(got.appid, o_.expect_client_id))) {
      ++window_.wrong_identity;
      return;
    }
    if (failing_since_) {
      json event = {{"type", "recovered"},
                    {"t_ns", now.time_since_epoch().count()},
                    {"failed_since_ns", failing_since_->time_since_epoch().count()}};
      std::cout << event.dump() << '\n';
      failing_since_.reset();
    }
  }

  asio::awaitable<void> connection(int index) {
    ++live_connections_;
    auto ex = co_await asio::this_coro::executor;
    const asio::ip::tcp::endpoint target(asio::ip::make_address(o_.addr), o_.port);
    http::request<http::empty_body> req{http::verb::get, o_.path, 11};
    req.set(http::field::host, o_.addr);
    for (const auto& [k, v] : o_.headers) req.set(k, v);
    req.keep_alive(true);
    const auto interval = std::chrono::nanoseconds(static_cast<long>(1e9 * o_.connections / o_.rate));
    Clock::time_point due = start_ + interval * index / o_.connections;
    asio::steady_timer timer(ex);
    std::optional<beast::tcp_stream> stream;
    beast::flat_buffer buffer;
    long on_this_connection = 0;
    auto drop = [&] {
      stream.reset();
      buffer.clear();
      on_this_connection = 0;
    };
    while (!finished() && (o_.requests > 0 || due < deadline_)) {
      timer.expires_at(due);
      co_await timer.async_wait(kTuple);
      if (stopped_) break;
      const Clock::time_point this_due = due;
      due += interval;
      ++window_.sent;
      if (!stream) {
        stream.emplace(ex);
        stream->expires_after(std::chrono::milliseconds(o_.timeout_ms));
        auto [ec] = co_await stream->async_connect(target, kTuple);
        if (ec) {
          failed(ec == asio::error::connection_refused ? "refused"
                 : ec == beast::error::timeout         ? "timeout"
                                                       : "other: " + ec.message(),
                 Clock::now());
          drop();
          continue;
        }
      }
      stream->expires_after(std::chrono::milliseconds(o_.timeout_ms));
      http::response_parser<http::string_body> parser;
      parser.body_limit(1 << 20);
      auto [wec, wn] = co_await http::async_write(*stream, req, kTuple);
      beast::error_code rec = wec;
      if (!wec) std::tie(rec, std::ignore) = co_await http::async_read(*stream, buffer, parser, kTuple);
      auto now = Clock::now();
      if (rec) {
        if (rec == beast::error::timeout) failed("timeout", now);
        else if (parser.got_some()) failed("cut_mid_answer", now);
        else if (wec) failed("other: write: " + wec.message(), now);
        else failed("closed_before_answer", now);
        drop();
        continue;
      }
      const auto& res = parser.get();
      answered(res, this_due, now);
      ++on_this_connection;
      if (!res.keep_alive() || (o_.requests_per_connection > 0 && on_this_connection >= o_.requests_per_connection)) {
        beast::error_code ignored;
        stream->socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        drop();
      }
    }
    // The last one out wakes the reporter and stops listening for signals, so the run ends with its requests.
    if (--live_connections_ == 0) {
      if (report_timer_) report_timer_->cancel();
      if (signals_) signals_->cancel();
    }
  }

  Options o_;
  Clock::time_point start_, deadline_;
  Tally window_, total_;
  std::optional<Clock::time_point> failing_since_;
  std::optional<asio::steady_timer> report_timer_;
  std::optional<asio::signal_set> signals_;
  int live_connections_ = 0;
  bool stopped_ = false;
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "bench-pod-load: " << why << "\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--addr") o.addr = next();
    else if (a == "--port") o.port = static_cast<unsigned short>(std::stoi(next()));
    else if (a == "--path") o.path = next();
    else if (a == "--header") {
      auto header = podid::bench::parse_header_option(next());
      if (!header) usage("--header wants 'Name: value'");
      o.headers.push_back(std::move(*header));
    } else if (a == "--rate") o.rate = std::stod(next());
    else if (a == "--connections") o.connections = std::stoi(next());
    else if (a == "--seconds") o.seconds = std::stod(next());
    else if (a == "--requests") o.requests = std::stol(next());
    else if (a == "--report-every") o.report_every = std::stod(next());
    else if (a == "--expect-client-id") o.expect_client_id = next();
    else if (a == "--requests-per-connection") o.requests_per_connection = std::stol(next());
    else if (a == "--timeout-ms") o.timeout_ms = std::stol(next());
    else usage("unknown argument " + a);
  }
  if (o.path.empty()) usage("--path is required");
  if (o.connections < 1) usage("--connections must be at least 1");
  if (!(o.rate > 0)) usage("--rate must be positive");
  if (!(o.report_every > 0)) usage("--report-every must be positive");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    PodLoad(parse(argc, argv)).run();
  } catch (const std::exception& e) {
    usage(e.what());
  }
  return 0;
}
