// SPDX-License-Identifier: Apache-2.0
#include "podid/read_file.h"

#include <fcntl.h>
#include <unistd.h>

namespace podid {
namespace {
constexpr size_t kMaxFileBytes = 4 * 1024 * 1024;
}

Result<std::string> read_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return last_os_error("read " + path.string());
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      Error err = last_os_error("read " + path.string());
      ::close(fd);
      return err;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxFileBytes) {
      ::close(fd);
      return os_error(EFBIG, "read " + path.string());
    }
  }
  ::close(fd);
  return out;
}

std::string trim(std::string text) {
  const char* space = " \t\r\n";
  auto first = text.find_first_not_of(space);
  if (first == std::string::npos) return "";
  auto last = text.find_last_not_of(space);
  return text.substr(first, last - first + 1);
}

}  // namespace podid
