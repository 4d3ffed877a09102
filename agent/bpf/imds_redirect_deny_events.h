// SPDX-License-Identifier: Apache-2.0
//
// Reads the kernel's deny events (the `events` ring buffer) on its own thread and turns each into one JSON
// audit line ("msg":"denied") and a metric increment. The kernel sends at most one event per source and
// reason every 100 ms and counts the rest (event_suppressed), and counts events lost to a full ring buffer
// (event_dropped); the refusal itself never depends on this reader.
//
// A refusal by a socket hook names the caller's cgroup (and pid); one by a frame hook names the interface the
// frame came by and what the agent knows of the pod behind it (its addresses), the source the frame claimed,
// and, at the uplink, the sending socket's cgroup.
//
// Errors: start() returns Status; the thread logs and keeps going on poll errors other than EINTR.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "agent/bpf/imds_redirect_host_hooks.h"
#include "podid/bpf/imds_redirect_abi.h"
#include "podid/result.h"

struct bpf_map;
struct ring_buffer;

namespace podid::agent {

struct DenyEventSink {
  std::function<std::optional<std::string>(uint64_t cgroup_id)> cgroup_path;
  std::function<void(const std::string& reason, const std::string& hook)> count;
  std::function<std::optional<PodInterface>(uint32_t ifindex)> pod_interface;  // optional
};

const char* deny_reason_name(uint8_t reason);
const char* hook_name(uint8_t hook);

class DenyEventReader {
 public:
  DenyEventReader(bpf_map* events, DenyEventSink sink);
  ~DenyEventReader();
  DenyEventReader(const DenyEventReader&) = delete;
  DenyEventReader& operator=(const DenyEventReader&) = delete;

  Status start();
  void stop();

  // Exposed for tests: what one event becomes.
  void handle(const podid_deny_event& ev);

 private:
  static int on_sample(void* self, void* data, size_t size);

  bpf_map* events_;
  DenyEventSink sink_;
  ring_buffer* rb_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace podid::agent
