// SPDX-License-Identifier: Apache-2.0
#include "controller/reconcile/identity_sync.h"

#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "podid/ascii.h"
#include "podid/log.h"

namespace podid::controller {
namespace {

namespace asio = boost::asio;
using arm::canonical_key;
using nlohmann::json;

using IdMap = std::map<std::string, std::string>;  // canonical key -> id as spelled by its source

// What a GET (or the GET that ends a successful PATCH) says about the compute.
struct ComputeModel {
  json identity = nullptr;                        // ARM's "identity" member, as compute_identity_delta reads it
  IdMap user;                                     // user-assigned ids on the compute, as ARM spells them
  std::map<std::string, std::string> client_ids;  // canonical key -> lower-cased clientId ARM reported
  bool deleting = false;
  bool updating = false;  // an operation is running: the model is not yet what the nodes have
};

bool usable(const json& resource) { return resource.is_object() && !resource.empty(); }

ComputeModel model_of(const json& resource) {
  ComputeModel v;
  if (auto it = resource.find("identity"); it != resource.end()) v.identity = *it;
  if (auto props = resource.find("properties"); props != resource.end() && props->is_object()) {
    if (auto state = props->find("provisioningState"); state != props->end() && state->is_string()) {
      const std::string s = state->get<std::string>();
      v.deleting = ascii::iequals(s, "Deleting");
      v.updating = !v.deleting && !s.empty() && !ascii::iequals(s, "Succeeded") && !ascii::iequals(s, "Failed") &&
                   !ascii::iequals(s, "Canceled");
    }
  }
  if (!v.identity.is_object()) return v;
  auto uai = v.identity.find("userAssignedIdentities");
  if (uai == v.identity.end() || !uai->is_object()) return v;
  for (const auto& [id, entry] : uai->items()) {
    const std::string key = canonical_key(id);
    v.user.emplace(key, id);
    if (entry.is_object()) {
      if (auto c = entry.find("clientId"); c != entry.end() && c->is_string()) {
        v.client_ids.emplace(key, ascii::lowered(c->get<std::string>()));
      }
    }
  }
  return v;
}

std::vector<std::string> values(const IdMap& m) {
  std::vector<std::string> out;
  out.reserve(m.size());
  for (const auto& [_, id] : m) out.push_back(id);
  return out;
}

class IdentitySync {
 public:
  IdentitySync(arm::ArmClient& arm, Ledger& ledger, const SyncTarget& target, const SyncOptions& options)
      : arm_(arm), ledger_(ledger), target_(target), options_(options) {}

  asio::awaitable<SyncResult> run() {
    // No co_await inside && or ?: (GCC 12 miscompiles both): one statement each.
    bool going = co_await prepare();
    if (going) going = co_await fetch();
    if (going) {
      initial_ = model_.user;
      co_await converge();
      if (result_.completed()) {
        if (!result_.set_aside.empty() || !result_.rejected.empty()) result_.status = SyncStatus::kPartial;
        co_await settle_ledger();
      }
    }
    report();
    co_return std::move(result_);
  }

 private:
  // Ledger load and input validation. False: the round is over (result_ says why).
  asio::awaitable<bool> prepare() {
    auto loaded = co_await ledger_.load(target_.compute);
    if (!loaded) {
      fail(SyncStatus::kLedger, "ledger load: " + loaded.error().message());
      co_return false;
    }
    ledger_loaded_ = true;
    for (const auto& id : *loaded) {
      stored_keys_.insert(canonical_key(id));
      // An entry that is not a UAMI id can name nothing to remove; it is dropped at the next store.
      if (arm::parse_identity_id(id)) {
        recorded_.emplace(canonical_key(id), id);
      } else {
        log::warn("ledger entry is not a user-assigned identity id; dropped",
                  {{"compute", target_.compute.id()}, {"entry", id}});
      }
    }
    for (const auto& id : target_.immutable_ids) {
      if (!arm::parse_identity_id(id)) {
        fail(SyncStatus::kInvalid, "immutable identity is not a user-assigned identity id: '" + id + "'");
        co_return false;
      }
    }
    for (const auto& id : target_.desired) {
      if (arm::parse_identity_id(id)) {
        desired_.emplace(canonical_key(id), id);
      } else {
        result_.rejected.push_back(id);
      }
    }
    for (const auto& c : target_.immutable_client_ids) immutable_client_ids_.insert(ascii::lowered(c));
    co_return true;
  }

