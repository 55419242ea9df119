// The supervisor's argument split (the fork/exec/reap path runs in the e2e tests of exec into
// an image that is its own server, tests/e2e/test_oci_images.py, on both runtimes).
#include "agent/supervisor.h"

#include <gtest/gtest.h>

namespace asb::agent {
namespace {

TEST(SupervisorTest, TheFirstDoubleDashStartsTheWorkload) {
  std::vector<std::string> args = {"--port", "8888", "--", "sh", "-c", "x", "--", "y"};
  EXPECT_EQ(TakeWorkload(args), (std::vector<std::string>{"sh", "-c", "x", "--", "y"}));
  EXPECT_EQ(args, (std::vector<std::string>{"--port", "8888"}));
  std::vector<std::string> none = {"--port", "8888"};
  EXPECT_TRUE(TakeWorkload(none).empty());
  EXPECT_EQ(none.size(), 2u);
}

}  // namespace
}  // namespace asb::agent
