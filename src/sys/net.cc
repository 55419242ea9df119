#include "sys/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

namespace asb::sys {

int BringUpLoopback() {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  int err = 0;
  if (::ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) {
    err = errno;
  } else {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
    if (::ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) err = errno;
  }
  ::close(fd);
  return err;
}

Result<UniqueFd> ConnectInNetns(int netns_fd, uint16_t port, std::chrono::milliseconds timeout) {
  int sock = -1;
  int sock_errno = 0;
  // setns affects only the calling thread; a fresh thread that exits afterwards means no
  // daemon thread is ever left in a sandbox's namespace.
  std::thread t([&] {
    if (::setns(netns_fd, CLONE_NEWNET) != 0) {
      sock_errno = errno;
      return;
    }
    sock = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (sock < 0) sock_errno = errno;
  });
  t.join();
  if (sock < 0) return tl::unexpected(ErrnoError(sock_errno, "socket in sandbox netns"));
  UniqueFd fd(sock);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  std::string where = "127.0.0.1:" + std::to_string(port) + " in sandbox";
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS) {
      Error e = ErrnoError(errno, "connect " + where);
      if (errno == ECONNREFUSED) e.code = Code::kUnavailable;
      return tl::unexpected(e);
    }
    pollfd p{fd.get(), POLLOUT, 0};
    int rc;
    do {
      rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) return MakeError(Code::kUnavailable, "connect " + where + ": timed out");
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      Error e = ErrnoError(err, "connect " + where);
      e.code = Code::kUnavailable;
      return tl::unexpected(e);
    }
  }
  int flags = ::fcntl(fd.get(), F_GETFL);
  ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

}  // namespace asb::sys
