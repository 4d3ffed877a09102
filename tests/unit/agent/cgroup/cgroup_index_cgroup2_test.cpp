// SPDX-License-Identifier: Apache-2.0
//
// CgroupIndex on the real cgroup v2 file system: a private tree <cgroup2>/podid-test-<random>/ laid out
// as a kubelet would (each cgroup driver in turn), scanned at start, then changed under the running index,
// and an inotify queue overflow forced for real. Needs root (mkdir in cgroup2): skips without it, unless
// PODID_REQUIRE_PRIVILEGED=1 turns the skip into a failure. Whatever a test creates is removed afterwards,
// deepest first, even when it fails.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "agent/cgroup/cgroup_fs.h"
#include "agent/cgroup/cgroup_index.h"

namespace podid::agent {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kWait = 5s;  // for the index to catch up with a change; it normally takes microseconds

// Removes `dir` and every directory below it, children first (cgroup2 refuses rmdir of a non-empty cgroup;
// the control files go with their directory).
void remove_cgroup_tree(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> children;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_directory(type_ec) && !it->is_symlink(type_ec)) children.push_back(it->path());
  }
  for (const auto& child : children) remove_cgroup_tree(child);
  ::rmdir(dir.c_str());
}

// How each cgroup driver names things (pkg/kubelet/cm and the runtimes), so one test body covers both.
struct Layout {
  std::string driver;
  std::string root;  // the kubepods cgroup's own name
  std::string (*qos)(const std::string& qos);
  std::string (*pod)(const std::string& qos, const std::string& uid);  // relative to root
  std::string (*container)(const std::string& runtime, const std::string& id);
  std::string (*conmon)(const std::string& id);
};

// Test names and failure messages show the driver, not the struct's bytes.
void PrintTo(const Layout& layout, std::ostream* os) { *os << layout.driver; }

std::string underscored(std::string uid) {
  for (char& c : uid) {
    if (c == '-') c = '_';
  }
  return uid;
}

const Layout kSystemd{
    .driver = "systemd",
    .root = "kubepods.slice",
    .qos = [](const std::string& qos) { return "kubepods-" + qos + ".slice"; },
    .pod =
        [](const std::string& qos, const std::string& uid) {
          if (qos == "guaranteed") return "kubepods-pod" + underscored(uid) + ".slice";
          return "kubepods-" + qos + ".slice/kubepods-" + qos + "-pod" + underscored(uid) + ".slice";
        },
    .container =
        [](const std::string& runtime, const std::string& id) {
          if (runtime == "containerd") return "cri-containerd-" + id + ".scope";
          return runtime + "-" + id + ".scope";  // crio-, docker-
        },
    .conmon = [](const std::string& id) { return "crio-conmon-" + id + ".scope"; },
};

const Layout kCgroupfs{
    .driver = "cgroupfs",
    .root = "kubepods",
    .qos = [](const std::string& qos) { return qos; },
    .pod = [](const std::string& qos,
              const std::string& uid) { return qos == "guaranteed" ? "pod" + uid : qos + "/pod" + uid; },
    .container = [](const std::string& runtime,
                    const std::string& id) { return runtime == "crio" ? "crio-" + id : id; },
    .conmon = [](const std::string& id) { return "crio-conmon-" + id; },
};

class CgroupIndexCgroup2Test : public ::testing::TestWithParam<Layout> {
 protected:
  void SetUp() override {
    std::string why;
    auto mount = find_cgroup2_mount();
    if (::geteuid() != 0) {
      why = "needs root: it creates cgroups in the cgroup v2 file system";
    } else if (!mount) {
      why = "no cgroup v2 file system: " + mount.error().message();
    }
    if (!why.empty()) {
      const char* require = std::getenv("PODID_REQUIRE_PRIVILEGED");
      if (require && std::string(require) == "1") FAIL() << why << ", and PODID_REQUIRE_PRIVILEGED=1 forbids skipping";
      GTEST_SKIP() << why;
    }
    base_ = *mount / ("podid-test-" + std::to_string(::getpid()) + "-" + hex(8));
    ASSERT_EQ(::mkdir(base_.c_str(), 0755), 0) << base_ << ": " << std::strerror(errno);
    root_ = base_ / GetParam().root;
    mkdirs(root_);
  }

