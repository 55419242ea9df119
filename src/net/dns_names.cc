#include "net/dns_names.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <random>
#include <sstream>

#include "base/log.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "net/network_policy.h"

namespace asb::net {
namespace {

constexpr size_t kHeader = 12;
constexpr uint16_t kTypeA = 1, kClassIn = 1;
constexpr size_t kMaxAddresses = 64;  // per name: a bounded set element count

uint16_t Get16(std::string_view m, size_t at) {
  return static_cast<uint16_t>((static_cast<uint8_t>(m[at]) << 8) |
                               static_cast<uint8_t>(m[at + 1]));
}

uint32_t Get32(std::string_view m, size_t at) {
  return (uint32_t{Get16(m, at)} << 16) | Get16(m, at + 2);
}

// Skips the (possibly compressed) name at `at`; npos when it runs off the message.
size_t SkipName(std::string_view m, size_t at) {
  for (int labels = 0; labels < 128; ++labels) {
    if (at >= m.size()) return std::string::npos;
    const auto len = static_cast<uint8_t>(m[at]);
    if (len == 0) return at + 1;
    if ((len & 0xc0) == 0xc0) return at + 2 <= m.size() ? at + 2 : std::string::npos;
    if ((len & 0xc0) != 0) return std::string::npos;
    at += 1 + len;
  }
  return std::string::npos;
}

tl::unexpected<Error> Bad(const std::string& why) {
  return tl::unexpected(Error{Code::kInvalidArgument, "DNS response: " + why});
}

}  // namespace

Result<std::string> BuildDnsQuery(std::string_view name, uint16_t id) {
  if (std::string p = DnsNameProblem(name); !p.empty()) {
    return MakeError(Code::kInvalidArgument, "\"" + std::string(name) + "\": " + p);
  }
  std::string q;
  q.push_back(static_cast<char>(id >> 8));
  q.push_back(static_cast<char>(id & 0xff));
  q += std::string("\x01\x00", 2);                          // RD: the server recurses
  q += std::string("\x00\x01\x00\x00\x00\x00\x00\x00", 8);  // one question
  for (const std::string& label : Split(name, '.')) {
    q.push_back(static_cast<char>(label.size()));
    q += label;
  }
  q.push_back('\0');
  q += std::string("\x00\x01\x00\x01", 4);  // A, IN
  return q;
}

Result<DnsAnswer> ParseDnsResponse(std::string_view m, uint16_t id) {
  if (m.size() < kHeader) return Bad("shorter than its header");
  if (Get16(m, 0) != id) return Bad("another query's id");
  const uint16_t flags = Get16(m, 2);
  if ((flags & 0x8000) == 0) return Bad("not a response");
  const int rcode = flags & 0xf;
  if (rcode == 3) return MakeError(Code::kNotFound, "NXDOMAIN");
  if (rcode != 0) {
    return MakeError(Code::kUnavailable, "the server failed (rcode " + std::to_string(rcode) +
                                             (rcode == 2   ? ", SERVFAIL"
                                              : rcode == 5 ? ", REFUSED"
                                                           : "") +
                                             ")");
  }
  size_t at = kHeader;
  for (uint16_t i = 0, n = Get16(m, 4); i < n; ++i) {
    at = SkipName(m, at);
    if (at == std::string::npos || at + 4 > m.size()) return Bad("truncated question");
    at += 4;
  }
  DnsAnswer out;
  uint32_t ttl = UINT32_MAX;
  for (uint16_t i = 0, n = Get16(m, 6); i < n; ++i) {
    at = SkipName(m, at);
    if (at == std::string::npos || at + 10 > m.size()) return Bad("truncated answer");
    const uint16_t type = Get16(m, at), cls = Get16(m, at + 2);
    const uint32_t rr_ttl = Get32(m, at + 4);
    const uint16_t len = Get16(m, at + 8);
    at += 10;
    if (at + len > m.size()) return Bad("truncated record");
    if (cls == kClassIn) ttl = std::min(ttl, rr_ttl);  // CNAMEs on the way count too
    if (type == kTypeA && cls == kClassIn && len == 4 && out.addresses.size() < kMaxAddresses) {
      out.addresses.push_back(Ipv4{Get32(m, at)});
    }
    at += len;
  }
  if (out.addresses.empty()) return MakeError(Code::kNotFound, "no A record");
  std::sort(out.addresses.begin(), out.addresses.end());
  out.addresses.erase(std::unique(out.addresses.begin(), out.addresses.end()), out.addresses.end());
  out.ttl = std::chrono::seconds(ttl);
  return out;
}

std::vector<Ipv4> NameserversOf(const std::string& resolv_conf) {
  std::vector<Ipv4> out;
  std::istringstream in(resolv_conf);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key, addr;
    if (words >> key >> addr && key == "nameserver") {
      if (auto ip = ParseIpv4(addr)) out.push_back(*ip);
    }
  }
  return out;
}

