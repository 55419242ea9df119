#include "base/json_util.h"

#include <gtest/gtest.h>

namespace asb {
namespace {

TEST(JsonUtilTest, ParseJsonReportsPosition) {
  auto bad = ParseJson("{\"a\": ");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Code::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("invalid JSON"), std::string::npos);
}

TEST(JsonUtilTest, FindWalksDottedPaths) {
  Json j = {{"metadata", {{"name", "x"}}}};
  EXPECT_EQ(GetString(j, "metadata.name"), "x");
  EXPECT_EQ(Find(j, "metadata.namespace"), nullptr);
  EXPECT_EQ(GetString(j, "spec.x", "dflt"), "dflt");
}

}  // namespace
}  // namespace asb