  void TearDown() override {
    if (!base_.empty()) remove_cgroup_tree(base_);
  }

  std::string hex(size_t n) {
    static const char kDigits[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < n; ++i) out.push_back(kDigits[rng_() % 16]);
    return out;
  }
  std::string new_uid() { return hex(8) + "-" + hex(4) + "-" + hex(4) + "-" + hex(4) + "-" + hex(12); }
  std::string new_container_id() { return hex(64); }

  // mkdir -p, asserting (cgroup2 mkdir is how a cgroup is made).
  void mkdirs(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    ASSERT_FALSE(ec) << dir << ": " << ec.message();
  }

  const Layout& layout() const { return GetParam(); }
  fs::path pod_dir(const std::string& qos, const std::string& uid) const { return root_ / layout().pod(qos, uid); }

  static uint64_t id_of(const fs::path& dir) {
    auto id = cgroup_id_of(dir);
    EXPECT_TRUE(id.ok()) << dir << ": " << (id.ok() ? "" : id.error().message());
    return id.ok() ? *id : 0;
  }

  // Runs the index's executor until `done` holds or kWait passes.
  template <class Pred>
  bool run_until(Pred done) {
    auto deadline = std::chrono::steady_clock::now() + kWait;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      if (io_.stopped()) io_.restart();
      io_.run_one_for(20ms);
    }
    return true;
  }

  void run_for(std::chrono::milliseconds d) {
    if (io_.stopped()) io_.restart();
    io_.run_for(d);
  }

  std::mt19937_64 rng_{std::random_device{}()};
  boost::asio::io_context io_;
  fs::path base_, root_;
};

TEST_P(CgroupIndexCgroup2Test, InitialScanFindsPodsAndContainersOfEveryQosAndRuntime) {
  const auto& l = layout();
  std::string a = new_uid(), b = new_uid(), c = new_uid();
  std::string c1 = new_container_id(), c2 = new_container_id(), c3 = new_container_id(), c4 = new_container_id();
  fs::path pod_a = pod_dir("burstable", a), pod_b = pod_dir("besteffort", b), pod_c = pod_dir("guaranteed", c);
  mkdirs(pod_a / l.container("containerd", c1) / "init.scope");  // systemd inside a container
  mkdirs(pod_a / l.container("containerd", c2));
  mkdirs(pod_b / l.container("crio", c3));
  mkdirs(pod_b / l.conmon(c3));
  mkdirs(pod_c / l.container("docker", c4));
  mkdirs(root_ / l.qos("burstable") / "not-a-pod");
  mkdirs(root_ / "system.slice");

  CgroupIndex index(io_.get_executor(), root_);
  Status started = index.start();
  ASSERT_TRUE(started.ok()) << started.error().message();

  EXPECT_EQ(index.pod_uid_of(id_of(pod_a)), a);
  EXPECT_EQ(index.pod_uid_of(id_of(pod_a / l.container("containerd", c1))), a);
  EXPECT_EQ(index.pod_uid_of(id_of(pod_a / l.container("containerd", c1) / "init.scope")), a);
  EXPECT_EQ(index.pod_uid_of(id_of(pod_a / l.container("containerd", c2))), a);
  EXPECT_EQ(index.pod_uid_of(id_of(pod_b)), b);
  EXPECT_EQ(index.pod_uid_of(id_of(pod_b / l.container("crio", c3))), b);
  EXPECT_EQ(index.pod_uid_of(id_of(pod_c)), c);
  EXPECT_EQ(index.pod_uid_of(id_of(pod_c / l.container("docker", c4))), c);

  EXPECT_EQ(index.pod_uid_of(id_of(pod_b / l.conmon(c3))), std::nullopt) << "conmon is not the pod's";
  EXPECT_EQ(index.pod_uid_of(id_of(root_)), std::nullopt);
  EXPECT_EQ(index.pod_uid_of(id_of(root_ / l.qos("burstable"))), std::nullopt);
  EXPECT_EQ(index.pod_uid_of(id_of(root_ / l.qos("burstable") / "not-a-pod")), std::nullopt);
  EXPECT_EQ(index.pod_uid_of(id_of(root_ / "system.slice")), std::nullopt);
  EXPECT_EQ(index.pod_uid_of(0), std::nullopt);

  auto stats = index.stats();
  EXPECT_EQ(stats.pods, 3u);
  EXPECT_EQ(stats.containers, 5u);  // c1, its init.scope, c2, c3, c4
  EXPECT_EQ(stats.rescans, 1u);
  EXPECT_EQ(stats.errors, 0u);

  // The same index answers paths (whoami, deny events), as /proc/<pid>/cgroup shows them: the prefix it was
  // given, then the path below kubepods. Cgroups it does not keep have none.
  CgroupIndex prefixed(io_.get_executor(), root_, "/kp");
  ASSERT_TRUE(prefixed.start().ok());
  auto rel = [&](const fs::path& p) { return "/kp/" + fs::relative(p, root_).string(); };
  EXPECT_EQ(prefixed.path_of(id_of(root_)), "/kp");
  EXPECT_EQ(prefixed.path_of(id_of(root_ / l.qos("burstable"))), rel(root_ / l.qos("burstable")));
  EXPECT_EQ(prefixed.path_of(id_of(pod_a)), rel(pod_a));
  EXPECT_EQ(prefixed.path_of(id_of(pod_a / l.container("containerd", c2))), rel(pod_a / l.container("containerd", c2)));
  EXPECT_EQ(prefixed.path_of(id_of(root_ / "system.slice")), std::nullopt);
  EXPECT_EQ(prefixed.path_of(0), std::nullopt);
  prefixed.stop();
}

