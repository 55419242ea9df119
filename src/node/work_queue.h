// A keyed work queue with delayed adds, driven by a few worker threads (client-go's
// rate-limited queue, simplified). The node agent's only timers live here: probes, restart
// back-off and exit checks are all "sync this pod again at T", so no thread sleeps per pod.
//
// Guarantees: a key is processed by at most one worker at a time; adding a key that is waiting
// is a no-op; adding a key while it is being processed runs it once more afterwards; AddAfter
// keeps only the earliest pending deadline per key. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <queue>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace asb::node {

class WorkQueue {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;
  using ProcessFn = std::function<void(const std::string& key)>;

  WorkQueue() = default;
  ~WorkQueue() { Stop(); }
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Starts `workers` threads calling fn(key). Call once.
  void Start(int workers, ProcessFn fn);
  // Stops accepting work, lets running calls finish, joins the workers. Idempotent.
  void Stop();

  void Add(const std::string& key);
  void AddAfter(const std::string& key, std::chrono::milliseconds delay);
  void AddAt(const std::string& key, SteadyTime when);

  // Keys waiting or delayed (for tests and metrics).
  size_t PendingForTest();

 private:
  void Worker();
  void AddLocked(const std::string& key);

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<std::string> ready_;
  std::set<std::string> queued_;               // in ready_
  std::set<std::string> active_;               // being processed
  std::set<std::string> dirty_;                // added while active: run again afterwards
  std::map<std::string, SteadyTime> delayed_;  // earliest pending deadline per key
  using Timer = std::pair<SteadyTime, std::string>;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  ProcessFn fn_;
  std::vector<std::thread> threads_;
};

}  // namespace asb::node
