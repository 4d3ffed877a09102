// SPDX-License-Identifier: Apache-2.0
//
// CgroupIndex (cgroup_index.h): the inotify loop that keeps the tree (cgroup_tree.h) current.
//
// The live tree is changed on the executor only, and read by lookups from any thread: every change and every
// lookup takes mu_. A full rescan builds a fresh tree off to the side and swaps it in, so lookups never see a
// half-built index.
#include "agent/cgroup/cgroup_index.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "agent/cgroup/cgroup_fs.h"
#include "agent/cgroup/cgroup_tree.h"
#include "podid/log.h"

namespace podid::agent {
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

// IN_ONLYDIR: a name that turned into a file between the event and the watch is refused, not watched.
constexpr uint32_t kWatchMask = IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR;
constexpr uint32_t kAppeared = IN_CREATE | IN_MOVED_TO;
constexpr uint32_t kVanished = IN_DELETE | IN_MOVED_FROM;
// Reads per wake-up before yielding to the executor's other work; a burst of events is finished on the
// next turn (the descriptor stays readable).
constexpr int kMaxReadsPerWake = 16;

std::string join(const std::string& parent, std::string_view name) {
  return parent.empty() ? std::string(name) : parent + "/" + std::string(name);
}

}  // namespace

// Lives in a shared_ptr so that a completion still queued after stop() finds it alive (and does nothing).
class CgroupWatcher : public std::enable_shared_from_this<CgroupWatcher> {
 public:
  CgroupWatcher(asio::any_io_executor executor, fs::path root, std::string prefix, std::chrono::milliseconds retry_after)
      : root_(std::move(root)), prefix_(std::move(prefix)), retry_after_(retry_after), inotify_(executor), retry_(executor) {}

  Status start() {
    if (stopped_ || inotify_.is_open()) return os_error(EALREADY, "cgroup index: start() after start() or stop()");
    if (!is_cgroup2_dir(root_)) return os_error(ENOTDIR, root_.string() + " is not a cgroup v2 directory");
    int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return last_os_error("inotify_init1 for " + root_.string());
    boost::system::error_code ec;
    inotify_.assign(fd, ec);
    if (ec) {
      ::close(fd);
      return os_error(ec.value(), "register inotify descriptor with the executor");
    }
    CgroupTree fresh;
    Status root = add_tree(fresh, "", CgroupNode{.kind = CgroupKind::kRoot});
    report_watch_failures();
    if (!root) {
      stop();
      return root.error().wrap("scan pod cgroups");
    }
    if (fresh.find("")->wd < 0) {
      stop();
      return os_error(ENOSPC, "inotify watch on " + root_.string() + " (see fs.inotify.max_user_watches)");
    }
    install(std::move(fresh));
    log::info("pod cgroup index started", {{"kubepods", root_.string()},
                                           {"pods", tree_.pod_cgroups()},
                                           {"containers", tree_.container_cgroups()}});
    wait_for_events();
    schedule_retry();
    return {};
  }

  void stop() {
    stopped_ = true;
    boost::system::error_code ignored;
    retry_.cancel();
    inotify_.close(ignored);
  }

  std::optional<std::string> pod_uid_of(uint64_t id) const {
    std::lock_guard lock(mu_);
    return tree_.pod_uid_of(id);
  }

  std::optional<std::string> path_of(uint64_t id) const {
    std::lock_guard lock(mu_);
    auto rel = tree_.relative_path_of(id);
    if (!rel) return std::nullopt;
    return rel->empty() ? prefix_ : prefix_ + "/" + *rel;
  }

  std::optional<std::pair<uint64_t, std::string>> pod_cgroup_of(const std::string& pod_uid) const {
    std::lock_guard lock(mu_);
    auto found = tree_.pod_cgroup_of(pod_uid);
    if (!found) return std::nullopt;
    found->second = prefix_ + "/" + found->second;
    return found;
  }