  // GET the compute into model_. False: the round is over.
  asio::awaitable<bool> fetch() {
    auto out = co_await arm_.get(target_.compute);
    ++result_.gets;
    count(out);
    if (!out.ok()) {
      fail(out);
      co_return false;
    }
    if (!usable(out.resource)) {
      fail(SyncStatus::kInvalid, "GET answered without a resource body");
      co_return false;
    }
    adopt(out.resource);
    if (model_.deleting) {
      result_.status = SyncStatus::kDeleting;
      co_return false;
    }
    if (model_.updating) {
      // Someone's update is still running (a previous leader's, killed mid-operation, or another client's). Its
      // model already lists the new identities, but the nodes do not serve them until it ends: reporting them
      // as present would mark AzureAssignedIdentities Assigned too early, and a PATCH now would preempt it.
      result_.status = SyncStatus::kUpdating;
      co_return false;
    }
    co_return true;
  }

  void adopt(const json& resource) {
    model_ = model_of(resource);
    model_current_ = true;
  }

  // Steps 3-5 of the header, until nothing is left to send, the round fails or the retries run out.
  asio::awaitable<void> converge() {
    std::size_t retries = 0;
    while (true) {
      auto delta = arm::compute_identity_delta(delta_input(), options_.max_entries_per_patch);
      if (!delta) {
        fail(SyncStatus::kInvalid, "identity delta: " + delta.error().message());
        co_return;
      }
      if (delta->empty()) co_return;
      const bool recorded = co_await record(delta->added);
      if (!recorded) co_return;
      for (const auto& id : delta->added) attempted_adds_.insert(canonical_key(id));
      for (const auto& id : delta->removed) attempted_removes_.insert(canonical_key(id));

      bool set_aside_some = false;
      for (const auto& body : delta->bodies) {
        auto out = co_await arm_.patch(target_.compute, body);
        ++result_.patches;
        count(out);
        if (out.ok()) {
          // The client GETs after the operation; should it not have, learn the state before going on.
          if (usable(out.resource)) {
            adopt(out.resource);
            continue;
          }
          const bool fetched = co_await fetch();
          if (!fetched) co_return;
          continue;
        }
        if (usable(out.resource)) {
          adopt(out.resource);
        } else if (out.status < 400 || out.status >= 500) {
          // Not a synchronous refusal (transport, 5xx, an operation that ended Failed): it may have applied.
          model_current_ = false;
        }
        if (out.error && out.error->retry_without_identities() && retries < options_.max_set_aside_retries &&
            set_aside(*out.error, *delta)) {
          ++retries;
          set_aside_some = true;
          break;
        }
        fail(out);
        co_return;
      }
      if (!set_aside_some) co_return;  // every body landed
      if (!model_current_) {
        const bool fetched = co_await fetch();
        if (!fetched) co_return;
      }
    }
  }

  arm::IdentityDeltaInput delta_input() const {
    arm::IdentityDeltaInput in;
    in.current = model_.identity;
    for (const auto& [key, id] : desired_) {
      if (!set_aside_keys_.contains(key)) in.desired.push_back(id);
    }
    in.ledger = values(recorded_);
    in.immutable = target_.immutable_ids;
    for (const auto& [key, client_id] : model_.client_ids) {
      if (immutable_client_ids_.contains(client_id)) in.immutable.push_back(model_.user.at(key));
    }
    // A set-aside id is not touched again this round, in either direction.
    for (const auto& [key, id] : set_aside_keys_) in.immutable.push_back(id);
    return in;
  }

