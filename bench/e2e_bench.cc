// e2e_bench: end-to-end latencies of a real in-process asbd (API server, controllers, node agent
// with native and gVisor runtimes, router), driven over loopback HTTP the way the Python client
// drives it: API calls with the bearer token on the API port (plaintext), watches from a
// resourceVersion, /execute through the router with X-Sandbox-* headers.
//
//   e2e_bench [--runtime native|gvisor|all] [--samples SCALE] [--sustain-seconds S]
//             [--sustain-threads T] [--exec-runs N] [--quick] [--seed FILE] [--verbose]
//             [--daemon-gvisor auto|off]   (off: asbd without the gVisor runtime)
//             [--pod-network bridge|none]  (none: sandboxes without pod IPs, dialled in their
//             netns)
//             [--refill-after-claim-ms N]  (DaemonConfig::refill_after_claim_ms; 0: the
//             pool refills at once)
//             [--trace]   (print each cold start's pod/sandbox watch events with times, and each
//             warm
//                         claim's spans from its status.startup)
//
// Per runtime class (native: the seed template with runtimeClassName "native"; gvisor: the seed
// template as is):
//   1 cold start      create a Sandbox from the template's podTemplate -> watch shows Ready=True
//   2 warm claim      POST a SandboxClaim against a full Ready pool -> watch shows Ready=True
//                     (the watch starts from the resourceVersion before the create); the pool is
//                     back to full Ready before the next sample, so every sample is warm
//   3 claim -> exec   the seed flow: create claim, watch Ready, POST /execute through the router
//   4 exec RTT        POST /execute `echo hi` on one keep-alive router connection, and the same
//                     on a connection the node dials straight into the sandbox (router's share)
//   5 sustained       T client threads loop claim -> Ready -> exec -> delete for S seconds while
//                     the pool (8) refills; claims/s, latency, warm vs cold served
// Baselines: fork+exec of /bin/true, `runsc --network=none do true`.
//
// Every loop is bounded in count and time. Progress goes to stderr, the table to stdout.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/resource.h"
#include "api/sandbox_claim.h"
#include "base/file_util.h"
#include "base/json_util.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/yaml.h"
#include "client/api_client.h"
#include "client/kubeconfig.h"
#include "cmd/asbd/app.h"
#include "http/client.h"
#include "sys/command.h"

extern char** environ;

