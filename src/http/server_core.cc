#include "http/server_core.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <system_error>

#include "base/log.h"
#include "http/listener.h"

namespace asb::http {

namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kListenId = 0;
constexpr uint64_t kWakeId = 1;
constexpr uint32_t kConnEvents = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
// Idle workers above min_workers exit after this long without work.
constexpr auto kSpareWorkerLinger = std::chrono::seconds(30);
// After EMFILE with nothing idle to close, accepting pauses this long instead of spinning.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);

Peer PeerOf(int fd) {
  Peer p;
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return p;
  char buf[INET6_ADDRSTRLEN] = {};
  uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    port = ntohs(a->sin6_port);
  }
  p.ip = buf;
  p.address = p.ip + ":" + std::to_string(port);
  return p;
}

}  // namespace

Result<std::unique_ptr<ServerCore>> ServerCore::Start(CoreOptions options,
                                                      ConnectionFactory factory) {
  if (options.min_workers == 0) options.min_workers = 1;
  if (options.max_workers < options.min_workers) options.max_workers = options.min_workers;
  std::unique_ptr<ServerCore> s(new ServerCore(std::move(options), std::move(factory)));
  ASB_ASSIGN_OR_RETURN(ListeningSocket listening, ListenTcp(s->options_.host, s->options_.port));
  s->port_ = listening.port;
  ::fcntl(listening.fd.get(), F_SETFL, ::fcntl(listening.fd.get(), F_GETFL) | O_NONBLOCK);
  s->epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  s->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (s->epoll_fd_ < 0 || s->wake_fd_ < 0) return ErrnoUnexpected("epoll/eventfd");
  s->listen_fd_ = listening.fd.Release();
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenId;
  ::epoll_ctl(s->epoll_fd_, EPOLL_CTL_ADD, s->listen_fd_, &ev);
  ev.data.u64 = kWakeId;
  ::epoll_ctl(s->epoll_fd_, EPOLL_CTL_ADD, s->wake_fd_, &ev);
  s->next_id_ = kWakeId + 1;
  {
    std::lock_guard l(s->mu_);
    for (size_t i = 0; i < s->options_.min_workers; ++i) s->SpawnWorkerLocked(true);
    if (s->workers_ == 0) {
      s->stopping_ = true;
      return MakeError(Code::kUnavailable, s->options_.name + ": cannot start any worker thread");
    }
  }
  try {
    s->event_thread_ = std::thread([srv = s.get()] { srv->EventLoop(); });
  } catch (const std::system_error& e) {
    s->Stop();
    return MakeError(Code::kUnavailable,
                     s->options_.name + ": cannot start the event thread: " + e.what());
  }
  return s;
}

ServerCore::~ServerCore() { Stop(); }

CoreStats ServerCore::stats() const {
  std::lock_guard l(mu_);
  return CoreStats{conns_.size(), idle_.size(), workers_, evicted_, refused_, spawn_failures_};
}

void ServerCore::Wake() {
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
}

bool ServerCore::SpawnWorkerLocked(bool permanent) {
  if (fail_spawns_for_test_ > 0) {
    --fail_spawns_for_test_;
    ++spawn_failures_;
    return false;
  }
  try {
    std::thread([this, permanent] { WorkerLoop(permanent); }).detach();
  } catch (const std::system_error& e) {
    // EAGAIN under a pids limit: the work waits for a running worker instead.
    if (spawn_failures_++ % 1000 == 0)
      ASB_LOG(WARN, "cannot start a worker thread; queueing", "server", options_.name, "error",
              e.what(), "workers", workers_);
    return false;
  }
  ++workers_;
  return true;
}

