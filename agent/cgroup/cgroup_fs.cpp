// SPDX-License-Identifier: Apache-2.0
#include "agent/cgroup/cgroup_fs.h"

#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "agent/cgroup/proc_text.h"

namespace podid::agent {
namespace fs = std::filesystem;

namespace {

// The whole of a small /proc or cgroupfs file; nullopt when it cannot be opened (errno says why).
std::optional<std::string> read_text(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool procs_contains(const fs::path& dir, pid_t pid) {
  auto procs = read_text(dir / "cgroup.procs");
  return procs && detail::procs_list_contains(*procs, pid);
}

// The root cgroup has no cgroup.type (the kernel marks it CFTYPE_NOT_ON_ROOT); every other one does.
bool is_hierarchy_root(const fs::path& dir) { return !fs::exists(dir / "cgroup.type"); }

}  // namespace

Result<fs::path> find_cgroup2_mount() {
  auto mountinfo = read_text("/proc/self/mountinfo");
  if (!mountinfo) return last_os_error("open /proc/self/mountinfo");
  if (auto mount = detail::cgroup2_mount_in_mountinfo(*mountinfo)) return fs::path(*mount);
  return os_error(ENOENT, "no cgroup2 file system mounted (cgroup v2 is required; see /proc/self/mountinfo)");
}

bool is_cgroup2_dir(const fs::path& dir) {
  struct statfs st {};
  return ::statfs(dir.c_str(), &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

Result<uint64_t> cgroup_id_of(const fs::path& dir) {
  if (!is_cgroup2_dir(dir)) return os_error(ENOTDIR, dir.string() + " is not a cgroup v2 directory");
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return last_os_error("stat " + dir.string());
  return static_cast<uint64_t>(st.st_ino);
}

Result<int> cgroup_level(const fs::path& mount, const fs::path& dir) {
  if (!is_hierarchy_root(mount)) {
    return os_error(EINVAL, "cgroup2 mount " + mount.string() +
                                " is not the hierarchy root (mounted inside a cgroup namespace); mount the host's "
                                "cgroup2 file system instead");
  }
  std::error_code ec;
  fs::path rel = fs::relative(fs::weakly_canonical(dir, ec), fs::weakly_canonical(mount, ec), ec);
  if (ec || rel.empty() || *rel.begin() == "..") {
    return os_error(EINVAL, dir.string() + " is not below the cgroup2 mount " + mount.string());
  }
  int level = 0;
  for (const auto& part : rel) {
    if (part != ".") ++level;
  }
  return level;
}

Result<std::string> unified_cgroup_path_of(pid_t pid) {
  std::string file = "/proc/" + std::to_string(pid) + "/cgroup";
  auto text = read_text(file);
  if (!text) return last_os_error("open " + file);
  if (auto path = detail::unified_cgroup_path_in(*text)) return *path;
  return os_error(ENOENT, file + " has no cgroup v2 (0::) entry");
}

namespace {

// Child side of the private-namespace method: a private mount namespace, a fresh cgroup2 mount whose root is
// our cgroup namespace's root, and the inode of <root>/<rel>. Writes the id (0 on failure) to `fd`.
[[noreturn]] void probe_in_private_mount(const std::string& rel, pid_t pid, int fd) {
  uint64_t id = 0;
  char dir[] = "/tmp/podid-cg-XXXXXX";
  if (::unshare(CLONE_NEWNS) == 0 && ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
      ::mkdtemp(dir) != nullptr) {
    if (::mount("cgroup2", dir, "cgroup2", 0, nullptr) == 0) {
      fs::path candidate = fs::path(dir) / fs::path(rel).relative_path();
      struct stat st {};
      if (procs_contains(candidate, pid) && ::stat(candidate.c_str(), &st) == 0) id = st.st_ino;
      ::umount2(dir, MNT_DETACH);
    }
    ::rmdir(dir);
  }
  (void)!::write(fd, &id, sizeof(id));
  ::_exit(0);
}

}  // namespace

Result<uint64_t> self_cgroup_id(const fs::path& mount, pid_t pid) {
  auto rel = unified_cgroup_path_of(pid);
  if (!rel) return rel.error();
  fs::path direct = mount / fs::path(*rel).relative_path();
  if (procs_contains(direct, pid)) return cgroup_id_of(direct);

  int fds[2];
  if (::pipe(fds) != 0) return last_os_error("pipe");
  pid_t child = ::fork();
  if (child < 0) {
    int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return os_error(err, "fork");
  }
  if (child == 0) {
    ::close(fds[0]);
    probe_in_private_mount(*rel, pid, fds[1]);
  }
  ::close(fds[1]);
  uint64_t id = 0;
  ssize_t n = ::read(fds[0], &id, sizeof(id));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (n != sizeof(id) || id == 0) {
    return os_error(ENOENT, "own cgroup not found: " + direct.string() + " does not list pid " +
                                std::to_string(pid) + " and a private cgroup2 mount (needs CAP_SYS_ADMIN) did "
                                "not find " + *rel);
  }
  return id;
}

}  // namespace podid::agent