TEST_P(CgroupIndexCgroup2Test, FollowsPodsAndContainersAsTheyComeAndGo) {
  const auto& l = layout();
  mkdirs(root_ / l.qos("burstable"));  // besteffort appears later, as on a fresh node
  CgroupIndex index(io_.get_executor(), root_);
  std::vector<std::string> removed;
  index.on_pod_removed([&](const std::string& uid) { removed.push_back(uid); });
  Status started = index.start();
  ASSERT_TRUE(started.ok()) << started.error().message();
  EXPECT_EQ(index.stats().pods, 0u);

  // A pod and its first container made back to back, before the index could watch the pod: the listing
  // after the watch finds the container.
  std::string p1 = new_uid(), c1 = new_container_id(), c2 = new_container_id();
  fs::path pod1 = pod_dir("burstable", p1), ctr1 = pod1 / l.container("containerd", c1);
  mkdirs(ctr1);
  uint64_t pod1_id = id_of(pod1), ctr1_id = id_of(ctr1);
  ASSERT_TRUE(run_until([&] { return index.pod_uid_of(pod1_id) && index.pod_uid_of(ctr1_id); }));
  EXPECT_EQ(index.pod_uid_of(pod1_id), p1);
  EXPECT_EQ(index.pod_uid_of(ctr1_id), p1);

  // A second container, then a cgroup nested in it.
  fs::path ctr2 = pod1 / l.container("containerd", c2);
  mkdirs(ctr2);
  uint64_t ctr2_id = id_of(ctr2);
  ASSERT_TRUE(run_until([&] { return index.pod_uid_of(ctr2_id).has_value(); }));
  mkdirs(ctr2 / "inner");
  uint64_t inner_id = id_of(ctr2 / "inner");
  ASSERT_TRUE(run_until([&] { return index.pod_uid_of(inner_id).has_value(); }));
  EXPECT_EQ(index.pod_uid_of(inner_id), p1);

  // A QoS cgroup made after start, with a CRI-O pod (and its conmon) below it.
  std::string p2 = new_uid(), c3 = new_container_id();
  fs::path pod2 = pod_dir("besteffort", p2), ctr3 = pod2 / l.container("crio", c3), conmon = pod2 / l.conmon(c3);
  mkdirs(conmon);
  mkdirs(ctr3);
  uint64_t ctr3_id = id_of(ctr3), conmon_id = id_of(conmon);
  ASSERT_TRUE(run_until([&] { return index.pod_uid_of(ctr3_id).has_value(); }));
  EXPECT_EQ(index.pod_uid_of(ctr3_id), p2);
  EXPECT_EQ(index.pod_uid_of(id_of(pod2)), p2);
  EXPECT_EQ(index.pod_uid_of(conmon_id), std::nullopt);

  // A guaranteed pod, right below kubepods.
  std::string p3 = new_uid(), c4 = new_container_id();
  fs::path pod3 = pod_dir("guaranteed", p3), ctr4 = pod3 / l.container("docker", c4);
  mkdirs(ctr4);
  uint64_t ctr4_id = id_of(ctr4);
  ASSERT_TRUE(run_until([&] { return index.pod_uid_of(ctr4_id).has_value(); }));
  EXPECT_EQ(index.pod_uid_of(ctr4_id), p3);

  auto stats = index.stats();
  EXPECT_EQ(stats.pods, 3u);
  EXPECT_EQ(stats.containers, 5u);  // c1, c2, c2/inner, c3, c4

  // A container exits: its ids go, the pod stays, nobody is told the pod went.
  ASSERT_EQ(::rmdir((ctr2 / "inner").c_str()), 0);
  ASSERT_EQ(::rmdir(ctr2.c_str()), 0);
  ASSERT_TRUE(run_until([&] { return !index.pod_uid_of(ctr2_id) && !index.pod_uid_of(inner_id); }));
  EXPECT_EQ(index.pod_uid_of(pod1_id), p1);
  EXPECT_EQ(index.pod_uid_of(ctr1_id), p1);
  EXPECT_TRUE(removed.empty());

  // Pods deleted: callbacks, in order, and every id of theirs gone.
  ASSERT_EQ(::rmdir(ctr1.c_str()), 0);
  ASSERT_EQ(::rmdir(pod1.c_str()), 0);
  ASSERT_TRUE(run_until([&] { return removed.size() == 1; }));
  EXPECT_EQ(removed[0], p1);
  EXPECT_EQ(index.pod_uid_of(pod1_id), std::nullopt);
  EXPECT_EQ(index.pod_uid_of(ctr1_id), std::nullopt);

  ASSERT_EQ(::rmdir(conmon.c_str()), 0);
  ASSERT_EQ(::rmdir(ctr3.c_str()), 0);
  ASSERT_EQ(::rmdir(pod2.c_str()), 0);
  ASSERT_TRUE(run_until([&] { return removed.size() == 2; }));
  EXPECT_EQ(removed[1], p2);
  EXPECT_EQ(index.pod_uid_of(ctr3_id), std::nullopt);

  stats = index.stats();
  EXPECT_EQ(stats.pods, 1u);
  EXPECT_EQ(stats.containers, 1u);
  EXPECT_EQ(stats.rescans, 1u);
  EXPECT_EQ(stats.errors, 0u);

  // After stop(), no more callbacks.
  index.stop();
  ASSERT_EQ(::rmdir(ctr4.c_str()), 0);
  ASSERT_EQ(::rmdir(pod3.c_str()), 0);
  run_for(100ms);
  EXPECT_EQ(removed.size(), 2u);
}

