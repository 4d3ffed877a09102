// SPDX-License-Identifier: Apache-2.0
//
// podid-connprobe: makes one kind of connection attempt from inside a simulated pod and prints one JSON line
// saying what happened. The tests, the demo and the benchmark run it in pods; it is the "process that tries
// every way to reach the metadata service".
//
//   podid-connprobe MODE [--addr A] [--port P] [--path P] [--bind ADDR:PORT] [--freebind]
//                        [--timeout-ms N] [--hold N] [--repeat N]
//
// MODE: tcp4, tcp6-mapped, tcp6, tfo, io-uring, mptcp     (HTTP GET over TCP, response parsed)
//       udp-connect, udp-sendto, udp6-mapped-sendto, raw  (one datagram; only the errno matters)
// --hold N    open N TCP connections, print {"held":N}, wait for a line on stdin, then send a request on
//             each and print one summary (status counts and cgroup ids seen)
// --repeat N  N sequential short connections; prints connections per second (used by bench/)
#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

constexpr int kIpprotoMptcp = 262;

struct Options {
  std::string mode;
  std::string addr = "169.254.169.254";
  int port = 80;
  std::string path = "/podid/v1/whoami";
  std::string bind_addr;
  int bind_port = 0;
  bool freebind = false;
  int timeout_ms = 3000;
  int hold = 0;
  int repeat = 0;
};

struct Outcome {
  bool ok = false;
  int err = 0;
  std::string stage;
  int status = 0;
  std::string body;
};

sockaddr_storage make_addr(const std::string& addr, int port, bool as_v6, socklen_t* len) {
  sockaddr_storage ss{};
  if (!as_v6) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, addr.c_str(), &a->sin_addr);
    *len = sizeof(sockaddr_in);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    std::string v6 = addr.find(':') == std::string::npos ? "::ffff:" + addr : addr;
    ::inet_pton(AF_INET6, v6.c_str(), &a->sin6_addr);
    *len = sizeof(sockaddr_in6);
  }
  return ss;
}

Outcome fail(const char* stage) { return Outcome{false, errno, stage, 0, ""}; }

std::string request_for(const Options& o) {
  return "GET " + o.path + " HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata: true\r\nConnection: close\r\n\r\n";
}

void set_timeouts(int fd, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

bool bind_source(int fd, const Options& o, bool v6) {
  if (o.freebind) {
    int one = 1;
    ::setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof(one));
  }
  if (o.bind_addr.empty() && o.bind_port == 0) return true;
  socklen_t len = 0;
  sockaddr_storage src = make_addr(o.bind_addr.empty() ? (v6 ? "::" : "0.0.0.0") : o.bind_addr, o.bind_port, v6, &len);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  return ::bind(fd, reinterpret_cast<sockaddr*>(&src), len) == 0;
}

// Reads the whole response (Connection: close) and splits status and body.
Outcome read_response(int fd) {
  std::string data;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0) return fail("recv");
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  Outcome out{true, 0, "done", 0, ""};
  if (data.rfind("HTTP/1.", 0) == 0 && data.size() > 12) out.status = std::stoi(data.substr(9, 3));
  auto sep = data.find("\r\n\r\n");
  if (sep != std::string::npos) out.body = data.substr(sep + 4);
  return out;
}

int open_tcp(const Options& o, bool v6, int protocol = 0) {
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, protocol);
  if (fd >= 0) set_timeouts(fd, o.timeout_ms);
  return fd;
}

Outcome http_over(int fd, const Options& o) {
  std::string req = request_for(o);
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) < 0) return fail("send");
  return read_response(fd);
}

Outcome tcp_connect_mode(const Options& o, bool v6, int protocol) {
  int fd = open_tcp(o, v6, protocol);
  if (fd < 0) return fail("socket");
  socklen_t len = 0;
  auto dst = make_addr(o.addr, o.port, v6, &len);
  Outcome out;
  if (!bind_source(fd, o, v6)) out = fail("bind");
  else if (::connect(fd, reinterpret_cast<sockaddr*>(&dst), len) != 0) out = fail("connect");
  else out = http_over(fd, o);
  ::close(fd);
  return out;
}