namespace {

using SteadyClock = std::chrono::steady_clock;
using asb::Json;
using asb::Result;
using namespace std::chrono_literals;

// The bench writes the seed's v1alpha1 shapes, so it speaks v1alpha1 (the kind table's first
// entry for a kind is no longer that version).
const asb::api::ResourceInfo& V1alpha1(const asb::api::ResourceInfo& r) {
  const asb::api::ResourceInfo* v = asb::api::FindByKind(r.group + "/v1alpha1", r.kind);
  return v ? *v : r;
}

constexpr char kNs[] = "default";

double MsSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}
double MsBetween(SteadyClock::time_point a, SteadyClock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

void Progress(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void Progress(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "e2e_bench: ");
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
}

// ---- results table ------------------------------------------------------------------------

struct Row {
  std::string name;
  std::string runtime;
  std::vector<double> ms;
  std::string goal;  // "p50<=5 p99<=20", empty = none
  std::string note;
};

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

std::vector<Row> g_rows;
bool g_trace = false;  // --trace: print the pod/sandbox event timeline of each cold start
std::mutex g_rows_mu;

void AddRow(Row r) {
  if (!r.ms.empty())
    Progress("  -> %s [%s]: n=%zu p50=%.2f ms p99=%.2f ms", r.name.c_str(), r.runtime.c_str(),
             r.ms.size(), Pct(r.ms, 0.5), Pct(r.ms, 0.99));
  std::lock_guard<std::mutex> l(g_rows_mu);
  g_rows.push_back(std::move(r));
}

void PrintTable() {
  std::printf("\n%-42s %-7s %5s %9s %9s %9s %9s  %-18s %s\n", "metric", "runtime", "n", "p50 ms",
              "p90 ms", "p99 ms", "max ms", "goal", "note");
  std::printf("%s\n", std::string(134, '-').c_str());
  for (const Row& r : g_rows) {
    if (r.ms.empty()) {
      std::printf("%-42s %-7s %5d %9s %9s %9s %9s  %-18s %s\n", r.name.c_str(), r.runtime.c_str(),
                  0, "-", "-", "-", "-", r.goal.c_str(), r.note.c_str());
      continue;
    }
    std::printf("%-42s %-7s %5zu %9.2f %9.2f %9.2f %9.2f  %-18s %s\n", r.name.c_str(),
                r.runtime.c_str(), r.ms.size(), Pct(r.ms, 0.5), Pct(r.ms, 0.9), Pct(r.ms, 0.99),
                Pct(r.ms, 1.0), r.goal.c_str(), r.note.c_str());
  }
}

// ---- API helpers ------------------------------------------------------------------------

struct Endpoints {
  std::string api_host;
  uint16_t api_port = 0;
  std::string router_host;
  uint16_t router_port = 0;
  std::string token;
  asb::client::Kubeconfig kubeconfig;
};

bool IsReady(const Json& obj) {
  const Json* conds = asb::Find(obj, "status.conditions");
  if (!conds || !conds->is_array()) return false;
  for (const Json& c : *conds)
    if (c.is_object() && c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return false;
}

std::string ReadyReason(const Json& obj) {
  const Json* conds = asb::Find(obj, "status.conditions");
  if (!conds || !conds->is_array()) return "no conditions";
  for (const Json& c : *conds)
    if (c.is_object() && c.value("type", "") == "Ready")
      return c.value("status", "") + "/" + c.value("reason", "") + ": " + c.value("message", "");
  return "no Ready condition";
}

// metadata.<map>[key] (keys contain dots, so no dotted path).
std::string MetaString(const Json& obj, const char* map, const std::string& key) {
  const Json* m = asb::Find(obj, std::string("metadata.") + map);
  if (!m || !m->is_object()) return "";
  auto it = m->find(key);
  return it != m->end() && it->is_string() ? it->get<std::string>() : "";
}

std::string Rv(const Json& obj) { return asb::GetString(obj, "metadata.resourceVersion"); }

// Watches one named object of a collection from a resourceVersion, in its own thread and on its
// own connection, until `done(obj)` holds (or DELETED, ERROR, timeout). Started before the write
// whose effect it waits for; events after `rv` are replayed, so it can't miss one.
class NamedWatch {
 public:
  NamedWatch(const Endpoints& ep, const asb::api::ResourceInfo& res, std::string name,
             std::string rv, std::chrono::seconds timeout, std::function<bool(const Json&)> done)
      : done_(std::move(done)) {
    std::string target =
        asb::client::ApiClient::Path(res, kNs) + "?watch=true&fieldSelector=metadata.name%3D" +
        name + "&resourceVersion=" + rv + "&timeoutSeconds=" + std::to_string(timeout.count());
    thread_ = std::thread([this, ep, target, timeout] { Run(ep, target, timeout); });
  }
  ~NamedWatch() {
    if (thread_.joinable()) thread_.join();
  }

  // Joins the watch. The time the condition was first seen, or an error.
  Result<SteadyClock::time_point> Wait() {
    if (thread_.joinable()) thread_.join();
    if (!error_.empty()) return asb::MakeError(asb::Code::kUnavailable, error_);
    return at_;
  }
  const Json& object() const { return obj_; }

 private:
  void Run(const Endpoints& ep, const std::string& target, std::chrono::seconds timeout) {
    auto c = asb::http::Client::Connect(ep.api_host, ep.api_port);
    if (!c) {
      error_ = "watch connect: " + c.error().message;
      return;
    }
    c->SetReadTimeout(std::chrono::duration_cast<std::chrono::milliseconds>(timeout) + 2s);
    asb::http::Request req;
    req.method = "GET";
    req.target = target;
    req.headers.Set("Authorization", "Bearer " + ep.token);
    req.headers.Set("Accept", "application/json");
    std::string buf;
    bool finished = false;
    auto r = c->Stream(req, [&](std::string_view data) {
      buf.append(data);
      size_t nl;
      while ((nl = buf.find('\n')) != std::string::npos) {
        std::string line = buf.substr(0, nl);
        buf.erase(0, nl + 1);
        if (asb::Trim(line).empty()) continue;
        auto ev = asb::ParseJson(line);
        if (!ev) continue;
        std::string type = ev->value("type", "");
        const Json& obj = (*ev)["object"];
        if (type == "BOOKMARK") continue;
        if (type == "ERROR") {
          error_ = "watch error: " + asb::DumpJson(obj);
          finished = true;
          return false;
        }
        obj_ = obj;
        if (type == "DELETED") {
          error_ = "object deleted while waiting";
          finished = true;
          return false;
        }
        if (done_(obj)) {
          at_ = SteadyClock::now();
          finished = true;
          return false;
        }
      }
      return true;
    });
    if (finished) return;
    if (!r) {
      error_ = "watch: " + r.error().message;
    } else if (r->status != 200) {
      error_ = "watch: HTTP " + std::to_string(r->status);
    } else {
      error_ = "watch ended (timeout) before the condition; last state: " + ReadyReason(obj_);
    }
  }

  std::function<bool(const Json&)> done_;
  std::thread thread_;
  std::string error_;
  SteadyClock::time_point at_{};
  Json obj_;
};

std::unique_ptr<asb::client::ApiClient> NewApi(const Endpoints& ep) {
  auto api = asb::client::ApiClient::Create(ep.kubeconfig);
  if (!api) {
    std::fprintf(stderr, "e2e_bench: api client: %s\n", api.error().message.c_str());
    std::exit(1);
  }
  return std::move(*api);
}

// The collection's current resourceVersion (a watch from it sees every later change).
Result<std::string> ListRv(asb::client::ApiClient& api, const asb::api::ResourceInfo& res) {
  ASB_ASSIGN_OR_RETURN(Json list, api.List(res, kNs, "asb.bench/none=x"));
  return Rv(list);
}

// Polls until `pred` holds for the object, with a deadline.
bool PollUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
               std::chrono::milliseconds every = 5ms) {
  auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(every);
  }
  return pred();
}

bool WaitGone(asb::client::ApiClient& api, const asb::api::ResourceInfo& res,
              const std::string& name, std::chrono::milliseconds timeout) {
  return PollUntil(
      [&] {
        auto r = api.Get(res, kNs, name);
        return !r && r.error().code == asb::Code::kNotFound;
      },
      timeout, 10ms);
}

