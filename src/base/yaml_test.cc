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

// The classic "billion laughs": 535 bytes whose nested aliases expand to ~10^7 values. It must
// stop with a clear error while expanding, not become a 21 MB object.
TEST(YamlTest, AliasBombIsRefused) {
  std::string bomb =
      "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  for (char c = 'b'; c <= 'i'; ++c) {
    std::string prev(1, static_cast<char>(c - 1));
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 9; ++i) bomb += (i ? ",*" : "*") + prev;
    bomb += "]\n";
  }
  auto bad = ParseYamlDocuments(bomb);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Code::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("excessive aliasing"), std::string::npos)
      << bad.error().message;
}

TEST(YamlTest, AliasesWithinTheAllowanceExpand) {
  auto docs = ParseYamlDocuments(
      "base: &c {image: python, ports: [{containerPort: 8888}]}\n"
      "one: *c\ntwo: *c\n&k key: v\nother: {*k : w}\n");
  ASSERT_TRUE(docs) << docs.error().message;
  const Json& d = (*docs)[0];
  EXPECT_EQ(d["one"], d["base"]);
  EXPECT_EQ(d["two"]["ports"][0]["containerPort"], 8888);
  EXPECT_EQ(d["other"]["key"], "w");
  EXPECT_FALSE(ParseYamlDocuments("a: *nope\n"));
  EXPECT_FALSE(ParseYamlDocuments("a: &x [*x]\n"));
}

TEST(YamlTest, NestingDeeperThanTheLimitIsRefused) {
  std::string flow = std::string(100000, '[') + std::string(100000, ']');
  auto bad = ParseYamlDocuments(flow);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("nesting depth exceeds"), std::string::npos)
      << bad.error().message;
  std::string ok = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(ParseYamlDocuments(ok));
  // An alias may not push a value past the limit either.
  std::string deep = "a: &d " + ok + "\nb: [*d]\n";
  EXPECT_FALSE(ParseYamlDocuments(deep));
}

TEST(YamlTest, TagsAndKeys) {
  auto docs = ParseYamlDocuments("a: !!str 123\nb: 123\n");
  ASSERT_TRUE(docs) << docs.error().message;
  EXPECT_EQ((*docs)[0]["a"], "123");
  EXPECT_EQ((*docs)[0]["b"], 123);
  EXPECT_FALSE(ParseYamlDocuments("? [1, 2]\n: x\n"));
  EXPECT_FALSE(ParseYamlDocuments("~: x\n"));
}

// DumpYaml is read back as the same value, including strings that look like other types.
TEST(YamlTest, DumpYamlRoundTrips) {
  Json j = Json::parse(R"({"a":"true","b":"8888","c":"","d":"y","e":"1e3","f":"x: y","g":"#c",
    "h":"two\nlines","i":" pad","j":"null","k":"ok text","l":[],"m":{},"n":[[1,"no"],[]],
    "o":[{"p":1,"q":[{"r":null}]},"s",{}],"t":{"u":{"v":[true,false,1.5,-2]}},"w":".inf",
    "x-kubernetes-preserve-unknown-fields":true,"über":"ü","z":"- a","jsonPath":".status.x"})");
  std::string text = DumpYaml(j);
  auto back = ParseYaml(text);
  ASSERT_TRUE(back) << back.error().message << "\n" << text;
  EXPECT_EQ(*back, j) << text;
  EXPECT_NE(text.find("k: ok text\n"), std::string::npos) << text;
  EXPECT_NE(text.find("a: \"true\"\n"), std::string::npos) << text;
  EXPECT_EQ(DumpYaml(Json::object()), "{}\n");
}

}  // namespace
}  // namespace asb
