// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection package does
// it, so that of several `asbd controller` replicas exactly one reconciles:
//   - acquire: create the Lease, or take it over once its holder has not renewed for
//     leaseDurationSeconds *as observed locally* (the time this replica last saw the record
//     change, not the holder's renewTime, so clock skew between replicas does not matter);
//   - renew every retry_period; a replica that cannot renew within renew_deadline has lost the
//     lease (another may take it lease_duration after its last successful renew, and
//     renew_deadline < lease_duration leaves the margin to stop first);
//   - release on orderly shutdown (holderIdentity cleared) so a successor starts at once.
// Every write is compare-and-set on the Lease's resourceVersion.
// The defaults are client-go's and controller-runtime's: 15 s / 10 s / 2 s.
// Thread-safe: Stop may be called from any thread; Acquire and Renew from one.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>

#include "base/json_util.h"
#include "base/result.h"
#include "store/store.h"

namespace asb::kube {

struct LeaderElectionOptions {
  std::string lease_namespace = "kube-system";
  // Upstream's controller's lock name, so asb's and upstream's controllers never both act on
  // one cluster.
  std::string lease_name = "a3317529.agent-sandbox.x-k8s.io";
  std::string identity;  // empty = hostname_pid_random
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
};

class LeaderElector {
 public:
  LeaderElector(store::Store& store, LeaderElectionOptions options);

  // Blocks until this replica holds the lease (true) or Stop was called (false).
  bool Acquire();
  // Renews until the lease is lost (returns false: stop acting now) or Stop was called (returns
  // true; the caller stops acting, then calls Release so a successor starts at once).
  bool Renew();
  // Clears holderIdentity if this replica holds the lease.
  [[nodiscard]] Status Release();
  // Wakes Acquire / Renew; they return. Idempotent.
  void Stop();

  bool is_leader() const { return leader_.load(); }
  const std::string& identity() const { return options_.identity; }
  // One acquire-or-renew round (tests drive it directly). True when this replica holds the
  // lease after it.
  [[nodiscard]] Result<bool> TryAcquireOrRenew();

 private:
  bool Sleep(std::chrono::milliseconds d);  // false when stopped

  store::Store& store_;
  LeaderElectionOptions options_;
  std::atomic<bool> leader_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  // The last record seen and when (steady clock), for the expiry check.
  std::string observed_record_;
  std::chrono::steady_clock::time_point observed_at_{};
  std::chrono::steady_clock::time_point last_renew_{};
  bool held_by_other_ = false;  // the last round saw another replica's name on the lease
};

}  // namespace asb::kube
