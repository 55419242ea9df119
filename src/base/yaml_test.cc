#include "base/yaml.h"

#include <gtest/gtest.h>

namespace asb {
namespace {

TEST(YamlTest, YamlQuotedScalarsStayStrings) {
  auto docs = ParseYamlDocuments(
      "a: \"250m\"\nb: 8888\nc: true\nd: \"8888\"\ne: 1.5\nf: ~\n---\n---\nx: [1, two]\n");
  ASSERT_TRUE(docs) << docs.error().message;
  ASSERT_EQ(docs->size(), 2u);
  const Json& d = (*docs)[0];
  EXPECT_EQ(d["a"], "250m");
  EXPECT_EQ(d["b"], 8888);
  EXPECT_EQ(d["c"], true);
  EXPECT_EQ(d["d"], "8888");
  EXPECT_DOUBLE_EQ(d["e"].get<double>(), 1.5);
  EXPECT_TRUE(d["f"].is_null());
  EXPECT_EQ((*docs)[1]["x"][1], "two");
}

TEST(YamlTest, YamlErrorIsInvalidArgument) {
  auto bad = ParseYamlDocuments("a: [1, 2\n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace asb
