// sbx_probe: a static multi-call helper that runs *inside* sandboxes and reports what it can
// see and do as one JSON line on stdout (crun's tests/init.c, Sandbox2's testcases/). Plain C
// and libc only, so it runs in any root filesystem.
//
//   sbx_probe check-isolation [--exists PATH]... [--write PATH]...
//   sbx_probe connect HOST PORT       {"errno":0} when a TCP connect succeeds (exit 0), else 1
//   sbx_probe alloc-mb N              touches N MiB, prints {"allocated_mb":N}
//   sbx_probe fork-bomb N             forks up to N sleeping children, prints how far it got
//   sbx_probe fill-disk PATH MB       writes up to MB MiB into PATH, prints how far it got
//   sbx_probe spew MB                 writes MB MiB of 'x' lines to stdout
//   sbx_probe sleep                   waits until SIGTERM (exit 0)
//   sbx_probe serve PORT              HTTP/1.1 server on 127.0.0.1:PORT answering "ok"
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string StatusField(const char* key) {
  FILE* f = fopen("/proc/self/status", "r");
  if (f == nullptr) return "";
  char line[512];
  std::string out;
  size_t n = strlen(key);
  while (fgets(line, sizeof(line), f)) {
    if (strncmp(line, key, n) == 0 && line[n] == ':') {
      char* v = line + n + 1;
      while (*v == ' ' || *v == '\t') ++v;
      v[strcspn(v, "\n")] = 0;
      out = v;
      break;
    }
  }
  fclose(f);
  return out;
}

int CheckIsolation(int argc, char** argv) {
  std::string j = "{";
  j += "\"pid\":" + std::to_string(getpid());
  j += ",\"uid\":" + std::to_string(getuid()) + ",\"gid\":" + std::to_string(getgid());
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  j += ",\"hostname\":" + Quote(host);
  j += ",\"interfaces\":[";
  if (struct if_nameindex* ifs = if_nameindex()) {
    for (struct if_nameindex* i = ifs; i->if_index != 0; ++i) {
      if (i != ifs) j += ",";
      j += Quote(i->if_name);
    }
    if_freenameindex(ifs);
  }
  j += "]";
  int procs = 0;
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) procs += (e->d_name[0] >= '0' && e->d_name[0] <= '9');
    closedir(d);
  }
  j += ",\"visible_pids\":" + std::to_string(procs);
  int fd = open("/.sbx_probe_write", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  j += ",\"root_writable\":" + std::string(fd >= 0 ? "true" : "false");
  if (fd >= 0) {
    close(fd);
    unlink("/.sbx_probe_write");
  }
  mkdir("/tmp/.sbx_probe_mnt", 0755);
  int rc = mount("none", "/tmp/.sbx_probe_mnt", "tmpfs", 0, nullptr);
  j += ",\"mount_errno\":" + std::to_string(rc == 0 ? 0 : errno);
  if (rc == 0) umount("/tmp/.sbx_probe_mnt");
  rmdir("/tmp/.sbx_probe_mnt");
  rc = static_cast<int>(ptrace(PTRACE_TRACEME, 0, nullptr, nullptr));
  j += ",\"ptrace_errno\":" + std::to_string(rc == 0 ? 0 : errno);
  rc = unshare(CLONE_NEWUSER);
  j += ",\"unshare_user_errno\":" + std::to_string(rc == 0 ? 0 : errno);
  for (const char* k :
       {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "Seccomp", "NoNewPrivs"}) {
    j += std::string(",\"") + k + "\":" + Quote(StatusField(k));
  }
  j += ",\"fds\":[";
  bool first = true;
  if (DIR* d = opendir("/proc/self/fd")) {
    int self = dirfd(d);
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.' || atoi(e->d_name) == self) continue;
      j += (first ? "" : ",") + std::string(e->d_name);
      first = false;
    }
    closedir(d);
  }
  j += "],\"exists\":{";
  std::string writes = "";
  bool first_exists = true;
  for (int i = 0; i + 1 < argc; i += 2) {
    std::string flag = argv[i], path = argv[i + 1];
    if (flag == "--exists") {
      struct stat st;
      j += (first_exists ? "" : ",") + Quote(path) + ":" +
           (lstat(path.c_str(), &st) == 0 ? "true" : "false");
      first_exists = false;
    } else if (flag == "--write") {
      std::string file = path + "/.sbx_probe_write";
      int w = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = w >= 0 ? 0 : errno;
      if (w >= 0) {
        close(w);
        unlink(file.c_str());
      }
      writes += (writes.empty() ? "" : ",") + Quote(path) + ":" + std::to_string(e);
    }
  }
  j += "},\"write_errno\":{" + writes + "}}";
  printf("%s\n", j.c_str());
  return 0;
}

int Connect(const char* host, const char* port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(atoi(port)));
  inet_pton(AF_INET, host, &a.sin_addr);
  int rc = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  int e = rc == 0 ? 0 : errno;
  printf("{\"errno\":%d}\n", e);
  return rc == 0 ? 0 : 1;
}