// The kernel drops events past fs.inotify.max_queued_events and queues IN_Q_OVERFLOW: the index must
// rescan, find what it missed (a new pod, a deleted one) and go on following events afterwards.
TEST_P(CgroupIndexCgroup2Test, QueueOverflowRescans) {
  const auto& l = layout();
  uint64_t max_queued = 0;
  std::ifstream("/proc/sys/fs/inotify/max_queued_events") >> max_queued;
  if (max_queued == 0 || max_queued > 100000)
    GTEST_SKIP() << "max_queued_events=" << max_queued << ": too many to overflow cheaply";

  std::string p0 = new_uid(), c0 = new_container_id();
  fs::path pod0 = pod_dir("burstable", p0), ctr0 = pod0 / l.container("containerd", c0);
  mkdirs(ctr0);
  uint64_t pod0_id = id_of(pod0);
  CgroupIndex index(io_.get_executor(), root_);
  std::vector<std::string> removed;
  index.on_pod_removed([&](const std::string& uid) { removed.push_back(uid); });
  Status started = index.start();
  ASSERT_TRUE(started.ok()) << started.error().message();
  ASSERT_EQ(index.pod_uid_of(pod0_id), p0);

  // Changes while the executor is not running: a pod comes, a pod goes, then enough noise to overflow.
  std::string p1 = new_uid(), c1 = new_container_id();
  fs::path pod1 = pod_dir("burstable", p1), ctr1 = pod1 / l.container("containerd", c1);
  mkdirs(ctr1);
  ASSERT_EQ(::rmdir(ctr0.c_str()), 0);
  ASSERT_EQ(::rmdir(pod0.c_str()), 0);
  for (uint64_t i = 0; i < max_queued + 16; ++i) {
    fs::path junk = root_ / ("junk-" + std::to_string(i));
    ASSERT_EQ(::mkdir(junk.c_str(), 0755), 0) << junk << ": " << std::strerror(errno);
  }

  ASSERT_TRUE(run_until([&] { return index.stats().rescans == 2; }));
  EXPECT_EQ(index.pod_uid_of(id_of(pod1)), p1);
  EXPECT_EQ(index.pod_uid_of(id_of(ctr1)), p1);
  EXPECT_EQ(index.pod_uid_of(pod0_id), std::nullopt);
  ASSERT_TRUE(run_until([&] { return !removed.empty(); }));
  EXPECT_EQ(removed, std::vector<std::string>{p0});
  EXPECT_GE(index.stats().errors, 1u);  // the overflow itself
  EXPECT_EQ(index.stats().pods, 1u);

  // Still following events after the rescan.
  std::string p2 = new_uid();
  fs::path pod2 = pod_dir("burstable", p2);
  mkdirs(pod2);
  uint64_t pod2_id = id_of(pod2);
  ASSERT_TRUE(run_until([&] { return index.pod_uid_of(pod2_id).has_value(); }));
  EXPECT_EQ(index.pod_uid_of(pod2_id), p2);
}

