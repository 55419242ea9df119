// router_static_server: a RouterServer in front of fixed local addresses, for tests of clients
// against the real router (python/tests) and for development without asbd.
//
//   router_static_server --token T --route default/sb-1=127.0.0.1:9000 [--route ...]
//                        [--listen 127.0.0.1:0]
// Prints "listening http://127.0.0.1:PORT" on stdout once bound; runs until SIGTERM/SIGINT or
// until stdin closes (so a test harness that dies takes the router with it).
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "base/log.h"
#include "base/strings.h"
#include "router/router_server.h"
#include "router/static_backend.h"

namespace {

int Usage(const char* why) {
  std::fprintf(stderr,
               "router_static_server: %s\nusage: router_static_server [--listen HOST:PORT] "
               "[--token TOKEN] --route NS/ID=HOST:PORT ...\n",
               why);
  return 2;
}

bool SplitHostPort(const std::string& s, std::string* host, uint16_t* port) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  auto p = asb::ParseInt(s.substr(colon + 1));
  if (!p || *p < 0 || *p > 65535) return false;
  *host = s.substr(0, colon);
  *port = static_cast<uint16_t>(*p);
  return !host->empty();
}

}  // namespace

int main(int argc, char** argv) {
  asb::router::RouterOptions opts;
  asb::router::StaticBackend backend;
  int routes = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return Usage(("missing value for " + arg).c_str());
    std::string value = argv[++i];
    if (arg == "--listen") {
      if (!SplitHostPort(value, &opts.host, &opts.port)) return Usage("bad --listen");
    } else if (arg == "--token") {
      opts.token = value;
    } else if (arg == "--route") {
      size_t slash = value.find('/');
      size_t eq = value.find('=');
      asb::router::StaticBackend::Entry e;
      uint16_t port = 0;
      if (slash == std::string::npos || eq == std::string::npos || eq < slash ||
          !SplitHostPort(value.substr(eq + 1), &e.host, &port))
        return Usage(("bad --route " + value + " (want NS/ID=HOST:PORT)").c_str());
      e.port_override = port;
      backend.Set(value.substr(0, slash), value.substr(slash + 1, eq - slash - 1), e);
      ++routes;
    } else {
      return Usage(("unknown flag " + arg).c_str());
    }
  }
  if (routes == 0) return Usage("no --route given");
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // threads inherit the mask; main polls signalfd-free

  auto server = asb::router::RouterServer::Start(opts, backend);
  if (!server) {
    std::fprintf(stderr, "router_static_server: %s\n", server.error().message.c_str());
    return 1;
  }
  std::printf("listening %s\n", (*server)->url().c_str());
  std::fflush(stdout);
  // Wait for a signal or for stdin to close.
  for (;;) {
    timespec ts{0, 100 * 1000 * 1000};
    siginfo_t info;
    if (sigtimedwait(&set, &info, &ts) > 0) break;
    pollfd p{0, POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) {
      char c;
      if (::read(0, &c, 1) <= 0) break;
    }
  }
  (*server)->Stop();
  return 0;
}
