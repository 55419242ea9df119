// Pod address allocation from one IPv4 block, persisted in one small JSON file so a re-adopted
// sandbox keeps its address across an asbd restart.
//
// The block's first host address is the gateway (the bridge's own); pods get the ones after it,
// up to the last below the broadcast address. Allocation goes round the block from the last
// address handed out, so an address just released is not reused at once (a stale connection or
// neighbour entry for it then reaches nobody instead of the next sandbox).
//
// File (<dir>/ipam.json, written atomically on every change, before the caller uses the result):
//   {"cidr": "10.244.0.0/16", "last": "10.244.0.7", "allocations": {"<sandbox id>": "10.244.0.5"}}
// Entries outside the configured block (the block was changed in the config) are kept for the
// sandboxes still using them until released; new ones come from the new block.
//
// Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "base/result.h"
#include "net/ip.h"

namespace asb::net {

class Ipam {
 public:
  // Loads `path` if it exists. kInvalidArgument: a block with no room for a pod (narrower than
  // /30), or a corrupt file (named, never silently emptied: addresses in use would be reused).
  [[nodiscard]] static Result<std::unique_ptr<Ipam>> Open(std::string path, Cidr block);

  Cidr block() const { return block_; }
  Ipv4 gateway() const { return Ipv4{block_.base.value + 1}; }

  // The address for `id`: its existing one, or a free one (persisted before returning).
  // kResourceExhausted when the block is full; file write errors.
  [[nodiscard]] Result<Ipv4> Allocate(const std::string& id);
  // Hands `from`'s address to `to` (persisted): a pre-wired namespace's address becomes its
  // sandbox's. kNotFound when `from` has none, kAlreadyExists when `to` has one.
  [[nodiscard]] Status Rename(const std::string& from, const std::string& to);
  // Frees id's address (persisted). OK when it had none.
  [[nodiscard]] Status Release(const std::string& id);
  std::optional<Ipv4> Lookup(const std::string& id) const;
  // Who holds `ip`, if anyone.
  std::optional<std::string> HolderOf(Ipv4 ip) const;
  std::map<std::string, Ipv4> All() const;

 private:
  Ipam(std::string path, Cidr block) : path_(std::move(path)), block_(block) {}
  [[nodiscard]] Status SaveLocked() const;

  const std::string path_;
  const Cidr block_;
  mutable std::mutex mu_;
  std::map<std::string, Ipv4> by_id_;  // guarded by mu_
  std::map<Ipv4, std::string> by_ip_;  // guarded by mu_
  Ipv4 last_;                          // guarded by mu_; 0 = none yet
};

}  // namespace asb::net