// Ready members of the pool (by its status; the pool controller counts Ready members).
bool WaitPoolFull(asb::client::ApiClient& api, const std::string& pool, int replicas,
                  std::chrono::milliseconds timeout) {
  return PollUntil(
      [&] {
        auto p = api.Get(V1alpha1(asb::api::SandboxWarmPoolResource()), kNs, pool);
        if (!p) return false;
        const Json* rr = asb::Find(*p, "status.readyReplicas");
        const Json* r = asb::Find(*p, "status.replicas");
        return rr && r && rr->is_number_integer() && r->is_number_integer() &&
               rr->get<int>() >= replicas && r->get<int>() == replicas;
      },
      timeout, 2ms);
}

Json ClaimJson(const std::string& name, const std::string& tmpl) {
  return Json{{"apiVersion", "extensions.agents.x-k8s.io/v1alpha1"},
              {"kind", "SandboxClaim"},
              {"metadata",
               {{"name", name},
                {"namespace", kNs},
                {"labels", {{"agents.x-k8s.io/created-by", "e2e-bench"}}}}},
              {"spec", {{"sandboxTemplateRef", {{"name", tmpl}}}}}};
}

// ---- router / exec ------------------------------------------------------------------------

asb::http::Request ExecRequest(const Endpoints& ep, const std::string& sandbox, bool via_router) {
  asb::http::Request req;
  req.method = "POST";
  req.target = "/execute";
  req.body = R"({"command":"echo hi"})";
  req.headers.Set("Content-Type", "application/json");
  if (via_router) {
    req.headers.Set("Authorization", "Bearer " + ep.token);
    req.headers.Set("X-Sandbox-ID", sandbox);
    req.headers.Set("X-Sandbox-Namespace", kNs);
    req.headers.Set("X-Sandbox-Port", "8888");
  }
  return req;
}

asb::Status CheckExec(const Result<asb::http::ClientResponse>& r) {
  if (!r) return asb::MakeError(r.error().code, "exec: " + r.error().message);
  if (r->status != 200)
    return asb::MakeError(asb::Code::kInternal, "exec: HTTP " + std::to_string(r->status) + ": " +
                                                    r->body.substr(0, 300));
  auto doc = asb::ParseJson(r->body);
  if (!doc || doc->value("stdout", "") != "hi\n")
    return asb::MakeError(asb::Code::kInternal, "exec: unexpected body: " + r->body.substr(0, 300));
  return {};
}

// One claim end to end: create (watch first) -> Ready -> optional exec through a fresh router
// connection. Fills the times (ms since the create was sent) and the sandbox name.
struct ClaimRun {
  double ready_ms = 0;
  double exec_ms = 0;  // create -> exec response read
  std::string sandbox;
  std::string claim;
};

Result<ClaimRun> RunClaim(const Endpoints& ep, asb::client::ApiClient& api, const std::string& name,
                          const std::string& tmpl, bool exec, asb::http::Client* router_conn,
                          std::chrono::seconds timeout) {
  ASB_ASSIGN_OR_RETURN(std::string rv, ListRv(api, V1alpha1(asb::api::SandboxClaimResource())));
  NamedWatch watch(
      ep, V1alpha1(asb::api::SandboxClaimResource()), name, rv, timeout,
      [](const Json& c) { return IsReady(c) && !asb::api::BoundSandboxName(c).empty(); });
  auto t0 = SteadyClock::now();
  auto w0 = std::chrono::system_clock::now();
  auto created = api.Create(V1alpha1(asb::api::SandboxClaimResource()), kNs, ClaimJson(name, tmpl));
  if (!created) {
    (void)watch.Wait();
    return asb::MakeError(created.error().code, "create claim: " + created.error().message);
  }
  auto t_created = SteadyClock::now();
  ClaimRun run;
  run.claim = name;
  auto at = watch.Wait();
  if (!at) return asb::MakeError(at.error().code, "claim " + name + ": " + at.error().message);
  run.ready_ms = MsBetween(t0, *at);
  if (g_trace && !exec) {
    // Where the time went, from the claim's status.startup (MicroTime, the controller's clock,
    // which is this process's system clock): create -> create answered, -> the controller first
    // saw the claim, -> it computed Ready (the adoption's write follows), -> the watch saw Ready.
    auto wms = [&](const char* path) {
      auto t = asb::ParseRfc3339(asb::GetString(watch.object(), path));
      return t ? std::chrono::duration<double, std::milli>(*t - w0).count() : NAN;
    };
    std::fprintf(stderr, "  trace %s create-resp +%.3f observed +%.3f ready +%.3f seen +%.3f\n",
                 name.c_str(), MsBetween(t0, t_created),
                 wms("status.startup.controllerObservedTime"), wms("status.startup.firstReadyTime"),
                 run.ready_ms);
  }
  run.sandbox = asb::api::BoundSandboxName(watch.object());
  if (exec) {
    std::optional<asb::http::Client> fresh;
    asb::http::Client* conn = router_conn;
    if (!conn) {
      ASB_ASSIGN_OR_RETURN(asb::http::Client c,
                           asb::http::Client::Connect(ep.router_host, ep.router_port));
      fresh.emplace(std::move(c));
      conn = &*fresh;
    }
    auto r = conn->Do(ExecRequest(ep, run.sandbox, true));
    ASB_RETURN_IF_ERROR(CheckExec(r));
    run.exec_ms = MsSince(t0);
  }
  return run;
}

// ---- baselines ----------------------------------------------------------------------------

void BaselineForkExec(int runs) {
  Progress("baseline: fork+exec /bin/true x%d", runs);
  Row row{"host fork+exec /bin/true", "host", {}, "", ""};
  for (int i = 0; i < runs; ++i) {
    auto t0 = SteadyClock::now();
    pid_t pid;
    char* argv[] = {const_cast<char*>("true"), nullptr};
    if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) != 0) break;
    int st;
    waitpid(pid, &st, 0);
    row.ms.push_back(MsSince(t0));
  }
  AddRow(std::move(row));
}

