#include "net/ip.h"

namespace asb::net {

std::string ToString(Ipv4 ip) {
  uint32_t v = ip.value;
  return std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 255) + "." +
         std::to_string((v >> 8) & 255) + "." + std::to_string(v & 255);
}

std::string ToString(const Cidr& c) { return ToString(c.base) + "/" + std::to_string(c.prefix); }

Result<Ipv4> ParseIpv4(std::string_view text) {
  auto bad = [&] {
    return MakeError(Code::kInvalidArgument,
                     "\"" + std::string(text) + "\" is not an IPv4 address");
  };
  uint32_t out = 0;
  size_t pos = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (pos >= text.size() || text[pos] != '.') return bad();
      ++pos;
    }
    size_t start = pos;
    uint32_t v = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9' && pos - start < 3) {
      v = v * 10 + static_cast<uint32_t>(text[pos] - '0');
      ++pos;
    }
    // No empty part, no leading zero (ambiguous: octal to inet_aton), no value above 255.
    if (pos == start || v > 255 || (text[start] == '0' && pos - start > 1)) return bad();
    out = (out << 8) | v;
  }
  if (pos != text.size()) return bad();
  return Ipv4{out};
}

Result<Cidr> ParseCidr(std::string_view text) {
  size_t slash = text.find('/');
  ASB_ASSIGN_OR_RETURN(Ipv4 ip, ParseIpv4(text.substr(0, slash)));
  Cidr c{ip, 32};
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    int n = 0;
    bool ok = !p.empty() && p.size() <= 2 && !(p.size() == 2 && p[0] == '0');
    for (char ch : p) {
      ok = ok && ch >= '0' && ch <= '9';
      n = n * 10 + (ch - '0');
    }
    if (!ok || n > 32) {
      return MakeError(Code::kInvalidArgument,
                       "\"" + std::string(text) + "\": prefix length must be 0-32");
    }
    c.prefix = n;
  }
  if ((c.base.value & c.Mask()) != c.base.value) {
    return MakeError(Code::kInvalidArgument, "\"" + std::string(text) +
                                                 "\" has host bits set (the block starts at " +
                                                 ToString(Ipv4{c.base.value & c.Mask()}) + ")");
  }
  return c;
}

bool Overlaps(const Cidr& a, const Cidr& b) {
  const Cidr& wider = a.prefix <= b.prefix ? a : b;
  const Cidr& narrower = a.prefix <= b.prefix ? b : a;
  return wider.Contains(narrower.base);
}

}  // namespace asb::net
