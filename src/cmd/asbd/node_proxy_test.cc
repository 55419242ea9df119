// NodeProxy against a real node stream port (NodeStreams) behind a real HTTP server, over the
// memory store holding the Node objects it resolves.
#include "cmd/asbd/node_proxy.h"

#include <gtest/gtest.h>

#include "api/resource.h"
#include "cmd/asbd/node_streams.h"
#include "http/client.h"
#include "http/server.h"
#include "store/memory_store.h"
#include "tests/testing/test_util.h"

namespace asb::asbd {
namespace {

Json NodeAt(const std::string& name, uint16_t port) {
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", name}}},
          {"spec", Json::object()},
          {"status",
           {{"addresses", Json::array({{{"type", "InternalIP"}, {"address", "127.0.0.1"}}})},
            {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", port}}}}}}}};
}

// Created, then its status written (the status subresource: a create drops it).
void Register(store::Store& store, const std::string& name, uint16_t port) {
  Json node = NodeAt(name, port);
  auto created = store.Create(api::NodeResource(), node);
  ASSERT_TRUE(created);
  node["metadata"] = (*created)["metadata"];
  store::UpdateOptions o;
  o.status_only = true;
  ASSERT_TRUE(store.Update(api::NodeResource(), node, o));
}

TEST(NodeProxyTest, ImageProxyNodeNamesTheNodeOfAnImageApiPath) {
  EXPECT_EQ(NodeProxy::ImageProxyNode("/api/v1/nodes/node-b/proxy/asb/v1/images"), "node-b");
  EXPECT_EQ(NodeProxy::ImageProxyNode("/api/v1/nodes/n/proxy/asb/v1/images/uploads/1"), "n");
  EXPECT_EQ(NodeProxy::ImageProxyNode("/api/v1/nodes/proxy/proxy/asb/v1/images"), "proxy");
  EXPECT_EQ(NodeProxy::ImageProxyNode("/api/v1/nodes/n/proxy/asb/v1/imagesX"), "");
  EXPECT_EQ(NodeProxy::ImageProxyNode("/api/v1/nodes/n/proxy/healthz"), "");
  EXPECT_EQ(NodeProxy::ImageProxyNode("/api/v1/nodes/n"), "");
  EXPECT_EQ(NodeProxy::ImageProxyNode("/api/v1/nodes//proxy/asb/v1/images"), "");
}

TEST(NodeProxyTest, RelaysTheNodesAnswerAndNamesANodeThatDoesNotAnswer) {
  auto opened = store::MemoryStore::Open();
  ASSERT_TRUE(opened);
  store::Store& store = **opened;
  // A node stream port with nothing attached answers 503 Statuses of its own.
  ASSERT_OK_AND_ASSIGN(auto streams, NodeStreams::Start("127.0.0.1", 0, "tok"));
  Register(store, "up", streams->port());
  Register(store, "down", 1);  // nothing listens on port 1
  NodeProxy proxy(store, "tok");
  http::ServerOptions o;
  o.host = "127.0.0.1";
  ASSERT_OK_AND_ASSIGN(auto server, http::Server::Start(o, [&](http::Request& r) {
                         return proxy.ForwardImages(r);
                       }));
  auto get = [&](const std::string& target) {
    http::Request req;
    req.method = "GET";
    req.target = target;
    auto r = http::Fetch("127.0.0.1", server->port(), req);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? *r : http::ClientResponse{};
  };
  http::ClientResponse r = get("/api/v1/nodes/up/proxy/asb/v1/images");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("the image cache is not ready"), std::string::npos) << r.body;
  r = get("/api/v1/nodes/down/proxy/asb/v1/images");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("node down (127.0.0.1:1) is unreachable"), std::string::npos) << r.body;
  r = get("/api/v1/nodes/gone/proxy/asb/v1/images");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("nodes \\\"gone\\\" not found"), std::string::npos) << r.body;
  server->Stop();
  streams->Stop();
}

}  // namespace
}  // namespace asb::asbd