void BaselineRunscDo(const std::string& dir, int runs, const std::string& platform) {
  Row row{"runsc --network=none do true", "gvisor", {}, "", "platform=" + platform};
  Progress("baseline: runsc do true x%d", runs);
  for (int i = 0; i < runs; ++i) {
    auto t0 = SteadyClock::now();
    auto r = asb::sys::RunCommand({"runsc", "--root", dir + "/runsc-do-root",
                                   "--platform=" + platform, "--network=none", "do", "true"},
                                  60s);
    if (!r) {
      row.note = "runsc: " + r.error().message;
      break;
    }
    if (r->exit_code != 0) {
      row.note = "runsc do failed: " + r->err.substr(0, 80);
      break;
    }
    row.ms.push_back(MsSince(t0));
  }
  AddRow(std::move(row));
}

// ---- phases -------------------------------------------------------------------------------

struct Options {
  std::vector<std::string> runtimes = {"native", "gvisor"};
  double scale = 1.0;
  int sustain_seconds = 30;
  int sustain_threads = 3;
  int exec_runs = 200;
  int pool_size = 4;
  int sustain_pool = 8;
  bool quick = false;
  std::string seed;
  std::string daemon_gvisor = "auto";  // DaemonConfig::gvisor
  std::string pod_network = "bridge";  // DaemonConfig::pod_network
  int64_t refill_after_claim_ms = asb::asbd::DaemonConfig{}.refill_after_claim_ms;
};

int Scaled(const Options& o, int n) {
  return std::max(1, static_cast<int>(std::lround(n * o.scale)));
}

// 1: Sandbox created -> Ready (watch), deleted and gone before the next sample.
void PhaseColdStart(const Endpoints& ep, const std::string& rt, const Json& pod_template, int n,
                    std::chrono::seconds timeout) {
  auto api = NewApi(ep);
  Row row{"1 cold start: Sandbox -> Ready", rt, {}, rt == "native" ? "p50<=30" : "p50<=300", ""};
  // Holds a node worker for as long as the sandbox takes to stop (grace period included).
  Row teardown{"1b delete Sandbox -> pod gone (10ms poll)", rt, {}, "", ""};
  for (int i = 0; i < n; ++i) {
    std::string name = "bench-cold-" + rt + "-" + std::to_string(i);
    auto rv = ListRv(*api, V1alpha1(asb::api::SandboxResource()));
    if (!rv) {
      row.note = rv.error().message;
      break;
    }
    // With --trace, a second watch logs every event of the pod and the sandbox (what changed,
    // when): the control-plane hops of a cold start.
    std::mutex tmu;
    std::vector<std::pair<SteadyClock::time_point, std::string>> events;
    auto tracer = [&](const char* kind) {
      return [&, kind](const Json& o) {
        std::string conds;
        if (const Json* cs = asb::Find(o, "status.conditions"); cs && cs->is_array())
          for (const Json& c : *cs)
            conds += " " + c.value("type", "") + "=" + c.value("status", "");
        const Json* fin = asb::Find(o, "metadata.finalizers");
        std::string line = std::string(kind) + " rv=" + Rv(o) +
                           " node=" + asb::GetString(o, "spec.nodeName", "-") +
                           " fin=" + (fin && fin->is_array() ? std::to_string(fin->size()) : "0") +
                           " phase=" + asb::GetString(o, "status.phase", "-") + conds;
        std::lock_guard<std::mutex> l(tmu);
        events.emplace_back(SteadyClock::now(), line);
        return IsReady(o);
      };
    };
    std::optional<NamedWatch> pod_trace;
    if (g_trace) {
      auto prv = ListRv(*api, asb::api::PodResource());
      if (prv)
        pod_trace.emplace(ep, asb::api::PodResource(), name, *prv, timeout, tracer("pod    "));
    }
    NamedWatch watch(ep, V1alpha1(asb::api::SandboxResource()), name, *rv, timeout,
                     g_trace ? std::function<bool(const Json&)>(tracer("sandbox"))
                             : std::function<bool(const Json&)>(IsReady));
    Json sb = {{"apiVersion", "agents.x-k8s.io/v1alpha1"},
               {"kind", "Sandbox"},
               {"metadata", {{"name", name}, {"namespace", kNs}}},
               {"spec", {{"podTemplate", pod_template}}}};
    auto t0 = SteadyClock::now();
    auto created = api->Create(V1alpha1(asb::api::SandboxResource()), kNs, sb);
    if (!created) {
      (void)watch.Wait();
      row.note = "create: " + created.error().message;
      break;
    }
    auto at = watch.Wait();
    if (pod_trace) (void)pod_trace->Wait();
    if (g_trace) {
      std::sort(events.begin(), events.end());
      for (const auto& [t, line] : events)
        std::fprintf(stderr, "  trace %s +%7.2f ms %s\n", name.c_str(), MsBetween(t0, t),
                     line.c_str());
    }
    bool ok = at.has_value();
    if (ok)
      row.ms.push_back(MsBetween(t0, *at));
    else
      row.note = "sample " + std::to_string(i) + ": " + at.error().message;
    auto td = SteadyClock::now();
    (void)api->Delete(V1alpha1(asb::api::SandboxResource()), kNs, name);
    // Pod gone = sandbox torn down; the next sample starts on a quiet node.
    if (!WaitGone(*api, V1alpha1(asb::api::SandboxResource()), name, 60s) ||
        !WaitGone(*api, asb::api::PodResource(), name, 60s)) {
      row.note += " (sandbox/pod " + name + " not gone after 60 s)";
      break;
    }
    teardown.ms.push_back(MsSince(td));
    if (!ok) break;
    if ((i + 1) % 5 == 0) Progress("  cold start %s: %d/%d", rt.c_str(), i + 1, n);
  }
  AddRow(std::move(row));
  AddRow(std::move(teardown));
}

