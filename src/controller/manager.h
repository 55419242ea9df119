// ControllerManager: runs the Sandbox, SandboxClaim, SandboxWarmPool and SandboxTemplate
// reconcilers against a store::Store (in-process SqliteStore in embedded mode).
//
// Wiring (all namespaces):
//   Sandbox events   -> the sandbox; its controller owner (claim or pool) and its previous
//                       controller owner (so a pool notices a member that a claim adopted);
//                       unbound claims of the namespace when a warm member is Ready.
//   Claim events     -> the claim.           Pool events     -> the pool.
//   Template events  -> the template, pools referencing it, unbound claims of the namespace.
//   Pod / Service    -> their controlling Sandbox.
// A watch that falls behind (kGone) is re-established from scratch, which replays the current
// state as ADDED events (a re-list). Every resync_period all objects are re-queued to heal
// anything missed. Nothing polls on the hot path: a claim is reconciled as soon as its watch
// event arrives.
//
// Thread-safe. Start() once; Stop() (also run by the destructor) ends watches, drains the queues
// (in-flight reconciles finish) and joins every thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/keyed_queue.h"
#include "controller/claim_reconciler.h"
#include "controller/sandbox_reconciler.h"
#include "controller/template_reconciler.h"
#include "controller/warm_pool_reconciler.h"
#include "store/store.h"

namespace asb::controller {

struct ManagerOptions {
  int sandbox_workers = 4;
  int claim_workers = 4;
  int pool_workers = 2;
  int template_workers = 1;
  Duration base_backoff{100};
  Duration max_backoff{30000};
  Duration resync_period{std::chrono::seconds(60)};  // real time
  // How long a pool waits to replace a member a claim just took (0: at once). The replacement's
  // start (a Sandbox, its pod, the node starting a sandbox) is the heaviest work asbd does, and
  // started at once it runs on the same two cores as the claim's Ready reaching its client and
  // the client's first exec. The daemon sets it (docs/cpu.md, "The refill after a claim").
  Duration refill_after_claim{0};
  SandboxOptions sandbox;
  PoolPlanOptions pool;
  ClaimOptions claim;
};

class ControllerManager {
 public:
  ControllerManager(store::Store& store, Clock& clock, ManagerOptions options = {});
  ~ControllerManager();
  ControllerManager(const ControllerManager&) = delete;
  ControllerManager& operator=(const ControllerManager&) = delete;

  // Opens the watches (their initial events queue every existing object) and starts the
  // workers. Errors: the store's Watch errors. Not idempotent: call once.
  [[nodiscard]] Status Start();
  void Stop();

  // Re-reads the clock for pending timers in every queue (tests with a FakeClock).
  void WakeTimers();
  // Queues a full resync now (as the periodic resync does).
  void ResyncNow();

  ClaimReconciler& claim_reconciler() { return claim_; }

 private:
  struct WatchLoop;
  using EventHandler = std::function<void(store::EventType, const store::Object&)>;

  void AddWatch(const api::ResourceInfo& res, EventHandler handler);
  void RunWatch(WatchLoop* loop);
  void OnSandbox(store::EventType type, const store::Object& obj);
  void OnTemplate(const store::Object& obj);
  void EnqueueOwner(const store::Object& obj);
  void ResyncLoop();

  store::Store& store_;
  Clock& clock_;
  const ManagerOptions options_;
  SandboxReconciler sandbox_;
  WarmPoolReconciler pool_;
  ClaimReconciler claim_;
  TemplateReconciler template_;
  std::unique_ptr<KeyedQueue> sandbox_q_, pool_q_, claim_q_, template_q_;

  std::vector<std::unique_ptr<WatchLoop>> watches_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  // Sandbox key -> key of its last seen controlling pool/claim ("Kind/ns/name").
  std::mutex owners_mu_;
  std::unordered_map<std::string, std::string> last_owner_;
};

}  // namespace asb::controller
