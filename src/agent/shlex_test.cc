#include "agent/shlex.h"

#include <gtest/gtest.h>

namespace asb::agent {
namespace {

struct SplitCase {
  std::string input;
  std::vector<std::string> want;
};

// Expected values were produced by Python 3.11's shlex.split on the same inputs.
TEST(ShlexSplitTest, MatchesPythonShlex) {
  const SplitCase cases[] = {
      {"echo hi", {"echo", "hi"}},
      {"  a   b  ", {"a", "b"}},
      {"'a b' c", {"a b", "c"}},
      {"\"a \\\" b\"", {"a \" b"}},
      {"\"a\\b\"", {"a\\b"}},
      {"a\\ b", {"a b"}},
      {"a'b'c", {"abc"}},
      {"\"\"", {""}},
      {"''", {""}},
      {"a \"\" b", {"a", "", "b"}},
      {"# x", {"#", "x"}},
      {"a#b", {"a#b"}},
      {"\"\\\\\"", {"\\"}},
      {"'\\\\'", {"\\\\"}},
      {"a\\\nb", {"a\nb"}},
      {"\"$HOME\"", {"$HOME"}},
      {"x\t y\r\nz", {"x", "y", "z"}},
      {"'it''s'", {"its"}},
      {"\"a'b\"", {"a'b"}},
      {"echo 'a|b' > out && ls", {"echo", "a|b", ">", "out", "&&", "ls"}},
      {"", {}},
      {"   ", {}},
  };
  for (const SplitCase& c : cases) {
    auto got = ShlexSplit(c.input);
    ASSERT_TRUE(got.has_value()) << c.input << ": " << got.error().message;
    EXPECT_EQ(*got, c.want) << "input: " << c.input;
  }
}

TEST(ShlexSplitTest, ErrorsUsePythonMessages) {
  const std::pair<std::string, std::string> cases[] = {
      {"\"unterminated", "No closing quotation"}, {"'x", "No closing quotation"},
      {"echo 'a b", "No closing quotation"},      {"x\\", "No escaped character"},
      {"\"x\\", "No escaped character"},
  };
  for (const auto& [input, message] : cases) {
    auto got = ShlexSplit(input);
    ASSERT_FALSE(got.has_value()) << input;
    EXPECT_EQ(got.error().code, Code::kInvalidArgument);
    EXPECT_EQ(got.error().message, message) << input;
  }
}

TEST(PyReprTest, MatchesPython) {
  EXPECT_EQ(PyRepr("foo"), "'foo'");
  EXPECT_EQ(PyRepr("it's"), "\"it's\"");
  EXPECT_EQ(PyRepr("a\"b"), "'a\"b'");
  EXPECT_EQ(PyRepr("a'b\"c"), "'a\\'b\"c'");
  EXPECT_EQ(PyRepr(std::string_view("\x01\x7f\\")), "'\\x01\\x7f\\\\'");
  EXPECT_EQ(PyRepr(std::vector<std::string>{"sleep", "100"}), "['sleep', '100']");
  EXPECT_EQ(PyRepr(std::vector<std::string>{}), "[]");
}

}  // namespace
}  // namespace asb::agent
