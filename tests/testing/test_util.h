// Shared helpers for unit and integration tests: status assertions, a temporary directory per
// test, polling with a deadline (no sleep-and-hope), loopback ports and root detection.
//
//   ASSERT_OK_AND_ASSIGN(auto fd, runtime.DialPort(id, 8888));
//   EXPECT_OK(store.Delete(key));
//   ASSERT_TRUE(WaitFor([&] { return done.load(); }, std::chrono::seconds(5)));
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "base/result.h"
#include "base/unique_fd.h"

namespace asb::testing {

// Human-readable form of an error for assertion messages: "NOT_FOUND: no such sandbox".
std::string Describe(const Error& e);

template <class T>
std::string DescribeResult(const Result<T>& r) {
  return r ? std::string("OK") : Describe(r.error());
}

// A fresh directory under $TMPDIR (default /tmp), removed recursively on destruction (without
// crossing mount points). Not thread-safe; one per test.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // path() + "/" + rel.
  std::string Sub(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// Polls pred every `interval` until it returns true (-> true) or `timeout` passes (-> false).
bool WaitFor(const std::function<bool()>& pred,
             std::chrono::milliseconds timeout = std::chrono::seconds(5),
             std::chrono::milliseconds interval = std::chrono::milliseconds(5));

// A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close). Prefer
// binding port 0 in the server itself; use this only when a port must be chosen up front.
uint16_t PickUnusedPort();

// A listening TCP socket on 127.0.0.1:0; *port receives the chosen port.
UniqueFd ListenLoopback(uint16_t* port);

bool IsRoot();

// Path of a binary built by this build tree: looks in <dir of this test>/../bin and next to the
// test binary itself. Returns "" when missing.
std::string BuiltBinary(const std::string& name);

// Writes `data` to `path` (creating or truncating it) with `mode`; aborts the test on failure.
void WriteFileOrDie(const std::string& path, const std::string& data, int mode = 0644);

}  // namespace asb::testing

#define ASB_TESTING_CONCAT_INNER_(a, b) a##b
#define ASB_TESTING_CONCAT_(a, b) ASB_TESTING_CONCAT_INNER_(a, b)

#define EXPECT_OK(expr)                                                     \
  do {                                                                      \
    auto asb_testing_r_ = (expr);                                           \
    EXPECT_TRUE(asb_testing_r_.has_value())                                 \
        << #expr << ": " << ::asb::testing::DescribeResult(asb_testing_r_); \
  } while (0)

#define ASSERT_OK(expr)                                                     \
  do {                                                                      \
    auto asb_testing_r_ = (expr);                                           \
    ASSERT_TRUE(asb_testing_r_.has_value())                                 \
        << #expr << ": " << ::asb::testing::DescribeResult(asb_testing_r_); \
  } while (0)

#define ASB_TESTING_ASSIGN_OR_FAIL_(tmp, lhs, expr)                                     \
  auto tmp = (expr);                                                                    \
  ASSERT_TRUE(tmp.has_value()) << #expr << ": " << ::asb::testing::DescribeResult(tmp); \
  lhs = std::move(*tmp)

// Evaluates a Result<T>; on error fails the test (ASSERT), else moves the value into lhs.
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASB_TESTING_ASSIGN_OR_FAIL_(ASB_TESTING_CONCAT_(asb_testing_tmp_, __LINE__), lhs, expr)

// Expects a Result/Status to fail with the given Code.
#define EXPECT_ERROR_CODE(expr, expected_code)                                  \
  do {                                                                          \
    auto asb_testing_r_ = (expr);                                               \
    EXPECT_FALSE(asb_testing_r_.has_value()) << #expr << " unexpectedly OK";    \
    if (!asb_testing_r_.has_value()) {                                          \
      EXPECT_EQ(asb_testing_r_.error().code, expected_code)                     \
          << #expr << ": " << ::asb::testing::Describe(asb_testing_r_.error()); \
    }                                                                           \
  } while (0)