  // Sets aside the ids `error` names that this delta touches; false when it names none (no progress possible).
  bool set_aside(const arm::ArmError& error, const arm::IdentityDelta& delta) {
    IdMap touched;
    for (const auto& id : delta.added) touched.emplace(canonical_key(id), id);
    for (const auto& id : delta.removed) touched.emplace(canonical_key(id), id);
    bool any = false;
    for (const auto& named : error.identities) {
      const std::string key = canonical_key(named);
      auto it = touched.find(key);
      if (it == touched.end() || set_aside_keys_.contains(key)) continue;
      auto d = desired_.find(key);
      const std::string& id = d != desired_.end() ? d->second : it->second;
      set_aside_keys_.emplace(key, id);
      result_.set_aside.emplace(id, error);
      any = true;
    }
    return any;
  }

  // Adds the ids about to be added to the ledger before any PATCH carries them (ledger.h).
  asio::awaitable<bool> record(const std::vector<std::string>& adds) {
    IdMap next = recorded_;
    bool grew = false;
    for (const auto& id : adds) grew |= next.emplace(canonical_key(id), id).second;
    if (!grew) co_return true;
    const bool stored = co_await store(next);
    if (!stored) co_return false;
    recorded_ = std::move(next);
    co_return true;
  }

  asio::awaitable<bool> store(const IdMap& ids) {
    std::vector<std::string> list = values(ids);
    auto stored = co_await ledger_.store(target_.compute, std::move(list));
    if (!stored) {
      fail(SyncStatus::kLedger, "ledger store: " + stored.error().message());
      co_return false;
    }
    stored_keys_.clear();
    for (const auto& [key, _] : ids) stored_keys_.insert(key);
    co_return true;
  }

  // Step 6: keep on record exactly what was recorded and is present.
  asio::awaitable<void> settle_ledger() {
    IdMap kept;
    for (const auto& [key, id] : recorded_) {
      if (model_.user.contains(key)) kept.emplace(key, id);
    }
    std::set<std::string> kept_keys;
    for (const auto& [key, _] : kept) kept_keys.insert(key);
    if (kept_keys == stored_keys_) co_return;
    const SyncStatus before = result_.status;
    const bool stored = co_await store(kept);
    if (stored) {
      recorded_ = std::move(kept);
    } else {
      // The identities are in place; only the record is larger than it should be. Say so, retry later.
      result_.detail = "round " + std::string(to_string(before)) + ", then " + result_.detail;
    }
  }

  void count(const arm::ArmOutcome& out) {
    result_.arm_calls += out.calls;
    if (out.remaining_reads) result_.remaining_reads = out.remaining_reads;
    if (out.remaining_writes) result_.remaining_writes = out.remaining_writes;
  }

  void fail(SyncStatus status, std::string detail) {
    result_.status = status;
    result_.detail = std::move(detail);
  }

  void fail(const arm::ArmOutcome& out) {
    result_.retry_after = out.retry_after;
    result_.request_id = out.request_id;
    result_.error = out.error;
    result_.detail = out.detail;
    if (out.throttled()) {
      result_.status = SyncStatus::kThrottled;
      result_.subscription_throttled = out.subscription_throttled;
    } else if (out.status == 404) {
      result_.status = SyncStatus::kGone;
    } else if (out.error) {
      result_.status = SyncStatus::kArmError;
    } else {
      result_.status = SyncStatus::kTransport;
      if (result_.detail.empty()) result_.detail = "HTTP " + std::to_string(out.status) + " without an ARM error";
    }
  }

