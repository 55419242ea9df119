#include "tests/testing/test_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "base/file_util.h"

namespace asb::testing {

std::string Describe(const Error& e) { return std::string(CodeName(e.code)) + ": " + e.message; }

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/asb-test-XXXXXX";
  char* made = ::mkdtemp(tmpl.data());
  if (made == nullptr) {
    ADD_FAILURE() << "mkdtemp " << tmpl << " failed: errno " << errno;
    return;
  }
  path_ = made;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  Status s = RemoveTree(path_);
  if (!s) ADD_FAILURE() << "removing " << path_ << ": " << s.error().message;
}

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
             std::chrono::milliseconds interval) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

UniqueFd ListenLoopback(uint16_t* port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fd;
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd.get(), 64) != 0) {
    return UniqueFd();
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  if (port != nullptr) *port = ntohs(addr.sin_port);
  return fd;
}

uint16_t PickUnusedPort() {
  uint16_t port = 0;
  UniqueFd fd = ListenLoopback(&port);
  return fd ? port : 0;
}

bool IsRoot() { return ::geteuid() == 0; }

std::string BuiltBinary(const std::string& name) {
  std::string dir = SelfExeDir();
  for (const std::string& candidate :
       {dir + "/../bin/" + name, dir + "/" + name, dir + "/../tests/" + name}) {
    if (::access(candidate.c_str(), X_OK) == 0) {
      std::error_code ec;
      auto canon = std::filesystem::canonical(candidate, ec);
      return ec ? candidate : canon.string();
    }
  }
  return "";
}

void WriteFileOrDie(const std::string& path, const std::string& data, int mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  ASSERT_TRUE(fd.valid()) << "open " << path << ": errno " << errno;
  ASSERT_EQ(::write(fd.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ASSERT_EQ(::fchmod(fd.get(), static_cast<mode_t>(mode)), 0);
}

}  // namespace asb::testing