// A busy node's worth (250 pods of 3 containers): every id resolves to its own pod. Prints the scan time
// for the record; no limit on it.
TEST_P(CgroupIndexCgroup2Test, ScansABusyNode) {
  const auto& l = layout();
  constexpr int kPods = 250, kContainers = 3;
  const char* qos_classes[] = {"guaranteed", "burstable", "besteffort"};
  std::vector<std::pair<fs::path, std::string>> expected;  // directory, its pod
  for (int p = 0; p < kPods; ++p) {
    std::string uid = new_uid();
    fs::path pod = pod_dir(qos_classes[p % 3], uid);
    for (int c = 0; c < kContainers; ++c) {
      fs::path ctr = pod / l.container("containerd", new_container_id());
      mkdirs(ctr);
      expected.emplace_back(ctr, uid);
    }
    expected.emplace_back(pod, uid);
  }

  CgroupIndex index(io_.get_executor(), root_);
  auto t0 = std::chrono::steady_clock::now();
  Status started = index.start();
  auto scan = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(started.ok()) << started.error().message();
  std::printf("initial scan of %d pods x %d containers (%s): %.2f ms\n", kPods, kContainers, l.driver.c_str(),
              std::chrono::duration<double, std::milli>(scan).count());

  EXPECT_EQ(index.stats().pods, static_cast<uint64_t>(kPods));
  EXPECT_EQ(index.stats().containers, static_cast<uint64_t>(kPods * kContainers));
  for (const auto& [dir, uid] : expected) EXPECT_EQ(index.pod_uid_of(id_of(dir)), uid) << dir;

  EXPECT_FALSE(index.start().ok()) << "start() twice";
}

