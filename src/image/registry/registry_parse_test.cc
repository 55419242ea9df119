// The registry client's parsers: references, manifests and indexes, image configs, auth
// challenges and dockerconfigjson credentials (the network parts are covered end to end by
// tests/e2e/test_oci_images.py against a real registry).
#include <gtest/gtest.h>

#include "base/base64.h"
#include "image/registry/auth.h"
#include "image/registry/manifest.h"
#include "image/registry/reference.h"
#include "image/registry/sha256.h"
#include "image/registry/transport.h"

namespace asb::image::registry {
namespace {

const std::string kD1 = "sha256:" + std::string(64, 'a');
const std::string kD2 = "sha256:" + std::string(64, 'b');

TEST(ReferenceTest, SplitsHostRepositoryTagAndDigest) {
  auto r = ParseReference("127.0.0.1:5000/team/agent-env:3");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->registry, "127.0.0.1:5000");
  EXPECT_EQ(r->repository, "team/agent-env");
  EXPECT_EQ(r->tag, "3");
  EXPECT_EQ(r->ManifestRef(), "3");

  r = ParseReference("localhost/busybox@" + kD1);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->registry, "localhost");
  EXPECT_EQ(r->tag, "");
  EXPECT_EQ(r->ManifestRef(), kD1);

  r = ParseReference("example.com/a/b");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->tag, "latest");
  EXPECT_EQ(r->String(), "example.com/a/b:latest");
}

TEST(ReferenceTest, UnqualifiedNamesNeedAConfiguredDefaultRegistry) {
  auto r = ParseReference("busybox:1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_NE(r.error().message.find("no default registry"), std::string::npos);
  r = ParseReference("busybox:1", "mirror.internal:5000");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->String(), "mirror.internal:5000/busybox:1");
}

TEST(ReferenceTest, RejectsMalformedReferences) {
  for (const std::string& bad : std::vector<std::string>{
           "", "example.com/", "example.com/UPPER:1", "example.com/a/../b:1", "example.com/a:b/c",
           "example.com/a@sha256:short", "example.com/a@md5:" + std::string(32, 'a'),
           "example.com/a:-bad", "exa mple.com/a:1", "example.com//a:1", "../a:1", "-x.com/a:1"}) {
    EXPECT_FALSE(ParseReference(bad)) << bad;
  }
}

TEST(ReferenceTest, LoopbackHostsAndPullPolicyDefaults) {
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1:5000"));
  EXPECT_TRUE(IsLoopbackHost("127.10.0.3"));
  EXPECT_TRUE(IsLoopbackHost("localhost:80"));
  EXPECT_TRUE(IsLoopbackHost("[::1]:5000"));
  EXPECT_FALSE(IsLoopbackHost("128.0.0.1:5000"));
  EXPECT_FALSE(IsLoopbackHost("localhost.example.com"));
  EXPECT_FALSE(IsLoopbackHost("127.0.0.1.example.com"));
  EXPECT_EQ(DefaultPullPolicy("h:5000/a"), "Always");
  EXPECT_EQ(DefaultPullPolicy("h:5000/a:latest"), "Always");
  EXPECT_EQ(DefaultPullPolicy("h:5000/a:1"), "IfNotPresent");
  EXPECT_EQ(DefaultPullPolicy("h:5000/a@" + kD1), "IfNotPresent");
}

TEST(ManifestTest, ParsesOciAndDockerManifests) {
  std::string oci = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
    "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                    kD1 + R"(","size":12},
    "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
                    kD2 + R"(","size":34}]})";
  auto m = ParseManifest(oci, "");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_FALSE(m->is_index);
  EXPECT_EQ(m->config.digest, kD1);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].size, 34);

  // Docker's, typed only by the Content-Type header.
  std::string docker =
      R"({"schemaVersion":2,"config":{"digest":")" + kD1 + R"(","size":1},"layers":[]})";
  m = ParseManifest(docker, std::string(kDockerManifest) + "; charset=utf-8");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_TRUE(m->layers.empty());
}

TEST(ManifestTest, IndexResolvesToLinuxAmd64) {
  std::string index = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",
    "manifests":[
      {"digest":")" + kD1 +
                      R"(","size":5,"platform":{"os":"linux","architecture":"arm64"}},
      {"digest":")" + kD2 +
                      R"(","size":6,"platform":{"os":"linux","architecture":"amd64"}}]})";
  auto m = ParseManifest(index, "");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_TRUE(m->is_index);
  EXPECT_EQ(m->platform_manifest.digest, kD2);

  std::string arm_only = R"({"manifests":[{"digest":")" + kD1 +
                         R"(","size":5,"platform":{"os":"linux","architecture":"arm64"}}]})";
  m = ParseManifest(arm_only, std::string(kDockerManifestList));
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("no linux/amd64 manifest (it has: linux/arm64)"),
            std::string::npos)
      << m.error().message;
}

