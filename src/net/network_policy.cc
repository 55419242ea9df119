#include "net/network_policy.h"

#include <algorithm>
#include <cctype>

namespace asb::net {
namespace {

constexpr size_t kMaxRules = 256;  // per direction; and peers, ports and excepts per rule
constexpr size_t kMaxItems = 256;

Status Bad(const std::string& field, const std::string& why) {
  return MakeError(Code::kInvalidArgument, "networkPolicy." + field + ": " + why);
}

// An array field: absent or null is empty; anything else not an array is an error.
Result<const Json*> ArrayField(const Json& obj, const char* key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  if (!it->is_array()) return tl::unexpected(Bad(path + key, "must be a list").error());
  if (it->size() > kMaxItems) {
    return tl::unexpected(
        Bad(path + key, "more than " + std::to_string(kMaxItems) + " entries").error());
  }
  return &*it;
}

Result<std::optional<PolicyBlock>> ParseBlock(const Json& b, const std::string& path) {
  if (!b.is_object()) return tl::unexpected(Bad(path, "must be an object").error());
  auto cidr = b.find("cidr");
  if (cidr == b.end() || !cidr->is_string()) {
    return tl::unexpected(Bad(path + ".cidr", "required (a CIDR such as 10.0.0.0/8)").error());
  }
  const std::string text = cidr->get<std::string>();
  const bool v6 = text.find(':') != std::string::npos;
  PolicyBlock out;
  if (!v6) {
    auto c = ParseCidr(text);
    if (!c) return tl::unexpected(Bad(path + ".cidr", c.error().message).error());
    out.cidr = *c;
  }
  ASB_ASSIGN_OR_RETURN(const Json* except, ArrayField(b, "except", path + "."));
  if (except) {
    for (size_t i = 0; i < except->size(); ++i) {
      const std::string f = path + ".except[" + std::to_string(i) + "]";
      const Json& e = (*except)[i];
      if (!e.is_string()) return tl::unexpected(Bad(f, "must be a CIDR string").error());
      if (v6) continue;
      auto c = ParseCidr(e.get<std::string>());
      if (!c) return tl::unexpected(Bad(f, c.error().message).error());
      if (c->prefix < out.cidr.prefix || !out.cidr.Contains(c->base)) {
        return tl::unexpected(Bad(f, "must lie within " + ToString(out.cidr)).error());
      }
      out.except.push_back(*c);
    }
  }
  if (v6) return std::optional<PolicyBlock>();  // matches no IPv4 address
  return std::optional<PolicyBlock>(std::move(out));
}

Result<std::optional<PolicyPort>> ParsePort(const Json& p, const std::string& path) {
  if (!p.is_object()) return tl::unexpected(Bad(path, "must be an object").error());
  PolicyPort out;
  if (auto it = p.find("protocol"); it != p.end() && !it->is_null()) {
    std::string proto = it->is_string() ? it->get<std::string>() : "";
    if (proto != "TCP" && proto != "UDP" && proto != "SCTP") {
      return tl::unexpected(Bad(path + ".protocol", "must be TCP, UDP or SCTP").error());
    }
    std::transform(proto.begin(), proto.end(), proto.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out.protocol = proto;
  }
  auto port = p.find("port");
  if (port != p.end() && !port->is_null()) {
    if (port->is_string()) return std::optional<PolicyPort>();  // named: matches nothing here
    if (!port->is_number_integer() || port->get<int64_t>() < 1 || port->get<int64_t>() > 65535) {
      return tl::unexpected(Bad(path + ".port", "must be 1-65535 or a port name").error());
    }
    out.port = static_cast<int>(port->get<int64_t>());
  }
  if (auto it = p.find("endPort"); it != p.end() && !it->is_null()) {
    if (out.port == 0) return tl::unexpected(Bad(path + ".endPort", "needs a port").error());
    if (!it->is_number_integer() || it->get<int64_t>() < out.port || it->get<int64_t>() > 65535) {
      return tl::unexpected(Bad(path + ".endPort", "must be between port and 65535").error());
    }
    out.end_port = static_cast<int>(it->get<int64_t>());
  }
  return std::optional<PolicyPort>(out);
}

Result<std::vector<PolicyRule>> ParseRules(const Json& policy, const char* key,
                                           const char* peers_key) {
  std::vector<PolicyRule> out;
  ASB_ASSIGN_OR_RETURN(const Json* rules, ArrayField(policy, key, ""));
  if (!rules) return out;
  if (rules->size() > kMaxRules) {
    return tl::unexpected(Bad(key, "more than " + std::to_string(kMaxRules) + " rules").error());
  }
  for (size_t i = 0; i < rules->size(); ++i) {
    const std::string path = std::string(key) + "[" + std::to_string(i) + "]";
    const Json& r = (*rules)[i];
    if (!r.is_object()) return tl::unexpected(Bad(path, "must be an object").error());
    PolicyRule rule;
    ASB_ASSIGN_OR_RETURN(const Json* peers, ArrayField(r, peers_key, path + "."));
    rule.any_peer = peers == nullptr || peers->empty();
    for (size_t k = 0; peers && k < peers->size(); ++k) {
      const std::string f = path + "." + peers_key + "[" + std::to_string(k) + "]";
      const Json& peer = (*peers)[k];
      if (!peer.is_object()) return tl::unexpected(Bad(f, "must be an object").error());
      auto block = peer.find("ipBlock");
      const bool selector = peer.contains("podSelector") || peer.contains("namespaceSelector");
      if (auto dns = peer.find("dnsName"); dns != peer.end()) {
        if (std::string(peers_key) != "to") {
          return tl::unexpected(
              Bad(f + ".dnsName", "only egress peers (to) can name a DNS name").error());
        }
        if (block != peer.end() || selector) {
          return tl::unexpected(
              Bad(f, "dnsName cannot be combined with ipBlock, podSelector or namespaceSelector")
                  .error());
        }
        std::string name = dns->is_string() ? dns->get<std::string>() : "";
        if (!name.empty() && name.back() == '.') name.pop_back();  // fully qualified form
        if (std::string why = dns->is_string() ? DnsNameProblem(name) : "must be a string";
            !why.empty()) {
          return tl::unexpected(Bad(f + ".dnsName", why).error());
        }
        if (std::find(rule.dns_names.begin(), rule.dns_names.end(), name) == rule.dns_names.end()) {
          rule.dns_names.push_back(name);
        }
        continue;
      }
      if (block != peer.end() && selector) {
        return tl::unexpected(
            Bad(f, "ipBlock cannot be combined with podSelector or namespaceSelector").error());
      }
      if (block == peer.end()) {
        if (!selector) {
          return tl::unexpected(
              Bad(f, std::string("needs one of ipBlock, podSelector, namespaceSelector") +
                         (std::string(peers_key) == "to" ? ", dnsName" : ""))
                  .error());
        }
        continue;  // other pods or the router: see the header
      }
      ASB_ASSIGN_OR_RETURN(std::optional<PolicyBlock> b, ParseBlock(*block, f + ".ipBlock"));
      if (b) rule.blocks.push_back(std::move(*b));
    }
    ASB_ASSIGN_OR_RETURN(const Json* ports, ArrayField(r, "ports", path + "."));
    rule.any_port = ports == nullptr || ports->empty();
    for (size_t k = 0; ports && k < ports->size(); ++k) {
      ASB_ASSIGN_OR_RETURN(std::optional<PolicyPort> p,
                           ParsePort((*ports)[k], path + ".ports[" + std::to_string(k) + "]"));
      if (p) rule.ports.push_back(*p);
    }
    out.push_back(std::move(rule));
  }
  return out;
}

std::string PortMatch(const PolicyPort& p) {
  std::string s = " meta l4proto " + p.protocol;
  if (p.port > 0) {
    s += " th dport " + std::to_string(p.port);
    if (p.end_port > p.port) s += "-" + std::to_string(p.end_port);
  }
  return s;
}

}  // namespace

Result<NetworkPolicy> ParseNetworkPolicy(const Json& j) {
  if (!j.is_object()) return tl::unexpected(Bad("", "must be an object").error());
  NetworkPolicy out;
  ASB_ASSIGN_OR_RETURN(out.ingress, ParseRules(j, "ingress", "from"));
  ASB_ASSIGN_OR_RETURN(out.egress, ParseRules(j, "egress", "to"));
  return out;
}

std::string DnsNameProblem(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > 253) return "longer than 253 characters";
  if (name.find('*') != std::string_view::npos) {
    return "wildcards are not supported (the node resolves each name: name every host)";
  }
  int labels = 0;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('.', start);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view label = name.substr(start, end - start);
    ++labels;
    if (label.empty() || label.size() > 63) return "each label must be 1-63 characters";
    if (label.front() == '-' || label.back() == '-') return "a label cannot start or end with '-'";
    for (char c : label) {
      if (c >= 'A' && c <= 'Z') return "must be lowercase";
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
        return "only letters, digits, '-' and '.' (an RFC 1123 DNS name)";
      }
    }
    start = end + 1;
  }
  if (labels < 2) return "must have at least two labels (a fully qualified name)";
  return "";
}