// Writes `text` to a /proc file; false on failure.
bool write_proc(const char* file, const std::string& text) {
  std::ofstream out(file);
  out << text;
  out.flush();
  return static_cast<bool>(out);
}

// In a forked child: a user namespace of its own, where root may set its own inotify watch limit
// (user.max_inotify_watches is per user namespace), so ENOSPC is reached without touching the host's.
// Returns what went wrong, or empty.
std::string watch_limit_scenario(const fs::path& root, const fs::path& pod, const fs::path& ctr, const std::string& uid,
                                 const fs::path& ctr2) {
  if (::unshare(CLONE_NEWUSER) != 0) return std::string("unshare(CLONE_NEWUSER): ") + std::strerror(errno);
  if (!write_proc("/proc/self/setgroups", "deny") || !write_proc("/proc/self/uid_map", "0 0 1") ||
      !write_proc("/proc/self/gid_map", "0 0 1")) {
    return "cannot map root in the new user namespace";
  }
  // Two watches: kubepods and the QoS cgroup; the pod and its container go unwatched.
  if (!write_proc("/proc/sys/user/max_inotify_watches", "2")) return "cannot lower user.max_inotify_watches";

  boost::asio::io_context io;
  CgroupIndex index(io.get_executor(), root, "", 100ms);
  Status started = index.start();
  if (!started) return "start: " + started.error().message();
  auto id = [](const fs::path& dir) -> uint64_t {
    auto got = cgroup_id_of(dir);
    return got.ok() ? got.value() : 0;
  };
  if (index.pod_uid_of(id(pod)) != uid || index.pod_uid_of(id(ctr)) != uid) return "unwatched pod not indexed";
  if (index.stats().errors < 2) return "watch failures not counted";

  // Room again: the retry rescan watches the pod, so a container made now is seen.
  if (!write_proc("/proc/sys/user/max_inotify_watches", "1000")) return "cannot raise user.max_inotify_watches";
  auto run_until = [&](auto done, std::chrono::milliseconds wait = kWait) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (!done() && std::chrono::steady_clock::now() < deadline) io.run_one_for(20ms);
    return done();
  };
  if (!run_until([&] { return index.stats().rescans >= 2; })) return "no retry rescan";
  if (::mkdir(ctr2.c_str(), 0755) != 0) return std::string("mkdir: ") + std::strerror(errno);
  if (!run_until([&] { return index.pod_uid_of(id(ctr2)) == uid; }))
    return "container in a formerly unwatched pod not seen";
  run_until([] { return false; }, 500ms);  // 5 retry periods: no more rescans once all is watched
  if (index.stats().rescans != 2) return "rescans went on: " + std::to_string(index.stats().rescans);
  return "";
}

// inotify_add_watch failing (ENOSPC, fs.inotify.max_user_watches reached): the directory is still indexed,
// the failure counted, and a later rescan watches it once there is room.
TEST_P(CgroupIndexCgroup2Test, WatchLimitLeavesDirectoriesIndexedAndRetries) {
  const auto& l = layout();
  std::string uid = new_uid();
  fs::path pod = pod_dir("burstable", uid), ctr = pod / l.container("containerd", new_container_id());
  fs::path ctr2 = pod / l.container("containerd", new_container_id());
  mkdirs(ctr);
  EXPECT_EXIT(
      {
        std::string failure = watch_limit_scenario(root_, pod, ctr, uid, ctr2);
        if (!failure.empty()) std::fprintf(stderr, "scenario failed: %s\n", failure.c_str());
        std::fflush(stderr);
        ::_exit(failure.empty() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

INSTANTIATE_TEST_SUITE_P(Drivers, CgroupIndexCgroup2Test, ::testing::Values(kSystemd, kCgroupfs),
                         [](const auto& info) { return info.param.driver; });

}  // namespace
}  // namespace podid::agent
