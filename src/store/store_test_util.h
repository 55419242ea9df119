// Test helpers for store tests: a temp state dir and small object builders.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "base/file_util.h"
#include "base/json_util.h"

namespace asb::store::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/asb-store-test-XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    path_ = p ? p : "";
  }
  ~TempDir() { (void)RemoveTree(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline Json MakeObj(const std::string& ns, const std::string& name, Json labels = nullptr,
                    Json spec = Json::object()) {
  Json obj = {{"metadata", {{"name", name}}}, {"spec", std::move(spec)}};
  if (!ns.empty()) obj["metadata"]["namespace"] = ns;
  if (!labels.is_null()) obj["metadata"]["labels"] = std::move(labels);
  return obj;
}

inline Json OwnerRef(const Json& owner) {
  return {{"apiVersion", owner["apiVersion"]},
          {"kind", owner["kind"]},
          {"name", owner["metadata"]["name"]},
          {"uid", owner["metadata"]["uid"]},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

// Polls `pred` until true or the deadline passes.
inline bool WaitFor(const std::function<bool()>& pred,
                    std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return pred();
}

}  // namespace asb::store::testing
