// NetnsPool: network namespaces wired ahead of need, as runtime/layer_pool.h keeps writable
// layers. Wiring one (unshare, lo up, veth pair, bridge port, address, route) is eight rtnetlink
// requests that each take the kernel's rtnl lock, and while sandboxes are deleted at the same
// rate the kernel's namespace teardown (cleanup_net) holds that lock across RCU grace periods:
// measured in e2e_bench's sustained section (native, 3 threads), PodNetwork wiring took p50 22 ms,
// p99 110 ms of each cold start. A refill thread does that work off the start path and keeps
// `target` entries ready; Take hands one out without a syscall, or nothing when the pool is dry
// (the caller then wires one inline, as without a pool).
//
// Recycling: a stopped sandbox's namespace comes back (Retire) and, once `scrub` made it clean
// (net/netns_scrub.h), is ready again, veth, address and all. Making and destroying namespaces is
// what sustained churn pays for: each new one costs the kernel its per-namespace setup, each
// destroyed one a teardown (cleanup_net, RCU grace periods under the rtnl lock) and, with the
// masquerade rule on the host, a walk of the host's whole conntrack table per veth that goes down
// (nf_nat_masquerade's device notifier). Measured in e2e_bench's sustained section:
// docs/network.md. Recycled entries are kept up to twice `target` (a burst of stops then feeds the
// next burst of starts); beyond that, and when scrubbing fails, they are destroyed.
//
// The pool only sequences: `make` wires an entry (its namespace file and address), `destroy`
// undoes one, `scrub` readies a used one. Entries not taken are destroyed, and retired ones
// too, by Stop. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/result.h"
#include "net/ip.h"

namespace asb::net {

struct WiredNetns {
  std::string key;   // its address's holder in the IPAM until a sandbox takes it
  std::string path;  // the persisted namespace (sys/net.h CreatePersistentNetns)
  Ipv4 ip;
};

class NetnsPool {
 public:
  using Make = std::function<Result<WiredNetns>()>;
  using Destroy = std::function<void(const WiredNetns&)>;
  using Scrub = std::function<Status(const WiredNetns&)>;

  // Starts refilling at once when target > 0 (no thread otherwise).
  NetnsPool(size_t target, Make make, Destroy destroy, Scrub scrub);
  ~NetnsPool() { Stop(); }
  NetnsPool(const NetnsPool&) = delete;
  NetnsPool& operator=(const NetnsPool&) = delete;

  // A ready entry, now the caller's; nullopt when none is ready. Wakes the refill thread.
  std::optional<WiredNetns> Take();
  // Hands back a used entry (its address held under e.key again) for the thread to scrub and
  // make ready again, or destroy, off the stop path (unmounting one took p50 2.7 ms, p90 16 ms
  // of each stop under churn).
  void Retire(WiredNetns e);
  // Stops refilling (waiting for an entry being made) and destroys the ready ones. Idempotent.
  void Stop();
  size_t ready() const;
  // Entries made new, and used ones made ready again, since the start.
  uint64_t made() const;
  uint64_t recycled() const;

 private:
  void Run();

  const size_t target_;
  const Make make_;
  const Destroy destroy_;
  const Scrub scrub_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WiredNetns> ready_;    // guarded by mu_
  std::deque<WiredNetns> retired_;  // guarded by mu_
  bool stop_ = false;               // guarded by mu_
  uint64_t made_ = 0;               // guarded by mu_
  uint64_t recycled_ = 0;           // guarded by mu_
  std::thread thread_;
};

}  // namespace asb::net
