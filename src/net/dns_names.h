// The names of templates' egress `dnsName` peers (network_policy.h), resolved by the node and
// kept current: DnsNameWatcher resolves each name's A records, again when its TTL runs out
// (clamped to 5 s..300 s), and reports every change of a name's addresses, which PolicyFirewall
// writes into that policy's nft sets (one `nft -f` touching only those sets). A failed lookup
// (timeout, SERVFAIL, REFUSED) keeps the last good addresses and is logged once per failure
// streak; a name that does not exist (NXDOMAIN, no A record) has no addresses: an answer, not a
// failure. Until its first answer a name allows nothing (fail closed).
//
// The resolver is a small UDP client of the node's configured servers (config podDNSResolver, or
// the host's /etc/resolv.conf), so it sees each record's TTL, which getaddrinfo hides; A records
// only (sandboxes have IPv4 only), CNAME chains the server followed counted by their smallest
// TTL. Off the start path: its own thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/result.h"
#include "net/ip.h"

namespace asb::net {

struct DnsAnswer {
  std::vector<Ipv4> addresses;  // sorted, unique
  std::chrono::seconds ttl{0};  // the smallest of the answer's records
};

// The query for `name`'s A records with message id `id`. kInvalidArgument for a name that is
// not one (network_policy.h DnsNameProblem).
[[nodiscard]] Result<std::string> BuildDnsQuery(std::string_view name, uint16_t id);
// A response to BuildDnsQuery(_, id): kNotFound when the name has no address (NXDOMAIN, or no A
// record), kUnavailable for a server's failure (SERVFAIL, REFUSED, ...), kInvalidArgument for
// something that is not the answer (another id, not a response, malformed).
[[nodiscard]] Result<DnsAnswer> ParseDnsResponse(std::string_view msg, uint16_t id);
// Asks each server (UDP `port`) in turn, `timeout` each. kUnavailable when none answered.
[[nodiscard]] Result<DnsAnswer> ResolveA(const std::string& name, const std::vector<Ipv4>& servers,
                                         std::chrono::milliseconds timeout, uint16_t port = 53);
// The IPv4 nameservers of a resolv.conf text.
std::vector<Ipv4> NameserversOf(const std::string& resolv_conf);

// One name's addresses and when to ask again. Pure (times given).
class NameRecord {
 public:
  using Time = std::chrono::steady_clock::time_point;
  static constexpr std::chrono::seconds kMinTtl{5};
  static constexpr std::chrono::seconds kMaxTtl{300};
  static constexpr std::chrono::seconds kRetry{5};  // after a failed lookup

  // An answer (an empty list: the name has no address). True when the addresses changed.
  bool Answered(Time now, const DnsAnswer& a);
  // A failed lookup: the addresses stay. True when it starts a streak of failures.
  bool Failed(Time now);
  bool Due(Time now) const { return now >= next_; }
  Time next() const { return next_; }
  const std::vector<Ipv4>& addresses() const { return addresses_; }
  bool failing() const { return failing_; }

 private:
  std::vector<Ipv4> addresses_;
  Time next_{};  // the epoch: due at once
  bool failing_ = false;
};

class DnsNameWatcher {
 public:
  using Resolver = std::function<Result<DnsAnswer>(const std::string& name)>;
  using OnChange = std::function<void(const std::string& name, const std::vector<Ipv4>& addrs)>;

  // `on_change` runs on the watcher's thread, never under its lock.
  DnsNameWatcher(Resolver resolve, OnChange on_change);
  ~DnsNameWatcher();
  DnsNameWatcher(const DnsNameWatcher&) = delete;
  DnsNameWatcher& operator=(const DnsNameWatcher&) = delete;

  // The names to follow; new ones are resolved at once, dropped ones forgotten.
  void SetNames(const std::set<std::string>& names);
  // The last good addresses of `name` (empty when none yet).
  std::vector<Ipv4> Addresses(const std::string& name) const;

 private:
  void Run();

  const Resolver resolve_;
  const OnChange on_change_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, NameRecord> names_;  // guarded by mu_
  bool stop_ = false;                        // guarded by mu_
  std::thread thread_;
};

}  // namespace asb::net