// TCP Fast Open: the connect happens inside sendto(MSG_FASTOPEN), with the request as SYN data.
Outcome tfo_mode(const Options& o) {
  int fd = open_tcp(o, false);
  if (fd < 0) return fail("socket");
  socklen_t len = 0;
  auto dst = make_addr(o.addr, o.port, false, &len);
  std::string req = request_for(o);
  Outcome out;
  if (::sendto(fd, req.data(), req.size(), MSG_FASTOPEN | MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&dst), len) < 0) {
    out = fail("sendto_fastopen");
  } else {
    out = read_response(fd);
  }
  ::close(fd);
  return out;
}

// io_uring IORING_OP_CONNECT: the connect is issued by the kernel on the ring, not by a connect() syscall.
Outcome io_uring_mode(const Options& o) {
  io_uring ring{};
  if (int r = io_uring_queue_init(4, &ring, 0); r < 0) {
    errno = -r;
    return fail("io_uring_queue_init");
  }
  int fd = open_tcp(o, false);
  socklen_t len = 0;
  auto dst = make_addr(o.addr, o.port, false, &len);
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  io_uring_prep_connect(sqe, fd, reinterpret_cast<sockaddr*>(&dst), len);
  io_uring_submit(&ring);
  io_uring_cqe* cqe = nullptr;
  Outcome out;
  int r = io_uring_wait_cqe(&ring, &cqe);
  if (r < 0 || cqe->res < 0) {
    errno = r < 0 ? -r : -cqe->res;
    out = fail("io_uring_connect");
  } else {
    out = http_over(fd, o);
  }
  if (cqe) io_uring_cqe_seen(&ring, cqe);
  io_uring_queue_exit(&ring);
  ::close(fd);
  return out;
}

Outcome datagram_mode(const Options& o, bool connect_first, bool v6) {
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return fail("socket");
  socklen_t len = 0;
  auto dst = make_addr(o.addr, o.port, v6, &len);
  Outcome out{true, 0, "sent", 0, ""};
  if (connect_first) {
    if (::connect(fd, reinterpret_cast<sockaddr*>(&dst), len) != 0) out = fail("connect");
    else if (::send(fd, "x", 1, 0) < 0) out = fail("send");
  } else if (::sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&dst), len) < 0) {
    out = fail("sendto");
  }
  ::close(fd);
  return out;
}

// A raw IP socket (needs CAP_NET_RAW) skips every socket hook; only cgroup egress sees its packets.
Outcome raw_mode(const Options& o) {
  int fd = ::socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
  if (fd < 0) return fail("socket");
  socklen_t len = 0;
  auto dst = make_addr(o.addr, 0, false, &len);
  // An 8-byte UDP header to port o.port plus one byte; the kernel adds the IP header.
  unsigned char pkt[9] = {0x30, 0x39, static_cast<unsigned char>(o.port >> 8), static_cast<unsigned char>(o.port), 0, 9, 0, 0, 'x'};
  Outcome out{true, 0, "sent", 0, ""};
  if (::sendto(fd, pkt, sizeof(pkt), 0, reinterpret_cast<sockaddr*>(&dst), len) < 0) out = fail("sendto");
  ::close(fd);
  return out;
}

Outcome run_once(const Options& o) {
  if (o.mode == "tcp4") return tcp_connect_mode(o, false, 0);
  if (o.mode == "tcp6-mapped" || o.mode == "tcp6") return tcp_connect_mode(o, true, 0);
  if (o.mode == "mptcp") return tcp_connect_mode(o, false, kIpprotoMptcp);
  if (o.mode == "tfo") return tfo_mode(o);
  if (o.mode == "io-uring") return io_uring_mode(o);
  if (o.mode == "udp-connect") return datagram_mode(o, true, false);
  if (o.mode == "udp-sendto") return datagram_mode(o, false, false);
  if (o.mode == "udp6-mapped-sendto") return datagram_mode(o, false, true);
  if (o.mode == "raw") return raw_mode(o);
  errno = EINVAL;
  return fail("unknown_mode");
}

