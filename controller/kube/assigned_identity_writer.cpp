// SPDX-License-Identifier: Apache-2.0
#include "controller/kube/assigned_identity_writer.h"

#include "controller/kube/kube_errors.h"
#include "podid/encoding/percent.h"
#include "podid/log.h"

namespace podid::controller::kube {
namespace asio = boost::asio;
using nlohmann::json;

namespace {

constexpr std::string_view kResource = "azureassignedidentities";
constexpr std::string_view kApiVersion = "aadpodidentity.k8s.io/v1";

Error malformed(std::string context) { return {make_error_code(KubeError::kMalformedObject), std::move(context)}; }

std::string meta_string(const json& object, const char* key) {
  if (!object.is_object()) return {};
  auto md = object.find("metadata");
  if (md == object.end() || !md->is_object()) return {};
  auto v = md->find(key);
  return v != md->end() && v->is_string() ? v->get<std::string>() : std::string();
}

// Index of our finalizer in metadata.finalizers, -1 if absent.
int finalizer_index(const json& object) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) return -1;
  const json& md = object["metadata"];
  auto list = md.find("finalizers");
  if (list == md.end() || !list->is_array()) return -1;
  for (size_t i = 0; i < list->size(); ++i) {
    if ((*list)[i] == kAssignedIdentityFinalizer) return static_cast<int>(i);
  }
  return -1;
}

void ensure_finalizer(json& object) {
  if (finalizer_index(object) >= 0) return;
  json& list = object["metadata"]["finalizers"];
  if (!list.is_array()) list = json::array();
  list.push_back(kAssignedIdentityFinalizer);
}

bool is_object_named(const json& body) {
  return body.is_object() && body.value("kind", "") != "Status" && !meta_string(body, "name").empty();
}

}  // namespace

json assigned_identity_for_create(json object) {
  if (!object.is_object()) object = json::object();
  object["apiVersion"] = kApiVersion;
  object["kind"] = "AzureAssignedIdentity";
  json& md = object["metadata"];
  if (!md.is_object()) md = json::object();
  for (const char* server_owned : {"resourceVersion", "uid", "creationTimestamp", "generation", "deletionTimestamp"}) {
    md.erase(server_owned);
  }
  ensure_finalizer(object);
  // The caller's state when it gives one (a round that already found the identity on the compute creates the
  // AAI as Assigned: one write instead of two); Created otherwise.
  std::string state(kStateCreated);
  if (const json* st = object.contains("status") ? &object["status"] : nullptr; st && st->is_object()) {
    if (auto it = st->find("status"); it != st->end() && it->is_string() && !it->get<std::string>().empty()) {
      state = it->get<std::string>();
    }
  }
  object["status"] = {{"status", state}, {"availableReplicas", 1}};
  return object;
}

json assigned_state_patch(std::string_view state) {
  return {{"status", {{"status", state}, {"availableReplicas", 1}}}};
}

AssignedIdentityWriter::AssignedIdentityWriter(MeteredApi& api) : api_(api) {}

std::string AssignedIdentityWriter::path(std::string_view ns, std::string_view name) {
  std::string p = "/apis/aadpodidentity.k8s.io/v1/namespaces/" + std::string(ns) + "/" + std::string(kResource);
  if (!name.empty()) p += "/" + std::string(name);
  return p;
}

asio::awaitable<Result<AssignedIdentityWrite>> AssignedIdentityWriter::create(json object) {
  object = assigned_identity_for_create(std::move(object));
  const std::string ns = meta_string(object, "namespace");
  const std::string name = meta_string(object, "name");
  if (ns.empty() || name.empty()) co_return malformed("create AzureAssignedIdentity: metadata.namespace and name required");
  const std::string what = "create AzureAssignedIdentity " + ns + "/" + name;

  auto created = co_await api_.call("create", kResource, path(ns), std::move(object));
  if (!created) co_return created.error().wrap(what);
  if (created->ok()) co_return AssignedIdentityWrite{AssignedIdentityWrite::Outcome::kWritten, std::move(created->body)};
  if (kube_error_for(*created) != KubeError::kAlreadyExists) co_return status_error(*created, what);

  auto existing = co_await api_.call("get", kResource, path(ns, name));
  if (!existing) co_return existing.error().wrap(what + ": read the existing object");
  if (!existing->ok()) co_return status_error(*existing, what + ": read the existing object");
  co_return AssignedIdentityWrite{AssignedIdentityWrite::Outcome::kAlreadyExists, std::move(existing->body)};
}

asio::awaitable<Result<AssignedIdentityWrite>> AssignedIdentityWriter::replace(json object) {
  const std::string ns = meta_string(object, "namespace");
  const std::string name = meta_string(object, "name");
  const std::string what = "replace AzureAssignedIdentity " + ns + "/" + name;
  if (ns.empty() || name.empty()) co_return malformed(what + ": metadata.namespace and name required");
  if (meta_string(object, "resourceVersion").empty()) co_return malformed(what + ": metadata.resourceVersion required");
  object["apiVersion"] = kApiVersion;
  object["kind"] = "AzureAssignedIdentity";
  ensure_finalizer(object);

  auto replaced = co_await api_.call("update", kResource, path(ns, name), std::move(object));
  if (!replaced) co_return replaced.error().wrap(what);
  if (replaced->ok()) co_return AssignedIdentityWrite{AssignedIdentityWrite::Outcome::kWritten, std::move(replaced->body)};
  if (kube_error_for(*replaced) == KubeError::kConflict) {
    co_return AssignedIdentityWrite{AssignedIdentityWrite::Outcome::kConflict, nullptr};
  }
  co_return status_error(*replaced, what);
}

