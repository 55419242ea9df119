#include "agent/remote_command.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <optional>

#include "base/file_util.h"
#include "http/client.h"
#include "http/server.h"
#include "http/websocket.h"
#include "tests/testing/test_util.h"

namespace asb::agent {
namespace {

// What a remote command session sent back, by channel.
struct Outcome {
  std::string out, err;
  Json status;
  bool closed_normally = false;
};

class RemoteCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fs = FileService::Open(tmp_.path() + "/app");
    ASSERT_TRUE(fs.has_value());
    files_.emplace(std::move(*fs));
    exec_.emplace(files_->base_dir(), std::chrono::seconds(10));
    auto server = http::Server::Start({}, MakeAgentHandler({&*exec_, &*files_}));
    ASSERT_TRUE(server) << server.error().message;
    server_ = std::move(*server);
  }

  // Opens a session for `query`; returns the reply status (101 on success).
  int Open(const std::string& query) {
    auto c = http::Client::Connect("127.0.0.1", server_->port());
    EXPECT_TRUE(c);
    client_.emplace(std::move(*c));
    http::Request req{.method = "GET",
                      .target = std::string(kRemoteCommandPath) + "?" + query,
                      .headers = http::ws::ClientHandshakeHeaders({"v5.channel.k8s.io"})};
    auto reply = http::ws::SendUpgrade(client_->native_handle(), req);
    EXPECT_TRUE(reply) << reply.error().message;
    if (!reply) return 0;
    last_body_ = reply->body;
    if (reply->status == 101) {
      EXPECT_EQ(reply->headers.GetOr("Sec-WebSocket-Protocol", ""), "v5.channel.k8s.io");
      conn_ = std::make_unique<http::ws::Connection>(client_->native_handle(),
                                                     http::ws::Role::kClient, reply->pending);
    }
    return reply->status;
  }
  void Send(uint8_t channel, std::string_view data) {
    ASSERT_TRUE(conn_->WriteBinary(std::string(1, static_cast<char>(channel)) + std::string(data)));
  }
  Outcome ReadAll() {
    Outcome o;
    for (;;) {
      auto m = conn_->Read();
      if (!m) break;
      if (m->data.empty()) continue;
      std::string payload = m->data.substr(1);
      switch (static_cast<uint8_t>(m->data[0])) {
        case 1:
          o.out += payload;
          break;
        case 2:
          o.err += payload;
          break;
        case 3:
          o.status = ParseJson(payload).value_or(Json());
          break;
      }
    }
    o.closed_normally = conn_->peer_close_code() == http::ws::kCloseNormal;
    return o;
  }

  asb::testing::TempDir tmp_;
  std::optional<FileService> files_;
  std::optional<ExecService> exec_;
  std::unique_ptr<http::Server> server_;
  std::optional<http::Client> client_;
  std::unique_ptr<http::ws::Connection> conn_;
  std::string last_body_;
};

TEST_F(RemoteCommandTest, StdinStdoutStderrAndExitCode) {
  ASSERT_EQ(Open("command=sh&command=-c&command=read+x%3B+echo+got+%24x%3B+echo+oops+>%262%3B+"
                 "cat%3B+exit+3&stdin=true&stdout=true&stderr=true"),
            101);
  Send(0, "hello\n");
  Send(0, "rest of stdin");
  Send(255, std::string(1, '\0'));  // v5: stdin closed, so `cat` ends
  Outcome o = ReadAll();
  EXPECT_EQ(o.out, "got hello\nrest of stdin");
  EXPECT_EQ(o.err, "oops\n");
  EXPECT_EQ(o.status["status"], "Failure");
  EXPECT_EQ(o.status["reason"], "NonZeroExitCode");
  EXPECT_EQ(o.status["details"]["causes"][0]["reason"], "ExitCode");
  EXPECT_EQ(o.status["details"]["causes"][0]["message"], "3");
  EXPECT_TRUE(o.closed_normally);
}

TEST_F(RemoteCommandTest, SuccessRunsInTheBaseDir) {
  ASSERT_EQ(Open("command=pwd&stdout=true&stderr=true"), 101);
  Outcome o = ReadAll();
  EXPECT_EQ(o.out, files_->base_dir() + "\n");
  EXPECT_EQ(o.status["status"], "Success");
}

TEST_F(RemoteCommandTest, TtyIsAControllingTerminalAndResizes) {
  ASSERT_EQ(
      Open("command=sh&command=-c&command=read+x%3B+stty+size%3B+tty+-s+%26%26+echo+tty+%24TERM"
           "&stdin=true&stdout=true&tty=true"),
      101);
  Send(4, R"({"Width":123,"Height":45})");
  Send(0, "go\r");
  Outcome o = ReadAll();
  EXPECT_NE(o.out.find("45 123"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("tty xterm"), std::string::npos) << o.out;
  EXPECT_EQ(o.status["status"], "Success");
}

TEST_F(RemoteCommandTest, MissingProgramIsExitCode127WithTheReason) {
  ASSERT_EQ(Open("command=no-such-program-x&stdout=true&stderr=true"), 101);
  Outcome o = ReadAll();
  EXPECT_NE(o.err.find("no-such-program-x"), std::string::npos) << o.err;
  EXPECT_EQ(o.status["details"]["causes"][0]["message"], "127");
}

TEST_F(RemoteCommandTest, BadQueriesAreRefusedBeforeTheUpgrade) {
  EXPECT_EQ(Open("stdout=true"), 400);
  EXPECT_NE(last_body_.find("at least one command"), std::string::npos);
  EXPECT_EQ(Open("command=true"), 400);
  EXPECT_NE(last_body_.find("at least 1 of stdin"), std::string::npos);
}

TEST_F(RemoteCommandTest, DroppedClientKillsTheCommand) {
  ASSERT_EQ(Open("command=sh&command=-c&command=echo+%24%24%3B+exec+sleep+60&stdout=true"), 101);
  auto m = conn_->Read();
  ASSERT_TRUE(m);
  pid_t pid = std::atoi(m->data.substr(1).c_str());
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, 0), 0);
  conn_.reset();
  client_.reset();  // the connection closes without a close frame
  EXPECT_TRUE(asb::testing::WaitFor([&] { return ::kill(pid, 0) != 0; }, std::chrono::seconds(5)))
      << "sleep " << pid << " still runs after the client went away";
}

}  // namespace
}  // namespace asb::agent
