// SPDX-License-Identifier: Apache-2.0
#include "controller/kube/ledger_store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <set>

#include "controller/kube/kube_errors.h"
#include "podid/encoding/percent.h"
#include "podid/log.h"

namespace podid::controller::kube {
namespace asio = boost::asio;
using nlohmann::json;

namespace {

constexpr int kListPageSize = 500;

Error malformed(std::string context) { return {make_error_code(KubeError::kMalformedObject), std::move(context)}; }

std::string sha256_hex_prefix(std::string_view text, size_t hex_chars) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // EVP_Digest with SHA-256 cannot fail on in-memory input short of an OpenSSL without SHA-256.
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len && out.size() < hex_chars; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  out.resize(std::min(out.size(), hex_chars));
  return out;
}

const json* find_path(const json& object, std::initializer_list<std::string_view> keys) {
  const json* at = &object;
  for (auto key : keys) {
    if (!at->is_object()) return nullptr;
    auto it = at->find(key);
    if (it == at->end()) return nullptr;
    at = &*it;
  }
  return at;
}

std::string string_at(const json& object, std::initializer_list<std::string_view> keys) {
  const json* v = find_path(object, keys);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

// Both normalised (sorted by key): equal as sets of ARM ids.
bool same_ids(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const std::string& x, const std::string& y) { return arm::same_id(x, y); });
}

}  // namespace

std::string ledger_name(const arm::ResourceId& compute) {
  return std::string(kLedgerNamePrefix) + sha256_hex_prefix(compute.key(), 16);
}

std::vector<std::string> normalized_ledger(std::vector<std::string> ids) {
  std::vector<std::pair<std::string, std::string>> keyed;  // (key, as written)
  std::set<std::string> seen;
  for (auto& id : ids) {
    std::string key = arm::canonical_key(id);
    if (key.empty() || !seen.insert(key).second) continue;
    keyed.emplace_back(std::move(key), std::move(id));
  }
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::string> out;
  out.reserve(keyed.size());
  for (auto& [key, id] : keyed) out.push_back(std::move(id));
  return out;
}

Result<std::vector<std::string>> ledger_ids(const json& config_map, const arm::ResourceId& compute) {
  std::string name = string_at(config_map, {"metadata", "name"});
  std::string what = "ledger ConfigMap " + name;
  const json* recorded = find_path(config_map, {"metadata", "annotations", kResourceIdAnnotation});
  if (!recorded || !recorded->is_string()) {
    return malformed(what + ": no " + std::string(kResourceIdAnnotation) + " annotation");
  }
  if (!arm::same_id(recorded->get_ref<const std::string&>(), compute.id())) {
    return Error{make_error_code(KubeError::kNameCollision),
                 what + " records " + recorded->get<std::string>() + ", not " + compute.id()};
  }
  const json* data = find_path(config_map, {"data", kLedgerDataKey});
  if (!data) return std::vector<std::string>{};  // a ConfigMap with no data: nothing recorded
  if (!data->is_string()) return malformed(what + ": data." + std::string(kLedgerDataKey) + " is not a string");
  json ids = json::parse(data->get_ref<const std::string&>(), nullptr, false);
  if (ids.is_discarded() || !ids.is_array()) {
    return malformed(what + ": data." + std::string(kLedgerDataKey) + " is not a JSON array");
  }
  std::vector<std::string> out;
  for (const auto& id : ids) {
    if (!id.is_string()) return malformed(what + ": data." + std::string(kLedgerDataKey) + " holds a non-string");
    out.push_back(id.get<std::string>());
  }
  return out;
}

json ledger_config_map(std::string_view ns, const arm::ResourceId& compute, const std::vector<std::string>& ids) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata",
           {{"name", ledger_name(compute)},
            {"namespace", ns},
            {"labels", {{kManagedByLabel, kManagedByValue}}},
            {"annotations", {{kResourceIdAnnotation, compute.id()}}}}},
          {"data", {{kLedgerDataKey, json(ids).dump()}}}};
}

ConfigMapLedger::ConfigMapLedger(MeteredApi& api, std::string ns) : api_(api), ns_(std::move(ns)) {}

std::string ConfigMapLedger::path(std::string_view name) const {
  // Appended piecewise: GCC 12 warns (-Wstringop-overflow, a false positive) on "literal" + std::string here.
  std::string p = "/api/v1/namespaces/";
  p.append(ns_).append("/configmaps");
  if (!name.empty()) p.append("/").append(name);
  return p;
}

asio::awaitable<Result<std::vector<std::string>>> ConfigMapLedger::load(const arm::ResourceId& compute) {
  std::string name = ledger_name(compute);
  auto res = co_await api_.call("get", "configmaps", path(name));
  if (!res) co_return res.error().wrap("load ledger of " + compute.id());
  if (res->status == 404) co_return std::vector<std::string>{};
  if (!res->ok()) co_return status_error(*res, "load ledger of " + compute.id() + " (" + ns_ + "/" + name + ")");
  co_return ledger_ids(res->body, compute);
}

