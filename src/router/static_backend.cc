#include "router/static_backend.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace asb::router {

void StaticBackend::Set(const std::string& ns, const std::string& sandbox_id, Entry entry) {
  std::lock_guard l(mu_);
  entries_[{ns, sandbox_id}] = std::move(entry);
}

void StaticBackend::Remove(const std::string& ns, const std::string& sandbox_id) {
  std::lock_guard l(mu_);
  entries_.erase({ns, sandbox_id});
}

Result<UniqueFd> StaticBackend::Connect(const std::string& ns, const std::string& sandbox_id,
                                        uint16_t port) {
  Entry entry;
  {
    std::lock_guard l(mu_);
    auto it = entries_.find({ns, sandbox_id});
    if (it == entries_.end())
      return MakeError(Code::kNotFound, "sandbox " + ns + "/" + sandbox_id + " not found");
    entry = it->second;
  }
  if (entry.error) return tl::unexpected(*entry.error);
  return DialTcp(entry.host, entry.port_override ? entry.port_override : port);
}

Result<UniqueFd> DialTcp(const std::string& host, uint16_t port) {
  sockaddr_storage addr{};
  socklen_t len;
  bool v6 = host.find(':') != std::string::npos;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    if (::inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1)
      return MakeError(Code::kInvalidArgument, "bad address " + host);
    len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1)
      return MakeError(Code::kInvalidArgument, "bad address " + host);
    len = sizeof(sockaddr_in);
  }
  UniqueFd fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoUnexpected("socket");
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    Error e = ErrnoError(errno, "connect " + host + ":" + std::to_string(port));
    e.code = Code::kInternal;
    return tl::unexpected(e);
  }
  return fd;
}

}  // namespace asb::router
