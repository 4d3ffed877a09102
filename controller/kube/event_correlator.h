// SPDX-License-Identifier: Apache-2.0
//
// What to do with an event before it is written, as client-go's EventCorrelator decides it: pure, with the time
// passed in, so the rules are tested without a server or a clock.
//
//  - Spam filter: at most `max_per_object_per_minute` events per involved object in any 60 s (aggregated
//    repeats included, as in client-go, where every record spends a token). Above that: dropped. A reconciler
//    stuck in a failing loop must not fill etcd with events.
//  - Aggregation: an event equal to one written within `aggregation_window` (same object, type, reason and
//    message) becomes count+1 and a new lastTimestamp on that event, not a new object.
//  - Names: `<object name>.<16 hex digits of the Unix time in ns>`, as client-go names them, unique within this
//    process even when two events share a clock reading.
//
// Memory is bounded: at most `max_tracked` aggregation entries and object windows; the stalest go first.
//
// Errors: none.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

namespace podid::controller::kube {

// The involved object: client-go's ObjectReference fields.
struct ObjectRef {
  std::string api_version, kind, ns, name, uid, resource_version;
};

enum class EventType { kNormal, kWarning };
std::string_view to_string(EventType type);

struct EventCorrelatorOptions {
  std::chrono::seconds aggregation_window{600};  // client-go: 10 minutes
  int max_per_object_per_minute = 10;
  std::size_t max_tracked = 4096;  // client-go's LRU size
};

class EventCorrelator {
 public:
  using Time = std::chrono::system_clock::time_point;
  enum class Action { kCreate, kAggregate, kDrop };
  struct Decision {
    Action action = Action::kDrop;
    std::string key;   // aggregation key, for forget()
    std::string name;  // the Event's metadata.name
    int count = 0;     // the Event's count after this record
    Time first_timestamp{};
  };

  explicit EventCorrelator(EventCorrelatorOptions options = {});

  Decision observe(const ObjectRef& object, EventType type, std::string_view reason, std::string_view message,
                   Time now);
  // The write for `key` failed and left nothing on the server: the next equal event creates a new one.
  void forget(const std::string& key);

  std::size_t tracked() const { return aggregates_.size() + windows_.size(); }

 private:
  struct Aggregate {
    std::string name;
    int count = 0;
    Time first, last;
  };
  std::string unique_name(const std::string& object_name, Time now);
  void evict(Time now);

  EventCorrelatorOptions options_;
  std::unordered_map<std::string, Aggregate> aggregates_;       // aggregation key -> the event written
  std::unordered_map<std::string, std::deque<Time>> windows_;  // object key -> records in the last minute
  int64_t last_name_ns_ = 0;
};

}  // namespace podid::controller::kube
