#include "http/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"

namespace asb::http {

Result<ListeningSocket> ListenTcp(const std::string& host, uint16_t port) {
  const std::string numeric = host == "localhost" ? "127.0.0.1" : host;
  bool v6 = numeric.find(':') != std::string::npos;
  sockaddr_storage addr{};
  socklen_t addr_len;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    if (::inet_pton(AF_INET6, numeric.c_str(), &a->sin6_addr) != 1)
      return MakeError(Code::kInvalidArgument, "bad listen address " + host);
    addr_len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (::inet_pton(AF_INET, numeric.c_str(), &a->sin_addr) != 1)
      return MakeError(Code::kInvalidArgument, "bad listen address " + host);
    addr_len = sizeof(sockaddr_in);
  }
  ListeningSocket out;
  out.fd.Reset(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!out.fd) return ErrnoUnexpected("socket");
  int one = 1;
  ::setsockopt(out.fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(out.fd.get(), reinterpret_cast<sockaddr*>(&addr), addr_len) != 0 ||
      ::listen(out.fd.get(), 1024) != 0) {
    Error e = ErrnoError(errno, "listen on " + host + ":" + std::to_string(port));
    e.code = Code::kUnavailable;
    return tl::unexpected(e);
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  ::getsockname(out.fd.get(), reinterpret_cast<sockaddr*>(&bound), &len);
  out.port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                      : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return out;
}

void AcceptLoop(int listen_fd, const std::atomic<bool>& stopping,
                const std::function<void(int fd)>& on_accept) {
  while (!stopping) {
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping) break;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        ASB_LOG(WARN, "out of file descriptors; pausing accept");
        ::usleep(10000);
        continue;
      }
      ASB_LOG(ERROR, "accept failed", "error", ErrnoError(errno, "accept").message);
      break;
    }
    if (stopping) {  // e.g. WakeAcceptor's own connection
      ::close(fd);
      break;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    on_accept(fd);
  }
}

void WakeAcceptor(int listen_fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  bool have_addr = ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::shutdown(listen_fd, SHUT_RDWR);
  if (!have_addr) return;
  // A wildcard address is not connectable: aim at loopback of the same family.
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    if (a->sin_addr.s_addr == htonl(INADDR_ANY)) a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  } else if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    if (IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr)) a->sin6_addr = in6addr_loopback;
  }
  // Non-blocking: where shutdown already woke accept, this connect is simply refused.
  UniqueFd poke(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (poke) (void)::connect(poke.get(), reinterpret_cast<sockaddr*>(&addr), len);
}

}  // namespace asb::http
