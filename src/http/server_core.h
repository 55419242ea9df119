// The connection engine under every asb server (API server, router, asb-agent): one event thread
// owns the listening socket and every idle connection (epoll), and a bounded pool of worker
// threads serves connections that have input.
//
// Why this shape:
// - Idle keep-alive connections cost an fd and a small buffer, never a thread, so 4,096 idle
//   clients do not starve a new one. When the connection cap (or the per-client-IP cap) is hit,
//   the oldest *idle* connection of that scope is closed to make room (an HTTP server may close
//   an idle keep-alive connection at any time); only when every connection is busy is a new one
//   refused, with `overload_response`.
// - Handlers stay plain blocking code (store writes, watches, exec waiting on a child): a busy
//   connection keeps its worker until it returns to idle.
// - Workers are started ahead (min_workers) and grown on demand up to max_workers. A failed
//   thread creation (EAGAIN under a pids limit, e.g. a fork bomb inside the sandbox of asb-agent)
//   is logged and the work waits for a running worker: it never aborts the process.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "base/result.h"

namespace asb::http {

struct CoreOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;                              // 0 = pick a free port
  size_t max_connections = 4096;                  // open connections, idle and busy
  size_t max_connections_per_ip = 1024;           // per client IP address
  size_t min_workers = 4;                         // started by Start(), never exit
  size_t max_workers = 256;                       // busy connections served at once
  std::chrono::milliseconds idle_timeout{60000};  // idle keep-alive connections are closed after
  // After a connection is served, its worker waits this long for the next request before handing
  // the connection back to the event thread: a client sending back-to-back requests keeps a hot
  // thread (no handoff per request).
  std::chrono::milliseconds hot_wait{2};
  // Sent (best effort, non-blocking) to a connection refused because every slot is busy.
  std::string overload_response;
  std::string name = "server";  // for log lines
};

// One accepted connection. Serve() runs on a worker whenever the socket has input.
class Connection {
 public:
  virtual ~Connection() = default;
  // Serves the request(s) that are ready. True keeps the connection (it goes back to idle and
  // Serve runs again on its next input), false closes it.
  virtual bool Serve() = 0;
  // True when a next request is already buffered in user space (pipelining, TLS records):
  // Serve runs again at once, as the socket may never become readable for it.
  virtual bool HasBufferedInput() const { return false; }
  // Called by Stop() while Serve() may be running on another thread: shut down any extra fds
  // (the router's upstream) so Serve returns. The client socket itself is shut down by the core.
  virtual void OnStop() {}
};

struct Peer {
  std::string ip;        // "127.0.0.1", "::1"
  std::string address;   // "127.0.0.1:5555"
  bool trusted = false;  // handed in with Adopt(..., trusted): authenticated by the caller
};

// Creates the Connection for a new socket (called on the event thread: no blocking I/O). The
// Connection does not own `fd`: the core closes it after destroying the Connection.
using ConnectionFactory = std::function<std::unique_ptr<Connection>(int fd, const Peer& peer)>;

struct CoreStats {
  size_t open = 0;              // connections
  size_t idle = 0;              // of which idle
  size_t workers = 0;           // worker threads alive
  uint64_t evicted = 0;         // idle connections closed to make room
  uint64_t refused = 0;         // connections refused: all slots busy
  uint64_t spawn_failures = 0;  // worker thread creations that failed
};

class ServerCore {
 public:
  // Binds and starts the event thread and min_workers workers.
  // Errors: kInvalidArgument (bad host), kUnavailable (bind failed, or no thread could start).
  [[nodiscard]] static Result<std::unique_ptr<ServerCore>> Start(CoreOptions options,
                                                                 ConnectionFactory factory);
  ~ServerCore();
  ServerCore(const ServerCore&) = delete;
  ServerCore& operator=(const ServerCore&) = delete;

  uint16_t port() const { return port_; }
  const CoreOptions& options() const { return options_; }
  bool stopping() const { return stopping_.load(); }
  CoreStats stats() const;
  // Stops accepting, closes idle connections, shuts down busy ones (ending watches and relays)
  // and waits for every worker. Idempotent.
  void Stop();

  // Serves an already connected socket (e.g. one end of a socketpair) like an accepted one, under
  // the same caps. Takes ownership of `fd` in every case. kUnavailable when stopping or full.
  [[nodiscard]] Status Adopt(int fd, Peer peer);

  // Test hook: makes the next `n` worker creations fail as if the kernel said EAGAIN.
  void FailNextSpawnsForTest(int n) { fail_spawns_for_test_ = n; }

 private:
  struct Entry {
    std::unique_ptr<Connection> conn;
    int fd = -1;
    std::string ip;
    bool busy = false;
    std::list<uint64_t>::iterator idle_pos;  // valid when !busy
    std::chrono::steady_clock::time_point idle_since;
  };

  ServerCore(CoreOptions options, ConnectionFactory factory)
      : options_(std::move(options)), factory_(std::move(factory)) {}
  void EventLoop();
  void WorkerLoop(bool permanent);
  bool AcceptAllLocked();                       // false: out of fds
  bool AdmitLocked(int fd, const Peer& peer);   // false: refused (fd closed)
  bool EvictIdleLocked(const std::string* ip);  // oldest idle (of `ip` when given)
  void MakeIdleLocked(uint64_t id, Entry& e);
  void DispatchLocked(uint64_t id, Entry& e);
  void CloseLocked(uint64_t id);
  bool SpawnWorkerLocked(bool permanent);
  void Wake();

  const CoreOptions options_;
  ConnectionFactory factory_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: Stop() and re-armed connections wake the event thread
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> fail_spawns_for_test_{0};
  std::thread event_thread_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;                          // ready_ got an entry, or stopping
  std::condition_variable workers_cv_;                       // a worker exited
  std::unordered_map<uint64_t, Entry> conns_;                // guarded by mu_
  std::list<uint64_t> idle_;                                 // oldest first; guarded by mu_
  std::unordered_map<std::string, size_t> per_ip_;           // guarded by mu_
  std::deque<uint64_t> ready_;                               // guarded by mu_
  uint64_t next_id_ = 1;                                     // guarded by mu_
  size_t workers_ = 0;                                       // guarded by mu_
  size_t idle_workers_ = 0;                                  // guarded by mu_
  uint64_t evicted_ = 0, refused_ = 0, spawn_failures_ = 0;  // guarded by mu_
};

}  // namespace asb::http
