// SPDX-License-Identifier: Apache-2.0
//
// Internal to IdentityStore: one kind of object keyed by (namespace, name), plus one secondary index
// (selector, pod, namespace, client id) whose buckets list the objects sorted by (namespace, name), so
// every reader sees one deterministic order. Lookups take string_views and never allocate (C++20
// heterogeneous lookup), because selection runs on every token request.
//
// Pointer stability: objects live in unordered_map nodes, so a pointer stays valid across unrelated
// inserts and erases, and across an update of the same key (assigned in place). replace() invalidates all.
#pragma once

#include <algorithm>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace podid::agent {

struct NsNameView {
  std::string_view ns, name;
};

struct NsName {
  std::string ns, name;
  operator NsNameView() const { return {ns, name}; }  // NOLINT: implicit, for heterogeneous lookup
};

struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  size_t operator()(NsNameView k) const noexcept {
    size_t h = std::hash<std::string_view>{}(k.ns);
    return h ^ (std::hash<std::string_view>{}(k.name) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  }
};

struct KeyEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
  bool operator()(NsNameView a, NsNameView b) const noexcept { return a.ns == b.ns && a.name == b.name; }
};

// T has `ns` and `name`; KeyOf(const T&) returns the secondary key (std::string or NsName).
template <class T, class Key, auto KeyOf>
class KeyedCollection {
 public:
  using Bucket = std::vector<const T*>;

  const T* find(NsNameView key) const {
    auto it = items_.find(key);
    return it == items_.end() ? nullptr : &it->second;
  }

  template <class KeyView>
  std::span<const T* const> bucket(KeyView key) const {
    auto it = index_.find(key);
    if (it == index_.end()) return {};
    return {it->second.data(), it->second.size()};
  }

  // Inserts or updates in place; returns the previous value when there was one.
  std::optional<T> upsert(T value) {
    auto it = items_.find(NsNameView{value.ns, value.name});
    if (it == items_.end()) {
      NsName key{value.ns, value.name};
      auto [ins, _] = items_.emplace(std::move(key), std::move(value));
      index_add(&ins->second);
      return std::nullopt;
    }
    std::optional<T> before(std::move(it->second));
    Key old_key = KeyOf(*before);
    Key new_key = KeyOf(value);
    bool moved = !KeyEq{}(old_key, new_key);
    if (moved) index_remove(old_key, &it->second);
    it->second = std::move(value);
    if (moved) index_add(&it->second);
    return before;
  }

  std::optional<T> erase(NsNameView key) {
    auto it = items_.find(key);
    if (it == items_.end()) return std::nullopt;
    index_remove(KeyOf(it->second), &it->second);
    std::optional<T> before(std::move(it->second));
    items_.erase(it);
    return before;
  }

  // Swaps in a complete new set; returns the old objects (for diffing by the caller).
  std::unordered_map<NsName, T, KeyHash, KeyEq> replace(std::vector<T> values) {
    std::unordered_map<NsName, T, KeyHash, KeyEq> old = std::move(items_);
    items_.clear();
    index_.clear();
    for (T& v : values) {
      NsName key{v.ns, v.name};
      auto [it, inserted] = items_.insert_or_assign(std::move(key), std::move(v));
      if (inserted) index_add(&it->second);  // a list never repeats a key; if it did, the last one wins
    }
    if (items_.size() != values.size()) rebuild_index();
    return old;
  }

  // Calls f on each object of one bucket, mutably. f must not change ns, name or the secondary key.
  template <class KeyView, class F>
  void update_bucket(KeyView key, F&& f) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    // The index holds const pointers so readers cannot write through it; the objects themselves are the
    // non-const values of items_, so casting the constness away here is well-defined.
    for (const T* p : it->second) f(*const_cast<T*>(p));
  }

  size_t size() const { return items_.size(); }

  // Calls f(const T&) for every item, in no particular order.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [key, item] : items_) f(item);
  }

 private:
  static bool before_in_order(const T* a, const T* b) { return std::tie(a->ns, a->name) < std::tie(b->ns, b->name); }

  void index_add(const T* p) {
    Bucket& b = index_[KeyOf(*p)];
    b.insert(std::upper_bound(b.begin(), b.end(), p, before_in_order), p);
  }

  void index_remove(const Key& key, const T* p) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    std::erase(it->second, p);
    if (it->second.empty()) index_.erase(it);
  }

  void rebuild_index() {
    index_.clear();
    for (auto& [_, v] : items_) index_add(&v);
  }

  std::unordered_map<NsName, T, KeyHash, KeyEq> items_;
  std::unordered_map<Key, Bucket, KeyHash, KeyEq> index_;
};

}  // namespace podid::agent