int AllocMb(long mb) {
  for (long i = 0; i < mb; ++i) {
    char* p = static_cast<char*>(malloc(1 << 20));
    if (p == nullptr) {
      printf("{\"allocated_mb\":%ld,\"errno\":%d}\n", i, errno);
      return 1;
    }
    for (int k = 0; k < (1 << 20); k += 4096) p[k] = 1;
  }
  printf("{\"allocated_mb\":%ld}\n", mb);
  return 0;
}

int ForkBomb(long n) {
  std::vector<pid_t> kids;
  int err = 0;
  for (long i = 0; i < n; ++i) {
    pid_t p = fork();
    if (p == 0) {
      pause();
      _exit(0);
    }
    if (p < 0) {
      err = errno;
      break;
    }
    kids.push_back(p);
  }
  printf("{\"forked\":%zu,\"errno\":%d}\n", kids.size(), err);
  fflush(stdout);
  for (pid_t p : kids) kill(p, SIGKILL);
  for (pid_t p : kids) waitpid(p, nullptr, 0);
  return 0;
}

int FillDisk(const char* path, long mb) {
  std::string file = std::string(path) + "/sbx_probe_fill";
  int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    printf("{\"written_mb\":0,\"errno\":%d}\n", errno);
    return 1;
  }
  std::vector<char> buf(1 << 20, 'x');
  long done = 0;
  int err = 0;
  for (; done < mb; ++done) {
    size_t off = 0;
    while (off < buf.size()) {
      ssize_t w = write(fd, buf.data() + off, buf.size() - off);
      if (w < 0) {
        err = errno;
        break;
      }
      off += static_cast<size_t>(w);
    }
    if (err != 0) break;
  }
  close(fd);
  unlink(file.c_str());
  printf("{\"written_mb\":%ld,\"errno\":%d}\n", done, err);
  return err == 0 ? 0 : 1;
}

int Spew(long mb) {
  std::string line(1023, 'x');
  line += '\n';
  for (long i = 0; i < mb * 1024; ++i) {
    if (fwrite(line.data(), 1, line.size(), stdout) != line.size()) return 1;
  }
  return 0;
}

// Copies a file to stdout (mountinfo, meminfo: what the sandbox sees of the host).
int Cat(const char* path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    fprintf(stderr, "sbx_probe cat %s: %s\n", path, strerror(errno));
    return 1;
  }
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) fwrite(buf, 1, static_cast<size_t>(n), stdout);
  close(fd);
  fflush(stdout);
  return 0;
}

// `threads` threads spinning for `seconds` (CPU limit tests).
int Spin(long threads, long seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::vector<std::thread> ts;
  for (long i = 0; i < threads; ++i) {
    ts.emplace_back([until] {
      volatile uint64_t x = 0;
      while (std::chrono::steady_clock::now() < until) {
        for (int k = 0; k < 100000; ++k) x = x + 1;
      }
    });
  }
  for (auto& t : ts) t.join();
  printf("{\"spun\":%ld}\n", threads);
  return 0;
}

volatile sig_atomic_t g_stop = 0;
void OnTerm(int) { g_stop = 1; }

int Sleep() {
  struct sigaction sa {};
  sa.sa_handler = OnTerm;
  sigaction(SIGTERM, &sa, nullptr);
  while (!g_stop) pause();
  return 0;
}

int Serve(const char* port) {
  struct sigaction sa {};
  sa.sa_handler = OnTerm;
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(atoi(port)));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(s, 128) != 0) {
    fprintf(stderr, "sbx_probe serve: bind/listen: %s\n", strerror(errno));
    return 1;
  }
  while (!g_stop) {
    int c = accept(s, nullptr, nullptr);
    if (c < 0) continue;
    // One request per connection is enough for tests and the dial benchmark.
    char buf[4096];
    std::string req;
    while (req.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = read(c, buf, sizeof(buf));
      if (n <= 0) break;
      req.append(buf, static_cast<size_t>(n));
    }
    const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
    if (write(c, resp, sizeof(resp) - 1) < 0) {
    }
    close(c);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "check-isolation") return CheckIsolation(argc - 2, argv + 2);
  if (cmd == "connect" && argc == 4) return Connect(argv[2], argv[3]);
  if (cmd == "alloc-mb" && argc == 3) return AllocMb(atol(argv[2]));
  if (cmd == "fork-bomb" && argc == 3) return ForkBomb(atol(argv[2]));
  if (cmd == "fill-disk" && argc == 4) return FillDisk(argv[2], atol(argv[3]));
  if (cmd == "spew" && argc == 3) return Spew(atol(argv[2]));
  if (cmd == "sleep") return Sleep();
  if (cmd == "cat" && argc == 3) return Cat(argv[2]);
  if (cmd == "spin" && argc == 4) return Spin(atol(argv[2]), atol(argv[3]));
  if (cmd == "serve" && argc == 3) return Serve(argv[2]);
  fprintf(stderr,
          "usage: sbx_probe check-isolation [--exists P] [--write P] | connect HOST PORT |\n"
          "       alloc-mb N | fork-bomb N | fill-disk PATH MB | spew MB | sleep | serve PORT |\n"
          "       cat PATH | spin THREADS SECONDS\n");
  return 2;
}
