// Test-only helpers shared by the agent's unit tests.
#pragma once

#include <stdlib.h>

#include <chrono>
#include <string>
#include <thread>

#include "base/file_util.h"

namespace asb::agent::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "asb-agent") {
    const char* env = ::getenv("TMPDIR");
    std::string root = env && *env ? env : "/tmp";
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    std::string tmpl = root + "/" + prefix + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) ::abort();
    path_ = tmpl;
  }
  ~TempDir() { (void)RemoveTree(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Polls pred() every 10 ms until it holds or `timeout` passes; returns its last value.
template <class Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

}  // namespace asb::agent::testing
