// Blocking HTTP/1.1 client with keep-alive. One Client is one connection; not thread-safe.
// Used by asbctl, probes, tests and benchmarks. Beast stays inside client.cc.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/result.h"
#include "base/unique_fd.h"
#include "http/message.h"

namespace asb::http {

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

class Client {
 public:
  // Connects to host:port (numeric IPv4/IPv6 or "localhost"). kUnavailable on refusal.
  [[nodiscard]] static Result<Client> Connect(
      const std::string& host, uint16_t port,
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Wraps an already connected stream socket (e.g. one opened inside a sandbox's netns).
  static Client FromFd(UniqueFd fd, std::string host_header = "localhost");
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  ~Client();

  // Sends req (method, target, headers, body) and reads the whole response.
  // Sets Host and Content-Length. Errors: kUnavailable (connection), kDeadlineExceeded.
  [[nodiscard]] Result<ClientResponse> Do(const Request& req);
  // Like Do, but hands the body to on_data as it arrives; stops early when on_data returns false.
  // Returns the status and headers (body empty).
  [[nodiscard]] Result<ClientResponse> Stream(const Request& req,
                                              const std::function<bool(std::string_view)>& on_data);
  // Per-read timeout for subsequent calls (0 = none).
  void SetReadTimeout(std::chrono::milliseconds timeout);
  int native_handle() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Convenience: one-shot request on a fresh connection.
[[nodiscard]] Result<ClientResponse> Fetch(const std::string& host, uint16_t port,
                                           const Request& req);

}  // namespace asb::http
