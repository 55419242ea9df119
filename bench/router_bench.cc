// Router overhead: the same small "exec-like" request (POST JSON, small JSON answer) sent to an
// upstream directly and through a RouterServer, over kept-alive connections on loopback. Prints
// p50/p90/p99 latency of both and the difference, plus bulk download throughput.
//
//   build-*/bin/router_bench [requests=5000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/log.h"
#include "http/client.h"
#include "http/server.h"
#include "router/router_server.h"
#include "router/static_backend.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Stats {
  double p50, p90, p99, mean;
};

Stats Summarize(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  double sum = 0;
  for (double v : us) sum += v;
  auto at = [&](double q) { return us[static_cast<size_t>(q * (us.size() - 1))]; };
  return {at(0.50), at(0.90), at(0.99), sum / us.size()};
}

asb::http::Request ExecRequest(bool via_router) {
  asb::http::Request r;
  r.method = "POST";
  r.target = "/execute";
  r.body = R"({"command":"echo 'Hello from the sandboxed environment!'"})";
  r.headers.Set("Content-Type", "application/json");
  if (via_router) {
    r.headers.Set("Authorization", "Bearer bench-token");
    r.headers.Set("X-Sandbox-ID", "bench");
  }
  return r;
}

std::vector<double> Run(uint16_t port, bool via_router, int n) {
  auto client = asb::http::Client::Connect("127.0.0.1", port);
  if (!client) {
    std::fprintf(stderr, "connect: %s\n", client.error().message.c_str());
    std::exit(1);
  }
  asb::http::Request req = ExecRequest(via_router);
  std::vector<double> us;
  us.reserve(n);
  for (int i = 0; i < n + n / 10; ++i) {  // the first 10% warm up and are dropped
    auto t0 = Clock::now();
    auto resp = client->Do(req);
    auto t1 = Clock::now();
    if (!resp || resp->status != 200) {
      std::fprintf(stderr, "request failed: %s\n",
                   resp ? std::to_string(resp->status).c_str() : resp.error().message.c_str());
      std::exit(1);
    }
    if (i >= n / 10) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  return us;
}

double DownloadMiBps(uint16_t port, bool via_router, int rounds) {
  auto client = asb::http::Client::Connect("127.0.0.1", port);
  if (!client) std::exit(1);
  asb::http::Request req;
  req.method = "GET";
  req.target = "/blob";
  if (via_router) {
    req.headers.Set("Authorization", "Bearer bench-token");
    req.headers.Set("X-Sandbox-ID", "bench");
  }
  size_t bytes = 0;
  auto t0 = Clock::now();
  for (int i = 0; i < rounds; ++i) {
    auto resp = client->Do(req);
    if (!resp || resp->status != 200) std::exit(1);
    bytes += resp->body.size();
  }
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  return bytes / (1024.0 * 1024.0) / s;
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 5000;
  if (n < 100) n = 100;
  asb::log::SetLevel(asb::log::Level::kWarn);
  const std::string blob(4 * 1024 * 1024, 'x');
  auto upstream = asb::http::Server::Start({}, [&](asb::http::Request& req) {
    if (req.path == "/blob") return asb::http::Response::Text(200, blob);
    return asb::http::Response::Json(
        200,
        {{"stdout", "Hello from the sandboxed environment!\n"}, {"stderr", ""}, {"exit_code", 0}});
  });
  if (!upstream) return 1;
  asb::router::StaticBackend backend;
  backend.Set("default", "bench", {.port_override = (*upstream)->port()});
  asb::router::RouterOptions opts;
  opts.token = "bench-token";
  opts.access_log = false;
  auto router = asb::router::RouterServer::Start(opts, backend);
  if (!router) return 1;

  Stats direct = Summarize(Run((*upstream)->port(), false, n));
  Stats routed = Summarize(Run((*router)->port(), true, n));
  std::printf("router_bench: %d kept-alive POST /execute-like requests each (loopback)\n", n);
  std::printf("%-14s %9s %9s %9s %9s\n", "path", "p50_us", "p90_us", "p99_us", "mean_us");
  std::printf("%-14s %9.1f %9.1f %9.1f %9.1f\n", "direct", direct.p50, direct.p90, direct.p99,
              direct.mean);
  std::printf("%-14s %9.1f %9.1f %9.1f %9.1f\n", "via router", routed.p50, routed.p90, routed.p99,
              routed.mean);
  std::printf("%-14s %9.1f %9.1f %9.1f %9.1f\n", "overhead", routed.p50 - direct.p50,
              routed.p90 - direct.p90, routed.p99 - direct.p99, routed.mean - direct.mean);
  double d_mibps = DownloadMiBps((*upstream)->port(), false, 25);
  double r_mibps = DownloadMiBps((*router)->port(), true, 25);
  std::printf("4 MiB downloads: direct %.0f MiB/s, via router %.0f MiB/s\n", d_mibps, r_mibps);
  return 0;
}
