#include "sys/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <thread>

#include "sys/mounts.h"

namespace asb::sys {
namespace {

// Runs fn on a fresh thread and returns its result: a namespace change dies with the thread.
template <class F>
auto OnFreshThread(F fn) -> decltype(fn()) {
  std::optional<decltype(fn())> out;
  std::thread t([&] { out.emplace(fn()); });
  t.join();
  return std::move(*out);
}

// Connects a non-blocking socket to ipv4:port within `timeout`, then makes it blocking.
Result<UniqueFd> FinishConnect(UniqueFd fd, uint32_t ipv4, uint16_t port, const std::string& where,
                               std::chrono::milliseconds timeout);

}  // namespace

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
  // The socket keeps the namespace it was made in; only making it needs the switch.
  ASB_ASSIGN_OR_RETURN(
      UniqueFd fd, OnFreshThread([&]() -> Result<UniqueFd> {
        if (::setns(netns_fd, CLONE_NEWNET) != 0) {
          return ErrnoUnexpected("setns into sandbox netns");
        }
        UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        if (!s) return ErrnoUnexpected("socket in sandbox netns");
        return s;
      }));
  return FinishConnect(std::move(fd), INADDR_LOOPBACK, port,
                       "127.0.0.1:" + std::to_string(port) + " in sandbox", timeout);
}

Result<UniqueFd> ConnectTcp(uint32_t ipv4, uint16_t port, std::chrono::milliseconds timeout) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return ErrnoUnexpected("socket");
  in_addr a{htonl(ipv4)};
  char text[INET_ADDRSTRLEN] = "";
  ::inet_ntop(AF_INET, &a, text, sizeof(text));
  return FinishConnect(std::move(fd), ipv4, port, std::string(text) + ":" + std::to_string(port),
                       timeout);
}

namespace {

Result<UniqueFd> FinishConnect(UniqueFd fd, uint32_t ipv4, uint16_t port, const std::string& where,
                               std::chrono::milliseconds timeout) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(ipv4);
  addr.sin_port = htons(port);
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

}  // namespace

Result<UniqueFd> ConnectInNetns(const std::string& netns_path, uint16_t port,
                                std::chrono::milliseconds timeout) {
  UniqueFd ns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return ErrnoUnexpected("open netns " + netns_path);
  return ConnectInNetns(ns.get(), port, timeout);
}

Status CreatePersistentNetns(const std::string& path) { return CreatePersistentNetns(path, -1); }

Status CreatePersistentNetns(const std::string& path, int parent_netns_fd) {
  {
    UniqueFd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
    if (!f) return ErrnoUnexpected("create netns file " + path);
  }
  Status st = OnFreshThread([&]() -> Status {
    if (parent_netns_fd >= 0 && ::setns(parent_netns_fd, CLONE_NEWNET) != 0) {
      return ErrnoUnexpected("setns into the parent netns");
    }
    if (::unshare(CLONE_NEWNET) != 0) return ErrnoUnexpected("unshare(CLONE_NEWNET)");
    if (int e = BringUpLoopback()) return tl::unexpected(ErrnoError(e, "bring up lo"));
    if (::mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      return ErrnoUnexpected("bind-mount netns onto " + path);
    }
    return OkStatus();
  });
  if (!st) ::unlink(path.c_str());
  return st;
}

Status RemovePersistentNetns(const std::string& path) {
  ASB_RETURN_IF_ERROR(Unmount(path));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoUnexpected("unlink " + path);
  return OkStatus();
}

}  // namespace asb::sys