// 2 and 3: claims against a full pool; the pool refills before each sample.
void PhaseWarmClaims(const Endpoints& ep, const std::string& rt, const std::string& tmpl,
                     const std::string& pool, int pool_size, int n, bool exec) {
  auto api = NewApi(ep);
  Row ready{exec ? "3 claim -> first /execute output" : "2 warm claim -> Ready",
            rt,
            {},
            exec ? (rt == "native" ? "p50<=10" : "") : "p50<=5 p99<=20",
            ""};
  Row ready_part{"3a   of which claim -> Ready", rt, {}, "", ""};
  int cold = 0;
  for (int i = 0; i < n; ++i) {
    if (!WaitPoolFull(*api, pool, pool_size, 120s)) {
      ready.note = "pool not full Ready after 120 s";
      break;
    }
    std::string name =
        std::string(exec ? "bench-exec-" : "bench-warm-") + rt + "-" + std::to_string(i);
    auto run = RunClaim(ep, *api, name, tmpl, exec, nullptr, 60s);
    if (run) {
      ready.ms.push_back(exec ? run->exec_ms : run->ready_ms);
      if (exec) ready_part.ms.push_back(run->ready_ms);
      auto sb = api->Get(V1alpha1(asb::api::SandboxResource()), kNs, run->sandbox);
      if (sb && MetaString(*sb, "labels", "agents.x-k8s.io/launch-type") == "cold") ++cold;
    } else {
      ready.note = run.error().message;
    }
    (void)api->Delete(V1alpha1(asb::api::SandboxClaimResource()), kNs, name);
    if (!WaitGone(*api, V1alpha1(asb::api::SandboxClaimResource()), name, 60s)) {
      ready.note += " (claim not gone)";
      break;
    }
    if (!run) break;
    if ((i + 1) % 5 == 0)
      Progress("  %s %s: %d/%d", exec ? "claim->exec" : "warm claim", rt.c_str(), i + 1, n);
  }
  if (cold) ready.note += " " + std::to_string(cold) + " served cold!";
  AddRow(std::move(ready));
  if (exec) AddRow(std::move(ready_part));
}

// 4: exec round trips on one claimed sandbox, via the router and via a direct node dial.
void PhaseExecRtt(const Endpoints& ep, asb::asbd::Daemon& daemon, const std::string& rt,
                  const std::string& tmpl, const std::string& pool, int pool_size, int runs) {
  auto api = NewApi(ep);
  Row routed{"4 exec RTT via router (keep-alive)", rt, {}, rt == "native" ? "p50<=2" : "", ""};
  Row direct{"4b exec RTT direct node dial (no router)", rt, {}, "", ""};
  Row fresh{"4c exec via router, new connection", rt, {}, "", ""};
  if (!WaitPoolFull(*api, pool, pool_size, 120s)) routed.note = "pool not full";
  std::string name = "bench-rtt-" + rt;
  auto run = RunClaim(ep, *api, name, tmpl, false, nullptr, 60s);
  if (!run) {
    routed.note = run.error().message;
  } else {
    auto conn = asb::http::Client::Connect(ep.router_host, ep.router_port);
    if (conn) {
      for (int i = 0; i < runs + 5; ++i) {
        auto t0 = SteadyClock::now();
        auto r = conn->Do(ExecRequest(ep, run->sandbox, true));
        double ms = MsSince(t0);
        if (auto st = CheckExec(r); !st) {
          routed.note = st.error().message;
          break;
        }
        if (i >= 5) routed.ms.push_back(ms);  // first few warm the connection and the agent
      }
    }
    // The pod is named like the sandbox (the router's backend reads the pod-name annotation,
    // which the controller sets to the same name).
    std::string pod = run->sandbox;
    if (auto sb = api->Get(V1alpha1(asb::api::SandboxResource()), kNs, run->sandbox); sb) {
      std::string ann = MetaString(*sb, "annotations", "agents.x-k8s.io/pod-name");
      if (!ann.empty()) pod = ann;
    }
    auto fd = daemon.node().DialPod(kNs, pod, 8888);
    if (!fd) {
      direct.note = "DialPod: " + fd.error().message;
    } else {
      auto c = asb::http::Client::FromFd(std::move(*fd));
      for (int i = 0; i < runs + 5; ++i) {
        auto t0 = SteadyClock::now();
        auto r = c.Do(ExecRequest(ep, run->sandbox, false));
        double ms = MsSince(t0);
        if (auto st = CheckExec(r); !st) {
          direct.note = st.error().message;
          break;
        }
        if (i >= 5) direct.ms.push_back(ms);
      }
    }
    for (int i = 0; i < std::max(10, runs / 10); ++i) {
      auto t0 = SteadyClock::now();
      auto c = asb::http::Client::Connect(ep.router_host, ep.router_port);
      if (!c) break;
      auto r = c->Do(ExecRequest(ep, run->sandbox, true));
      double ms = MsSince(t0);
      if (auto st = CheckExec(r); !st) {
        fresh.note = st.error().message;
        break;
      }
      fresh.ms.push_back(ms);
    }
  }
  (void)api->Delete(V1alpha1(asb::api::SandboxClaimResource()), kNs, name);
  (void)WaitGone(*api, V1alpha1(asb::api::SandboxClaimResource()), name, 60s);
  AddRow(std::move(routed));
  AddRow(std::move(direct));
  AddRow(std::move(fresh));
}

