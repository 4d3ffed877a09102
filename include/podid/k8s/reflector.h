// SPDX-License-Identifier: Apache-2.0
//
// A Reflector keeps a consumer's copy of one kind of object in step with the API server, as client-go's
// does: LIST (with resourceVersion), then WATCH from that version with allowWatchBookmarks; on 410 Gone (or
// an ERROR event with code 410) it relists; on any other failure it waits (exponential backoff with jitter,
// reset after a healthy watch) and resumes the watch from the last version seen, relisting only if that
// version is gone. While the API server is unreachable the consumer's copy stays as it was: nothing is
// dropped because the server cannot be reached.
//
// Lists are paged (limit 500, continue) and each page is parsed as it is read (ApiClient::list_page). A
// consumer of many objects takes them one by one (list_item / list_end) and so never holds a whole list as
// JSON; a 410 Gone in the middle of the pages (the continue token outlived the server's history) ends that
// list with list_end(false) and a fresh list starts from the first page.
//
// Runs on the executor it was given (one strand: the agent's single io thread); callbacks run there.
//
// Errors: none escape. Failures are counted in ReflectorStats and logged once per state change.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "podid/k8s/api_client.h"

namespace podid::k8s {

struct ReflectorOptions {
  std::string name;            // for logs and metrics: "pods", "azureidentities"...
  std::string collection_path;  // "/api/v1/pods", "/apis/aadpodidentity.k8s.io/v1/azureidentities"
  std::string field_selector;  // e.g. "spec.nodeName=node-1"
  std::string label_selector;
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{30000};
  int watch_timeout_seconds = 300;  // server-side timeoutSeconds of each watch
};

struct ReflectorHandler {
  // After every (re)list: the complete set of objects. The consumer replaces its copy.
  std::function<void(const std::vector<nlohmann::json>& items)> replace;
  // ADDED / MODIFIED / DELETED, in order.
  std::function<void(WatchEventType type, const nlohmann::json& object)> event;
  // Instead of `replace`, for consumers of many objects: every listed object as its page is parsed, then
  // list_end(true) once the last page arrived (the consumer's copy becomes exactly what list_item gave since the
  // previous list_end) or list_end(false) when the list broke off (410 mid-pagination, a failure): the consumer
  // drops what it was given since then and keeps its copy. Set both or neither.
  std::function<void(nlohmann::json&& object)> list_item;
  std::function<void(bool complete)> list_end;
};

struct ReflectorStats {
  bool synced = false;     // at least one list completed
  bool connected = false;  // a list or watch is currently healthy
  uint64_t lists = 0;
  uint64_t watches = 0;
  uint64_t relists_gone = 0;  // 410: the version we held was compacted away
  uint64_t failures = 0;      // transport errors and unexpected statuses
  uint64_t events = 0;
  std::string last_error;
  std::chrono::system_clock::time_point last_success{};
};

class Reflector {
 public:
  Reflector(boost::asio::any_io_executor executor, ApiClient& api, ReflectorOptions options,
            ReflectorHandler handler);
  ~Reflector();

  void start();  // spawns the list/watch loop
  void stop();   // cancels it; safe to call twice

  const ReflectorStats& stats() const;
  const ReflectorOptions& options() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace podid::k8s
