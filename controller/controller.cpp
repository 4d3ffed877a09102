// SPDX-License-Identifier: Apache-2.0
#include "controller/controller.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <malloc.h>

#include "podid/log.h"
#include "podid/spawn.h"

namespace podid::controller {
namespace asio = boost::asio;
namespace {

// Problems are reported once each, after a burst of changes has settled.
constexpr std::chrono::milliseconds kProblemSettle{200};

// The Events live in the coroutine's frame (a parameter by value), not in a caller that returns at once.
asio::awaitable<void> post_owned(std::vector<EventToPost> events, kube::EventRecorder& recorder) {
  co_await post_events(events, recorder);
}

WorkQueueOptions queue_options(const ControllerConfig& c) {
  WorkQueueOptions o;
  o.window = c.coalesce_window;
  o.initial_backoff = c.retry_initial;
  o.max_backoff = c.retry_max;
  o.group_of = [](std::string_view key) { return subscription_of(key); };
  return o;
}

}  // namespace

Controller::Controller(asio::io_context& io, const ControllerConfig& config, ClusterCache& cache, RoundDeps deps,
                       ControllerMetrics& metrics)
    : io_(io),
      config_(config),
      cache_(cache),
      deps_(std::move(deps)),
      metrics_(metrics),
      queue_(queue_options(config)),
      events_(config.binding_event_window),
      drive_timer_(io),
      full_pass_timer_(io),
      event_timer_(io),
      problem_timer_(io) {}

Controller::~Controller() = default;

std::string Controller::not_ready_reason() const {
  for (const auto& [name, s] : cache_.stats()) {
    if (!s.synced) return "informer " + name + " has not listed yet" + (s.last_error.empty() ? "" : ": " + s.last_error);
  }
  return "";
}

void Controller::cache_changed(Reach reach) {
  // Never act on a partial view: with bindings listed but pods not yet, every identity would look unneeded.
  if (!synced_) {
    if (cache_.synced()) synced();
    return;
  }
  // Assignment latency is measured from when an AAI was first desired.
  const auto now = deps_.clock.now();
  for (const auto& aai : reach.vanished) memory_.first_needed.erase(aai.first + "/" + aai.second);
  for (const auto& aai : reach.appeared) memory_.first_needed.try_emplace(aai.first + "/" + aai.second, now);
  if (reach.problems_changed) schedule_problem_report();
  if (leading_) queue(reach.computes);
}

void Controller::synced() {
  synced_ = true;
  const auto now = deps_.clock.now();
  cache_.desired().each_assignment(
      [&](const ObjectName& aai) { memory_.first_needed.try_emplace(aai.first + "/" + aai.second, now); });
  log::info("caches synced", {{"pods_desired", cache_.desired().assignment_count()},
                              {"assigned_identities", cache_.assigned().size()},
                              {"computes", cache_.desired().computes().size()}});
  schedule_problem_report();
  if (leading_) queue_everything(false);
  schedule_full_pass();
}

void Controller::queue(const std::set<std::string, std::less<>>& keys) {
  const auto now = deps_.clock.now();
  for (const auto& key : keys) queue_.add(key, now);
  if (!keys.empty()) wake();
}

// Every compute this replica knows of: those with nodes, those podid's ledger names, those existing AAIs name.
// `force`: those that should hold identities (or the ledger names) run even when nothing looks changed.
void Controller::queue_everything(bool force) {
  std::set<std::string, std::less<>> keys{""};
  for (const auto& [key, need] : cache_.desired().computes()) {
    keys.insert(key);
    if (force && !need.identity_ids.empty()) forced_.insert(key);
  }
  for (const auto& [key, compute] : memory_.ledger_computes) {
    keys.insert(key);
    if (force) forced_.insert(key);
  }
  for (const auto& [name, aai] : cache_.assigned().all()) {
    keys.insert(aai->compute ? *aai->compute : cache_.desired().compute_of_node(aai->node));
  }
  queue(keys);
}

void Controller::schedule_problem_report() {
  if (problem_report_pending_) return;
  problem_report_pending_ = true;
  problem_timer_.expires_after(kProblemSettle);
  problem_timer_.async_wait([this](boost::system::error_code ec) {
    problem_report_pending_ = false;
    if (!ec) report_problems();
  });
}

void Controller::report_problems() {
  std::vector<DesiredProblem> problems = cache_.desired().problems();
  for (auto& p : cache_.invalid()) problems.push_back(std::move(p));
  std::set<std::string, std::less<>> current;
  for (const auto& p : problems) {
    std::string id = p.id();
    current.insert(id);
    if (problems_seen_.count(id)) continue;
    metrics_.problem(p.reason);
    log::warn("object cannot be used", {{"kind", p.kind}, {"namespace", p.ns}, {"name", p.name},
                                        {"reason", p.reason}, {"message", p.message}});
    if (!leading_) continue;
    kube::ObjectRef ref{.api_version = p.kind == "Node" || p.kind == "Pod" ? "v1" : "aadpodidentity.k8s.io/v1",
                        .kind = p.kind, .ns = p.ns, .name = p.name};
    spawn_logged(io_.get_executor(), deps_.events.record(ref, kube::EventType::kWarning, p.reason, p.message),
                 "Event " + p.reason);
  }
  problems_seen_ = std::move(current);
}

void Controller::start_leading() {
  if (leading_) return;
  leading_ = true;
  log::info("leading: reconciling scale sets");
  // Computes podid added identities to, whether or not a node of the cluster is still on them.
  asio::co_spawn(
      io_,
      [this]() -> asio::awaitable<void> {
        auto entries = co_await deps_.ledger.list_ledgers();
        if (!entries) {
          log::error("cannot list the ledger; removals wait for it", {{"error", entries.error().message()}});
        } else {
          for (auto& e : *entries) memory_.ledger_computes.emplace(e.compute.key(), e.compute);
        }
        if (synced_) queue_everything(true);  // a new leader checks every compute once
        co_await drive();
      },
      [](std::exception_ptr e) {
        if (e) log::error("controller loop ended by an exception");
      });
  if (!synced_ && cache_.synced()) synced();
}

void Controller::stop_leading() {
  if (!leading_) return;
  leading_ = false;
  log::warn("no longer leading: rounds stop");
  events_.clear();  // explanations of rounds the next leader redoes
  wake();
}

void Controller::wake() { drive_timer_.cancel(); }

asio::awaitable<void> Controller::drive() {
  while (leading_) {
    const auto now = deps_.clock.now();
    while (in_flight_ < config_.max_parallel_computes) {
      auto key = queue_.pop(now);
      if (!key) break;
      ++in_flight_;
      asio::co_spawn(io_, work_on(*key), [key = *key](std::exception_ptr e) {
        if (e) log::error("round ended by an exception", {{"compute", key}});
      });
    }
    metrics_.set_queue_depth(queue_.depth(), queue_.processing());
    auto due = queue_.next_due();
    drive_timer_.expires_at(due ? std::max(*due, now) : now + std::chrono::hours(1));
    co_await drive_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

bool Controller::has_work(const ComputeSlice& slice) const {
  if (forced_.contains(slice.key) || has_pending_assignments(slice)) return true;
  auto applied = memory_.applied.find(slice.key);
  if (!slice.need) {
    // No node on it any more: work while podid's ledger may still hold identities there.
    return memory_.ledger_computes.contains(slice.key) &&
           (applied == memory_.applied.end() || !applied->second.empty());
  }
  return applied == memory_.applied.end() || applied->second != canonical_set(slice.need->identity_ids);
}

asio::awaitable<void> Controller::work_on(std::string key) {
  // Queued for a change that the cache has since shown done (our own writes coming back): nothing to ask ARM.
  ComputeSlice slice = cache_.slice(key, deps_.immutable_client_ids);
  RoundReport report{.outcome = Outcome::success()};
  if (leading_ && has_work(slice)) {
    forced_.erase(key);
    report = co_await run_round(std::move(slice), deps_, memory_, metrics_, events_);
  }
  --in_flight_;
  const auto now = deps_.clock.now();
  queue_.done(key, now, report.outcome);
  const std::string subscription = subscription_of(key);
  budget_.observe(subscription, report.budget, now);
  if (auto until = budget_.hold_until(subscription, now)) {
    auto& held = held_until_[subscription];
    const auto from = std::max(held, now);
    if (*until > from) metrics_.subscription_held(subscription, *until - from);  // only the hold this adds
    held = std::max(held, *until);
    queue_.hold_group(subscription, *until);
  }
  if (auto left = budget_.remaining_reads(subscription)) metrics_.set_arm_budget(subscription, "reads", *left);
  if (auto left = budget_.remaining_writes(subscription)) metrics_.set_arm_budget(subscription, "writes", *left);
  schedule_event_flush();
  wake();
}

void Controller::schedule_event_flush() {
  auto due = events_.next_due();
  if (!due) return;
  event_timer_.expires_at(*due);
  event_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || !leading_) return;
    auto events = events_.due(deps_.clock.now());
    if (!events.empty()) {
      spawn_logged(io_.get_executor(), post_owned(std::move(events), deps_.events), "binding Events");
    }
    schedule_event_flush();
  });
}