// 5: T threads loop claim -> Ready -> exec -> delete for `seconds`, pool refilling behind.
void PhaseSustained(const Endpoints& ep, const std::string& rt, const std::string& tmpl,
                    const std::string& pool, int pool_size, int threads, int seconds) {
  auto api = NewApi(ep);
  if (!WaitPoolFull(*api, pool, pool_size, 180s)) {
    AddRow({"5 sustained claim->exec", rt, {}, "", "pool not full Ready after 180 s"});
    return;
  }
  Progress("  sustained %s: %d threads for %d s, pool %d", rt.c_str(), threads, seconds, pool_size);
  std::mutex mu;
  std::vector<double> lat, ready_lat;
  std::vector<double> warm_lat, cold_lat, unknown_lat;
  std::atomic<int> errors{0};
  std::string first_error;
  auto start = SteadyClock::now();
  auto deadline = start + std::chrono::seconds(seconds);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      auto tapi = NewApi(ep);
      std::optional<asb::http::Client> router;
      for (int i = 0; i < 100000 && SteadyClock::now() < deadline; ++i) {
        if (!router) {
          auto c = asb::http::Client::Connect(ep.router_host, ep.router_port);
          if (c) router.emplace(std::move(*c));
        }
        std::string name = "bench-sus-" + rt + "-" + std::to_string(t) + "-" + std::to_string(i);
        auto run = RunClaim(ep, *tapi, name, tmpl, true, router ? &*router : nullptr, 60s);
        // Launch type of the served sandbox (untimed): adopted pool members keep "warm", a
        // claim's own cold start says "cold".
        std::string lt;
        if (run)
          if (auto sb = tapi->Get(V1alpha1(asb::api::SandboxResource()), kNs, run->sandbox); sb)
            lt = MetaString(*sb, "labels", "agents.x-k8s.io/launch-type");
        (void)tapi->Delete(V1alpha1(asb::api::SandboxClaimResource()), kNs, name);
        std::lock_guard<std::mutex> l(mu);
        if (run) {
          lat.push_back(run->exec_ms);
          ready_lat.push_back(run->ready_ms);
          (lt == "warm"   ? warm_lat
           : lt == "cold" ? cold_lat
                          : unknown_lat)
              .push_back(run->ready_ms);
        } else {
          if (errors++ == 0) first_error = run.error().message;
          router.reset();  // a failed exec may leave the connection unusable
          if (errors > 20) return;
        }
      }
    });
  }
  int last = 0;
  while (SteadyClock::now() < deadline + 65s) {
    std::this_thread::sleep_for(1s);
    size_t done;
    {
      std::lock_guard<std::mutex> l(mu);
      done = lat.size();
    }
    if (static_cast<int>(MsSince(start) / 5000) != last) {
      last = static_cast<int>(MsSince(start) / 5000);
      Progress("  sustained %s: %zu claims done, %.0f s", rt.c_str(), done, MsSince(start) / 1e3);
    }
    if (SteadyClock::now() >= deadline) break;
  }
  for (auto& t : ts) t.join();
  double secs = MsSince(start) / 1e3;
  char note[256];
  std::snprintf(note, sizeof note,
                "%.1f claims/s, %d threads, warm %d cold %d unknown %d, errors %d%s%s",
                static_cast<double>(lat.size()) / secs, threads, static_cast<int>(warm_lat.size()),
                static_cast<int>(cold_lat.size()), static_cast<int>(unknown_lat.size()),
                errors.load(), errors ? ": " : "", first_error.substr(0, 60).c_str());
  AddRow({"5 sustained claim->exec (create->output)", rt, lat, "", note});
  AddRow({"5a   of which claim -> Ready", rt, ready_lat, "", ""});
  AddRow({"5b   claim -> Ready, served warm", rt, warm_lat, "", ""});
  AddRow({"5c   claim -> Ready, served cold", rt, cold_lat, "", ""});
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
#ifdef ASB_SOURCE_DIR
  o.seed = std::string(ASB_SOURCE_DIR) + "/examples/seed/sandbox-template-and-pool.yaml";