asio::awaitable<Status> ConfigMapLedger::store(const arm::ResourceId& compute, std::vector<std::string> ids) {
  ids = normalized_ledger(std::move(ids));
  const std::string name = ledger_name(compute);
  const std::string what = "store ledger of " + compute.id() + " (" + ns_ + "/" + name + ")";
  for (int attempt = 1; attempt <= kMaxWriteAttempts; ++attempt) {
    auto current = co_await api_.call("get", "configmaps", path(name));
    if (!current) co_return current.error().wrap(what);
    if (current->status == 404) {
      if (ids.empty()) co_return Status{};  // nothing recorded, nothing to record
      json body = ledger_config_map(ns_, compute, ids);
      auto created = co_await api_.call("create", "configmaps", path(), std::move(body));
      if (!created) co_return created.error().wrap(what);
      if (created->ok()) co_return Status{};
      if (kube_error_for(*created) != KubeError::kAlreadyExists) co_return status_error(*created, what);
      continue;  // another writer created it first: re-read and compare
    }
    if (!current->ok()) co_return status_error(*current, what);
    auto recorded = ledger_ids(current->body, compute);
    if (!recorded) co_return recorded.error().wrap(what);
    // The same set, whatever the spelling: no write (each write wakes every watcher of ConfigMaps).
    if (same_ids(normalized_ledger(std::move(recorded.value())), ids)) co_return Status{};

    // Keep whatever else the object carries (an operator's labels); replace only our fields.
    json body = std::move(current->body);
    json fresh = ledger_config_map(ns_, compute, ids);
    body["metadata"]["labels"][std::string(kManagedByLabel)] = kManagedByValue;
    body["data"][std::string(kLedgerDataKey)] = fresh["data"][std::string(kLedgerDataKey)];
    auto updated = co_await api_.call("update", "configmaps", path(name), std::move(body));
    if (!updated) co_return updated.error().wrap(what);
    if (updated->ok()) co_return Status{};
    if (kube_error_for(*updated) != KubeError::kConflict) co_return status_error(*updated, what);
    log::info("ledger write conflict, re-reading", {{"compute", compute.id()}, {"attempt", attempt}});
  }
  co_return Error{make_error_code(KubeError::kConflict),
                  what + ": gave up after " + std::to_string(kMaxWriteAttempts) + " conflicting writes"};
}

asio::awaitable<Result<std::vector<LedgerEntry>>> ConfigMapLedger::list_ledgers() {
  std::vector<LedgerEntry> out;
  const std::string selector =
      encoding::percent_encode(std::string(kManagedByLabel) + "=" + std::string(kManagedByValue));
  std::string continue_token;
  do {
    std::string query = path() + "?labelSelector=" + selector + "&limit=" + std::to_string(kListPageSize);
    if (!continue_token.empty()) query += "&continue=" + encoding::percent_encode(continue_token);
    auto page = co_await api_.call("list", "configmaps", std::move(query));
    if (!page) co_return page.error().wrap("list ledgers in " + ns_);
    if (!page->ok()) co_return status_error(*page, "list ledgers in " + ns_);
    const json* items = find_path(page->body, {"items"});
    if (!items || !items->is_array()) co_return malformed("list ledgers in " + ns_ + ": no items array");
    for (const auto& item : *items) {
      std::string name = string_at(item, {"metadata", "name"});
      if (name.rfind(kLedgerNamePrefix, 0) != 0) continue;  // another ConfigMap of ours (not a ledger)
      auto compute = arm::parse_resource_id(string_at(item, {"metadata", "annotations", kResourceIdAnnotation}));
      Result<std::vector<std::string>> ids = malformed("not a scale set or VM");
      if (compute && compute->kind != arm::ResourceKind::kUserAssignedIdentity) {
        ids = ledger_name(*compute) == name ? ledger_ids(item, *compute)
                                            : malformed("name does not match the annotation");
      } else if (!compute) {
        ids = compute.error();
      }
      if (!ids) {
        log::warn("ledger ConfigMap skipped", {{"namespace", ns_}, {"name", name}, {"error", ids.error().message()}});
        continue;
      }
      out.push_back(LedgerEntry{std::move(compute.value()), std::move(ids.value())});
    }
    continue_token = string_at(page->body, {"metadata", "continue"});
  } while (!continue_token.empty());
  std::sort(out.begin(), out.end(),
            [](const LedgerEntry& a, const LedgerEntry& b) { return a.compute.key() < b.compute.key(); });
  co_return out;
}

}  // namespace podid::controller::kube
