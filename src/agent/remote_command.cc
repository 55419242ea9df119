#include "agent/remote_command.h"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "base/log.h"
#include "base/unique_fd.h"
#include "http/websocket.h"

extern char** environ;

namespace asb::agent {

namespace {

constexpr uint8_t kStdin = 0, kStdout = 1, kStderr = 2, kError = 3, kResize = 4, kClose = 255;
const std::vector<std::string> kProtocols = {"v5.channel.k8s.io", "v4.channel.k8s.io"};
// Sessions at once; more are refused before the upgrade (a flood can't fork-bomb the sandbox).
constexpr int kMaxSessions = 64;
std::atomic<int> g_sessions{0};

http::Response BadRequest(const std::string& message) {
  return http::Response::Json(400, {{"kind", "Status"},
                                    {"apiVersion", "v1"},
                                    {"metadata", Json::object()},
                                    {"status", "Failure"},
                                    {"message", message},
                                    {"reason", "BadRequest"},
                                    {"code", 400}});
}

bool QueryTrue(const http::Request& req, const char* name) {
  auto v = req.Query(name);
  return v && (*v == "true" || *v == "1" || *v == "True" || *v == "TRUE");
}

// The agent's environment plus TERM for terminals (what container runtimes do for tty execs).
std::vector<std::string> SessionEnv(bool tty) {
  std::vector<std::string> env;
  bool has_term = false;
  for (char** e = environ; e && *e; ++e) {
    env.emplace_back(*e);
    if (env.back().rfind("TERM=", 0) == 0) has_term = true;
  }
  if (tty && !has_term) env.emplace_back("TERM=xterm");
  return env;
}

// Writes all of `data` to a possibly non-blocking fd. False when the fd is gone.
bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 1000);
      continue;
    }
    return false;
  }
  return true;
}

