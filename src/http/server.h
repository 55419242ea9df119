// HTTP/1.1 server: one thread per connection with keep-alive, blocking Beast I/O.
//
// Why threads and not async Asio: handlers are plain functions that may block (store writes,
// watches waiting on a queue, exec waiting on a child). A thread blocked on I/O costs no CPU, our
// connection counts are small (kubectl, the controllers, a client per sandbox), and the code stays
// readable top to bottom. Measured throughput is in README.md (bench/api_bench).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "base/result.h"
#include "http/message.h"

namespace asb::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;                        // 0 = pick a free port
  size_t max_body_bytes = 3 * 1024 * 1024;  // larger bodies get 413
  int idle_timeout_ms = 120000;             // keep-alive connection idle limit
  size_t max_connections = 1024;            // further connections are closed at once
  std::string server_name = "asb";
};

class Server {
 public:
  // Binds and starts accepting. kUnavailable if the address can't be bound.
  [[nodiscard]] static Result<std::unique_ptr<Server>> Start(ServerOptions options,
                                                             Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const { return port_; }
  const std::string& host() const { return options_.host; }
  // Stops accepting, shuts down open connections (ending watches) and joins all threads.
  void Stop();

 private:
  Server(ServerOptions options, Handler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {}
  void AcceptLoop();
  void ServeConnection(int fd);

  ServerOptions options_;
  Handler handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::set<int> open_fds_;
  size_t active_threads_ = 0;
  std::condition_variable_any threads_done_;
};

}  // namespace asb::http
