// pods/exec: validation here, the session in asb-agent (see pod_subresources.h).
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "apiserver/k8s_status.h"
#include "apiserver/pod_subresources.h"
#include "apiserver/stream_clients.h"
#include "base/strings.h"
#include "http/websocket.h"

namespace asb::apiserver::internal {

namespace {

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// The dial error as a Status: the pod exists and is Running, so these are server-side trouble.
http::Response DialFailure(const Error& e, const std::string& name) {
  if (e.code == Code::kNotFound || e.code == Code::kUnavailable)
    return StatusResponse(Error{
        Code::kUnavailable, "pod " + name + " has no running sandbox on this node: " + e.message});
  return StatusResponse(
      Error{Code::kInternal, "error dialing the sandbox of pod " + name + ": " + e.message});
}

}  // namespace

Result<PodContainer> FindPodContainer(store::Store& store, const http::Request& req,
                                      const std::string& ns, const std::string& name) {
  auto pod = store.Get(api::PodResource(), ns, name);
  if (!pod) return tl::unexpected(ObjectError(pod.error(), &api::PodResource(), name));
  PodContainer pc{std::move(*pod), req.Query("container").value_or("")};
  const Json* containers = nullptr;
  if (pc.pod.contains("spec") && pc.pod["spec"].contains("containers"))
    containers = &pc.pod["spec"]["containers"];
  std::vector<std::string> names;
  if (containers && containers->is_array())
    for (const Json& c : *containers) names.push_back(c.value("name", ""));
  if (pc.container.empty()) {
    if (names.empty())
      return MakeError(Code::kInvalidArgument, "pod " + name + " has no containers");
    pc.container = names[0];
    return pc;
  }
  for (const std::string& n : names)
    if (n == pc.container) return pc;
  return MakeError(Code::kInvalidArgument,
                   "container " + pc.container + " is not valid for pod " + name);
}

Result<bool> RequireRunning(const PodContainer& pc, const std::string& verb) {
  std::string name = GetString(pc.pod, "metadata.name");
  std::string phase = GetString(pc.pod, "status.phase", "Pending");
  if (phase == "Succeeded" || phase == "Failed")
    return MakeError(Code::kInvalidArgument, "cannot " + verb +
                                                 " a container in a completed pod; current "
                                                 "phase is " +
                                                 phase);
  bool running = false;
  if (phase == "Running" && pc.pod.contains("status")) {
    for (const Json& cs : pc.pod["status"].value("containerStatuses", Json::array())) {
      if (cs.value("name", "") == pc.container && cs.contains("state") &&
          cs["state"].contains("running"))
        running = true;
    }
  }
  if (!running)
    return MakeError(Code::kInvalidArgument, "container " + pc.container + " of pod " + name +
                                                 " is not running (pod phase " + phase + ")");
  return true;
}

void RelaySockets(int a, std::string a_pending, int b, std::string b_pending) {
  if (!a_pending.empty() && !SendAll(b, a_pending)) return;
  if (!b_pending.empty() && !SendAll(a, b_pending)) return;
  bool a_open = true, b_open = true;  // each direction: still reading from that side
  char buf[64 * 1024];
  while (a_open || b_open) {
    pollfd fds[2];
    nfds_t n = 0;
    int ai = -1, bi = -1;
    if (a_open) {
      ai = static_cast<int>(n);
      fds[n++] = {a, POLLIN, 0};
    }
    if (b_open) {
      bi = static_cast<int>(n);
      fds[n++] = {b, POLLIN, 0};
    }
    // Once one side finished, the other gets a bounded time to finish too (its close reply).
    int timeout = (a_open && b_open) ? -1 : 5000;
    int ready = ::poll(fds, n, timeout);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return;
    auto pass = [&](int from, int to, bool& open) {
      ssize_t got = ::recv(from, buf, sizeof(buf), 0);
      if (got < 0 && errno == EINTR) return;
      if (got <= 0 || !SendAll(to, std::string_view(buf, static_cast<size_t>(got)))) {
        open = false;
        ::shutdown(to, SHUT_WR);
      }
    };
    if (ai >= 0 && fds[ai].revents) pass(a, b, a_open);
    if (bi >= 0 && fds[bi].revents) pass(b, a, b_open);
  }
}

http::Response ServePodExec(store::Store& store, PodStreams* streams, http::Request& req,
                            const std::string& ns, const std::string& name) {
  if (req.method != "GET" && req.method != "POST")
    return StatusResponse(Error{Code::kUnimplemented,
                                "exec needs an upgrade request (GET or POST), not " + req.method});
  auto pc = FindPodContainer(store, req, ns, name);
  if (!pc) return StatusResponse(pc.error());
  if (auto running = RequireRunning(*pc, "exec into"); !running)
    return StatusResponse(running.error());
  if (!http::ws::IsUpgradeRequest(req)) {
    if (Trim(req.headers.GetOr("Upgrade", "")).empty())
      return StatusResponse(Error{Code::kInvalidArgument, "Upgrade request required"});
    return StatusResponse(
        Error{Code::kInvalidArgument,
              "exec is served over WebSocket (v5.channel.k8s.io) only; this client "
              "asked for " +
                  req.headers.GetOr("Upgrade", "")});
  }
  if (!streams) return StatusResponse(Error{Code::kUnavailable, "exec is not available here"});
  auto conn = streams->DialPod(ns, name, kAgentPort);
  if (!conn) return DialFailure(conn.error(), name);

  // The client's handshake, unchanged, so asb-agent answers kubectl's key and subprotocols.
  http::Request up{.method = "GET", .target = "/v1/remotecommand?" + req.raw_query};
  for (const char* h : {"Connection", "Upgrade", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
                        "Sec-WebSocket-Protocol"}) {
    auto v = req.headers.Get(h);
    if (v) up.headers.Set(h, *v);
  }
  up.headers.Set("Host", "localhost");
  auto reply = http::ws::SendUpgrade(conn->get(), up);
  if (!reply) return DialFailure(reply.error(), name);
  if (reply->status != 101) {
    auto body = ParseJson(reply->body);
    if (body && body->is_object() && body->value("kind", "") == "Status") {
      return http::Response::Json(reply->status, *body);
    }
    if (reply->status == 404)
      return StatusResponse(Error{Code::kUnimplemented,
                                  "pod " + name +
                                      " does not serve exec: its container must run "
                                      "asb-agent on port 8888 (the built-in image does)",
                                  0, "NotImplemented"});
    return StatusResponse(Error{Code::kUnavailable,
                                "the sandbox of pod " + name + " refused exec: HTTP " +
                                    std::to_string(reply->status) + " " + reply->body,
                                0, "BadGateway"});
  }
  http::Response r;
  r.status = 101;
  for (const char* h :
       {"Upgrade", "Connection", "Sec-WebSocket-Accept", "Sec-WebSocket-Protocol"}) {
    auto v = reply->headers.Get(h);
    if (v) r.headers.Set(h, *v);
  }
  auto backend = std::make_shared<UniqueFd>(std::move(*conn));
  const bool settle = DropsEarlyExecFrames(req.headers.GetOr("User-Agent", ""));
  r.upgrade = [backend, settle, agent_pending = std::move(reply->pending)](int fd,
                                                                           std::string pending) {
    // The 101 has just been sent. A client that drops frames arriving before its streams exist
    // gets the sandbox's first output a moment later (stream_clients.h); what the client sends
    // first (stdin, a resize) comes from made streams and ends the wait at once.
    if (settle && pending.empty()) {
      pollfd p{fd, POLLIN, 0};
      (void)::poll(&p, 1, static_cast<int>(kEarlyFrameSettle.count()));
    }
    RelaySockets(fd, std::move(pending), backend->get(), agent_pending);
  };
  return r;
}

}  // namespace asb::apiserver::internal
