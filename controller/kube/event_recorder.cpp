// SPDX-License-Identifier: Apache-2.0
#include "controller/kube/event_recorder.h"

#include "controller/kube/kube_errors.h"
#include "controller/kube/kube_time.h"
#include "podid/log.h"

namespace podid::controller::kube {
namespace asio = boost::asio;
using nlohmann::json;

namespace {

std::string event_namespace(const ObjectRef& object) { return object.ns.empty() ? "default" : object.ns; }

std::string events_path(const std::string& ns, const std::string& name = "") {
  std::string p = "/api/v1/namespaces/" + ns + "/events";
  if (!name.empty()) p += "/" + name;
  return p;
}

std::string text_at(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

ObjectRef object_ref(const json& object) {
  ObjectRef ref;
  if (!object.is_object()) return ref;
  ref.api_version = text_at(object, "apiVersion");
  ref.kind = text_at(object, "kind");
  if (auto md = object.find("metadata"); md != object.end() && md->is_object()) {
    ref.ns = text_at(*md, "namespace");
    ref.name = text_at(*md, "name");
    ref.uid = text_at(*md, "uid");
    ref.resource_version = text_at(*md, "resourceVersion");
  }
  return ref;
}

json make_event(const ObjectRef& object, EventType type, const std::string& reason, const std::string& message,
                const EventCorrelator::Decision& decision, std::chrono::system_clock::time_point now,
                const EventRecorderOptions& options) {
  json involved = {{"kind", object.kind}, {"name", object.name}, {"apiVersion", object.api_version}};
  if (!object.ns.empty()) involved["namespace"] = object.ns;
  if (!object.uid.empty()) involved["uid"] = object.uid;
  if (!object.resource_version.empty()) involved["resourceVersion"] = object.resource_version;
  json source = {{"component", options.component}};
  if (!options.instance.empty()) source["host"] = options.instance;
  json event = {{"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata", {{"name", decision.name}, {"namespace", event_namespace(object)}}},
                {"involvedObject", std::move(involved)},
                {"reason", reason},
                {"message", message},
                {"type", to_string(type)},
                {"source", std::move(source)},
                {"firstTimestamp", format_time(decision.first_timestamp)},
                {"lastTimestamp", format_time(now)},
                {"count", decision.count},
                {"reportingComponent", options.component},
                {"reportingInstance", options.instance}};
  return event;
}

EventRecorder::EventRecorder(MeteredApi& api, prometheus::Registry& registry, EventRecorderOptions options)
    : api_(api),
      events_(prometheus::BuildCounter()
                  .Name("podid_controller_events_total")
                  .Help("Kubernetes Events podid-controller recorded, by type and outcome (created, aggregated, "
                        "spam_filtered, failed)")
                  .Register(registry)),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : &system_clock_),
      correlator_(options_.correlator) {}

void EventRecorder::count(EventType type, const char* outcome) {
  events_.Add({{"type", std::string(to_string(type))}, {"outcome", outcome}}).Increment();
}

asio::awaitable<void> EventRecorder::record(ObjectRef object, EventType type, std::string reason,
                                            std::string message) {
  const auto now = clock_->now();
  auto decision = correlator_.observe(object, type, reason, message, now);
  if (decision.action == EventCorrelator::Action::kDrop) {
    count(type, "spam_filtered");
    log::debug("event dropped by the spam filter",
               {{"object", object.ns + "/" + object.name}, {"kind", object.kind}, {"reason", reason}});
    co_return;
  }
  const std::string ns = event_namespace(object);
  const char* outcome = "created";
  Result<k8s::ApiResponse> res = Error{};
  if (decision.action == EventCorrelator::Action::kAggregate) {
    json patch = {{"count", decision.count}, {"lastTimestamp", format_time(now)}};
    res = co_await api_.call("patch", "events", events_path(ns, decision.name), std::move(patch), kMergePatch);
    outcome = "aggregated";
  }
  // A first occurrence, or a repeat whose event expired from the server: POST the whole event.
  if (decision.action == EventCorrelator::Action::kCreate || (res && res->status == 404)) {
    json event = make_event(object, type, reason, message, decision, now, options_);
    res = co_await api_.call("create", "events", events_path(ns), std::move(event));
    if (!res || !res->ok()) correlator_.forget(decision.key);  // nothing on the server to aggregate into
    outcome = "created";
  }
  if (res && res->ok()) {
    count(type, outcome);
    co_return;
  }
  count(type, "failed");
  Error error = res ? status_error(*res, "write event") : res.error();
  log::warn("event not written", {{"object", object.ns + "/" + object.name},
                                  {"kind", object.kind},
                                  {"reason", reason},
                                  {"error", error.message()}});
}

}  // namespace podid::controller::kube
