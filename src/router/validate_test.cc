#include "router/validate.h"

#include <gtest/gtest.h>

#include "http/errors.h"

namespace asb::router {
namespace {

TEST(ResolveTargetTest, DefaultsAndErrors) {
  struct Case {
    HeaderList headers;
    int status;  // 0 = accepted
    std::string detail_or_target;
  } cases[] = {
      {{}, 400, "X-Sandbox-ID header is required."},
      {{{"X-Sandbox-ID", ""}}, 400, "X-Sandbox-ID header is required."},
      {{{"x-sandbox-id", "sb-1"}}, 0, "default/sb-1:8888"},
      {{{"X-Sandbox-ID", "SB"}}, 400, "Invalid sandbox ID format."},
      {{{"X-Sandbox-ID", "sb/../x"}}, 400, "Invalid sandbox ID format."},
      {{{"X-Sandbox-ID", std::string(64, 'a')}}, 400, "Invalid sandbox ID format."},
      {{{"X-Sandbox-ID", "sb"}, {"X-Sandbox-Namespace", "team-a"}}, 0, "team-a/sb:8888"},
      {{{"X-Sandbox-ID", "sb"}, {"X-Sandbox-Namespace", "Team_A"}},
       400,
       "Invalid namespace format."},
      {{{"X-Sandbox-ID", "sb"}, {"X-Sandbox-Namespace", ""}}, 400, "Invalid namespace format."},
      {{{"X-Sandbox-ID", "sb"}, {"X-Sandbox-Port", "8080"}}, 0, "default/sb:8080"},
      {{{"X-Sandbox-ID", "sb"}, {"X-Sandbox-Port", "1"}}, 0, "default/sb:1"},
      {{{"X-Sandbox-ID", "sb"}, {"X-Sandbox-Port", "65535"}}, 0, "default/sb:65535"},
      {{{"X-Sandbox-ID", "sb"}, {"X-Sandbox-Port", "0"}}, 400, "Invalid port format."},
      {{{"X-Sandbox-ID", "sb"}, {"X-Sandbox-Port", "65536"}}, 400, "Invalid port format."},
      {{{"X-Sandbox-ID", "sb"}, {"X-Sandbox-Port", "-1"}}, 400, "Invalid port format."},
      {{{"X-Sandbox-ID", "sb"}, {"X-Sandbox-Port", "80a"}}, 400, "Invalid port format."},
      {{{"X-Sandbox-ID", "sb"}, {"X-Sandbox-Port", ""}}, 400, "Invalid port format."},
  };
  for (const Case& c : cases) {
    auto r = ResolveTarget(c.headers);
    if (c.status == 0) {
      ASSERT_TRUE(r.has_value()) << c.detail_or_target << ": " << r.error().message;
      EXPECT_EQ(r->ns + "/" + r->sandbox_id + ":" + std::to_string(r->port), c.detail_or_target);
    } else {
      ASSERT_FALSE(r.has_value()) << c.detail_or_target;
      EXPECT_EQ(http::HttpStatusFor(r.error()), c.status);
      EXPECT_EQ(r.error().message, c.detail_or_target);
    }
  }
}

TEST(AuthorizedTest, BearerToken) {
  EXPECT_TRUE(Authorized({}, ""));  // authentication disabled
  EXPECT_FALSE(Authorized({}, "s3cret"));
  EXPECT_TRUE(Authorized({{"Authorization", "Bearer s3cret"}}, "s3cret"));
  EXPECT_TRUE(Authorized({{"authorization", "bearer s3cret"}}, "s3cret"));
  EXPECT_FALSE(Authorized({{"Authorization", "Bearer s3cre"}}, "s3cret"));
  EXPECT_FALSE(Authorized({{"Authorization", "Bearer s3cretX"}}, "s3cret"));
  EXPECT_FALSE(Authorized({{"Authorization", "Basic s3cret"}}, "s3cret"));
  EXPECT_FALSE(Authorized({{"Authorization", "Bearer "}}, "s3cret"));
  EXPECT_FALSE(Authorized({{"Authorization", "s3cret"}}, "s3cret"));
}

TEST(ForwardRequestHeadersTest, StripsCredentialsAndHopByHop) {
  HeaderList in = {{"Host", "router:8080"},
                   {"Authorization", "Bearer s3cret"},
                   {"Connection", "keep-alive, X-Private"},
                   {"X-Private", "1"},
                   {"Keep-Alive", "timeout=5"},
                   {"Proxy-Authorization", "x"},
                   {"TE", "trailers"},
                   {"Expect", "100-continue"},
                   {"X-Forwarded-For", "6.6.6.6"},
                   {"Content-Length", "12"},
                   {"Content-Type", "application/json"},
                   {"X-Sandbox-ID", "sb"}};
  HeaderList out = ForwardRequestHeaders(in, {"10.0.0.7", "localhost:8888", false, "rid1"});
  EXPECT_EQ(FindHeader(out, "Authorization"), nullptr);
  EXPECT_EQ(FindHeader(out, "Proxy-Authorization"), nullptr);
  EXPECT_EQ(FindHeader(out, "Connection"), nullptr);
  EXPECT_EQ(FindHeader(out, "X-Private"), nullptr);
  EXPECT_EQ(FindHeader(out, "Keep-Alive"), nullptr);
  EXPECT_EQ(FindHeader(out, "TE"), nullptr);
  EXPECT_EQ(FindHeader(out, "Expect"), nullptr);
  ASSERT_NE(FindHeader(out, "Host"), nullptr);
  EXPECT_EQ(*FindHeader(out, "Host"), "localhost:8888");
  EXPECT_EQ(*FindHeader(out, "X-Forwarded-For"), "10.0.0.7");
  EXPECT_EQ(*FindHeader(out, "X-Forwarded-Host"), "router:8080");
  EXPECT_EQ(*FindHeader(out, "X-Forwarded-Proto"), "http");
  EXPECT_EQ(*FindHeader(out, "X-Request-Id"), "rid1");
  EXPECT_EQ(*FindHeader(out, "Content-Length"), "12");
  EXPECT_EQ(*FindHeader(out, "Content-Type"), "application/json");
  int hosts = 0;
  for (const auto& [k, v] : out) hosts += (k == "Host");
  EXPECT_EQ(hosts, 1);
}

TEST(ForwardRequestHeadersTest, KeepsUpgradeHandshake) {
  HeaderList in = {{"Host", "r"},
                   {"Connection", "Upgrade"},
                   {"Upgrade", "websocket"},
                   {"Origin", "http://evil"},
                   {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                   {"Sec-WebSocket-Version", "13"}};
  ASSERT_TRUE(IsUpgradeRequest(in));
  HeaderList out = ForwardRequestHeaders(in, {"127.0.0.1", "localhost:8888", true, ""});
  EXPECT_EQ(*FindHeader(out, "Upgrade"), "websocket");
  EXPECT_EQ(*FindHeader(out, "Connection"), "Upgrade");
  EXPECT_EQ(FindHeader(out, "Origin"), nullptr);
  EXPECT_EQ(*FindHeader(out, "Sec-WebSocket-Key"), "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_FALSE(IsUpgradeRequest({{"Upgrade", "websocket"}}));
  EXPECT_TRUE(IsUpgradeRequest({{"Connection", "keep-alive, upgrade"}, {"Upgrade", "h2c"}}));
}

TEST(ForwardResponseHeadersTest, DropsHopByHopKeepsFraming) {
  HeaderList in = {{"Connection", "close"},
                   {"Keep-Alive", "timeout=5"},
                   {"Transfer-Encoding", "chunked"},
                   {"Content-Type", "application/x-ndjson"}};
  HeaderList out = ForwardResponseHeaders(in, false);
  EXPECT_EQ(FindHeader(out, "Connection"), nullptr);
  EXPECT_EQ(FindHeader(out, "Keep-Alive"), nullptr);
  EXPECT_EQ(*FindHeader(out, "Transfer-Encoding"), "chunked");
  HeaderList ws = ForwardResponseHeaders(
      {{"Connection", "Upgrade"}, {"Upgrade", "websocket"}, {"Sec-WebSocket-Accept", "x"}}, true);
  EXPECT_EQ(*FindHeader(ws, "Upgrade"), "websocket");
  EXPECT_EQ(*FindHeader(ws, "Connection"), "Upgrade");
}

}  // namespace
}  // namespace asb::router