  CgroupIndexStats stats() const {
    std::lock_guard lock(mu_);
    return {.pods = tree_.pod_cgroups(), .containers = tree_.container_cgroups(), .rescans = rescans_, .errors = errors_};
  }

  void on_pod_removed(std::function<void(const std::string&)> callback) { callbacks_.push_back(std::move(callback)); }

 private:
  void count_error() {
    std::lock_guard lock(mu_);
    ++errors_;
  }


  // Watches, reads and lists `rel`, then does the same for every child the index tracks. Watch first, list
  // second: a child made between the two shows up in the listing or as an event (maybe both: adding is
  // idempotent), never in neither. A directory that vanished half-way is skipped, not an error: its
  // IN_DELETE is queued. Returns the failure for `rel` itself (logged and counted unless it vanished).
  Status add_tree(CgroupTree& t, const std::string& rel, CgroupNode node) {
    fs::path path = rel.empty() ? root_ : root_ / rel;
    int wd = ::inotify_add_watch(inotify_.native_handle(), path.c_str(), kWatchMask);
    if (wd < 0) {
      Error err = last_os_error("inotify_add_watch " + path.string());
      if (err.code.value() == ENOENT || err.code.value() == ENOTDIR) return err;
      // Most likely ENOSPC (fs.inotify.max_user_watches): index it unwatched; a retry rescan is scheduled.
      // Logged once per scan or batch (report_watch_failures): at the limit, every directory fails alike.
      if (watch_failures_++ == 0) first_watch_failure_ = err.message();
    }
    auto id = cgroup_id_of(path);
    if (!id) {
      // Only a watch this call made: one the live tree holds (same inode) is dropped with its node.
      bool ours = wd >= 0 && !t.watches().contains(wd) && !tree_.watches().contains(wd);
      if (ours) ::inotify_rm_watch(inotify_.native_handle(), wd);
      if (id.error().code.value() != ENOENT && id.error().code.value() != ENOTDIR) {
        log::warn("pod cgroup id read failed", {{"path", path.string()}, {"error", id.error().message()}});
        count_error();
      }
      return id.error();
    }
    if (const CgroupNode* known = t.find(rel)) {
      if (known->id != *id) {
        remove_tree(t, rel);  // same name, new directory: the old one's events are stale
      } else {
        // Seen by a listing and by its event: nothing new, unless this time the watch could be added.
        if (known->wd < 0 && wd >= 0) {
          std::lock_guard lock(mu_);
          t.set_watch(rel, wd);
        }
        return {};
      }
    }
    node.id = *id;
    node.wd = wd;
    CgroupNode parent;
    {
      std::lock_guard lock(mu_);
      parent = t.insert(rel, std::move(node));
    }

    std::error_code ec;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code type_ec;
      if (!it->is_directory(type_ec)) continue;  // control files (cgroup.procs, ...)
      std::string child_rel = join(rel, it->path().filename().native());
      if (auto child = CgroupTree::classify(parent, child_rel)) (void)add_tree(t, child_rel, std::move(*child));
    }
    if (ec && ec != std::errc::no_such_file_or_directory) {
      log::warn("pod cgroup listing failed", {{"path", path.string()}, {"error", ec.message()}});
      count_error();
    }
    return {};
  }

  // Forgets `rel` and everything below it (normally nothing: cgroup2 refuses rmdir of a non-empty cgroup,
  // but events may have been lost). cgroup2 never drops the watch of a removed directory by itself (no
  // IN_DELETE_SELF, see the header), so it is removed here.
  void remove_tree(CgroupTree& t, const std::string& rel) {
    std::lock_guard lock(mu_);
    t.erase_subtree(rel, [&](const CgroupNode& n) {
      if (n.wd >= 0) ::inotify_rm_watch(inotify_.native_handle(), n.wd);
      if (n.kind == CgroupKind::kPod) removed_pods_.push_back(n.pod_uid);
    });
  }

  void install(CgroupTree fresh) {
    std::lock_guard lock(mu_);
    tree_ = std::move(fresh);
    ++rescans_;
  }

  void report_watch_failures() {
    if (watch_failures_ == 0) return;
    log::warn("pod cgroup watch failed; indexed without updates until a retry rescan",
              {{"directories", watch_failures_}, {"first_error", first_watch_failure_}});
    {
      std::lock_guard lock(mu_);
      errors_ += watch_failures_;
    }
    watch_failures_ = 0;
  }

  // After IN_Q_OVERFLOW or when directories went unwatched: the tree as it is now, with the watches of
  // directories gone since dropped and on_pod_removed fired for pods that went away unseen.
  void rescan(std::string_view why) {
    CgroupTree fresh;
    Status root = add_tree(fresh, "", CgroupNode{.kind = CgroupKind::kRoot});
    report_watch_failures();
    rescan_failed_ = !root;
    if (!root) {
      // The kubepods cgroup itself is unreadable: keep what we know, try again after retry_after_.
      log::error("pod cgroup rescan failed", {{"reason", why}, {"error", root.error().message()}});
      count_error();
      for (const auto& [wd, rel] : fresh.watches()) {
        if (!tree_.watches().contains(wd)) ::inotify_rm_watch(inotify_.native_handle(), wd);
      }
      return;
    }
    for (const auto& [wd, rel] : tree_.watches()) {
      if (!fresh.watches().contains(wd)) ::inotify_rm_watch(inotify_.native_handle(), wd);
    }
    auto now = fresh.pod_uids();
    std::unordered_set<std::string> pods_now(now.begin(), now.end());
    for (const auto& uid : tree_.pod_uids()) {
      if (!pods_now.contains(uid)) removed_pods_.push_back(uid);
    }
    install(std::move(fresh));
    log::info("pod cgroup index rescanned", {{"reason", why},
                                             {"pods", tree_.pod_cgroups()},
                                             {"containers", tree_.container_cgroups()},
                                             {"unwatched", tree_.unwatched()}});
  }

  void schedule_retry() {
    if ((tree_.unwatched() == 0 && !rescan_failed_) || retry_armed_ || stopped_) return;
    retry_armed_ = true;
    retry_.expires_after(retry_after_);
    retry_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      self->retry_armed_ = false;
      if (ec || self->stopped_) return;
      self->rescan(self->rescan_failed_ ? "previous rescan failed" : "unwatched directories");
      self->fire_removed();
      self->schedule_retry();
    });
  }

  void wait_for_events() {
    inotify_.async_wait(
        asio::posix::stream_descriptor::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
          if (self->stopped_ || ec == asio::error::operation_aborted) return;
          if (ec) {
            // Not expected from a readiness wait; going on could spin, so the index freezes, loudly.
            log::error("pod cgroup inotify wait failed; index no longer updated", {{"error", ec.message()}});
            self->count_error();
            return;
          }
          self->drain();
          if (!self->stopped_) self->wait_for_events();  // a callback may have stopped the index
        });
  }

  void drain() {
    bool overflow = false;
    for (int reads = 0; reads < kMaxReadsPerWake; ++reads) {
      ssize_t n = ::read(inotify_.native_handle(), buffer_.data(), buffer_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n <= 0) {
        log::error("pod cgroup inotify read failed", {{"error", std::strerror(errno)}});
        count_error();
        break;
      }
      for (ssize_t at = 0; at < n;) {
        const auto* e = reinterpret_cast<const inotify_event*>(buffer_.data() + at);
        at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
        if (e->mask & IN_Q_OVERFLOW) {
          overflow = true;
          continue;
        }
        handle(*e);
      }
    }
    if (overflow) {
      log::warn("pod cgroup inotify queue overflowed; rescanning", {{"kubepods", root_.string()}});
      count_error();
      rescan("inotify queue overflow");
    }
    report_watch_failures();
    fire_removed();
    schedule_retry();
  }

  void handle(const inotify_event& e) {
    auto watched = tree_.path_of_watch(e.wd);
    if (!watched) return;  // a watch dropped already (IN_IGNORED, leftovers)
    std::string rel = *watched;
    if (e.mask & IN_IGNORED) {
      // The kernel dropped the watch (directory gone on a kernel that reports it, file system unmounted).
      {
        std::lock_guard lock(mu_);
        tree_.set_watch(rel, -1);
      }
      std::error_code ec;
      if (!rel.empty() && !fs::exists(root_ / rel, ec)) remove_tree(tree_, rel);
      return;
    }
    if (e.mask & IN_DELETE_SELF) {
      if (rel.empty()) {
        log::error("kubepods cgroup removed", {{"kubepods", root_.string()}});
        count_error();
        return;
      }
      remove_tree(tree_, rel);
      return;
    }
    if (!(e.mask & IN_ISDIR) || e.len == 0) return;
    std::string child_rel = join(rel, e.name);
    if (e.mask & kVanished) {
      remove_tree(tree_, child_rel);
    } else if (e.mask & kAppeared) {
      const CgroupNode* parent = tree_.find(rel);
      if (!parent) return;
      if (auto child = CgroupTree::classify(*parent, child_rel)) (void)add_tree(tree_, child_rel, std::move(*child));
    }
  }

  void fire_removed() {
    std::vector<std::string> removed;
    removed.swap(removed_pods_);
    for (const auto& uid : removed) {
      log::info("pod cgroup removed", {{"pod_uid", uid}});
      for (const auto& callback : callbacks_) callback(uid);
    }
  }

  const fs::path root_;
  const std::string prefix_;
  const std::chrono::milliseconds retry_after_;
  asio::posix::stream_descriptor inotify_;
  asio::steady_timer retry_;
  bool retry_armed_ = false;
  bool rescan_failed_ = false;   // the last rescan could not read kubepods: retry after retry_after_
  uint64_t watch_failures_ = 0;  // since the last report_watch_failures()
  std::string first_watch_failure_;
  bool stopped_ = false;
  std::vector<std::function<void(const std::string&)>> callbacks_;
  std::vector<std::string> removed_pods_;  // filled while handling events, emptied by fire_removed()
  // Room for at least one event with the longest name; inotify returns whole events only.
  alignas(inotify_event) std::array<char, 64 * 1024> buffer_{};

  mutable std::mutex mu_;  // guards every change to a tree and every lookup, and the counters
  CgroupTree tree_;
  uint64_t rescans_ = 0;
  uint64_t errors_ = 0;
};