void Controller::schedule_full_pass() {
  if (config_.drift_check_interval.count() == 0) return;
  full_pass_timer_.expires_after(config_.drift_check_interval);
  full_pass_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    full_pass();
    schedule_full_pass();
  });
}

// The safety net of the incremental path: the desired state computed whole must equal the index's. A
// difference is a bug; it is counted and logged, and the index is rebuilt from the caches' records. Then, when
// leading, every compute that should hold identities is checked against ARM (one GET; a PATCH only if something
// was removed out of band).
void Controller::full_pass() {
  const auto started = deps_.clock.now();
  DesiredIndex& index = cache_.desired_for_rebuild();
  ClusterSnapshot snapshot = index.snapshot();
  const std::string differs = index.difference_from(compute_desired_state(snapshot));
  if (!differs.empty()) {
    metrics_.full_pass_mismatch();
    log::error("the incremental desired state differs from the full computation; rebuilding it", {{"what", differs}});
    DesiredIndex fresh(config_.force_namespaced);
    for (const auto& [node, provider_id] : snapshot.node_provider_ids) fresh.upsert_node({node, provider_id});
    for (const auto& id : snapshot.identities) fresh.upsert_identity(id);
    for (const auto& b : snapshot.bindings) fresh.upsert_binding(b);
    for (auto& pod : snapshot.pods) fresh.upsert_pod(std::move(pod));
    index = std::move(fresh);
  }
  const auto took = deps_.clock.now() - started;
  metrics_.full_pass(took);
  log::info("full pass", {{"duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(took).count()},
                          {"assignments", index.assignment_count()},
                          {"consistent", differs.empty()}});
  snapshot = {};
  ::malloc_trim(0);  // the pass's copies are freed: hand the pages back
  if (!leading_) return;
  const auto now = deps_.clock.now();
  for (const auto& [key, need] : cache_.desired().computes()) {
    if (need.identity_ids.empty()) continue;
    forced_.insert(key);
    queue_.add(key, now);
  }
  if (!differs.empty()) queue_everything(false);
  wake();
}

}  // namespace podid::controller