  // What landed, from the last model ARM gave, and the one log line of the round.
  void report() {
    for (const auto& [key, id] : model_.user) {
      if (attempted_adds_.contains(key) && !initial_.contains(key)) result_.added.push_back(id);
    }
    for (const auto& [key, id] : initial_) {
      if (attempted_removes_.contains(key) && !model_.user.contains(key)) result_.removed.push_back(id);
    }
    if (model_current_ && model_fetched()) result_.identities = values(model_.user);
    if (ledger_loaded_) result_.ledger = values(recorded_);

    json fields = {{"compute", target_.compute.id()},
                   {"status", to_string(result_.status)},
                   {"gets", result_.gets},
                   {"patches", result_.patches},
                   {"arm_calls", result_.arm_calls}};
    if (!result_.added.empty()) fields["added"] = result_.added;
    if (!result_.removed.empty()) fields["removed"] = result_.removed;
    if (!result_.set_aside.empty()) {
      json aside = json::object();
      for (const auto& [id, error] : result_.set_aside) aside[id] = error.code;
      fields["set_aside"] = std::move(aside);
    }
    if (!result_.rejected.empty()) fields["rejected"] = result_.rejected;
    if (result_.retry_after) fields["retry_after_s"] = result_.retry_after->count();
    if (result_.error) {
      fields["error_code"] = result_.error->code;
      fields["error"] = result_.error->message;
    }
    if (!result_.detail.empty()) fields["detail"] = result_.detail;
    if (!result_.request_id.empty()) fields["request_id"] = result_.request_id;

    log::Level level = log::Level::kError;
    switch (result_.status) {
      case SyncStatus::kConverged:
        level = result_.patches == 0 ? log::Level::kDebug : log::Level::kInfo;
        break;
      case SyncStatus::kPartial:
      case SyncStatus::kGone:
      case SyncStatus::kDeleting:
      case SyncStatus::kUpdating:
      case SyncStatus::kThrottled:
        level = log::Level::kWarn;
        break;
      default:
        break;
    }
    log::write(level, "compute reconcile round", fields);
  }

  bool model_fetched() const {
    return result_.gets > 0 && result_.status != SyncStatus::kGone && result_.status != SyncStatus::kUpdating;
  }

  arm::ArmClient& arm_;
  Ledger& ledger_;
  const SyncTarget& target_;
  const SyncOptions& options_;
  SyncResult result_;

  IdMap desired_;   // valid desired ids
  IdMap recorded_;  // the ledger as this round knows it (valid entries)
  bool ledger_loaded_ = false;
  std::set<std::string> stored_keys_;           // keys of what the ledger store holds now
  std::set<std::string> immutable_client_ids_;  // lower-cased
  IdMap set_aside_keys_;                        // key -> id of what the round no longer touches
  ComputeModel model_;                          // the last state ARM reported
  bool model_current_ = false;                  // model_ is known to be the state now in force
  IdMap initial_;                               // user-assigned ids at the first GET
  std::set<std::string> attempted_adds_, attempted_removes_;
};

}  // namespace

std::string_view to_string(SyncStatus status) {
  switch (status) {
    case SyncStatus::kConverged:
      return "converged";
    case SyncStatus::kPartial:
      return "partial";
    case SyncStatus::kGone:
      return "gone";
    case SyncStatus::kDeleting:
      return "deleting";
    case SyncStatus::kUpdating:
      return "updating";
    case SyncStatus::kThrottled:
      return "throttled";
    case SyncStatus::kArmError:
      return "arm_error";
    case SyncStatus::kTransport:
      return "transport";
    case SyncStatus::kLedger:
      return "ledger";
    case SyncStatus::kInvalid:
      return "invalid";
  }
  return "unknown";
}

asio::awaitable<SyncResult> sync_compute_identities(arm::ArmClient& arm, Ledger& ledger, const SyncTarget& target,
                                                    const SyncOptions& options) {
  IdentitySync sync(arm, ledger, target, options);
  SyncResult result = co_await sync.run();
  co_return result;
}

}  // namespace podid::controller
