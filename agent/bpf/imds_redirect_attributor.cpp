// SPDX-License-Identifier: Apache-2.0
#include "agent/bpf/imds_redirect_attributor.h"

#include <bpf/libbpf.h>
#include <netinet/in.h>
#include <time.h>

#include <cstring>

#include "podid/bpf/imds_redirect_match.h"  // the same key builders the kernel uses

namespace podid::agent {

// The kernel's internal ENOTSUPP (524), which leaks to user space from BPF syscalls; libc has no name for it.
constexpr int kKernelENOTSUPP = 524;

std::optional<podid_conn_key> conn_key_from(const sockaddr_storage& peer, const sockaddr_storage& local) {
  podid_conn_key key{};
  if (peer.ss_family == AF_INET && local.ss_family == AF_INET) {
    const auto& p = reinterpret_cast<const sockaddr_in&>(peer);
    const auto& l = reinterpret_cast<const sockaddr_in&>(local);
    podid_conn_key_v4(&key, p.sin_addr.s_addr, p.sin_port, l.sin_addr.s_addr, l.sin_port);
    return key;
  }
  if (peer.ss_family == AF_INET6 && local.ss_family == AF_INET6) {
    const auto& p = reinterpret_cast<const sockaddr_in6&>(peer);
    const auto& l = reinterpret_cast<const sockaddr_in6&>(local);
    __u32 s[4], d[4];
    std::memcpy(s, &p.sin6_addr, 16);
    std::memcpy(d, &l.sin6_addr, 16);
    podid_conn_key_v6(&key, s, p.sin6_port, d, l.sin6_port);
    return key;
  }
  return std::nullopt;
}

Result<std::optional<podid_conn_ident>> BpfConnTable::take(const podid_conn_key& key) {
  podid_conn_ident ident{};
  if (atomic_take_) {
    if (bpf_map__lookup_and_delete_elem(map_, &key, sizeof(key), &ident, sizeof(ident), 0) == 0) return {ident};
    if (errno == ENOENT) return {std::nullopt};
    if (errno != EINVAL && errno != kKernelENOTSUPP && errno != EOPNOTSUPP) return last_os_error("take conn_ident");
    atomic_take_ = false;  // kernel before 5.14: hash maps lack lookup-and-delete
  }
  if (bpf_map__lookup_elem(map_, &key, sizeof(key), &ident, sizeof(ident), 0) != 0) {
    if (errno == ENOENT) return {std::nullopt};
    return last_os_error("look up conn_ident");
  }
  // Whoever deletes it owns it: a concurrent taker that loses the delete must not use the record.
  if (bpf_map__delete_elem(map_, &key, sizeof(key), 0) != 0) {
    if (errno == ENOENT) return {std::nullopt};
    return last_os_error("delete conn_ident");
  }
  return {ident};
}

uint64_t SystemMonotonicClock::now_ns() const {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

std::string_view refusal_name(Refusal r) {
  switch (r) {
    case Refusal::kUnsupportedAddress: return "unsupported_address";
    case Refusal::kNoRecord: return "no_kernel_record";
    case Refusal::kStaleRecord: return "stale_kernel_record";
    case Refusal::kAbiMismatch: return "abi_mismatch";
    case Refusal::kLookupFailed: return "lookup_failed";
  }
  return "unknown";
}

std::variant<Attribution, Refusal> Attributor::attribute(const sockaddr_storage& peer, const sockaddr_storage& local) {
  auto key = conn_key_from(peer, local);
  if (!key) return Refusal::kUnsupportedAddress;
  auto taken = table_.take(*key);
  if (!taken) return Refusal::kLookupFailed;
  if (!taken->has_value()) return Refusal::kNoRecord;
  const podid_conn_ident& ident = **taken;
  if (ident.version != PODID_ABI_VERSION) return Refusal::kAbiMismatch;
  uint64_t now = clock_.now_ns();
  // A record "from the future" cannot be ours either (another clock domain): treat it as stale.
  if (ident.created_ns > now) return Refusal::kStaleRecord;
  auto age = std::chrono::nanoseconds(now - ident.created_ns);
  if (age > max_age_) return Refusal::kStaleRecord;
  return Attribution{ident, age};
}

}  // namespace podid::agent