#endif
  bool verbose = false;
  bool scale_set = false, sustain_set = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "e2e_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    auto number = [&](double lo) {
      std::string v = next();
      char* end = nullptr;
      double d = std::strtod(v.c_str(), &end);
      if (v.empty() || *end || !(d >= lo)) {
        std::fprintf(stderr, "e2e_bench: %s: bad value \"%s\" (want a number >= %g)\n", a.c_str(),
                     v.c_str(), lo);
        std::exit(2);
      }
      return d;
    };
    if (a == "--runtime") {
      std::string r = next();
      if (r == "all")
        o.runtimes = {"native", "gvisor"};
      else if (r == "native" || r == "gvisor")
        o.runtimes = {r};
      else {
        std::fprintf(stderr, "e2e_bench: --runtime: want native, gvisor or all, got \"%s\"\n",
                     r.c_str());
        return 2;
      }
    } else if (a == "--samples") {
      o.scale = number(0.01);
      scale_set = true;
    } else if (a == "--sustain-seconds") {
      o.sustain_seconds = static_cast<int>(number(0));
      sustain_set = true;
    } else if (a == "--sustain-threads") {
      o.sustain_threads = static_cast<int>(number(1));
    } else if (a == "--exec-runs") {
      o.exec_runs = static_cast<int>(number(10));
    } else if (a == "--quick") {
      o.quick = true;
    } else if (a == "--seed") {
      o.seed = next();
    } else if (a == "--pod-network") {
      o.pod_network = next();
      if (o.pod_network != "bridge" && o.pod_network != "none") {
        std::fprintf(stderr, "e2e_bench: --pod-network: want bridge or none\n");
        return 2;
      }
    } else if (a == "--daemon-gvisor") {
      o.daemon_gvisor = next();
      if (o.daemon_gvisor != "auto" && o.daemon_gvisor != "on" && o.daemon_gvisor != "off") {
        std::fprintf(stderr, "e2e_bench: --daemon-gvisor: want auto, on or off\n");
        return 2;
      }
    } else if (a == "--refill-after-claim-ms") {
      o.refill_after_claim_ms = static_cast<int64_t>(number(0));
    } else if (a == "--trace") {
      g_trace = true;
    } else if (a == "--verbose") {
      verbose = true;
    } else {
      std::fprintf(
          stderr,
          "usage: e2e_bench [--runtime native|gvisor|all] [--samples SCALE] "
          "[--sustain-seconds S] [--sustain-threads T] [--exec-runs N] [--quick] "
          "[--seed FILE] [--daemon-gvisor auto|off] [--pod-network bridge|none] [--verbose] "
          "[--refill-after-claim-ms N] [--trace]\n");
      return 2;
    }
  }
  if (o.quick) {
    if (!scale_set) o.scale = 0.2;
    if (!sustain_set) o.sustain_seconds = 5;
    o.exec_runs = std::min(o.exec_runs, 50);
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "e2e_bench: needs root (sandboxes use namespaces and cgroups)\n");
    return 1;
  }
  asb::log::SetLevel(verbose ? asb::log::Level::kInfo : asb::log::Level::kWarn);
  signal(SIGPIPE, SIG_IGN);

  // The seed template: gVisor as is; native = a copy with runtimeClassName "native".
  auto seed_text = asb::ReadFile(o.seed);
  if (!seed_text) {
    std::fprintf(stderr, "e2e_bench: read seed %s: %s (pass --seed FILE)\n", o.seed.c_str(),
                 seed_text.error().message.c_str());
    return 1;
  }
  auto docs = asb::ParseYamlDocuments(*seed_text);
  if (!docs) {
    std::fprintf(stderr, "e2e_bench: parse %s: %s\n", o.seed.c_str(), docs.error().message.c_str());
    return 1;
  }
  Json seed_template;
  for (const Json& d : *docs)
    if (d.is_object() && d.value("kind", "") == "SandboxTemplate") seed_template = d;
  if (!asb::Find(seed_template, "spec.podTemplate")) {
    std::fprintf(stderr, "e2e_bench: %s has no SandboxTemplate with spec.podTemplate\n",
                 o.seed.c_str());
    return 1;
  }

  char tmpl_dir[] = "/tmp/asb-e2e-bench-XXXXXX";
  if (!mkdtemp(tmpl_dir)) {
    std::perror("e2e_bench: mkdtemp");
    return 1;
  }
  std::string dir = tmpl_dir;
  bool have_runsc = asb::sys::RunCommand({"runsc", "--version"}, 10s).has_value();

  std::printf("e2e_bench: runtimes=%s scale=%.2f sustain=%ds threads=%d exec-runs=%d%s\n",
              asb::Join(o.runtimes, ",").c_str(), o.scale, o.sustain_seconds, o.sustain_threads,
              o.exec_runs, o.quick ? " (quick)" : "");
  std::fflush(stdout);
  BaselineForkExec(o.quick ? 50 : 200);
  if (have_runsc)
    BaselineRunscDo(dir, o.quick ? 3 : 10, "ptrace");
  else
    AddRow({"runsc --network=none do true", "gvisor", {}, "", "runsc not found"});

  asb::asbd::DaemonConfig cfg;
  cfg.state_dir = dir + "/state";
  cfg.api_listen = "127.0.0.1:0";
  cfg.router_listen = "127.0.0.1:0";
  cfg.gvisor = o.daemon_gvisor;
  cfg.pod_network = o.pod_network;
  cfg.refill_after_claim_ms = o.refill_after_claim_ms;
  Progress("starting asbd in %s", cfg.state_dir.c_str());
  auto daemon = asb::asbd::Daemon::Start(cfg);
  if (!daemon) {
    std::fprintf(stderr, "e2e_bench: asbd start: %s\n", daemon.error().message.c_str());
    (void)asb::RemoveTree(dir);
    return 1;
  }
  Endpoints ep;
  {
    auto kc = asb::client::LoadKubeconfig((*daemon)->kubeconfig_path());
    auto api_addr =
        kc ? asb::client::ParseHttpUrl(kc->server)
           : asb::Result<asb::client::HostPort>(asb::MakeError(asb::Code::kInternal, "kubeconfig"));
    auto router_addr = asb::client::ParseHttpUrl((*daemon)->router_url());
    if (!kc || !api_addr || !router_addr) {
      std::fprintf(stderr, "e2e_bench: kubeconfig/urls unusable\n");
      return 1;
    }
    ep.kubeconfig = *kc;
    ep.api_host = api_addr->host;
    ep.api_port = api_addr->port;
    ep.router_host = router_addr->host;
    ep.router_port = router_addr->port;
    ep.token = kc->token;
  }
  Progress("api %s router %s", (*daemon)->api_url().c_str(), (*daemon)->router_url().c_str());
  auto api = NewApi(ep);

  for (const std::string& rt : o.runtimes) {
    if (rt == "gvisor" && !have_runsc) {
      AddRow({"(all phases)", rt, {}, "", "skipped: runsc not found"});
      continue;
    }
    bool gv = rt == "gvisor";
    Json tmpl = seed_template;
    std::string tmpl_name = "bench-" + rt;
    tmpl["metadata"] = {{"name", tmpl_name}, {"namespace", kNs}};
    if (!gv) tmpl["spec"]["podTemplate"]["spec"]["runtimeClassName"] = "native";
    if (auto c = api->Create(V1alpha1(asb::api::SandboxTemplateResource()), kNs, tmpl); !c) {
      std::fprintf(stderr, "e2e_bench: create template: %s\n", c.error().message.c_str());
      break;
    }
    const Json& pod_template = tmpl["spec"]["podTemplate"];

    int cold_n = Scaled(o, gv ? 10 : 20);
    Progress("[%s] 1 cold start x%d", rt.c_str(), cold_n);
    PhaseColdStart(ep, rt, pod_template, cold_n, gv ? 60s : 30s);

    std::string pool = "bench-pool-" + rt;
    Json pool_obj = {
        {"apiVersion", "extensions.agents.x-k8s.io/v1alpha1"},
        {"kind", "SandboxWarmPool"},
        {"metadata", {{"name", pool}, {"namespace", kNs}}},
        {"spec", {{"replicas", o.pool_size}, {"sandboxTemplateRef", {{"name", tmpl_name}}}}}};
    if (auto c = api->Create(V1alpha1(asb::api::SandboxWarmPoolResource()), kNs, pool_obj); !c) {
      std::fprintf(stderr, "e2e_bench: create pool: %s\n", c.error().message.c_str());
      break;
    }
    auto tp = SteadyClock::now();
    if (WaitPoolFull(*api, pool, o.pool_size, 180s))
      Progress("[%s] pool of %d Ready in %.0f ms", rt.c_str(), o.pool_size, MsSince(tp));

    int warm_n = Scaled(o, gv ? 15 : 30);
    Progress("[%s] 2 warm claim -> Ready x%d", rt.c_str(), warm_n);
    PhaseWarmClaims(ep, rt, tmpl_name, pool, o.pool_size, warm_n, false);
    Progress("[%s] 3 claim -> first exec x%d", rt.c_str(), warm_n);
    PhaseWarmClaims(ep, rt, tmpl_name, pool, o.pool_size, warm_n, true);
    Progress("[%s] 4 exec round trips x%d", rt.c_str(), o.exec_runs);
    PhaseExecRtt(ep, **daemon, rt, tmpl_name, pool, o.pool_size, o.exec_runs);

    if (o.sustain_seconds > 0) {
      (void)api->Patch(V1alpha1(asb::api::SandboxWarmPoolResource()), kNs, pool,
                       Json{{"spec", {{"replicas", o.sustain_pool}}}});
      PhaseSustained(ep, rt, tmpl_name, pool, o.sustain_pool, o.sustain_threads, o.sustain_seconds);
    }

    // Tear down this runtime's objects and wait until every pod is gone.
    Progress("[%s] cleaning up", rt.c_str());
    (void)api->Delete(V1alpha1(asb::api::SandboxWarmPoolResource()), kNs, pool);
    if (auto claims = api->List(V1alpha1(asb::api::SandboxClaimResource()), kNs); claims)
      for (const Json& c : (*claims)["items"])
        (void)api->Delete(V1alpha1(asb::api::SandboxClaimResource()), kNs,
                          asb::GetString(c, "metadata.name"));
    bool clean = PollUntil(
        [&] {
          auto pods = api->List(asb::api::PodResource(), kNs);
          return pods && (*pods)["items"].empty();
        },
        120s, 50ms);
    if (!clean) Progress("[%s] WARNING: pods still present after 120 s", rt.c_str());
    (void)api->Delete(V1alpha1(asb::api::SandboxTemplateResource()), kNs, tmpl_name);
  }

  // Anything left (a phase broke off): delete sandboxes, wait for pods to go, then stop.
  if (auto sbs = api->List(V1alpha1(asb::api::SandboxResource()), kNs); sbs)
    for (const Json& s : (*sbs)["items"])
      (void)api->Delete(V1alpha1(asb::api::SandboxResource()), kNs,
                        asb::GetString(s, "metadata.name"));
  bool clean = PollUntil(
      [&] {
        auto pods = api->List(asb::api::PodResource(), kNs);
        return pods && (*pods)["items"].empty();
      },
      60s, 50ms);
  api.reset();
  (*daemon)->Stop();
  daemon->reset();
  if (clean)
    (void)asb::RemoveTree(dir);
  else
    std::fprintf(stderr, "e2e_bench: pods left behind; state kept in %s\n", dir.c_str());

  PrintTable();
  std::printf(
      "\nn = samples; p99 of fewer than 100 samples is the max of them. Goals: warm claim "
      "p50<=5 p99<=20 ms; claim->exec p50<=10 ms (native); router RTT p50<=2 ms "
      "(native); cold start p50<=30 ms native, <=300 ms gVisor.\n");
  return 0;
}