// Reads what is available from `fd` and sends it on `channel`. False at EOF or on error (a pty
// master reports EIO once every slave fd is closed).
bool Pump(int fd, uint8_t channel, http::ws::Connection& conn, bool& client_ok) {
  char buf[32 * 1024 + 1];
  for (;;) {
    ssize_t n = ::read(fd, buf + 1, sizeof(buf) - 1);
    if (n > 0) {
      buf[0] = static_cast<char>(channel);
      if (client_ok && !conn.WriteBinary(std::string_view(buf, static_cast<size_t>(n) + 1)))
        client_ok = false;
      if (static_cast<size_t>(n) < sizeof(buf) - 1) return true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

void SendStatus(http::ws::Connection& conn, const Json& status) {
  (void)conn.WriteBinary(std::string(1, static_cast<char>(kError)) + DumpJson(status));
}

}  // namespace

Json RemoteCommandStatus(int exit_code) {
  if (exit_code == 0) return {{"metadata", Json::object()}, {"status", "Success"}};
  return {{"metadata", Json::object()},
          {"status", "Failure"},
          {"message",
           "command terminated with non-zero exit code: exit status " + std::to_string(exit_code)},
          {"reason", "NonZeroExitCode"},
          {"details",
           {{"causes",
             Json::array({{{"reason", "ExitCode"}, {"message", std::to_string(exit_code)}}})}}}};
}

http::Response HandleRemoteCommand(const AgentServices& services, const http::Request& req,
                                   std::string_view) {
  InteractiveOptions o;
  auto [begin, end] = req.query.equal_range("command");
  for (auto it = begin; it != end; ++it) o.argv.push_back(it->second);
  if (o.argv.empty()) return BadRequest("you must specify at least one command for the container");
  o.tty = QueryTrue(req, "tty");
  o.with_stdin = QueryTrue(req, "stdin");
  o.with_stdout = QueryTrue(req, "stdout");
  o.with_stderr = QueryTrue(req, "stderr") && !o.tty;
  if (!o.with_stdin && !o.with_stdout && !QueryTrue(req, "stderr"))
    return BadRequest("you must specify at least 1 of stdin, stdout, stderr");
  o.cwd = services.exec ? services.exec->cwd() : "/";
  o.env = SessionEnv(o.tty);
  auto accept = http::ws::AcceptUpgrade(req, kProtocols);
  if (!accept) return BadRequest(accept.error().message);
  if (g_sessions.fetch_add(1) >= kMaxSessions) {
    g_sessions.fetch_sub(1);
    http::Response r = BadRequest("too many exec sessions in this sandbox (limit " +
                                  std::to_string(kMaxSessions) + ")");
    r.status = 429;
    return r;
  }
  std::string protocol = accept->headers.GetOr("Sec-WebSocket-Protocol", "");
  accept->upgrade = [o = std::move(o), protocol](int fd, std::string pending) {
    RunRemoteCommandSession(fd, std::move(pending), o, protocol);
    g_sessions.fetch_sub(1);
  };
  return std::move(*accept);
}

void RunRemoteCommandSession(int fd, std::string pending, const InteractiveOptions& options,
                             const std::string& protocol) {
  http::ws::Connection conn(fd, http::ws::Role::kServer, std::move(pending));
  const bool v5 = protocol == "v5.channel.k8s.io";
  auto spawned = InteractiveProcess::Spawn(options);
  if (!spawned) {
    // Like a shell: the reason on the error stream (stdout with a tty), then exit code 127.
    uint8_t ch = options.with_stderr ? kStderr : kStdout;
    (void)conn.WriteBinary(std::string(1, static_cast<char>(ch)) + spawned.error().message + "\n");
    SendStatus(conn, RemoteCommandStatus(spawned.error().code == Code::kNotFound ? 127 : 126));
    conn.Close();
    conn.Shutdown();
    return;
  }
  InteractiveProcess& proc = **spawned;

  // Reader: client messages -> stdin, resizes, stdin close. Any read failure means the client
  // is gone (or closed): the command is killed, unless it already finished.
  std::atomic<bool> finished{false};
  std::mutex mu;
  std::condition_variable cv;
  bool reader_done = false;
  std::thread reader([&] {
    bool input_open = proc.input_fd() >= 0;
    for (;;) {
      auto msg = conn.Read();
      if (!msg) {
        if (!finished) proc.Kill();
        break;
      }
      if (msg->data.empty()) continue;
      auto channel = static_cast<uint8_t>(msg->data[0]);
      std::string_view payload = std::string_view(msg->data).substr(1);
      if (channel == kStdin && input_open) {
        if (!WriteAll(proc.input_fd(), payload)) input_open = false;
      } else if (channel == kResize) {
        auto size = ParseJson(payload);
        if (size && size->is_object()) {
          int w = size->value("Width", 0), h = size->value("Height", 0);
          if (w > 0 && h > 0 && w < 65536 && h < 65536)
            proc.Resize(static_cast<uint16_t>(w), static_cast<uint16_t>(h));
        }
      } else if (channel == kClose && v5 && !payload.empty() &&
                 static_cast<uint8_t>(payload[0]) == kStdin) {
        proc.CloseInput();
        input_open = false;
      }
    }
    std::lock_guard l(mu);
    reader_done = true;
    cv.notify_all();
  });

  // Output: pump stdout/stderr until EOF, or until the command exited and what it left in the
  // pipes was sent (a background process holding the pipes must not keep the session open).
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, proc.pid(), 0)));
  bool client_ok = true;
  bool out_open = proc.output_fd() >= 0, err_open = proc.error_fd() >= 0;
  std::optional<int> exit_code;
  while (out_open || err_open) {
    pollfd fds[3];
    nfds_t n = 0;
    int out_i = -1, err_i = -1;
    if (out_open) {
      out_i = static_cast<int>(n);
      fds[n++] = {proc.output_fd(), POLLIN, 0};
    }
    if (err_open) {
      err_i = static_cast<int>(n);
      fds[n++] = {proc.error_fd(), POLLIN, 0};
    }
    if (pidfd) fds[n++] = {pidfd.get(), POLLIN, 0};
    int ready = ::poll(fds, n, pidfd ? -1 : 50);
    if (ready < 0 && errno != EINTR) break;
    if (out_i >= 0 && fds[out_i].revents)
      out_open = Pump(proc.output_fd(), kStdout, conn, client_ok);
    if (err_i >= 0 && fds[err_i].revents)
      err_open = Pump(proc.error_fd(), kStderr, conn, client_ok);
    if (!client_ok) proc.Kill();
    exit_code = proc.TryWait();
    if (exit_code) {
      if (out_open) Pump(proc.output_fd(), kStdout, conn, client_ok);
      if (err_open) Pump(proc.error_fd(), kStderr, conn, client_ok);
      break;
    }
  }
  int code = exit_code ? *exit_code : proc.Wait();
  finished = true;
  if (client_ok) SendStatus(conn, RemoteCommandStatus(code));
  conn.Close();
  // Give the client a moment to answer the close (so the connection ends cleanly, without a
  // reset that could cut the status short), then end the reader.
  {
    std::unique_lock l(mu);
    cv.wait_for(l, std::chrono::seconds(2), [&] { return reader_done; });
  }
  conn.Shutdown();
  reader.join();
}

}  // namespace asb::agent
