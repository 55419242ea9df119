// pods/attach: the container's output from now on over WebSocket v5 (see pod_subresources.h).
// The main process of a sandbox (asb-agent) reads no stdin, so input is accepted and dropped.
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "apiserver/k8s_status.h"
#include "apiserver/pod_subresources.h"
#include "http/websocket.h"

namespace asb::apiserver::internal {

namespace {

constexpr auto kPoll = std::chrono::milliseconds(100);

void RunAttach(http::ws::Connection& conn, PodStreams* streams, const std::atomic<bool>& stopping,
               const std::string& ns, const std::string& name, const std::string& path) {
  std::mutex mu;
  std::condition_variable cv;
  bool client_gone = false;
  std::thread reader([&] {
    while (conn.Read()) {
    }
    std::lock_guard l(mu);
    client_gone = true;
    cv.notify_all();
  });
  LogCursor offset;
  (void)ReadLogFrom(path, offset);  // attach shows output from now on
  std::string pending;
  auto last_check = std::chrono::steady_clock::now();
  bool ok = true;
  for (;;) {
    {
      std::unique_lock l(mu);
      if (cv.wait_for(l, kPoll, [&] { return client_gone; })) break;
    }
    if (stopping) break;
    pending += ReadLogFrom(path, offset);
    std::string text = LogText(pending);
    if (!text.empty() && !conn.WriteBinary(std::string(1, '\x01') + text)) {
      ok = false;
      break;
    }
    auto now = std::chrono::steady_clock::now();
    if (now - last_check < std::chrono::seconds(1)) continue;
    last_check = now;
    auto files = streams->LogFiles(ns, name);
    if (!files || !files->running || files->current != path) break;  // the container stopped
  }
  if (ok) (void)conn.WriteBinary(std::string("\x03") + R"({"metadata":{},"status":"Success"})");
  conn.Close();
  {
    std::unique_lock l(mu);
    cv.wait_for(l, std::chrono::seconds(2), [&] { return client_gone; });
  }
  conn.Shutdown();
  reader.join();
}

}  // namespace

http::Response ServePodAttach(store::Store& store, PodStreams* streams,
                              const std::atomic<bool>& shutting_down, http::Request& req,
                              const std::string& ns, const std::string& name) {
  if (req.method != "GET" && req.method != "POST")
    return StatusResponse(Error{
        Code::kUnimplemented, "attach needs an upgrade request (GET or POST), not " + req.method});
  auto pc = FindPodContainer(store, req, ns, name);
  if (!pc) return StatusResponse(pc.error());
  if (auto running = RequireRunning(*pc, "attach to"); !running)
    return StatusResponse(running.error());
  if (!streams) return StatusResponse(Error{Code::kUnavailable, "attach is not available here"});
  auto files = streams->LogFiles(ns, name);
  if (!files)
    return StatusResponse(
        Error{Code::kUnavailable,
              "pod " + name + " has no output to attach to: " + files.error().message});
  auto accept = http::ws::AcceptUpgrade(req, {"v5.channel.k8s.io", "v4.channel.k8s.io"});
  if (!accept) return StatusResponse(Error{Code::kInvalidArgument, accept.error().message});
  std::string path = files->current;
  accept->upgrade = [streams, &shutting_down, ns, name, path](int fd, std::string pending) {
    http::ws::Connection conn(fd, http::ws::Role::kServer, std::move(pending));
    RunAttach(conn, streams, shutting_down, ns, name, path);
  };
  return std::move(*accept);
}

}  // namespace asb::apiserver::internal
