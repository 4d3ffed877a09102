// SPDX-License-Identifier: Apache-2.0
//
// IdentityStore: the agent's copy of the four aadpodidentity.k8s.io kinds, fed by list/watch reflectors
// (replace_* after every list, apply_* for each watch event), indexed for the per-request choice in
// selection.h: identities by (namespace, name), bindings by selector, assigned identities by
// (pod namespace, pod name), exceptions by namespace. Every bucket is ordered by (namespace, name).
//
// Bad objects: an object that fails to parse (crd_types.h) is skipped, listed in rejected() with its
// error until it is fixed or deleted, counted, and logged once (one warn line per object and error, not
// again on every relist). An update that makes a known object invalid removes the old version: serving a
// stale copy of something its owner has since changed would be worse than serving nothing.
//
// Change notification: on_identity_changed fires (with the old value) when an identity is deleted, becomes
// invalid, or changes in a field a token depends on (AzureIdentity::token_relevant_change_from); a
// resourceVersion- or annotation-only update does not fire. on_binding_changed fires when a binding is
// deleted, becomes invalid, or changes its identity or selector. Callbacks run after the store is updated.
// Relists diff against the previous copy and fire the same way.
//
// Threading: not synchronised. The reflectors' callbacks and the token server run on the agent's one io
// thread; a caller using more threads must serialise access. Pointers returned by lookups stay valid until
// the next replace_*/apply_* call of the same kind (or learn_principal_id for identities' contents).
//
// Errors: none escape; nothing here throws on bad input.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "podid/crd/crd_types.h"
#include "agent/identity/keyed_collection.h"
#include "podid/result.h"

namespace podid::agent {

using namespace podid::crd;  // the shared aadpodidentity.k8s.io types, read as the agent's own

// A watch event's type; the agent maps k8s::WatchEventType onto it (BOOKMARK and ERROR never reach here).
// kAdded and kModified are both upserts: a reflector resuming a watch may replay either for a known key.
enum class Change { kAdded, kModified, kDeleted };

enum class CrdKind { kAzureIdentity, kAzureIdentityBinding, kAzureAssignedIdentity, kAzurePodIdentityException };
std::string_view to_string(CrdKind kind);

struct RejectedObject {
  CrdKind kind;
  std::string key;  // "ns/name"
  Error error;
};

// For metrics: gauges (sizes) and monotonic counters.
struct IdentityStoreCounts {
  size_t identities = 0, bindings = 0, assigned_identities = 0, exceptions = 0;
  size_t rejected = 0;              // objects currently skipped as invalid (gauge)
  uint64_t rejections_total = 0;    // times an object was found invalid with a new error (counter)
  uint64_t identity_changes = 0;    // on_identity_changed firings
  uint64_t binding_changes = 0;     // on_binding_changed firings
  uint64_t principals_learned = 0;  // learn_principal_id calls that changed something
};

class IdentityStore {
 public:
  using IdentityCallback = std::function<void(const AzureIdentity& before)>;
  using BindingCallback = std::function<void(const AzureIdentityBinding& before)>;

  void replace_identities(const std::vector<nlohmann::json>& items);
  void apply_identity(Change change, const nlohmann::json& object);
  void replace_bindings(const std::vector<nlohmann::json>& items);
  void apply_binding(Change change, const nlohmann::json& object);
  void replace_assigned_identities(const std::vector<nlohmann::json>& items);
  void apply_assigned_identity(Change change, const nlohmann::json& object);
  void replace_exceptions(const std::vector<nlohmann::json>& items);
  void apply_exception(Change change, const nlohmann::json& object);

  // Several subscribers may register; they are called in registration order.
  void on_identity_changed(IdentityCallback callback);
  void on_binding_changed(BindingCallback callback);

  // The token layer saw `principal_id` (a token's `oid` claim) for `client_id`. Recorded for every identity
  // with that client id (ignoring case), now and when they are re-listed; wins over the annotation. Ignored
  // (false) when no identity has that client id. Returns true when it changed what the store knew.
  bool learn_principal_id(std::string_view client_id, std::string_view principal_id);

  // Counts changes (every event applied, every list replaced, every principal learned): a decision made from
  // the store still holds while this is unchanged (agent/serve/token_replay.h).
  uint64_t generation() const { return generation_; }

  // Hot-path lookups; never allocate.
  const AzureIdentity* identity(std::string_view ns, std::string_view name) const;
  const AzureIdentityBinding* binding(std::string_view ns, std::string_view name) const;
  std::span<const AzureIdentityBinding* const> bindings_with_selector(std::string_view selector) const;
  std::span<const AzureAssignedIdentity* const> assigned_to_pod(std::string_view pod_ns, std::string_view pod) const;
  std::span<const AzurePodIdentityException* const> exceptions_in(std::string_view ns) const;
  std::span<const AzureIdentity* const> identities_with_client_id(std::string_view client_id_lowercase) const;

  // Every identity, in no particular order (for deriving what to watch, e.g. the Secrets they reference).
  template <class F>
  void for_each_identity(F&& f) const {
    identities_.for_each(std::forward<F>(f));
  }

  std::vector<RejectedObject> rejected() const;  // ordered by kind, then key
  IdentityStoreCounts counts() const;

 private:
  static std::string client_id_key(const AzureIdentity& i);
  static std::string selector_key(const AzureIdentityBinding& b) { return b.selector; }
  static NsName pod_key(const AzureAssignedIdentity& a) { return {a.pod_namespace, a.pod}; }
  static std::string ns_key(const AzurePodIdentityException& e) { return e.ns; }

  template <class T, class Collection, class Parse, class Prepare, class Changed>
  void apply_kind(CrdKind kind, Collection& items, Change change, const nlohmann::json& object, Parse parse,
                  Prepare prepare, Changed changed);
  template <class T, class Collection, class Parse, class Prepare, class Changed>
  void replace_kind(CrdKind kind, Collection& items, const std::vector<nlohmann::json>& objects, Parse parse,
                    Prepare prepare, Changed changed);

  void reject(CrdKind kind, const std::string& key, const Error& error);
  void accept(CrdKind kind, const std::string& key);
  void overlay_learned(AzureIdentity& identity) const;
  void identity_diff(const AzureIdentity& before, const AzureIdentity* after);
  void binding_diff(const AzureIdentityBinding& before, const AzureIdentityBinding* after);
  void identity_changed(const AzureIdentity& before);
  void binding_changed(const AzureIdentityBinding& before);

  KeyedCollection<AzureIdentity, std::string, &IdentityStore::client_id_key> identities_;
  KeyedCollection<AzureIdentityBinding, std::string, &IdentityStore::selector_key> bindings_;
  KeyedCollection<AzureAssignedIdentity, NsName, &IdentityStore::pod_key> assigned_;
  KeyedCollection<AzurePodIdentityException, std::string, &IdentityStore::ns_key> exceptions_;

  std::map<std::pair<CrdKind, std::string>, Error> rejected_;
  std::unordered_map<std::string, std::string> learned_principals_;  // lower-case client id -> principal id
  std::vector<IdentityCallback> identity_callbacks_;
  std::vector<BindingCallback> binding_callbacks_;
  uint64_t rejections_total_ = 0, identity_changes_ = 0, binding_changes_ = 0, principals_learned_ = 0;
  uint64_t generation_ = 0;
};

}  // namespace podid::agent
