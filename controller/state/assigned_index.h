// SPDX-License-Identifier: Apache-2.0
//
// The existing AzureAssignedIdentities, as records (records.h), by name and by what a round asks of them: the
// ones standing for a compute (kComputeAnnotation), the predecessor's by node (they name no compute), and how
// many carry one pod uid in one namespace (so that a round knows whether one deletecollection request by
// kPodUidLabel removes exactly the AAIs it means to remove). Pure, no I/O.
//
// Errors: none.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "controller/state/assignment_plan.h"
#include "controller/state/desired_index.h"
#include "controller/state/records.h"

namespace podid::controller {

class AssignedIndex {
 public:
  // Replaces the AAI of that name; returns the one it replaced (null when new).
  std::shared_ptr<const AssignedRecord> upsert(std::shared_ptr<const AssignedRecord> record);
  std::shared_ptr<const AssignedRecord> remove(const ObjectName& aai);
  void clear();

  std::shared_ptr<const AssignedRecord> find(const ObjectName& aai) const;
  // Those whose kComputeAnnotation is `compute` ("" included).
  AssignedRecords naming(std::string_view compute) const;
  // The predecessor's (no kComputeAnnotation) on `node`, and every node that has some.
  AssignedRecords unnamed_on(std::string_view node) const;
  std::set<std::string, std::less<>> nodes_with_unnamed() const;
  std::size_t with_pod_uid(std::string_view ns, std::string_view pod_uid) const;
  std::size_t size() const { return by_name_.size(); }
  const std::map<ObjectName, std::shared_ptr<const AssignedRecord>>& all() const { return by_name_; }

 private:
  // Names held as keys of by_name_ (stable addresses), ordered by the names.
  struct ByName {
    bool operator()(const ObjectName* a, const ObjectName* b) const { return *a < *b; }
  };
  using NameSet = std::set<const ObjectName*, ByName>;

  void index(const ObjectName* name, const AssignedRecord& r, int sign);

  std::map<ObjectName, std::shared_ptr<const AssignedRecord>> by_name_;
  std::map<std::string, NameSet, std::less<>> by_compute_;
  std::map<std::string, NameSet, std::less<>> unnamed_by_node_;
  std::map<std::pair<std::string, std::string>, std::size_t> by_pod_uid_;  // (namespace, uid) -> count
};

}  // namespace podid::controller
