#include "net/policy_firewall.h"

#include <algorithm>
#include <chrono>

#include "base/file_util.h"
#include "net/nft_ruleset.h"
#include "sys/command.h"

namespace asb::net {
namespace {
constexpr std::chrono::seconds kNftTimeout{10};
}  // namespace

Status RunNft(const std::string& nft, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {nft};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = sys::RunCommand(argv, kNftTimeout);
  if (!r) {
    if (r.error().code == Code::kNotFound) {
      return MakeError(Code::kNotFound, "the pod firewall needs nft (Debian package nftables): " +
                                            r.error().message);
    }
    return tl::unexpected(r.error());
  }
  if (r->timed_out || r->exit_code != 0) {
    return MakeError(Code::kInternal, "nft " + args.front() + " failed: " + r->err);
  }
  return {};
}

std::string PolicyFirewall::Elements(const std::vector<Ipv4>& ips, int n) const {
  if (ips.empty()) return "";
  std::string s;
  for (const auto& [map, chain] :
       {std::pair{kEgressPolicyMap, "pe_"}, {kIngressPolicyMap, "pi_"}}) {
    s += "add element ip " + table_ + " " + map + " { ";
    for (size_t i = 0; i < ips.size(); ++i) {
      s += (i ? ", " : "") + ToString(ips[i]) + " : goto " + chain + std::to_string(n);
    }
    s += " }\n";
  }
  return s;
}

std::string PolicyFirewall::RefillSet(int n, size_t i,
                                      const std::vector<std::string>& names) const {
  const std::string set = "ip " + table_ + " pd_" + std::to_string(n) + "_" + std::to_string(i);
  std::set<Ipv4> addrs;
  for (const std::string& name : names) {
    auto it = names_.find(name);
    if (it != names_.end()) addrs.insert(it->second.begin(), it->second.end());
  }
  std::string s = "flush set " + set + "\n";
  if (addrs.empty()) return s;
  s += "add element " + set + " { ";
  bool first = true;
  for (Ipv4 ip : addrs) {
    s += (first ? "" : ", ") + ToString(ip);
    first = false;
  }
  return s + " }\n";
}

Status PolicyFirewall::SetNameAddresses(const std::string& name, const std::vector<Ipv4>& addrs) {
  std::lock_guard l(mu_);
  names_[name] = addrs;
  if (disabled_) return {};
  std::string text;
  for (const auto& [key, p] : policies_) {
    for (const auto& [i, names] : p.dns) {
      if (std::find(names.begin(), names.end(), name) != names.end()) {
        text += RefillSet(p.n, i, names);
      }
    }
  }
  if (text.empty()) return {};
  return RunLocked(text);
}

std::set<std::string> PolicyFirewall::DnsNames() const {
  std::lock_guard l(mu_);
  std::set<std::string> out;
  for (const auto& [key, p] : policies_) {
    for (const auto& [i, names] : p.dns) out.insert(names.begin(), names.end());
  }
  return out;
}

Status PolicyFirewall::RunLocked(const std::string& text) {
  ASB_RETURN_IF_ERROR(AtomicWriteFile(scratch_, text, 0600));
  return RunNft(nft_, {"-f", scratch_});
}

Status PolicyFirewall::Join(const std::string& id, Ipv4 ip, const std::string& key) {
  std::lock_guard l(mu_);
  if (key.empty() || disabled_) return {};
  Member& m = members_[id];
  m.ip = ip;
  m.key = key;
  auto it = policies_.find(key);
  if (it == policies_.end()) return {};
  if (Status st = RunLocked(Elements({ip}, it->second.n)); !st) {
    members_.erase(id);
    return tl::unexpected(st.error().Wrap("applying the networkPolicy of " + key));
  }
  m.in_maps = true;
  return {};
}

Status PolicyFirewall::Leave(const std::string& id) {
  std::lock_guard l(mu_);
  auto it = members_.find(id);
  if (it == members_.end()) return {};
  if (it->second.in_maps && !disabled_) {
    const std::string ip = ToString(it->second.ip);
    ASB_RETURN_IF_ERROR(RunLocked("delete element ip " + table_ + " " + kEgressPolicyMap + " { " +
                                  ip + " }\n" + "delete element ip " + table_ + " " +
                                  kIngressPolicyMap + " { " + ip + " }\n"));
  }
  members_.erase(it);
  return {};
}

Status PolicyFirewall::SetPolicy(const std::string& key, const std::optional<NetworkPolicy>& p) {
  std::lock_guard l(mu_);
  if (disabled_) return {};
  auto it = policies_.find(key);
  const std::string t = "ip " + table_;
  if (!p) {
    if (it == policies_.end()) return {};
    const std::string n = std::to_string(it->second.n);
    std::string text;
    for (const auto& [id, m] : members_) {
      if (m.key != key || !m.in_maps) continue;
      text += "delete element " + t + " " + kEgressPolicyMap + " { " + ToString(m.ip) + " }\n";
      text += "delete element " + t + " " + kIngressPolicyMap + " { " + ToString(m.ip) + " }\n";
    }
    text += "delete chain " + t + " pe_" + n + "\ndelete chain " + t + " pi_" + n + "\n";
    for (size_t i : it->second.declared) {
      text += "delete set " + t + " pd_" + n + "_" + std::to_string(i) + "\n";
    }
    ASB_RETURN_IF_ERROR(RunLocked(text));
    for (auto& [id, m] : members_) {
      if (m.key == key) m.in_maps = false;
    }
    policies_.erase(it);
    return {};
  }
  const int number = it == policies_.end() ? next_chain_ : it->second.n;
  const std::string n = std::to_string(number);
  Policy want{
      number,
      PolicyChainRules(p->egress, /*egress=*/true, LogStatement(log_group_, true), "pd_" + n + "_"),
      PolicyChainRules(p->ingress, /*egress=*/false, LogStatement(log_group_, false)),
      {},
      {}};
  for (size_t i = 0; i < p->egress.size(); ++i) {
    if (!p->egress[i].dns_names.empty()) want.dns[i] = p->egress[i].dns_names;
  }
  if (it != policies_.end() && it->second.egress == want.egress &&
      it->second.ingress == want.ingress && it->second.dns == want.dns) {
    return {};
  }
  if (it != policies_.end()) want.declared = it->second.declared;
  std::string text;
  // Flushed and refilled in one transaction: running sandboxes switch at once.
  if (it != policies_.end()) {
    text += "flush chain " + t + " pe_" + n + "\nflush chain " + t + " pi_" + n + "\n";
  }
  text += "table " + t + " {\n";
  for (const auto& [i, names] : want.dns) {
    text += "  set pd_" + n + "_" + std::to_string(i) + " {\n    type ipv4_addr\n  }\n";
    want.declared.insert(i);
  }
  text += "  chain pe_" + n + " {\n" + want.egress + "  }\n";
  text += "  chain pi_" + n + " {\n" + want.ingress + "  }\n";
  text += "}\n";
  for (size_t i : want.declared) {
    auto d = want.dns.find(i);
    text += RefillSet(want.n, i, d == want.dns.end() ? std::vector<std::string>{} : d->second);
  }
  std::vector<Ipv4> joining;
  for (const auto& [id, m] : members_) {
    if (m.key == key && !m.in_maps) joining.push_back(m.ip);
  }
  text += Elements(joining, want.n);
  ASB_RETURN_IF_ERROR(RunLocked(text));
  if (it == policies_.end()) ++next_chain_;
  for (auto& [id, m] : members_) {
    if (m.key == key) m.in_maps = true;
  }
  policies_[key] = std::move(want);
  return {};
}

std::string PolicyFirewall::KeyOf(const std::string& id) const {
  std::lock_guard l(mu_);
  auto it = members_.find(id);
  return it == members_.end() ? "" : it->second.key;
}

void PolicyFirewall::Disable() {
  std::lock_guard l(mu_);
  disabled_ = true;
}

}  // namespace asb::net
