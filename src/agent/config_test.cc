#include "agent/config.h"

#include <gtest/gtest.h>

#include <map>

namespace asb::agent {
namespace {

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(AgentConfigTest, Defaults) {
  auto c = ParseAgentConfig({}, Env({}));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->host, "0.0.0.0");
  EXPECT_EQ(c->port, 8888);
  EXPECT_EQ(c->base_dir, "/app");
  EXPECT_EQ(c->exec_timeout, std::chrono::seconds(300));
  EXPECT_EQ(c->max_body_bytes, 256u << 20);
  EXPECT_TRUE(c->warnings.empty());
}

TEST(AgentConfigTest, FlagsBeatEnvironment) {
  auto c = ParseAgentConfig({"--port", "0", "--host=127.0.0.1", "--port-file", "/tmp/p",
                             "--max-body-bytes=1024", "--max-concurrent-execs", "3"},
                            Env({{"PORT", "9999"},
                                 {"SANDBOX_BASE_DIR", "/work/x"},
                                 {"SANDBOX_EXEC_TIMEOUT_SECONDS", "2.5"}}));
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->port, 0);
  EXPECT_EQ(c->host, "127.0.0.1");
  EXPECT_EQ(c->port_file, "/tmp/p");
  EXPECT_EQ(c->max_body_bytes, 1024u);
  EXPECT_EQ(c->max_concurrent_execs, 3u);
  EXPECT_EQ(c->base_dir, "/work/x");
  EXPECT_EQ(c->exec_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(ParseAgentConfig({}, Env({{"PORT", "9999"}}))->port, 9999);
}

TEST(AgentConfigTest, InvalidTimeoutFallsBackWithWarning) {
  for (const char* bad : {"abc", "-5", "0", "10s", "nan"}) {
    auto c = ParseAgentConfig({}, Env({{"SANDBOX_EXEC_TIMEOUT_SECONDS", bad}}));
    ASSERT_TRUE(c.has_value()) << bad;
    EXPECT_EQ(c->exec_timeout, std::chrono::seconds(300)) << bad;
    EXPECT_EQ(c->warnings.size(), 1u) << bad;
  }
}

TEST(AgentConfigTest, BadFlagsAreErrors) {
  const std::vector<std::vector<std::string>> cases = {{"--port"},   {"--port", "70000"},
                                                       {"--port=x"}, {"--bogus"},
                                                       {"extra"},    {"--max-body-bytes=0"}};
  for (const auto& args : cases) {
    auto c = ParseAgentConfig(args, Env({}));
    EXPECT_FALSE(c.has_value()) << args[0];
    if (!c) {
      EXPECT_EQ(c.error().code, Code::kInvalidArgument);
    }
  }
  EXPECT_FALSE(ParseAgentConfig({}, Env({{"PORT", "http"}})).has_value());
  EXPECT_FALSE(ParseAgentConfig({}, Env({{"SANDBOX_BASE_DIR", "relative"}})).has_value());
}

}  // namespace
}  // namespace asb::agent
