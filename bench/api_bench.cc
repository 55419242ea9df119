// api_bench: latency and throughput of the API server over HTTP keep-alive.
//
//   api_bench                 in-process ApiServer over SqliteStore in a temp dir, port 0
//   api_bench --url http://127.0.0.1:6443 --token T   an already running asbd (plain HTTP)
//   api_bench -n 2000 -t 4    requests per phase, client threads for the parallel phase
//
// Phases: create (1 thread), create (T threads), get, update (merge patch), watch delivery
// (time from sending a create to the watcher reading its ADDED line). Prints one table.
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "apiserver/api_server.h"
#include "base/file_util.h"
#include "base/json_util.h"
#include "base/strings.h"
#include "client/kubeconfig.h"
#include "http/client.h"
#include "http/server.h"
#include "store/sqlite_store.h"

namespace {

using Clock = std::chrono::steady_clock;
using asb::Json;

struct Target {
  std::string host;
  uint16_t port = 0;
  std::string token;
};

constexpr char kPools[] =
    "/apis/extensions.agents.x-k8s.io/v1alpha1/namespaces/default/sandboxwarmpools";
constexpr char kTemplates[] =
    "/apis/extensions.agents.x-k8s.io/v1alpha1/namespaces/default/sandboxtemplates";

std::string PoolJson(const std::string& name) {
  return asb::DumpJson(Json{{"apiVersion", "extensions.agents.x-k8s.io/v1alpha1"},
                            {"kind", "SandboxWarmPool"},
                            {"metadata", {{"name", name}}},
                            {"spec", {{"replicas", 1}, {"sandboxTemplateRef", {{"name", "t"}}}}}});
}

std::string TemplateJson(const std::string& name) {
  Json container = {{"name", "c"}, {"image", "busybox"}};
  Json pod_spec = {{"containers", Json::array({container})}};
  Json obj = {{"apiVersion", "extensions.agents.x-k8s.io/v1alpha1"},
              {"kind", "SandboxTemplate"},
              {"metadata", {{"name", name}}}};
  obj["spec"]["podTemplate"]["spec"] = pod_spec;
  return asb::DumpJson(obj);
}

asb::http::Request Req(const Target& t, const std::string& method, const std::string& target,
                       const std::string& body = "", const std::string& type = "application/json") {
  asb::http::Request r;
  r.method = method;
  r.target = target;
  r.body = body;
  if (!body.empty()) r.headers.Set("Content-Type", type);
  if (!t.token.empty()) r.headers.Set("Authorization", "Bearer " + t.token);
  return r;
}

struct Stats {
  std::vector<double> us;
  double seconds = 0;
  size_t errors = 0;
};

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

void Print(const char* name, const Stats& s) {
  double rate = s.seconds > 0 ? static_cast<double>(s.us.size()) / s.seconds : 0;
  printf("%-28s %8zu %10.3f %10.3f %12.0f %8zu\n", name, s.us.size(), Pct(s.us, 0.5) / 1000,
         Pct(s.us, 0.99) / 1000, rate, s.errors);
}

// Runs `n` requests built by make(i) over `threads` keep-alive connections.
Stats Run(const Target& t, int n, int threads, int expect,
          const std::function<asb::http::Request(int)>& make) {
  Stats s;
  std::mutex mu;
  std::atomic<int> next{0};
  auto start = Clock::now();
  std::vector<std::thread> ts;
  for (int k = 0; k < threads; ++k) {
    ts.emplace_back([&] {
      auto c = asb::http::Client::Connect(t.host, t.port);
      if (!c) {
        std::lock_guard l(mu);
        s.errors += 1;
        return;
      }
      std::vector<double> local;
      size_t errors = 0;
      for (int i = next++; i < n; i = next++) {
        auto req = make(i);
        auto t0 = Clock::now();
        auto resp = c->Do(req);
        auto t1 = Clock::now();
        if (!resp || resp->status != expect) {
          ++errors;
          continue;
        }
        local.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      }
      std::lock_guard l(mu);
      s.us.insert(s.us.end(), local.begin(), local.end());
      s.errors += errors;
    });
  }
  for (auto& th : ts) th.join();
  s.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return s;
}

Stats WatchDelivery(const Target& t, int n) {
  Stats s;
  std::mutex mu;
  std::map<std::string, Clock::time_point> sent, received;
  std::atomic<bool> ready{false};
  auto wc = asb::http::Client::Connect(t.host, t.port);
  if (!wc) {
    s.errors = static_cast<size_t>(n);
    return s;
  }
  // Start from "now" so only new events arrive.
  auto c = asb::http::Client::Connect(t.host, t.port);
  if (!c) return s;
  auto list = c->Do(Req(t, "GET", kTemplates));
  std::string rv = "0";
  if (list && list->status == 200)
    if (auto j = asb::ParseJson(list->body)) rv = asb::GetString(*j, "metadata.resourceVersion");
  std::thread watcher([&] {
    std::string buf;
    ready = true;
    (void)wc->Stream(Req(t, "GET", std::string(kTemplates) + "?watch=1&resourceVersion=" + rv),
                     [&](std::string_view data) {
                       auto now = Clock::now();
                       buf.append(data);
                       size_t nl;
                       while ((nl = buf.find('\n')) != std::string::npos) {
                         std::string line = buf.substr(0, nl);
                         buf.erase(0, nl + 1);
                         auto ev = asb::ParseJson(line);
                         if (!ev) continue;
                         std::lock_guard l(mu);
                         received[asb::GetString(*ev, "object.metadata.name")] = now;
                         if (static_cast<int>(received.size()) >= n) return false;
                       }
                       return true;
                     });
  });
  while (!ready) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let the watch register
  std::string run = asb::RandomHex(3);
  auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    std::string name = "w" + run + "-" + std::to_string(i);
    auto t0 = Clock::now();
    {
      std::lock_guard l(mu);
      sent[name] = t0;
    }
    auto resp = c->Do(Req(t, "POST", kTemplates, TemplateJson(name)));
    if (!resp || resp->status != 201) ++s.errors;
  }
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    {
      std::lock_guard l(mu);
      if (static_cast<int>(received.size()) >= n) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  s.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ::shutdown(wc->native_handle(), SHUT_RDWR);
  watcher.join();
  std::lock_guard l(mu);
  for (const auto& [name, t0] : sent) {
    auto it = received.find(name);
    if (it == received.end()) {
      ++s.errors;
      continue;
    }
    s.us.push_back(std::chrono::duration<double, std::micro>(it->second - t0).count());
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  int n = 2000;
  int threads = 4;
  std::string url, token;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "-n")
      n = std::atoi(next().c_str());
    else if (a == "-t")
      threads = std::atoi(next().c_str());
    else if (a == "--url")
      url = next();
    else if (a == "--token")
      token = next();
    else {
      fprintf(stderr, "usage: api_bench [-n N] [-t THREADS] [--url http://H:P --token T]\n");
      return 2;
    }
  }
  if (n <= 0 || threads <= 0) {
    fprintf(stderr, "api_bench: -n and -t must be positive\n");
    return 2;
  }

