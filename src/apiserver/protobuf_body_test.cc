#include "apiserver/protobuf_body.h"

#include <gtest/gtest.h>

#include <string>

namespace asb::apiserver {
namespace {

// A minimal protobuf writer, enough to build what client-go's generated Marshal emits.
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string Bytes(uint32_t field, const std::string& data) {
  return Varint(field << 3 | 2) + Varint(data.size()) + data;
}
std::string Int(uint32_t field, uint64_t v) { return Varint(field << 3) + Varint(v); }
std::string MapEntry(uint32_t field, const std::string& k, const std::string& v) {
  return Bytes(field, Bytes(1, k) + Bytes(2, v));
}
std::string Envelope(const std::string& api_version, const std::string& kind,
                     const std::string& raw) {
  return std::string("k8s\0", 4) + Bytes(1, Bytes(1, api_version) + Bytes(2, kind)) +
         Bytes(2, raw) + Bytes(3, "") + Bytes(4, "");
}

TEST(ProtobufBodyTest, DecodesANamespaceAsKubectlCreateSendsIt) {
  std::string meta = Bytes(1, "team-a") + Bytes(2, "") + Bytes(3, "") + MapEntry(11, "env", "dev") +
                     MapEntry(12, "note", "x") +
                     Bytes(8, Int(1, 0) + Int(2, 0)) +  // creationTimestamp: ignored
                     Int(99, 7);                        // unknown field: skipped
  auto obj = DecodeProtobufObject(Envelope("v1", "Namespace", Bytes(1, meta) + Bytes(2, "")));
  ASSERT_TRUE(obj) << obj.error().message;
  EXPECT_EQ((*obj)["apiVersion"], "v1");
  EXPECT_EQ((*obj)["kind"], "Namespace");
  EXPECT_EQ((*obj)["metadata"]["name"], "team-a");
  EXPECT_FALSE((*obj)["metadata"].contains("generateName"));
  EXPECT_EQ((*obj)["metadata"]["labels"]["env"], "dev");
  EXPECT_EQ((*obj)["metadata"]["annotations"]["note"], "x");
}

TEST(ProtobufBodyTest, DecodesASecretWithBytesAsBase64) {
  // kubectl create secret docker-registry: data is map<string, bytes>, written base64 in JSON.
  std::string raw = Bytes(1, Bytes(1, "regcred") + Bytes(3, "default")) +
                    MapEntry(2, ".dockerconfigjson", std::string("{\"a\":\"\xff\"}")) +
                    Bytes(3, "kubernetes.io/dockerconfigjson") + MapEntry(4, "plain", "text") +
                    Int(5, 1);
  auto obj = DecodeProtobufObject(Envelope("v1", "Secret", raw));
  ASSERT_TRUE(obj) << obj.error().message;
  EXPECT_EQ((*obj)["kind"], "Secret");
  EXPECT_EQ((*obj)["type"], "kubernetes.io/dockerconfigjson");
  EXPECT_EQ((*obj)["data"][".dockerconfigjson"], "eyJhIjoi/yJ9");
  EXPECT_EQ((*obj)["stringData"]["plain"], "text");
  EXPECT_EQ((*obj)["immutable"], true);
}

TEST(ProtobufBodyTest, DecodesAServiceWithIntAndNamedTargetPorts) {
  std::string port1 = Bytes(1, "web") + Bytes(2, "TCP") + Int(3, 80) +
                      Bytes(4, Int(1, 0) + Int(2, 8080) + Bytes(3, ""));
  std::string port2 = Bytes(1, "api") + Bytes(2, "TCP") + Int(3, 81) +
                      Bytes(4, Int(1, 1) + Int(2, 0) + Bytes(3, "http"));
  std::string spec = Bytes(1, port1) + Bytes(1, port2) + MapEntry(2, "app", "x") + Bytes(3, "") +
                     Bytes(4, "NodePort") + Int(13, 0) + Bytes(11, "Cluster");
  auto obj = DecodeProtobufObject(
      Envelope("v1", "Service", Bytes(1, Bytes(1, "svc") + Bytes(3, "ns")) + Bytes(2, spec)));
  ASSERT_TRUE(obj) << obj.error().message;
  const Json& s = (*obj)["spec"];
  ASSERT_EQ(s["ports"].size(), 2u);
  EXPECT_EQ(s["ports"][0]["targetPort"], 8080);
  EXPECT_EQ(s["ports"][1]["targetPort"], "http");
  EXPECT_EQ(s["ports"][1]["port"], 81);
  EXPECT_EQ(s["selector"]["app"], "x");
  EXPECT_EQ(s["type"], "NodePort");
  EXPECT_EQ(s["externalTrafficPolicy"], "Cluster");
  EXPECT_FALSE(s.contains("publishNotReadyAddresses"));
  EXPECT_EQ((*obj)["metadata"]["namespace"], "ns");
}

TEST(ProtobufBodyTest, RefusesMalformedBodiesAndUnknownKinds) {
  EXPECT_FALSE(DecodeProtobufObject("{\"kind\":\"Namespace\"}"));
  std::string good = Envelope("v1", "Namespace", Bytes(1, Bytes(1, "a")));
  for (size_t cut = 5; cut < good.size(); ++cut) {
    auto r = DecodeProtobufObject(good.substr(0, cut));  // never crashes or over-reads
    if (!r) {
      EXPECT_EQ(r.error().code, Code::kInvalidArgument);
    }
  }
  // A length prefix far beyond the body.
  EXPECT_FALSE(DecodeProtobufObject(std::string("k8s\0", 4) + Varint(2 << 3 | 2) +
                                    Varint(uint64_t{1} << 40)));
  auto pod = DecodeProtobufObject(Envelope("v1", "Pod", ""));
  ASSERT_FALSE(pod);
  EXPECT_NE(pod.error().message.find("send application/json"), std::string::npos);
}

}  // namespace
}  // namespace asb::apiserver