std::string PolicyChainRules(const std::vector<PolicyRule>& rules, bool egress,
                             const std::string& drop_log, const std::string& dns_set_prefix) {
  const std::string addr = egress ? "ip daddr " : "ip saddr ";
  std::string s;
  for (size_t ri = 0; ri < rules.size(); ++ri) {
    const PolicyRule& r = rules[ri];
    std::vector<std::string> peers;
    if (r.any_peer) peers.push_back("");
    if (!r.dns_names.empty()) {
      peers.push_back(" " + addr + "@" + dns_set_prefix + std::to_string(ri));
    }
    for (const PolicyBlock& b : r.blocks) {
      std::string m = " " + addr + ToString(b.cidr);
      if (!b.except.empty()) {
        m += " " + addr + "!= { ";
        for (size_t i = 0; i < b.except.size(); ++i) {
          m += (i ? ", " : "") + ToString(b.except[i]);
        }
        m += " }";
      }
      peers.push_back(m);
    }
    std::vector<std::string> ports;
    if (r.any_port) ports.push_back("");
    for (const PolicyPort& p : r.ports) ports.push_back(PortMatch(p));
    for (const std::string& peer : peers) {
      for (const std::string& port : ports) s += "   " + peer + port + " return\n";
    }
  }
  s += "    counter" + drop_log + " drop comment \"" + (egress ? "egress" : "ingress") +
       " not allowed by the template's networkPolicy\"\n";
  return s;
}

}  // namespace asb::net
