// A rate-limited, deduplicating keyed work queue (the client-go workqueue model): the one queue
// the controllers (a reconcile per object) and the node agent (a sync per pod; its probes,
// restart back-off and exit checks are all "sync this pod again at T") run on.
//
// Keys are opaque strings ("namespace/name"). The queue guarantees:
//   - a key waiting in the queue is stored once however often it is added (dedup);
//   - a key is handed to at most one worker at a time; adding it while a worker holds it marks it
//     dirty and it runs again after that worker finishes (so no event is lost);
//   - a failed reconcile is retried after an exponential backoff per key
//     (base_backoff * 2^failures, capped at max_backoff); a success resets the key's failures;
//   - Requeue::After(d) and AddAfter(key, d) schedule a key for later (timers, e.g. expiry).
//     Several timers for one key collapse to the earliest.
//
// Time: "later" is measured on the Clock passed in. The queue's timer thread sleeps on a
// condition variable for the real-time equivalent of the next deadline; with a FakeClock call
// Wake() after FakeClock::Advance so the timer thread re-reads the clock.
//
// Thread-safe. Stop() stops accepting keys, drops keys still waiting and pending timers, lets
// every in-flight reconcile finish, and joins the threads; it is idempotent and also run by the
// destructor.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/clock.h"
#include "base/result.h"

namespace asb {

using Duration = std::chrono::milliseconds;

// What a reconcile asks of the queue on success.
struct Requeue {
  std::optional<Duration> after;  // nullopt: nothing to do until the next event

  static Requeue None() { return {}; }
  static Requeue After(Duration d) { return Requeue{d}; }
  // The earlier of two requests (None is "never").
  static Requeue Earliest(const Requeue& a, const Requeue& b) {
    if (!a.after) return b;
    if (!b.after) return a;
    return *a.after <= *b.after ? a : b;
  }
};

struct QueueOptions {
  std::string name = "queue";  // for logs
  int workers = 1;
  Duration base_backoff{100};
  Duration max_backoff{30000};
};

class KeyedQueue {
 public:
  // Called by a worker for each key. An error is logged and the key retried with backoff.
  using Handler = std::function<Result<Requeue>(const std::string& key)>;

  KeyedQueue(Clock& clock, QueueOptions options, Handler handler);
  ~KeyedQueue();
  KeyedQueue(const KeyedQueue&) = delete;
  KeyedQueue& operator=(const KeyedQueue&) = delete;

  // Starts the worker and timer threads. Keys added before Start() wait for it.
  void Start();
  // See the file comment. Idempotent.
  void Stop();

  // Enqueues `key` now (deduplicated). Ignored after Stop().
  void Add(const std::string& key);
  // Enqueues `key` once `d` has passed on the clock; d <= 0 is Add().
  void AddAfter(const std::string& key, Duration d);
  // Re-reads the clock for pending timers (needed only with a FakeClock).
  void Wake();

  // Observability for tests and metrics.
  size_t Len() const;                          // keys ready and waiting for a worker
  size_t PendingTimers() const;                // keys waiting on a timer
  int Failures(const std::string& key) const;  // consecutive failures of key
  uint64_t Processed() const;                  // reconciles finished (ok or not)
  // The backoff the next failure of a key with `failures` prior failures gets.
  static Duration Backoff(const QueueOptions& o, int failures);

 private:
  void AddLocked(const std::string& key);
  void WorkerLoop();
  void TimerLoop();

  Clock& clock_;
  const QueueOptions options_;
  const Handler handler_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable timer_cv_;
  bool started_ = false;
  bool stopping_ = false;
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;       // in queue_, or to be re-queued after processing
  std::unordered_set<std::string> processing_;  // held by a worker
  std::unordered_map<std::string, int> failures_;
  std::unordered_map<std::string, SystemTime> timer_at_;  // key -> earliest deadline
  std::set<std::pair<SystemTime, std::string>> timers_;   // ordered deadlines
  uint64_t processed_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace asb
