// SPDX-License-Identifier: Apache-2.0
//
// core/v1 Events as client-go's record.EventRecorder writes them, so `kubectl describe` and event exporters
// show podid-controller's explanations where users of the predecessor looked (aad-pod-identity.md §2.11:
// "binding applied", "binding apply error", ... on the AzureIdentityBinding). Repeats are aggregated and
// floods dropped by EventCorrelator (event_correlator.h).
//
// Event: metadata {name <object>.<16 hex>, namespace = the object's ("default" for cluster-scoped objects)},
// involvedObject {kind, namespace, name, uid, apiVersion, resourceVersion}, reason, message, type
// Normal|Warning, source.component, reportingComponent, reportingInstance, firstTimestamp, lastTimestamp,
// count. A repeat is a merge patch of count and lastTimestamp; if that event has expired from the server
// (404), it is created again under the same name with the running count, as client-go does.
//
// Not thread-safe: call record() from one strand (the controller's executor).
//
// Errors: none reach the caller. An event is an explanation, never a reason to fail a reconcile: a failed
// write is logged and counted in podid_controller_events_total{outcome="failed"}.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>
#include <prometheus/registry.h>
#include <string>

#include "controller/kube/event_correlator.h"
#include "controller/kube/metered_api.h"
#include "podid/clock.h"

namespace podid::controller::kube {

struct EventRecorderOptions {
  std::string component = "podid-controller";  // source.component and reportingComponent
  std::string instance;                         // source.host and reportingInstance (the pod name); optional
  EventCorrelatorOptions correlator;
  const WallClock* clock = nullptr;  // null: the system clock
};

// The ObjectRef of an object as the API server returned it (apiVersion, kind, metadata).
ObjectRef object_ref(const nlohmann::json& object);

// Pure: the Event object for a decision (what create and re-create POST).
nlohmann::json make_event(const ObjectRef& object, EventType type, const std::string& reason,
                          const std::string& message, const EventCorrelator::Decision& decision,
                          std::chrono::system_clock::time_point now, const EventRecorderOptions& options);

class EventRecorder {
 public:
  EventRecorder(MeteredApi& api, prometheus::Registry& registry, EventRecorderOptions options = {});

  boost::asio::awaitable<void> record(ObjectRef object, EventType type, std::string reason, std::string message);

 private:
  void count(EventType type, const char* outcome);

  MeteredApi& api_;
  prometheus::Family<prometheus::Counter>& events_;
  EventRecorderOptions options_;
  SystemWallClock system_clock_;
  const WallClock* clock_;
  EventCorrelator correlator_;
};

}  // namespace podid::controller::kube
