#include "net/netns_scrub.h"

#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "base/file_util.h"
#include "base/unique_fd.h"

namespace asb::net {
namespace {

// A socket the kernel frees after SOCK_DESTROY, or a netlink socket closed just before, may
// take a moment (an RCU grace period) to leave the counters.
constexpr int kCheckTries = 50;
constexpr std::chrono::milliseconds kCheckPause{1};

struct DiagRequest {
  nlmsghdr h;
  inet_diag_req_v2 r;
};

// Every TCP socket of `family` in the calling thread's namespace, in any state.
Result<std::vector<inet_diag_sockid>> DumpTcp(int fd, uint8_t family) {
  DiagRequest req{};
  req.h.nlmsg_len = sizeof(req);
  req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = 1;
  req.r.sdiag_family = family;
  req.r.sdiag_protocol = IPPROTO_TCP;
  // Not listeners: none outlives its process, and listing them walks the host's shared
  // listening hash (the established one is the namespace's own: PodNetwork makes it so).
  req.r.idiag_states = ~0u & ~(1u << TCP_LISTEN);
  if (::send(fd, &req, sizeof(req), 0) < 0) return ErrnoUnexpected("sock_diag dump");
  std::vector<inet_diag_sockid> out;
  std::vector<char> buf(32768);
  for (;;) {
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoUnexpected("sock_diag dump");
    }
    int left = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, left);
         h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE) return out;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        return tl::unexpected(ErrnoError(-e->error, "sock_diag dump"));
      }
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) continue;
      out.push_back(static_cast<const inet_diag_msg*>(NLMSG_DATA(h))->id);
    }
    if (n == 0) return out;
  }
}

Status DestroyTcp(int fd, uint8_t family, const inet_diag_sockid& id) {
  DiagRequest req{};
  req.h.nlmsg_len = sizeof(req);
  req.h.nlmsg_type = SOCK_DESTROY;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.h.nlmsg_seq = 2;
  req.r.sdiag_family = family;
  req.r.sdiag_protocol = IPPROTO_TCP;
  req.r.idiag_states = ~0u;
  req.r.id = id;
  if (::send(fd, &req, sizeof(req), 0) < 0) return ErrnoUnexpected("sock_diag destroy");
  char buf[512];
  ssize_t n;
  do {
    n = ::recv(fd, buf, sizeof(buf), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoUnexpected("sock_diag destroy");
  const auto* h = reinterpret_cast<const nlmsghdr*>(buf);
  if (n >= static_cast<ssize_t>(NLMSG_LENGTH(sizeof(nlmsgerr))) && h->nlmsg_type == NLMSG_ERROR) {
    const int err = -static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
    // ENOENT: it went by itself meanwhile.
    if (err != 0 && err != ENOENT) return tl::unexpected(ErrnoError(err, "sock_diag destroy"));
  }
  return {};
}

Status DestroyAllTcp(int fd) {
  for (uint8_t family : {static_cast<uint8_t>(AF_INET), static_cast<uint8_t>(AF_INET6)}) {
    auto ids = DumpTcp(fd, family);
    // No IPv6 in this kernel: nothing to destroy.
    if (!ids && family == AF_INET6 && ids.error().code == Code::kNotFound) continue;
    if (!ids) return tl::unexpected(ids.error());
    for (const inet_diag_sockid& id : *ids) ASB_RETURN_IF_ERROR(DestroyTcp(fd, family, id));
  }
  return {};
}

// From the calling thread's sockstat: every socket of the namespace, and its TIME_WAIT ones.
struct SocketCounts {
  long used = -1, tw = -1;
};
Result<SocketCounts> CountSockets() {
  ASB_ASSIGN_OR_RETURN(std::string text, ReadFile("/proc/thread-self/net/sockstat"));
  SocketCounts c;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string head, word;
    f >> head;
    while (f >> word) {
      long v = 0;
      if (!(f >> v)) break;
      if (head == "sockets:" && word == "used") c.used = v;
      if (head == "TCP:" && word == "tw") c.tw = v;
    }
  }
  if (c.used < 0 || c.tw < 0) {
    return MakeError(Code::kInternal, "unexpected /proc/net/sockstat: " + text);
  }
  return c;
}

Status FlushRouteCache(const char* path) {
  UniqueFd fd(::open(path, O_WRONLY | O_CLOEXEC));
  if (!fd) return errno == ENOENT ? OkStatus() : ErrnoUnexpected(std::string("open ") + path);
  if (::write(fd.get(), "1", 1) != 1) return ErrnoUnexpected(std::string("write ") + path);
  return {};
}

Status ScrubHere() {
  UniqueFd diag(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!diag) return ErrnoUnexpected("socket(NETLINK_SOCK_DIAG)");
  ASB_ASSIGN_OR_RETURN(SocketCounts before, CountSockets());
  // Nothing but `diag`: nothing to destroy (the common case for a sandbox that made no
  // connection of its own and whose peers closed first).
  if (before.used != 1 || before.tw != 0) ASB_RETURN_IF_ERROR(DestroyAllTcp(diag.get()));
  ASB_RETURN_IF_ERROR(FlushRouteCache("/proc/sys/net/ipv4/route/flush"));
  ASB_RETURN_IF_ERROR(FlushRouteCache("/proc/sys/net/ipv6/route/flush"));
  // Counted while `diag` is open (closed netlink sockets leave the count an RCU grace period
  // later): it is the one socket allowed.
  SocketCounts c;
  for (int i = 0; i < kCheckTries; ++i) {
    ASB_ASSIGN_OR_RETURN(c, CountSockets());
    if (c.used == 1 && c.tw == 0) return {};
    std::this_thread::sleep_for(kCheckPause);
  }
  return MakeError(Code::kFailedPrecondition, "the namespace still holds " +
                                                  std::to_string(c.used - 1) + " sockets and " +
                                                  std::to_string(c.tw) + " in TIME_WAIT");
}

}  // namespace

Status ScrubNetns(int netns_fd) {
  std::optional<Status> out;
  std::thread t([&] {
    if (::setns(netns_fd, CLONE_NEWNET) != 0) {
      out.emplace(ErrnoUnexpected("setns into sandbox netns"));
      return;
    }
    out.emplace(ScrubHere());
  });
  t.join();
  return std::move(*out);
}

}  // namespace asb::net
