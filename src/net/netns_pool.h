// NetnsPool: network namespaces wired ahead of need, as runtime/layer_pool.h keeps writable
// layers. Wiring one (unshare, lo up, veth pair, bridge port, address, route) is eight rtnetlink
// requests that each take the kernel's rtnl lock, and while sandboxes are deleted at the same
// rate the kernel's namespace teardown (cleanup_net) holds that lock across RCU grace periods:
// measured in e2e_bench's sustained section (native, 3 threads), PodNetwork wiring took p50 22 ms,
// p99 110 ms of each cold start. A refill thread does that work off the start path and keeps
// `target` entries ready; Take hands one out without a syscall, or nothing when the pool is dry
// (the caller then wires one inline, as without a pool).
//
// The pool only sequences: `make` wires an entry (its namespace file and address), `destroy`
// undoes one, `reap` unmounts a retired namespace. Entries not taken are destroyed, and retired
// ones reaped, by Stop. Thread-safe.
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
  using Reap = std::function<void(const std::string& path)>;

  // Starts refilling at once when target > 0 (no thread otherwise).
  NetnsPool(size_t target, Make make, Destroy destroy, Reap reap);
  ~NetnsPool() { Stop(); }
  NetnsPool(const NetnsPool&) = delete;
  NetnsPool& operator=(const NetnsPool&) = delete;

  // A ready entry, now the caller's; nullopt when none is ready. Wakes the refill thread.
  std::optional<WiredNetns> Take();
  // Hands over a used namespace file for the thread to unmount (`reap`), off the stop path:
  // unmounting one took p50 2.7 ms, p90 16 ms of each stop under churn.
  void Retire(std::string path);
  // Stops refilling (waiting for an entry being made) and destroys the ready ones. Idempotent.
  void Stop();
  size_t ready() const;

 private:
  void Run();

  const size_t target_;
  const Make make_;
  const Destroy destroy_;
  const Reap reap_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WiredNetns> ready_;     // guarded by mu_
  std::deque<std::string> retired_;  // guarded by mu_
  bool stop_ = false;                // guarded by mu_
  std::thread thread_;
};

}  // namespace asb::net
