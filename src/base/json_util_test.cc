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

// A 10^6-deep array used to be built whole (then its recursive dump overflowed the stack): the
// parse must stop at the limit with a clear error.
TEST(JsonUtilTest, ParseJsonStopsAtTheDepthLimit) {
  std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  auto bad = ParseJson(deep);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Code::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("nesting depth exceeds the limit of 100"), std::string::npos)
      << bad.error().message;

  std::string ok = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  auto parsed = ParseJson(ok);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(JsonDepth(*parsed), kMaxJsonDepth);
  EXPECT_FALSE(ParseJson("[" + ok + "]"));
  EXPECT_FALSE(ParseJson(R"({"a":)" + ok + "}"));
  EXPECT_TRUE(ParseJson(R"({"a":[1,{"b":"]]]]"}]})"));  // brackets in strings don't count
}

TEST(JsonUtilTest, DepthAndNodeCount) {
  EXPECT_EQ(JsonDepth(Json(1)), 0);
  EXPECT_EQ(JsonDepth(Json::array()), 1);
  Json j = {{"a", {1, {{"b", Json::array()}}}}};
  EXPECT_EQ(JsonDepth(j), 4);
  EXPECT_EQ(JsonNodeCount(j), 5u);
}

TEST(JsonUtilTest, FindWalksDottedPaths) {
  Json j = {{"metadata", {{"name", "x"}}}};
  EXPECT_EQ(GetString(j, "metadata.name"), "x");
  EXPECT_EQ(Find(j, "metadata.namespace"), nullptr);
  EXPECT_EQ(GetString(j, "spec.x", "dflt"), "dflt");
}

}  // namespace
}  // namespace asb
