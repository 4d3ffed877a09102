// SPDX-License-Identifier: Apache-2.0
//
// The service accounts that name an Azure identity by Azure Workload Identity's convention (annotation
// azure.workload.identity/client-id, optionally .../tenant-id), fed by a cluster-wide list/watch of
// ServiceAccounts. Only annotated accounts are kept, each as the federated AzureIdentity it stands for
// (crd::workload_identity_of), so identity choice treats them like AzureIdentity objects: an account that loses its
// annotation, or changes its client id or tenant, fires on_changed with the identity it stood for, and the token
// layer drops what it obtained under that name (the next token follows the annotation).
//
// Single-threaded: fed and read on the agent's io thread. Errors: an account whose annotations do not parse is
// skipped, counted and logged once per version. Pointers returned stay valid until the next replace/apply.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "podid/crd/workload_identity.h"
#include "podid/k8s/api_client.h"

namespace podid::agent {

using namespace podid::crd;  // the shared aadpodidentity.k8s.io types, read as the agent's own

class ServiceAccountStore {
 public:
  using Callback = std::function<void(const AzureIdentity& before)>;

  void replace(const std::vector<nlohmann::json>& items);
  void apply(k8s::WatchEventType type, const nlohmann::json& object);

  // The federated identity account `ns/name` names, or nullptr (no client-id annotation, or no such account).
  const AzureIdentity* workload_identity(std::string_view ns, std::string_view name) const;

  // Fired after the store changed, for an annotated account that went away or now names another identity.
  void on_changed(Callback callback) { callbacks_.push_back(std::move(callback)); }

  // As IdentityStore::learn_principal_id: a token's `oid` for this client id. True when it changed something.
  bool learn_principal_id(std::string_view client_id, std::string_view principal_id);

  size_t size() const { return accounts_.size(); }
  // Counts changes, as IdentityStore::generation.
  uint64_t generation() const { return generation_; }
  uint64_t parse_errors() const { return parse_errors_; }

 private:
  using Key = std::pair<std::string, std::string>;
  struct Less {
    using is_transparent = void;
    // Field by field as string_views: a pair of strings and a pair of views compare alike (std::tie of the two
    // mixes tuple types, which clang 14 with libstdc++ 12 does not compare).
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      std::string_view a1 = a.first, b1 = b.first;
      if (a1 != b1) return a1 < b1;
      return std::string_view(a.second) < std::string_view(b.second);
    }
  };
  void upsert(const nlohmann::json& object);
  void remove(const Key& key);
  void changed(const AzureIdentity& before);

  std::map<Key, AzureIdentity, Less> accounts_;
  std::map<std::string, std::string> learned_;  // lower-case client id -> principal id
  std::vector<Callback> callbacks_;
  uint64_t parse_errors_ = 0;
  uint64_t generation_ = 0;
};

}  // namespace podid::agent