struct CgroupIndex::Impl {
  std::shared_ptr<CgroupWatcher> watcher;
};

CgroupIndex::CgroupIndex(asio::any_io_executor executor, fs::path kubepods_dir, std::string path_prefix,
                         std::chrono::milliseconds retry_rescan_after)
    : impl_(new Impl{std::make_shared<CgroupWatcher>(std::move(executor), std::move(kubepods_dir),
                                                     std::move(path_prefix), retry_rescan_after)}) {}

CgroupIndex::~CgroupIndex() { stop(); }

Status CgroupIndex::start() { return impl_->watcher->start(); }

void CgroupIndex::stop() { impl_->watcher->stop(); }

std::optional<std::string> CgroupIndex::pod_uid_of(uint64_t cgroup_id) const { return impl_->watcher->pod_uid_of(cgroup_id); }

std::optional<std::string> CgroupIndex::path_of(uint64_t cgroup_id) const { return impl_->watcher->path_of(cgroup_id); }

std::optional<std::pair<uint64_t, std::string>> CgroupIndex::pod_cgroup_of(const std::string& pod_uid) const {
  return impl_->watcher->pod_cgroup_of(pod_uid);
}

void CgroupIndex::on_pod_removed(std::function<void(const std::string& pod_uid)> callback) {
  impl_->watcher->on_pod_removed(std::move(callback));
}

CgroupIndexStats CgroupIndex::stats() const { return impl_->watcher->stats(); }

}  // namespace podid::agent
