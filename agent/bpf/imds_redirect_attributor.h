// SPDX-License-Identifier: Apache-2.0
//
// From an accepted connection to the cgroup that made it. The kernel published a record under the
// connection's 4-tuple before the SYN left (bpf/lib/imds_conn_track.h); the agent takes it exactly once,
// here, and refuses anything it cannot vouch for: no record, a record too old to belong to a connection just
// accepted, a record from another ABI. Every refusal has a reason the caller counts and logs.
//
// Errors: refusals are values (Refusal), not errors; a failing map read is Refusal::kLookupFailed.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>

#include "podid/bpf/imds_redirect_abi.h"
#include "podid/result.h"

struct bpf_map;

namespace podid::agent {

// The 4-tuple key the kernel used, from the accepted socket's peer and local addresses. IPv4-mapped
// addresses (an IPv6 listener accepting IPv4) fold to the IPv4 key, as the kernel folds them.
std::optional<podid_conn_key> conn_key_from(const sockaddr_storage& peer, const sockaddr_storage& local);

// Where records are taken from. The kernel map in production, a fake in tests.
class ConnTable {
 public:
  virtual ~ConnTable() = default;
  // Looks up and deletes the record in one step; nullopt if absent.
  virtual Result<std::optional<podid_conn_ident>> take(const podid_conn_key& key) = 0;
};

// conn_ident through libbpf. Uses BPF_MAP_LOOKUP_AND_DELETE_ELEM (5.14) so two accepts can never both take
// one record; falls back to lookup + delete on older kernels.
class BpfConnTable final : public ConnTable {
 public:
  explicit BpfConnTable(bpf_map* map) : map_(map) {}
  Result<std::optional<podid_conn_ident>> take(const podid_conn_key& key) override;

 private:
  bpf_map* map_;
  bool atomic_take_ = true;
};

// CLOCK_MONOTONIC in nanoseconds, the clock of bpf_ktime_get_ns(). An interface so tests can move time.
class MonotonicClock {
 public:
  virtual ~MonotonicClock() = default;
  virtual uint64_t now_ns() const = 0;
};

class SystemMonotonicClock final : public MonotonicClock {
 public:
  uint64_t now_ns() const override;
};

enum class Refusal {
  kUnsupportedAddress,  // not an IPv4/IPv6 socket pair
  kNoRecord,            // the kernel published nothing for this tuple: not redirected, or refused (table full)
  kStaleRecord,         // older than max_entry_age
  kAbiMismatch,         // written by programs of another ABI version
  kLookupFailed,        // the map read itself failed
};

std::string_view refusal_name(Refusal r);

struct Attribution {
  podid_conn_ident ident;
  std::chrono::nanoseconds age;  // between the kernel's record and this accept
};

class Attributor {
 public:
  Attributor(ConnTable& table, const MonotonicClock& clock, std::chrono::milliseconds max_age)
      : table_(table), clock_(clock), max_age_(max_age) {}

  std::variant<Attribution, Refusal> attribute(const sockaddr_storage& peer, const sockaddr_storage& local);

 private:
  ConnTable& table_;
  const MonotonicClock& clock_;
  std::chrono::milliseconds max_age_;
};

}  // namespace podid::agent
