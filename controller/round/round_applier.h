// SPDX-License-Identifier: Apache-2.0
//
// Makes the writes round_interpretation.h decided, through the writers, in the order given. It decides nothing
// but whether a write succeeded: a step that succeeded is tallied for its binding's Event, an Assigned
// AzureAssignedIdentity's latency is measured against RoundMemory::first_needed (then forgotten, as a removed
// one is), the server's answer goes to `observed` (the caches' write-through), a condition that could not be
// written is forgotten (the round remembered it before writing); and a DeleteBatch that failed sends its AAIs
// down the one-by-one removal instead.
//
// Errors: none escape; a failed AzureAssignedIdentity write makes apply_assigned_identity_steps return false
// (the round then backs off), Events and conditions are explanations and never fail a round.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <vector>

#include <nlohmann/json.hpp>

#include "controller/kube/assigned_identity_writer.h"
#include "controller/kube/condition_writer.h"
#include "controller/kube/event_recorder.h"
#include "controller/metrics.h"
#include "controller/round/round_interpretation.h"
#include "controller/round/round_memory.h"

namespace podid::controller {

using ObservedWrite = std::function<void(const nlohmann::json& server_copy)>;

// `now` is when the writes start (the assignment latency's end). True when every write succeeded.
boost::asio::awaitable<bool> apply_assigned_identity_steps(const AssignedIdentitySteps& steps,
                                                           kube::AssignedIdentityWriter& writer, RoundMemory& memory,
                                                           ControllerMetrics& metrics,
                                                           std::chrono::steady_clock::time_point now,
                                                           BindingTallies& tallies, const ObservedWrite& observed);

boost::asio::awaitable<void> post_events(const std::vector<EventToPost>& events, kube::EventRecorder& recorder);

boost::asio::awaitable<void> write_conditions(const std::vector<ConditionToWrite>& conditions,
                                              kube::ConditionWriter& writer, RoundMemory& memory);

}  // namespace podid::controller
