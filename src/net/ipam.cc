#include "net/ipam.h"

#include <fcntl.h>
#include <unistd.h>

#include "base/file_util.h"
#include "base/json_util.h"

namespace asb::net {

Result<std::unique_ptr<Ipam>> Ipam::Open(std::string path, Cidr block) {
  if (block.prefix > 30) {
    return MakeError(Code::kInvalidArgument,
                     "pod CIDR " + ToString(block) + " has no room for pods (use /30 or wider)");
  }
  std::unique_ptr<Ipam> ipam(new Ipam(path, block));
  if (::access(path.c_str(), F_OK) != 0) return ipam;
  ASB_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto bad = [&](const std::string& why) {
    return MakeError(Code::kInvalidArgument, "pod address file " + path + ": " + why);
  };
  auto j = ParseJson(text);
  if (!j || !j->is_object()) return bad("not a JSON object");
  if (auto it = j->find("last"); it != j->end()) {
    if (!it->is_string()) return bad("last: not a string");
    auto ip = ParseIpv4(it->get<std::string>());
    if (!ip) return bad("last: " + ip.error().message);
    ipam->last_ = *ip;
  }
  auto allocs = j->find("allocations");
  if (allocs == j->end()) return ipam;
  if (!allocs->is_object()) return bad("allocations: not an object");
  for (auto it = allocs->begin(); it != allocs->end(); ++it) {
    if (!it->is_string()) return bad("allocations/" + it.key() + ": not a string");
    auto ip = ParseIpv4(it->get<std::string>());
    if (!ip) return bad("allocations/" + it.key() + ": " + ip.error().message);
    if (ipam->by_ip_.count(*ip)) return bad(ToString(*ip) + " is allocated twice");
    ipam->by_id_[it.key()] = *ip;
    ipam->by_ip_[*ip] = it.key();
  }
  return ipam;
}

Status Ipam::SaveLocked() const {
  Json allocs = Json::object();
  for (const auto& [id, ip] : by_id_) allocs[id] = ToString(ip);
  Json j = {{"cidr", ToString(block_)}, {"allocations", std::move(allocs)}};
  if (last_.value != 0) j["last"] = ToString(last_);
  // tmp + rename without fsync: the addresses describe live sandboxes, which a machine crash
  // ends anyway, while rename alone keeps a daemon crash from leaving half a file (fsync would
  // cost milliseconds per sandbox start on a busy disk).
  const std::string tmp = path_ + ".tmp";
  const std::string data = DumpJson(j) + "\n";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoUnexpected("create " + tmp);
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  int err = errno;
  ::close(fd);
  if (!ok) return tl::unexpected(ErrnoError(err, "write " + tmp));
  if (::rename(tmp.c_str(), path_.c_str()) != 0) return ErrnoUnexpected("rename " + tmp);
  return {};
}

Result<Ipv4> Ipam::Allocate(const std::string& id) {
  std::lock_guard l(mu_);
  if (auto it = by_id_.find(id); it != by_id_.end()) return it->second;
  // Pods: base+2 .. base+size-2 (base+1 is the gateway, the last is broadcast).
  const uint32_t first = block_.base.value + 2;
  const uint32_t count = static_cast<uint32_t>(block_.Size() - 3);
  uint32_t start = 0;  // offset from `first` to try first: the one after the last handed out
  if (block_.Contains(last_) && last_.value >= first && last_.value - first < count) {
    start = (last_.value - first + 1) % count;
  }
  for (uint32_t i = 0; i < count; ++i) {
    Ipv4 ip{first + (start + i) % count};
    if (by_ip_.count(ip)) continue;
    by_id_[id] = ip;
    by_ip_[ip] = id;
    Ipv4 previous = last_;
    last_ = ip;
    if (Status st = SaveLocked(); !st) {
      by_id_.erase(id);
      by_ip_.erase(ip);
      last_ = previous;
      return tl::unexpected(st.error().Wrap("save pod addresses"));
    }
    return ip;
  }
  return MakeError(Code::kResourceExhausted, "pod CIDR " + ToString(block_) + " is full (" +
                                                 std::to_string(count) + " addresses in use)");
}

Status Ipam::Rename(const std::string& from, const std::string& to) {
  std::lock_guard l(mu_);
  auto it = by_id_.find(from);
  if (it == by_id_.end()) return MakeError(Code::kNotFound, from + " has no pod address");
  if (by_id_.count(to)) return MakeError(Code::kAlreadyExists, to + " has a pod address already");
  const Ipv4 ip = it->second;
  by_id_.erase(it);
  by_id_[to] = ip;
  by_ip_[ip] = to;
  if (Status st = SaveLocked(); !st) {
    by_id_.erase(to);
    by_id_[from] = ip;
    by_ip_[ip] = from;
    return tl::unexpected(st.error().Wrap("save pod addresses"));
  }
  return {};
}

Status Ipam::Release(const std::string& id) {
  std::lock_guard l(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return {};
  Ipv4 ip = it->second;
  by_ip_.erase(ip);
  by_id_.erase(it);
  if (Status st = SaveLocked(); !st) {
    by_id_[id] = ip;
    by_ip_[ip] = id;
    return tl::unexpected(st.error().Wrap("save pod addresses"));
  }
  return {};
}

std::optional<Ipv4> Ipam::Lookup(const std::string& id) const {
  std::lock_guard l(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> Ipam::HolderOf(Ipv4 ip) const {
  std::lock_guard l(mu_);
  auto it = by_ip_.find(ip);
  if (it == by_ip_.end()) return std::nullopt;
  return it->second;
}

std::map<std::string, Ipv4> Ipam::All() const {
  std::lock_guard l(mu_);
  return by_id_;
}

}  // namespace asb::net
