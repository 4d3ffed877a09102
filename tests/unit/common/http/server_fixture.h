// SPDX-License-Identifier: Apache-2.0
//
// The HTTP server through a real socket, for its tests: the server on its own thread (any ConnectionHandler;
// by default one answering "ok:<target>" and recording targets), and a blocking client that writes raw bytes
// and reads what comes back, with a receive timeout so that no test can hang.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "podid/http/server.h"

namespace podid::http::test_server {

class ServerUnderTest {
 public:
  explicit ServerUnderTest(ConnectionHandler on_connection = {}) : server_(io_, [this](std::string_view, std::string_view reason) {
    std::lock_guard lock(mutex_);
    reasons_.emplace_back(reason);
  }) {
    if (!on_connection) {
      on_connection = [this](tcp::socket&) -> Admission {
        return sync_handler([this](const Request& req) {
          {
            std::lock_guard lock(mutex_);
            targets_.emplace_back(req.target());
          }
          return text_response(req, Status::ok, "ok:" + std::string(req.target()), "text/plain");
        });
      };
    }
    auto bound = server_.listen({boost::asio::ip::make_address("127.0.0.1"), 0}, std::move(on_connection), "test");
    if (!bound) throw std::runtime_error(bound.error().message());
    port_ = bound->port();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ServerUnderTest() {
    std::promise<void> stopped;
    boost::asio::post(io_, [&] {
      server_.stop();
      io_.stop();
      stopped.set_value();
    });
    stopped.get_future().wait();
    thread_.join();
  }

  uint16_t port() const { return port_; }
  std::vector<std::string> reasons() {
    std::lock_guard lock(mutex_);
    return reasons_;
  }
  std::vector<std::string> targets() {
    std::lock_guard lock(mutex_);
    return targets_;
  }

 private:
  boost::asio::io_context io_;
  std::mutex mutex_;
  std::vector<std::string> reasons_;
  std::vector<std::string> targets_;
  Server server_;
  uint16_t port_ = 0;
  std::thread thread_;
};

// A blocking client socket with a receive timeout, so a test that waits for a close cannot hang.
class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{.tv_sec = 5, .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) throw std::runtime_error("connect");
  }
  ~RawClient() { ::close(fd_); }

  // Writes all of `bytes`; false once the server has closed (EPIPE, ECONNRESET).
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Everything the server sends until it closes the connection (or 5 s pass).
  std::string read_to_close() {
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

  // One response's worth of bytes: reads until `marker` has been seen (the connection may stay open).
  std::string read_until(std::string_view marker) {
    std::string out;
    char buf[4096];
    while (out.find(marker) == std::string::npos) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

  // One whole response (header and Content-Length bytes of body), or what came before the server closed. Bytes
  // of the next pipelined response are kept for the next call.
  std::string read_response() {
    char buf[4096];
    for (;;) {
      size_t head_end = pending_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        size_t length = 0;
        size_t at = pending_.find("Content-Length: ");
        if (at != std::string::npos && at < head_end) length = std::stoul(pending_.substr(at + 16));
        size_t whole = head_end + 4 + length;
        if (pending_.size() >= whole) {
          std::string one = pending_.substr(0, whole);
          pending_.erase(0, whole);
          return one;
        }
      }
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return std::exchange(pending_, std::string());
      pending_.append(buf, static_cast<size_t>(n));
    }
  }

  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  // True when the server closed its side: a read returns end of stream (or a reset) within 5 s.
  bool closed_by_server() {
    char c;
    ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 private:
  int fd_ = -1;
  std::string pending_;  // read past the last response read_response returned
};

inline std::string status_line(const std::string& response) { return response.substr(0, response.find("\r\n")); }

// The server answers a plain request on a new connection: it is alive and serving.
inline void expect_still_serving(uint16_t port) {
  RawClient client(port);
  ASSERT_TRUE(client.send("GET /alive HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(status_line(client.read_to_close()), "HTTP/1.1 200 OK");
}

}  // namespace podid::http::test_server