void ServerCore::EventLoop() {
  epoll_event events[128];
  Clock::time_point resume_accept = Clock::time_point::max();
  while (!stopping_) {
    int timeout_ms = 1000;
    {
      std::lock_guard l(mu_);
      auto now = Clock::now();
      auto next = resume_accept;
      if (!idle_.empty())
        next = std::min(next, conns_[idle_.front()].idle_since + options_.idle_timeout);
      if (next != Clock::time_point::max()) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1;
        timeout_ms = static_cast<int>(std::clamp<int64_t>(ms, 0, 1000));
      }
    }
    int n = ::epoll_wait(epoll_fd_, events, 128, timeout_ms);
    if (n < 0 && errno != EINTR) {
      ASB_LOG(ERROR, "epoll_wait failed", "server", options_.name, "errno", errno);
      ::usleep(10000);
    }
    std::lock_guard l(mu_);
    if (stopping_) break;
    for (int i = 0; i < n; ++i) {
      uint64_t id = events[i].data.u64;
      if (id == kListenId) {
        if (!AcceptAllLocked()) {
          epoll_event ev{};
          ev.data.u64 = kListenId;
          ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev);  // paused
          resume_accept = Clock::now() + kAcceptPause;
          ASB_LOG(WARN, "out of file descriptors; pausing accept", "server", options_.name);
        }
      } else if (id == kWakeId) {
        uint64_t v;
        (void)!::read(wake_fd_, &v, sizeof(v));
      } else {
        auto it = conns_.find(id);
        if (it != conns_.end() && !it->second.busy) DispatchLocked(id, it->second);
      }
    }
    auto now = Clock::now();
    if (now >= resume_accept) {
      resume_accept = Clock::time_point::max();
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = kListenId;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev);
    }
    while (!idle_.empty()) {
      uint64_t id = idle_.front();
      if (now - conns_[id].idle_since < options_.idle_timeout) break;
      CloseLocked(id);
    }
  }
}

bool ServerCore::AcceptAllLocked() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if ((errno == EMFILE || errno == ENFILE) && EvictIdleLocked(nullptr)) continue;
      return errno != EMFILE && errno != ENFILE;  // EAGAIN: all accepted
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    AdmitLocked(fd, PeerOf(fd));
  }
}

Status ServerCore::Adopt(int fd, Peer peer) {
  std::lock_guard l(mu_);
  if (stopping_) {
    ::close(fd);
    return MakeError(Code::kUnavailable, options_.name + ": stopping");
  }
  if (!AdmitLocked(fd, peer))
    return MakeError(Code::kUnavailable, options_.name + ": at its connection limit");
  return {};
}

bool ServerCore::AdmitLocked(int fd, const Peer& peer) {
  auto refuse = [&] {
    ++refused_;
    if (!options_.overload_response.empty())
      (void)!::send(fd, options_.overload_response.data(), options_.overload_response.size(),
                    MSG_DONTWAIT | MSG_NOSIGNAL);
    ::close(fd);
    return false;
  };
  if (conns_.size() >= options_.max_connections && !EvictIdleLocked(nullptr)) return refuse();
  auto ip_count = per_ip_.find(peer.ip);
  if (ip_count != per_ip_.end() && ip_count->second >= options_.max_connections_per_ip &&
      !EvictIdleLocked(&peer.ip))
    return refuse();
  std::unique_ptr<Connection> conn;
  try {
    conn = factory_(fd, peer);
  } catch (const std::exception& e) {
    ASB_LOG(ERROR, "connection setup failed", "server", options_.name, "error", e.what());
  }
  if (!conn) {
    ::close(fd);
    return false;
  }
  uint64_t id = next_id_++;
  Entry& e = conns_[id];
  e.conn = std::move(conn);
  e.fd = fd;
  e.ip = peer.ip;
  ++per_ip_[peer.ip];
  epoll_event ev{};
  ev.events = kConnEvents;
  ev.data.u64 = id;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    e.busy = true;  // not in idle_
    CloseLocked(id);
    return false;
  }
  e.busy = false;
  e.idle_since = Clock::now();
  e.idle_pos = idle_.insert(idle_.end(), id);
  return true;
}

bool ServerCore::EvictIdleLocked(const std::string* ip) {
  for (auto it = idle_.begin(); it != idle_.end(); ++it) {
    if (ip && conns_[*it].ip != *ip) continue;
    ++evicted_;
    CloseLocked(*it);
    return true;
  }
  return false;
}

