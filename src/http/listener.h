// TCP listening sockets and the accept loop shared by every server we run (API, TLS front,
// router), so bind/listen/accept error handling lives in one place.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "base/result.h"
#include "base/unique_fd.h"

namespace asb::http {

struct ListeningSocket {
  UniqueFd fd;
  uint16_t port = 0;  // the bound port (useful when 0 was asked for)
};

// Binds and listens on host:port. host is a numeric IPv4/IPv6 address or "localhost"; port 0
// picks a free port. Errors: kInvalidArgument (bad host), kUnavailable (bind or listen failed,
// e.g. the address is in use).
[[nodiscard]] Result<ListeningSocket> ListenTcp(const std::string& host, uint16_t port);

// Accepts connections on listen_fd until `stopping` is set and the listening socket is shut
// down (shutdown(2) wakes the blocking accept). Each accepted socket gets TCP_NODELAY and is
// handed to on_accept, which owns it from then on. Transient errors (EINTR, ECONNABORTED) are
// retried; running out of fds pauses briefly instead of spinning.
void AcceptLoop(int listen_fd, const std::atomic<bool>& stopping,
                const std::function<void(int fd)>& on_accept);

// Stops an AcceptLoop: shuts the listening socket down and, because not every kernel wakes a
// blocked accept() on shutdown (gVisor's does not), also connects to it once. Call after setting
// the loop's `stopping` flag.
void WakeAcceptor(int listen_fd);

}  // namespace asb::http