TEST(ManifestTest, RejectsBadManifests) {
  for (
      const std::string& bad : std::vector<std::string>{
          std::string("not json"),
          std::string("[]"),
          R"({"schemaVersion":1,"config":{"digest":")" + kD1 + R"(","size":1},"layers":[]})",
          R"({"schemaVersion":2,"config":{"digest":"sha256:xyz","size":1},"layers":[]})",
          R"({"schemaVersion":2,"config":{"digest":")" + kD1 + R"(","size":-1},"layers":[]})",
          R"({"schemaVersion":2,"config":{"digest":")" + kD1 + R"(","size":1}})",
          R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v1+json"})",
      }) {
    EXPECT_FALSE(ParseManifest(bad, "")) << bad;
  }
}

TEST(ImageConfigTest, ReadsTheDefaultProcess) {
  auto c = ParseImageConfig(R"({"architecture":"amd64","os":"linux","config":{
    "Entrypoint":["/bin/server"],"Cmd":["--port","8080"],"Env":["PATH=/bin","A=b"],
    "WorkingDir":"/srv","User":"1000:1000","ExposedPorts":{"8080/tcp":{},"53/udp":{}}},
    "rootfs":{"type":"layers","diff_ids":[")" +
                            kD1 + R"("]}})");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->entrypoint, std::vector<std::string>{"/bin/server"});
  EXPECT_EQ(c->cmd, (std::vector<std::string>{"--port", "8080"}));
  EXPECT_EQ(c->env.size(), 2u);
  EXPECT_EQ(c->working_dir, "/srv");
  EXPECT_EQ(c->user, "1000:1000");
  EXPECT_EQ(c->exposed_ports, std::vector<int>{8080});
  EXPECT_EQ(c->diff_ids.size(), 1u);

  auto arm = ParseImageConfig(R"({"architecture":"arm64","os":"linux"})");
  ASSERT_FALSE(arm);
  EXPECT_NE(arm.error().message.find("linux/arm64"), std::string::npos);
}

TEST(AuthTest, ParsesBearerAndBasicChallenges) {
  auto c = ParseChallenge(
      R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push")");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->params["realm"], "https://auth.example/token");
  EXPECT_EQ(c->params["service"], "registry.example");
  EXPECT_EQ(c->params["scope"], "repository:a/b:pull,push");

  c = ParseChallenge(R"(Basic realm="Registry Realm")");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->scheme, "basic");
  EXPECT_EQ(c->params["realm"], "Registry Realm");

  c = ParseChallenge(R"(Bearer realm=https://a/t, service=x)");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->params["realm"], "https://a/t");
  EXPECT_EQ(c->params["service"], "x");

  EXPECT_FALSE(ParseChallenge(R"(Bearer realm="unterminated)"));
  EXPECT_FALSE(ParseChallenge(R"(Bearer realm)"));
}

TEST(AuthTest, CredentialsFromDockerConfigJson) {
  std::string doc = R"({"auths":{"https://127.0.0.1:5000/v1/":{"auth":")" +
                    Base64Encode("alice:s3cr:et") +
                    R"("},"other.example":{"username":"bob","password":"pw"}}})";
  auto c = CredentialsFor(doc, "127.0.0.1:5000");
  ASSERT_TRUE(c && *c);
  EXPECT_EQ((*c)->username, "alice");
  EXPECT_EQ((*c)->password, "s3cr:et");
  c = CredentialsFor(doc, "other.example");
  ASSERT_TRUE(c && *c);
  EXPECT_EQ((*c)->username, "bob");
  c = CredentialsFor(doc, "none.example");
  ASSERT_TRUE(c);
  EXPECT_FALSE(*c);
  EXPECT_FALSE(CredentialsFor("nope", "x"));
  EXPECT_FALSE(CredentialsFor(R"({"auths":{"x":{"auth":"bm9jb2xvbg=="}}})", "x"));  // "nocolon"
}

TEST(AuthTest, Base64RoundTrips) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "user:pass"}) {
    EXPECT_EQ(Unbase64(Base64Encode(s)).value_or("?"), s);
  }
  EXPECT_EQ(Base64Encode("user:pass"), "dXNlcjpwYXNz");
  EXPECT_FALSE(Unbase64("a*b"));
}

TEST(Sha256Test, KnownDigest) {
  EXPECT_EQ(Sha256Digest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 h;
  h.Update("ab");
  h.Update("c");
  EXPECT_EQ(h.Digest(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(UrlTest, ParsesRealmsAndLocations) {
  auto u = ParseUrl("https://auth.example/token?x=1");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->https);
  EXPECT_EQ(u->host, "auth.example");
  EXPECT_EQ(u->port, "443");
  EXPECT_EQ(u->target, "/token?x=1");
  EXPECT_EQ(u->Authority(), "auth.example");
  u = ParseUrl("http://[::1]:5000");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->Authority(), "[::1]:5000");
  EXPECT_EQ(u->target, "/");
  EXPECT_FALSE(ParseUrl("ftp://x/"));
  EXPECT_FALSE(ParseUrl("http://x:99999/"));
  EXPECT_FALSE(ParseUrl("http:///a"));
}

}  // namespace
}  // namespace asb::image::registry