  std::string dir;
  std::unique_ptr<asb::store::SqliteStore> store;
  std::unique_ptr<asb::apiserver::ApiServer> api;
  std::unique_ptr<asb::http::Server> server;
  Target t;
  if (url.empty()) {
    char tmpl[] = "/tmp/api_bench.XXXXXX";
    if (!mkdtemp(tmpl)) return 1;
    dir = tmpl;
    auto s = asb::store::SqliteStore::Open(dir);
    if (!s) {
      fprintf(stderr, "api_bench: %s\n", s.error().message.c_str());
      return 1;
    }
    store = std::move(*s);
    asb::apiserver::ApiServerOptions opts;
    opts.token = token = "bench-token";
    api = std::make_unique<asb::apiserver::ApiServer>(*store, opts);
    auto srv = asb::http::Server::Start({}, api->AsHandler());
    if (!srv) {
      fprintf(stderr, "api_bench: %s\n", srv.error().message.c_str());
      return 1;
    }
    server = std::move(*srv);
    t = {"127.0.0.1", server->port(), token};
    printf("in-process API server over SqliteStore in %s, port %u\n", dir.c_str(), t.port);
  } else {
    auto hp = asb::client::ParseHttpUrl(url);
    if (!hp) {
      fprintf(stderr, "api_bench: %s\n", hp.error().message.c_str());
      return 2;
    }
    t = {hp->host, hp->port, token};
    printf("API server at %s\n", url.c_str());
  }
  std::string run = asb::RandomHex(3);
  printf("%-28s %8s %10s %10s %12s %8s\n", "phase", "requests", "p50 ms", "p99 ms", "req/s",
         "errors");
  Print("create (1 thread)", Run(t, n, 1, 201, [&](int i) {
          return Req(t, "POST", kPools, PoolJson("a" + run + "-" + std::to_string(i)));
        }));
  char label[64];
  snprintf(label, sizeof(label), "create (%d threads)", threads);
  Print(label, Run(t, n, threads, 201, [&](int i) {
          return Req(t, "POST", kPools, PoolJson("b" + run + "-" + std::to_string(i)));
        }));
  Print("get", Run(t, n, 1, 200, [&](int i) {
          return Req(t, "GET", std::string(kPools) + "/a" + run + "-" + std::to_string(i));
        }));
  Print("update (merge patch)", Run(t, n, 1, 200, [&](int i) {
          return Req(t, "PATCH", std::string(kPools) + "/a" + run + "-" + std::to_string(i),
                     R"({"spec":{"replicas":3}})", "application/merge-patch+json");
        }));
  Print("watch delivery", WatchDelivery(t, std::min(n, 1000)));
  if (server) server->Stop();
  server.reset();
  api.reset();
  store.reset();
  if (!dir.empty()) (void)asb::RemoveTree(dir);
  return 0;
}
