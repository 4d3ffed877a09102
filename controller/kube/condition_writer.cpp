// SPDX-License-Identifier: Apache-2.0
#include "controller/kube/condition_writer.h"

#include "controller/kube/kube_errors.h"
#include "controller/kube/kube_time.h"

namespace podid::controller::kube {
namespace asio = boost::asio;
using nlohmann::json;

namespace {

const json& member(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string text(const json& object, const char* key) {
  const json& v = member(object, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

}  // namespace

std::optional<json> condition_patch(const json& current, const Condition& condition,
                                    std::chrono::system_clock::time_point now) {
  const json& metadata = member(current, "metadata");
  const json& generation = member(metadata, "generation");
  const int64_t observed = generation.is_number_integer() ? generation.get<int64_t>() : 0;
  const std::string status = condition.status ? "True" : "False";

  json conditions = json::array();
  const json& existing = member(member(current, "status"), "conditions");
  const json* previous = nullptr;
  if (existing.is_array()) {
    for (const auto& c : existing) {
      if (text(c, "type") == condition.type) {
        if (!previous) previous = &c;  // a duplicate of the type (hand-written) goes with the rewrite
      } else {
        conditions.push_back(c);  // other types kept as they are (a merge patch replaces the whole list)
      }
    }
  }
  if (previous) {
    const json& prev_generation = member(*previous, "observedGeneration");
    bool same = text(*previous, "status") == status && text(*previous, "reason") == condition.reason &&
                text(*previous, "message") == condition.message &&
                (prev_generation.is_number_integer() ? prev_generation.get<int64_t>() : 0) == observed;
    if (same) return std::nullopt;
  }
  std::string transition = format_time(now);
  if (previous && text(*previous, "status") == status && !text(*previous, "lastTransitionTime").empty()) {
    transition = text(*previous, "lastTransitionTime");  // the status did not flip
  }
  json entry = {{"type", condition.type},
                {"status", status},
                {"reason", condition.reason},
                {"message", condition.message},
                {"lastTransitionTime", transition},
                {"observedGeneration", observed}};
  conditions.push_back(std::move(entry));
  json patch = {{"status", {{"conditions", std::move(conditions)}}}};
  if (std::string rv = text(metadata, "resourceVersion"); !rv.empty()) patch["metadata"] = {{"resourceVersion", rv}};
  return patch;
}

ConditionWriter::ConditionWriter(MeteredApi& api, const WallClock* clock)
    : api_(api), clock_(clock ? clock : &system_clock_) {}

asio::awaitable<Result<bool>> ConditionWriter::set(ConditionTarget target, const json& current, Condition condition) {
  const char* resource =
      target == ConditionTarget::kAzureIdentity ? "azureidentities" : "azureidentitybindings";
  const json& metadata = member(current, "metadata");
  const std::string ns = text(metadata, "namespace");
  const std::string name = text(metadata, "name");
  const std::string what = std::string("set condition ") + condition.type + " on " + resource + " " + ns + "/" + name;
  if (ns.empty() || name.empty()) {
    co_return Error{make_error_code(KubeError::kMalformedObject), what + ": metadata.namespace and name required"};
  }
  auto patch = condition_patch(current, condition, clock_->now());
  if (!patch) co_return false;
  std::string path = "/apis/aadpodidentity.k8s.io/v1/namespaces/" + ns + "/" + resource + "/" + name;
  auto res = co_await api_.call("patch", resource, std::move(path), std::move(*patch), kMergePatch);
  if (!res) co_return res.error().wrap(what);
  if (!res->ok()) co_return status_error(*res, what);
  co_return true;
}

}  // namespace podid::controller::kube
