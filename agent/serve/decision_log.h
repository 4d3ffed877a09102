// SPDX-License-Identifier: Apache-2.0
//
// The last token decisions the agent made for each pod, kept in memory for `podid explain` (served on the
// node-local decisions listener, decision_routes.h). Each record holds the audit line's fields
// (audit_token_decision writes both from one TokenDecision), so the endpoint and the log never disagree.
//
// Bounded in total and per pod, whatever pods do: at most kPerPod records per pod (a ring: the newest replace
// the oldest) and kMaxPods pods (the pod that decided least recently is forgotten first). Strings are kept in
// fixed-size fields, truncated (and marked so) when longer, so the worst case is kMaxPods * kPerPod *
// sizeof(DecisionRecord) (456 bytes): 1.9 MB, allocated a pod at a time.
//
// Cost on the token path: record() copies into a slot that exists already; the only allocation is the first
// decision of a pod not kept yet (its ring). No lock: the agent's io thread both records and serves.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace podid::agent {

struct TokenDecision;

// Text of at most N-1 bytes, inline. A longer value keeps its first N-1 bytes (cut on a UTF-8 boundary)
// and says it was truncated.
template <size_t N>
class FixedText {
 public:
  void assign(std::string_view v) {
    size_t n = v.size() < N - 1 ? v.size() : N - 1;
    truncated_ = n < v.size();
    if (truncated_) {
      while (n > 0 && (static_cast<unsigned char>(v[n]) & 0xC0) == 0x80) --n;  // not inside a UTF-8 sequence
    }
    v.copy(data_.data(), n);
    size_ = static_cast<uint16_t>(n);
  }
  std::string_view view() const { return {data_.data(), size_}; }
  bool truncated() const { return truncated_; }

 private:
  std::array<char, N - 1> data_{};
  uint16_t size_ = 0;
  bool truncated_ = false;
};

struct DecisionRecord {
  std::chrono::system_clock::time_point at;
  uint64_t cgroup_id = 0;  // the calling socket's cgroup, as the kernel recorded it
  unsigned status = 0;
  uint32_t latency_us = 0;
  FixedText<40> client_id;  // a GUID is 36
  FixedText<160> resource;
  FixedText<20> decision;
  FixedText<48> reason;
  FixedText<12> source;
  FixedText<128> subject;  // federated: system:serviceaccount:NS:SA
};

// One pod's kept records, newest last.
struct PodDecisions {
  std::string ns, name;
  uint64_t recorded = 0;  // every decision recorded for the pod, kept or not
  std::vector<DecisionRecord> newest_last;
};

class DecisionLog {
 public:
  static constexpr size_t kPerPod = 16;
  static constexpr size_t kMaxPods = 256;  // above AKS's 250 pods per node

  explicit DecisionLog(size_t per_pod = kPerPod, size_t max_pods = kMaxPods);

  // Keeps `d` under its pod_uid; a decision with no pod UID (no pod owns the caller's cgroup) is not kept.
  void record(const TokenDecision& d, std::chrono::system_clock::time_point at);
  // The same for a record made already (a replayed decision): `ns` and `pod` as record() takes them from `d`.
  void keep(std::string_view pod_uid, std::string_view ns, std::string_view pod, const DecisionRecord& r);

  static DecisionRecord make(const TokenDecision& d, std::chrono::system_clock::time_point at);
  static uint32_t micros(std::chrono::nanoseconds latency);

  // The pod's kept records (ns and name as of its last decision), or nothing.
  std::optional<PodDecisions> of(std::string_view pod_uid) const;

  size_t pods() const { return pods_.size(); }
  size_t per_pod() const { return per_pod_; }
  size_t max_pods() const { return max_pods_; }
  uint64_t pods_forgotten() const { return pods_forgotten_; }

 private:
  struct Ring {
    std::string ns, name;
    std::unique_ptr<DecisionRecord[]> slots;
    uint64_t recorded = 0;   // next slot = recorded % per_pod
    uint64_t last_used = 0;  // DecisionLog's sequence at the pod's last decision
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  Ring& ring_for(std::string_view pod_uid);
  // The pod's slot the next decision goes to (its names updated, its count advanced).
  DecisionRecord& next_slot(std::string_view pod_uid, std::string_view ns, std::string_view pod);
  static void fill(DecisionRecord& r, const TokenDecision& d, std::chrono::system_clock::time_point at);

  size_t per_pod_, max_pods_;
  uint64_t sequence_ = 0;
  uint64_t pods_forgotten_ = 0;
  std::unordered_map<std::string, Ring, Hash, std::equal_to<>> pods_;
};

}  // namespace podid::agent