nlohmann::json to_json(const Options& o, const Outcome& r) {
  nlohmann::json j = {{"mode", o.mode}, {"ok", r.ok}, {"stage", r.stage}};
  if (!r.ok) {
    j["errno"] = r.err;
    j["errno_name"] = strerrorname_np(r.err) ? strerrorname_np(r.err) : "";
  }
  if (r.status) j["status"] = r.status;
  if (!r.body.empty()) {
    auto parsed = nlohmann::json::parse(r.body, nullptr, false);
    j["body"] = parsed.is_discarded() ? nlohmann::json(r.body) : parsed;
  }
  return j;
}

int hold_mode(const Options& o) {
  bool v6 = o.mode == "tcp6-mapped";
  socklen_t len = 0;
  auto dst = make_addr(o.addr, o.port, v6, &len);
  std::vector<int> fds;
  int failed = 0;
  for (int i = 0; i < o.hold; ++i) {
    int fd = open_tcp(o, v6);
    if (fd < 0 || !bind_source(fd, o, v6) || ::connect(fd, reinterpret_cast<sockaddr*>(&dst), len) != 0) {
      ++failed;
      if (fd >= 0) ::close(fd);
      continue;
    }
    fds.push_back(fd);
  }
  std::cout << nlohmann::json{{"held", fds.size()}, {"connect_failed", failed}}.dump() << std::endl;
  std::string line;
  std::getline(std::cin, line);
  std::map<int, int> statuses;
  std::map<uint64_t, int> cgroups;
  for (int fd : fds) {
    Outcome r = http_over(fd, o);
    statuses[r.ok ? r.status : -r.err]++;
    auto body = nlohmann::json::parse(r.body, nullptr, false);
    if (r.status == 200 && body.is_object() && body.contains("cgroup_id")) cgroups[body["cgroup_id"].get<uint64_t>()]++;
    ::close(fd);
  }
  nlohmann::json s = nlohmann::json::object(), c = nlohmann::json::object();
  for (auto [k, v] : statuses) s[std::to_string(k)] = v;
  for (auto [k, v] : cgroups) c[std::to_string(k)] = v;
  std::cout << nlohmann::json{{"statuses", s}, {"cgroup_ids", c}}.dump() << std::endl;
  return 0;
}

int repeat_mode(const Options& o) {
  auto start = std::chrono::steady_clock::now();
  int ok = 0, bad = 0;
  for (int i = 0; i < o.repeat; ++i) {
    Outcome r = run_once(o);
    (r.ok && r.status > 0) ? ++ok : ++bad;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << nlohmann::json{{"mode", o.mode}, {"connections", o.repeat}, {"ok", ok}, {"failed", bad},
                              {"seconds", secs}, {"per_second", o.repeat / secs}}
                   .dump()
            << std::endl;
  return bad == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: podid-connprobe MODE [--addr A] [--port P] [--path P] [--bind ADDR:PORT] [--freebind] "
                 "[--timeout-ms N] [--hold N] [--repeat N]\n";
    return 2;
  }
  Options o;
  o.mode = argv[1];
  for (int i = 2; i + 1 < argc || (i < argc && std::string(argv[i]) == "--freebind"); ++i) {
    std::string f = argv[i];
    if (f == "--freebind") { o.freebind = true; continue; }
    std::string v = argv[++i];
    if (f == "--addr") o.addr = v;
    else if (f == "--port") o.port = std::stoi(v);
    else if (f == "--path") o.path = v;
    else if (f == "--timeout-ms") o.timeout_ms = std::stoi(v);
    else if (f == "--hold") o.hold = std::stoi(v);
    else if (f == "--repeat") o.repeat = std::stoi(v);
    else if (f == "--bind") {
      auto c = v.rfind(':');
      o.bind_addr = v.substr(0, c);
      o.bind_port = std::stoi(v.substr(c + 1));
    } else {
      std::cerr << "podid-connprobe: unknown flag " << f << "\n";
      return 2;
    }
  }
  if (o.hold > 0) return hold_mode(o);
  if (o.repeat > 0) return repeat_mode(o);
  std::cout << to_json(o, run_once(o)).dump() << std::endl;
  return 0;
}
