// A Backend with a fixed table: (namespace, sandbox id) -> a TCP address to dial. Used by tests
// and benchmarks, and by a standalone router pointed at servers on the host (development).
// Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "router/backend.h"

namespace asb::router {

class StaticBackend final : public Backend {
 public:
  struct Entry {
    std::string host = "127.0.0.1";  // numeric IPv4/IPv6
    // Dial this port instead of the requested one (0 = dial the requested port).
    uint16_t port_override = 0;
    // When set, Connect fails with this error instead of dialling (e.g. kUnavailable: not ready).
    std::optional<Error> error;
  };

  void Set(const std::string& ns, const std::string& sandbox_id, Entry entry);
  void Remove(const std::string& ns, const std::string& sandbox_id);

  // kNotFound for unknown sandboxes, the entry's error if any, kUnavailable with the errno text
  // when the dial fails (the router answers 502 for dial failures only when the code is not
  // kUnavailable, so a refused dial is reported as kInternal: "could not connect").
  Result<UniqueFd> Connect(const std::string& ns, const std::string& sandbox_id,
                           uint16_t port) override;

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Entry> entries_;
};

// Dials host:port (numeric address) with a blocking TCP connect. Errors: kInvalidArgument (bad
// address), kInternal with the errno text (refused, unreachable).
Result<UniqueFd> DialTcp(const std::string& host, uint16_t port);

}  // namespace asb::router
