// SPDX-License-Identifier: Apache-2.0
//
// Test doubles for the token path: a wall clock the test moves, and a token source that counts its calls,
// answers what the test says and, when told to, holds every fetch until released (so a test can pile up
// callers behind one upstream call).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "podid/azure/token_source.h"
#include "podid/clock.h"

namespace podid::azure::testing {

using namespace std::chrono_literals;

class FakeClock final : public WallClock {
 public:
  std::chrono::system_clock::time_point now() const override { return now_; }
  void advance(std::chrono::system_clock::duration d) { now_ += d; }

 private:
  // A whole second, so epoch arithmetic in expectations stays exact.
  std::chrono::system_clock::time_point now_{std::chrono::seconds{1'800'000'000}};
};

class FakeSource final : public TokenSource {
 public:
  FakeSource(boost::asio::any_io_executor ex, const FakeClock& clock, std::string key = "fake/a")
      : ex_(std::move(ex)), clock_(clock), key_(std::move(key)), gate_(make_gate()) {}

  // What fetch answers; default: a token of `lifetime` issued now, named tok-<call number>.
  std::function<TokenOutcome(const std::string& resource)> answer;
  std::chrono::seconds lifetime{3600};
  bool block = false;  // fetches wait for release()
  bool fail_by_throwing = false;

  int calls = 0;
  int completed = 0;
  std::vector<std::string> resources;

  void release() {
    gate_->cancel();
    gate_ = make_gate();
  }

  boost::asio::awaitable<TokenOutcome> fetch(const std::string& resource, const FetchContext&) override {
    ++calls;
    int n = calls;
    resources.push_back(resource);
    if (block) {
      auto gate = gate_;  // this fetch's gate, even if release() swaps in a new one meanwhile
      co_await gate->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
    ++completed;
    if (fail_by_throwing) throw std::runtime_error("boom");
    if (answer) co_return answer(resource);
    co_return token(resource, "tok-" + std::to_string(n));
  }

  AccessToken token(const std::string& resource, std::string value) const {
    AccessToken t;
    t.access_token = std::move(value);
    t.resource = resource;
    t.client_id = "cid";
    t.issued_at = clock_.now();
    t.not_before = clock_.now();
    t.expires_on = clock_.now() + lifetime;
    return t;
  }

  std::string cache_key() const override { return key_; }
  std::string describe() const override { return "fake " + key_; }
  void set_key(std::string key) { key_ = std::move(key); }

 private:
  std::shared_ptr<boost::asio::steady_timer> make_gate() {
    return std::make_shared<boost::asio::steady_timer>(ex_, boost::asio::steady_timer::time_point::max());
  }

  boost::asio::any_io_executor ex_;
  const FakeClock& clock_;
  std::string key_;
  std::shared_ptr<boost::asio::steady_timer> gate_;
};

inline UpstreamFailure failure(unsigned status, std::optional<std::chrono::seconds> retry_after = std::nullopt) {
  UpstreamFailure f;
  f.status = status;
  f.body = R"({"error":"too_many_requests"})";
  f.content_type = "application/json";
  f.retry_after = retry_after;
  f.detail = "upstream answered " + std::to_string(status);
  return f;
}

}  // namespace podid::azure::testing
