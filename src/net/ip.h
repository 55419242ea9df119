// IPv4 addresses and CIDR blocks as host-order integers, with strict text parsing (no octal, no
// short forms): what the pod network, its IPAM and its policy rules share.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace asb::net {

struct Ipv4 {
  uint32_t value = 0;  // host byte order
  friend bool operator==(Ipv4 a, Ipv4 b) { return a.value == b.value; }
  friend bool operator<(Ipv4 a, Ipv4 b) { return a.value < b.value; }
};

struct Cidr {
  Ipv4 base;        // the network address (host bits zero)
  int prefix = 32;  // 0..32
  uint32_t Mask() const { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }
  bool Contains(Ipv4 ip) const { return (ip.value & Mask()) == base.value; }
  // 2^(32-prefix), as 64 bits so /0 fits.
  uint64_t Size() const { return uint64_t{1} << (32 - prefix); }
  friend bool operator==(const Cidr& a, const Cidr& b) {
    return a.base == b.base && a.prefix == b.prefix;
  }
};

std::string ToString(Ipv4 ip);
std::string ToString(const Cidr& c);  // "10.244.0.0/16"
// "a.b.c.d" with each part 0..255 in plain decimal. kInvalidArgument.
[[nodiscard]] Result<Ipv4> ParseIpv4(std::string_view text);
// "a.b.c.d/n"; a bare address is /32. Host bits must be zero ("10.0.0.1/8" is refused, as
// Kubernetes' ipBlock validation does). kInvalidArgument.
[[nodiscard]] Result<Cidr> ParseCidr(std::string_view text);
// Whether two blocks share any address.
bool Overlaps(const Cidr& a, const Cidr& b);

}  // namespace asb::net
