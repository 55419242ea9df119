#include "apiserver/stream_clients.h"

#include <gtest/gtest.h>

namespace asb::apiserver::internal {
namespace {

TEST(StreamClientsTest, KubectlBefore134DropsEarlyFrames) {
  EXPECT_TRUE(DropsEarlyExecFrames("kubectl/v1.32.4 (linux/amd64) kubernetes/59526cd"));
  EXPECT_TRUE(DropsEarlyExecFrames("kubectl/v1.32.4-dispatcher (linux/amd64) kubernetes/a1b2"));
  EXPECT_TRUE(DropsEarlyExecFrames("kubectl/v1.33.0 (darwin/arm64) kubernetes/60a317e"));
  EXPECT_FALSE(DropsEarlyExecFrames("kubectl/v1.34.1 (linux/amd64) kubernetes/93248f9"));
  EXPECT_FALSE(DropsEarlyExecFrames("kubectl/v1.36.0 (linux/amd64) kubernetes/0000000"));
  EXPECT_FALSE(DropsEarlyExecFrames("kubectl/v2.0.0 (linux/amd64) kubernetes/0000000"));
}

TEST(StreamClientsTest, ClientGoLibraryBuildsCountAsOld) {
  EXPECT_TRUE(DropsEarlyExecFrames("my-operator/v0.0.0 (linux/amd64) kubernetes/$Format"));
  EXPECT_TRUE(DropsEarlyExecFrames("tool/unknown (linux/amd64) kubernetes/abc"));
}

TEST(StreamClientsTest, OtherClientsAreNotHeld) {
  EXPECT_FALSE(DropsEarlyExecFrames(""));
  EXPECT_FALSE(DropsEarlyExecFrames("OpenAPI-Generator/31.0.0/python"));
  EXPECT_FALSE(DropsEarlyExecFrames("Python/3.11 websocket-client/1.8"));
  EXPECT_FALSE(DropsEarlyExecFrames("curl/7.88.1"));
  EXPECT_FALSE(DropsEarlyExecFrames("kubectl/v1.32.4"));  // not client-go's shape
}

}  // namespace
}  // namespace asb::apiserver::internal
