#include "net/dns_config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <sstream>

#include "base/strings.h"

namespace asb::net {
namespace {

constexpr size_t kMaxNameservers = 3;
constexpr size_t kMaxSearches = 32;
constexpr size_t kMaxSearchChars = 2048;

struct Conf {
  std::vector<std::string> nameservers, searches;
  std::vector<std::pair<std::string, std::string>> options;  // name, value ("" = none)
};

Status Bad(const std::string& field, const std::string& why) {
  return MakeError(Code::kInvalidArgument,
                   "spec.dnsConfig" + (field.empty() ? "" : "." + field) + ": " + why);
}

bool IsIpv4(const std::string& s) {
  in_addr a;
  return ::inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool IsIp(const std::string& s) {
  in6_addr a6;
  return IsIpv4(s) || ::inet_pton(AF_INET6, s.c_str(), &a6) == 1;
}

// One token of the file: printable, no space and no comment character.
bool IsToken(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  return std::all_of(s.begin(), s.end(),
                     [](unsigned char c) { return c > ' ' && c < 0x7f && c != '#' && c != ';'; });
}

void AddUnique(std::vector<std::string>* to, const std::string& v) {
  if (std::find(to->begin(), to->end(), v) == to->end()) to->push_back(v);
}

void SetOption(Conf* c, const std::string& name, const std::string& value) {
  for (auto& [n, v] : c->options) {
    if (n == name) {
      v = value;
      return;
    }
  }
  c->options.emplace_back(name, value);
}

// The node's resolv.conf: servers a sandbox can reach (not loopback, not IPv6), searches and
// options; malformed lines are skipped as the resolver would.
Conf FromHost(const std::string& text) {
  Conf c;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key;
    if (!(words >> key) || key[0] == '#' || key[0] == ';') continue;
    std::string w;
    if (key == "nameserver") {
      if (words >> w && IsIpv4(w) && w.rfind("127.", 0) != 0 && w != "0.0.0.0") {
        AddUnique(&c.nameservers, w);
      }
    } else if (key == "search" || key == "domain") {
      c.searches.clear();  // the last one wins
      while (words >> w) {
        if (IsToken(w)) c.searches.push_back(w);
      }
    } else if (key == "options") {
      while (words >> w) {
        if (!IsToken(w)) continue;
        const size_t colon = w.find(':');
        SetOption(&c, w.substr(0, colon), colon == std::string::npos ? "" : w.substr(colon + 1));
      }
    }
  }
  return c;
}

// Merges spec.dnsConfig into `c`.
Status MergePodConfig(const Json& spec, Conf* c) {
  const Json* dc = Find(spec, "dnsConfig");
  if (dc == nullptr || dc->is_null()) return {};
  if (!dc->is_object()) return Bad("", "must be an object");
  auto strings = [&](const char* key, auto add) -> Status {
    auto it = dc->find(key);
    if (it == dc->end() || it->is_null()) return {};
    if (!it->is_array()) return Bad(key, "must be a list of strings");
    for (size_t i = 0; i < it->size(); ++i) {
      const std::string f = std::string(key) + "[" + std::to_string(i) + "]";
      if (!(*it)[i].is_string()) return Bad(f, "must be a string");
      ASB_RETURN_IF_ERROR(add(f, (*it)[i].get<std::string>()));
    }
    return {};
  };
  ASB_RETURN_IF_ERROR(strings("nameservers", [&](const std::string& f, const std::string& v) {
    if (!IsIp(v)) return Bad(f, "\"" + v + "\" is not an IP address");
    AddUnique(&c->nameservers, v);
    return OkStatus();
  }));
  ASB_RETURN_IF_ERROR(strings("searches", [&](const std::string& f, const std::string& v) {
    if (!IsToken(v)) return Bad(f, "\"" + v + "\" is not a DNS domain");
    AddUnique(&c->searches, v);
    return OkStatus();
  }));
  auto opts = dc->find("options");
  if (opts != dc->end() && !opts->is_null()) {
    if (!opts->is_array()) return Bad("options", "must be a list of {name, value}");
    for (size_t i = 0; i < opts->size(); ++i) {
      const std::string f = "options[" + std::to_string(i) + "]";
      const Json& o = (*opts)[i];
      const std::string name = o.is_object() ? GetString(o, "name") : "";
      if (!IsToken(name) || name.find(':') != std::string::npos) {
        return Bad(f + ".name", "required: an option name such as ndots");
      }
      const std::string value = GetString(o, "value");
      if (!value.empty() && !IsToken(value)) return Bad(f + ".value", "must be one word");
      SetOption(c, name, value);
    }
  }
  return {};
}

std::string Render(const std::string& policy, Conf c) {
  if (c.nameservers.size() > kMaxNameservers) c.nameservers.resize(kMaxNameservers);
  if (c.searches.size() > kMaxSearches) c.searches.resize(kMaxSearches);
  size_t chars = 0;
  for (size_t i = 0; i < c.searches.size(); ++i) {
    chars += c.searches[i].size() + 1;
    if (chars > kMaxSearchChars) {
      c.searches.resize(i);
      break;
    }
  }
  std::string s = "# written by asbd for this sandbox (dnsPolicy " + policy + ")\n";
  for (const std::string& n : c.nameservers) s += "nameserver " + n + "\n";
  if (!c.searches.empty()) s += "search " + Join(c.searches, " ") + "\n";
  if (!c.options.empty()) {
    s += "options";
    for (const auto& [n, v] : c.options) s += " " + n + (v.empty() ? "" : ":" + v);
    s += "\n";
  }
  return s;
}

}  // namespace

Result<std::string> ResolvConfFor(const Json& pod_spec, bool managed_default,
                                  const DnsDefaults& defaults) {
  const std::string policy = GetString(pod_spec, "dnsPolicy");
  if (policy.empty() && managed_default) {
    Conf c;
    c.nameservers = defaults.nameservers;
    return Render("None, upstream's secure default", std::move(c));
  }
  Conf c;
  if (policy == "None") {
    ASB_RETURN_IF_ERROR(MergePodConfig(pod_spec, &c));
    return Render("None", std::move(c));
  }
  if (!policy.empty() && policy != "Default" && policy != "ClusterFirst" &&
      policy != "ClusterFirstWithHostNet") {
    return MakeError(Code::kInvalidArgument,
                     "spec.dnsPolicy: \"" + policy +
                         "\" must be ClusterFirst, ClusterFirstWithHostNet, Default or None");
  }
  c = FromHost(defaults.host_resolv_conf);
  if (c.nameservers.empty()) c.nameservers = defaults.nameservers;
  ASB_RETURN_IF_ERROR(MergePodConfig(pod_spec, &c));
  const std::string label = policy == "Default" ? policy
                                                : (policy.empty() ? "ClusterFirst" : policy) +
                                                      " (no cluster DNS: as Default)";
  return Render(label, std::move(c));
}

}  // namespace asb::net