void ServerCore::DispatchLocked(uint64_t id, Entry& e) {
  e.busy = true;
  idle_.erase(e.idle_pos);
  ready_.push_back(id);
  if (ready_.size() > idle_workers_ && workers_ < options_.max_workers) SpawnWorkerLocked(false);
  work_cv_.notify_one();
}

void ServerCore::MakeIdleLocked(uint64_t id, Entry& e) {
  epoll_event ev{};
  ev.events = kConnEvents;
  ev.data.u64 = id;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, e.fd, &ev) != 0) {
    CloseLocked(id);
    return;
  }
  bool was_empty = idle_.empty();
  e.busy = false;
  e.idle_since = Clock::now();
  e.idle_pos = idle_.insert(idle_.end(), id);
  // The event thread may be sleeping with no idle deadline: give it this one.
  if (was_empty) Wake();
}

void ServerCore::CloseLocked(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Entry& e = it->second;
  if (!e.busy) idle_.erase(e.idle_pos);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, e.fd, nullptr);
  e.conn.reset();
  ::close(e.fd);
  auto ip = per_ip_.find(e.ip);
  if (ip != per_ip_.end() && --ip->second == 0) per_ip_.erase(ip);
  conns_.erase(it);
}

void ServerCore::WorkerLoop(bool permanent) {
  std::unique_lock l(mu_);
  for (;;) {
    bool expired = false;
    while (ready_.empty() && !stopping_ && !expired) {
      ++idle_workers_;
      if (permanent) {
        work_cv_.wait(l);
      } else {
        expired = work_cv_.wait_for(l, kSpareWorkerLinger) == std::cv_status::timeout;
      }
      --idle_workers_;
    }
    if (ready_.empty()) break;  // stopping, or a spare worker with nothing to do
    uint64_t id = ready_.front();
    ready_.pop_front();
    auto it = conns_.find(id);
    if (it == conns_.end()) continue;
    if (stopping_) {
      CloseLocked(id);
      continue;
    }
    Connection* conn = it->second.conn.get();
    const int fd = it->second.fd;
    l.unlock();
    bool keep = false;
    for (;;) {
      try {
        keep = conn->Serve();
      } catch (const std::exception& e) {
        // A connection must never take the process down (Beast reports misuse by throwing).
        ASB_LOG(ERROR, "connection failed", "server", options_.name, "error", e.what());
        keep = false;
      }
      if (!keep || stopping_) break;
      if (conn->HasBufferedInput()) continue;
      if (options_.hot_wait.count() <= 0) break;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(options_.hot_wait.count())) <= 0) break;
    }
    l.lock();
    it = conns_.find(id);
    if (it == conns_.end()) continue;
    if (!keep || stopping_) {
      CloseLocked(id);
    } else {
      MakeIdleLocked(id, it->second);
    }
  }
  --workers_;
  workers_cv_.notify_all();
}

void ServerCore::Stop() {
  if (stopping_.exchange(true)) {
    std::unique_lock l(mu_);
    workers_cv_.wait(l, [&] { return workers_ == 0; });
    return;
  }
  if (wake_fd_ >= 0) Wake();
  if (event_thread_.joinable()) event_thread_.join();
  std::unique_lock l(mu_);
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  std::vector<uint64_t> idle(idle_.begin(), idle_.end());
  for (uint64_t id : idle) CloseLocked(id);
  for (auto& [id, e] : conns_) {
    ::shutdown(e.fd, SHUT_RDWR);
    e.conn->OnStop();
  }
  work_cv_.notify_all();
  workers_cv_.wait(l, [&] { return workers_ == 0; });
  while (!conns_.empty()) {
    conns_.begin()->second.busy = true;  // none is in idle_ any more
    CloseLocked(conns_.begin()->first);
  }
  ready_.clear();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  epoll_fd_ = wake_fd_ = -1;
}

}  // namespace asb::http
