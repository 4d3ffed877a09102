// SPDX-License-Identifier: Apache-2.0
//
// A Reflector against a scripted API server: list and watch requests routed to per-kind scripts, and the
// fixture that starts one reflector with short backoffs. Shared by the reflector's test files.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "k8s_fixtures.h"
#include "podid/k8s/reflector.h"
#include "run_until.h"
#include "script_server.h"

namespace podid::k8s::testing {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using nlohmann::json;
using podid::testing::chunk;
using podid::testing::chunked_head;
using podid::testing::http_response;
using podid::testing::kLastChunk;
using podid::testing::query_param;
using podid::testing::Reply;
using podid::testing::run_until;
using podid::testing::ScriptServer;
using podid::testing::Step;

inline Reply once(std::string bytes) { return Reply{{Step{std::move(bytes)}}}; }
inline Reply hold(std::string bytes = "") { return Reply{{Step{chunked_head() + bytes}}, Reply::End::kHold}; }
inline Reply stream_then_end(std::string lines) {
  return once(chunked_head() + chunk(lines) + std::string(kLastChunk));
}
inline Reply error_status(int code) {
  return once(http_response(code, podid::testing::status(code, "X", "status " + std::to_string(code)).dump()));
}

// Routes list and watch requests to per-kind scripts, numbering each kind from 0.
struct FakeApi {
  std::function<Reply(const http::Request&, size_t)> on_list;
  std::function<Reply(const http::Request&, size_t)> on_watch;
  std::vector<std::string> list_targets;
  std::vector<std::string> watch_targets;
  std::vector<std::chrono::steady_clock::time_point> list_times;

  podid::testing::Script script() {
    return [this](const http::Request& req, size_t) {
      std::string target(req.target());
      if (query_param(target, "watch") == "1") {
        watch_targets.push_back(target);
        return on_watch(req, watch_targets.size() - 1);
      }
      list_targets.push_back(target);
      list_times.push_back(std::chrono::steady_clock::now());
      return on_list(req, list_targets.size() - 1);
    };
  }
};

struct Recorder {
  std::vector<std::vector<std::string>> replaces;  // object names of each replace()
  std::vector<std::string> events;                 // "ADDED c@11"

  ReflectorHandler handler() {
    return ReflectorHandler{
        .replace =
            [this](const std::vector<json>& items) {
              std::vector<std::string> names;
              for (const auto& item : items) names.push_back(item["metadata"]["name"]);
              replaces.push_back(names);
            },
        .event =
            [this](WatchEventType type, const json& object) {
              static const char* kNames[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
              events.push_back(std::string(kNames[static_cast<int>(type)]) + " " +
                               object["metadata"]["name"].get<std::string>() + "@" +
                               object["metadata"]["resourceVersion"].get<std::string>());
            },
    };
  }
};

// Starts one reflector on /api/v1/pods ("pods") with the handler `handler()` gives (short backoffs by default).
class ReflectorFixture : public ::testing::Test {
 protected:
  virtual ReflectorHandler handler() = 0;

  void start(ReflectorOptions extra = {}) {
    server_ = std::make_unique<ScriptServer>(io_, api_.script());
    ClusterConfig config;
    config.server = http::Url::parse(server_->url()).value();
    config.bearer_token = "reflector-token";
    client_ = std::make_unique<ApiClient>(io_.get_executor(), config, "podid-test");
    ReflectorOptions options = extra;
    options.name = "pods";
    options.collection_path = "/api/v1/pods";
    if (options.backoff_initial == ReflectorOptions{}.backoff_initial) options.backoff_initial = 20ms;
    if (options.backoff_max == ReflectorOptions{}.backoff_max) options.backoff_max = 200ms;
    reflector_ = std::make_unique<Reflector>(io_.get_executor(), *client_, options, handler());
    reflector_->start();
  }

  bool until(const std::function<bool()>& pred, std::chrono::milliseconds limit = 5s) {
    return run_until(io_, pred, limit);
  }

  // The reflector goes first: its handler may point into the derived fixture.
  void TearDown() override { reflector_.reset(); }

  // Declared first, destroyed last: everything below holds handles into it.
  asio::io_context io_;
  FakeApi api_;
  std::unique_ptr<ScriptServer> server_;
  std::unique_ptr<ApiClient> client_;
  std::unique_ptr<Reflector> reflector_;
};

}  // namespace podid::k8s::testing