Result<DnsAnswer> ResolveA(const std::string& name, const std::vector<Ipv4>& servers,
                           std::chrono::milliseconds timeout, uint16_t port) {
  if (servers.empty()) return MakeError(Code::kUnavailable, "no nameserver configured");
  thread_local std::mt19937 rng{std::random_device{}()};
  Error last{Code::kUnavailable, "no answer"};
  for (Ipv4 server : servers) {
    const auto id = static_cast<uint16_t>(rng());
    ASB_ASSIGN_OR_RETURN(std::string q, BuildDnsQuery(name, id));
    // A connected socket: the kernel drops datagrams from any other address or port.
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) return ErrnoUnexpected("socket");
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(server.value);
    const std::string who = "nameserver " + ToString(server);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
        ::send(fd.get(), q.data(), q.size(), 0) < 0) {
      last = ErrnoError(errno, who);
      continue;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd.get(), POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        last = Error{Code::kUnavailable,
                     who + ": no answer within " + std::to_string(timeout.count()) + " ms"};
        break;
      }
      char buf[4096];
      ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
      if (n < 0) {
        last = ErrnoError(errno, who);  // ECONNREFUSED: nothing listens there
        break;
      }
      auto a = ParseDnsResponse(std::string_view(buf, static_cast<size_t>(n)), id);
      if (!a && a.error().code == Code::kInvalidArgument) continue;  // not ours: keep waiting
      if (!a && a.error().code == Code::kUnavailable) {
        last = a.error().Wrap(who);
        break;  // the next server may do better
      }
      return a;  // addresses, or kNotFound: an answer either way
    }
  }
  last.code = Code::kUnavailable;
  return tl::unexpected(last);
}

bool NameRecord::Answered(Time now, const DnsAnswer& a) {
  failing_ = false;
  next_ = now + std::clamp(a.ttl, kMinTtl, kMaxTtl);
  if (a.addresses == addresses_) return false;
  addresses_ = a.addresses;
  return true;
}

bool NameRecord::Failed(Time now) {
  next_ = now + kRetry;
  const bool first = !failing_;
  failing_ = true;
  return first;
}

DnsNameWatcher::DnsNameWatcher(Resolver resolve, OnChange on_change)
    : resolve_(std::move(resolve)), on_change_(std::move(on_change)) {
  thread_ = std::thread([this] { Run(); });
}

DnsNameWatcher::~DnsNameWatcher() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void DnsNameWatcher::SetNames(const std::set<std::string>& names) {
  {
    std::lock_guard l(mu_);
    for (auto it = names_.begin(); it != names_.end();) {
      it = names.count(it->first) ? std::next(it) : names_.erase(it);
    }
    for (const std::string& n : names) names_.try_emplace(n);
  }
  cv_.notify_all();
}

std::vector<Ipv4> DnsNameWatcher::Addresses(const std::string& name) const {
  std::lock_guard l(mu_);
  auto it = names_.find(name);
  return it == names_.end() ? std::vector<Ipv4>{} : it->second.addresses();
}

void DnsNameWatcher::Run() {
  std::unique_lock l(mu_);
  while (!stop_) {
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::string> due;
    auto wake = now + NameRecord::kMaxTtl;
    for (const auto& [name, rec] : names_) {
      if (rec.Due(now)) {
        due.push_back(name);
      } else {
        wake = std::min(wake, rec.next());
      }
    }
    if (due.empty()) {
      cv_.wait_until(l, wake);
      continue;
    }
    for (const std::string& name : due) {
      l.unlock();
      Result<DnsAnswer> a = resolve_(name);
      l.lock();
      if (stop_) return;
      auto it = names_.find(name);
      if (it == names_.end()) continue;  // dropped meanwhile
      const auto t = std::chrono::steady_clock::now();
      bool changed = false;
      if (a) {
        changed = it->second.Answered(t, *a);
      } else if (a.error().code == Code::kNotFound) {
        changed = it->second.Answered(t, DnsAnswer{{}, NameRecord::kMinTtl});
      } else if (it->second.Failed(t)) {
        std::vector<std::string> kept;
        for (Ipv4 ip : it->second.addresses()) kept.push_back(ToString(ip));
        ASB_LOG(WARN,
                "pod network: resolving an egress dnsName failed; its last addresses stay "
                "allowed",
                "name", name, "addresses", Join(kept, ","), "error", a.error().message);
      }
      if (changed) {
        std::vector<Ipv4> addrs = it->second.addresses();
        l.unlock();
        on_change_(name, addrs);
        l.lock();
      }
    }
  }
}

}  // namespace asb::net