asio::awaitable<Result<AssignedIdentityWrite>> AssignedIdentityWriter::update(std::string ns, std::string name,
                                                                              std::function<json(json)> change) {
  const std::string what = "update AzureAssignedIdentity " + ns + "/" + name;
  auto current = co_await api_.call("get", kResource, path(ns, name));
  if (!current) co_return current.error().wrap(what);
  if (!current->ok()) co_return status_error(*current, what + ": read it");
  json next = change(std::move(current->body));
  co_return co_await replace(std::move(next));
}

asio::awaitable<Result<json>> AssignedIdentityWriter::set_state(std::string ns, std::string name, std::string state) {
  const std::string what = "set AzureAssignedIdentity " + ns + "/" + name + " to " + state;
  json patch = assigned_state_patch(state);
  auto res = co_await api_.call("patch", kResource, path(ns, name), std::move(patch), kMergePatch);
  if (!res) co_return res.error().wrap(what);
  if (!res->ok()) co_return status_error(*res, what);
  co_return std::move(res->body);
}

asio::awaitable<Result<json>> AssignedIdentityWriter::remove(std::string ns, std::string name, bool has_finalizer) {
  const std::string what = "remove AzureAssignedIdentity " + ns + "/" + name;
  if (!has_finalizer) {
    // Nothing holds it once DELETEd: say Unassigned first, as the predecessor did.
    auto unassigned = co_await set_state(ns, name, std::string(kStateUnassigned));
    if (!unassigned) {
      if (unassigned.error().code == KubeError::kNotFound) co_return json(nullptr);
      co_return unassigned.error().wrap(what);
    }
  }
  auto deleted = co_await api_.call("delete", kResource, path(ns, name));
  if (!deleted) co_return deleted.error().wrap(what);
  if (deleted->status == 404) co_return json(nullptr);
  if (!deleted->ok()) co_return status_error(*deleted, what);
  if (!is_object_named(deleted->body)) co_return json(nullptr);  // a Status body: deleted outright
  const int index = finalizer_index(deleted->body);
  if (index < 0) co_return std::move(deleted->body);  // not ours to hold (another controller's finalizers stay)
  co_return co_await finalize(std::move(ns), std::move(name), index);
}

asio::awaitable<Result<json>> AssignedIdentityWriter::finalize(std::string ns, std::string name, int index) {
  const std::string what = "finalize AzureAssignedIdentity " + ns + "/" + name;
  for (int attempt = 1; attempt <= kMaxFinalizerAttempts; ++attempt) {
    if (index < 0) {
      auto fresh = co_await api_.call("get", kResource, path(ns, name));
      if (!fresh) co_return fresh.error().wrap(what);
      if (fresh->status == 404) co_return json(nullptr);
      if (!fresh->ok()) co_return status_error(*fresh, what);
      index = finalizer_index(fresh->body);
      if (index < 0) co_return std::move(fresh->body);  // not ours to hold
    }
    std::string entry = "/metadata/finalizers/" + std::to_string(index);
    // The test op makes the remove apply to our entry only, whatever happened to the list since it was read.
    json patch = json::array(
        {{{"op", "test"}, {"path", entry}, {"value", kAssignedIdentityFinalizer}},
         {{"op", "remove"}, {"path", entry}},
         {{"op", "add"}, {"path", "/status"}, {"value", assigned_state_patch(kStateUnassigned)["status"]}}});
    auto res = co_await api_.call("patch", kResource, path(ns, name), std::move(patch), kJsonPatch);
    if (!res) co_return res.error().wrap(what);
    if (res->ok()) co_return std::move(res->body);
    if (res->status == 404) co_return json(nullptr);
    auto why = kube_error_for(*res);
    if (why != KubeError::kInvalid && why != KubeError::kConflict) co_return status_error(*res, what);
    index = -1;  // the list changed under us: read it again
  }
  co_return Error{make_error_code(KubeError::kConflict),
                  what + ": the finalizer list kept changing (" + std::to_string(kMaxFinalizerAttempts) + " attempts)"};
}

asio::awaitable<Status> AssignedIdentityWriter::delete_collection(std::string ns, std::vector<std::string> uids) {
  for (std::size_t first = 0; first < uids.size(); first += kMaxUidsPerRequest) {
    std::string selector = std::string(kPodUidLabel) + " in (";
    for (std::size_t i = first; i < std::min(uids.size(), first + kMaxUidsPerRequest); ++i) {
      if (i > first) selector += ",";
      selector += uids[i];
    }
    selector += ")";
    const std::string what =
        "delete the AzureAssignedIdentities of " + std::to_string(uids.size()) + " pod(s) in " + ns;
    auto res = co_await api_.call("deletecollection", kResource,
                                  path(ns) + "?labelSelector=" + encoding::percent_encode(selector));
    if (!res) co_return res.error().wrap(what);
    if (!res->ok()) co_return status_error(*res, what);
  }
  co_return Status{};
}

}  // namespace podid::controller::kube
