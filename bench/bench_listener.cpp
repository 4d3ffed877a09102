// SPDX-License-Identifier: Apache-2.0
// A minimal HTTP/1.1 responder for bench/: accept, read the request head, answer 200, close. Fast enough
// that the connection path, not the server, is what a benchmark measures.
//   bench-listener ADDR PORT      prints "ready" once listening
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: bench-listener ADDR PORT\n";
    return 2;
  }
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::stoi(argv[2])));
  ::inet_pton(AF_INET, argv[1], &a.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(fd, 4096) != 0) {
    std::perror("bench-listener");
    return 1;
  }
  std::cout << "ready" << std::endl;
  static const char kResponse[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
  char buf[4096];
  for (;;) {
    int c = ::accept(fd, nullptr, nullptr);
    if (c < 0) continue;
    std::string head;
    while (head.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      if (n <= 0) break;
      head.append(buf, static_cast<size_t>(n));
    }
    (void)!::send(c, kResponse, sizeof(kResponse) - 1, MSG_NOSIGNAL);
    ::close(c);
  }
}
