// core/v1 Secret (api/secret.h): stringData merged into data, base64 and key checks, the
// well-known types' required keys, update rules, table rows without values, pull-secret reading.
#include "api/secret.h"

#include <gtest/gtest.h>

#include "api/table.h"
#include "api/validation.h"
#include "base/base64.h"

namespace asb::api {
namespace {

Json Secret(Json fields) {
  Json s = {{"apiVersion", "v1"},
            {"kind", "Secret"},
            {"metadata", {{"name", "s"}, {"namespace", "default"}}}};
  s.update(fields);
  return s;
}

// What the API server does on a write: defaults (stringData merged) then validation.
std::string Admit(Json& obj) {
  ApplyDefaults(SecretResource(), obj);
  FieldErrors errs = ValidateObject(SecretResource(), obj);
  return errs.empty() ? "" : AggregateMessage(errs);
}

TEST(Secret, StringDataIsMergedIntoDataAndNotKept) {
  Json s = Secret({{"data", {{"a", Base64Encode("old")}, {"b", Base64Encode("kept")}}},
                   {"stringData", {{"a", "new"}, {"c", "plain"}}}});
  EXPECT_EQ(Admit(s), "");
  EXPECT_FALSE(s.contains("stringData"));
  EXPECT_EQ(s["type"], "Opaque");
  EXPECT_EQ(s["data"]["a"], Base64Encode("new"));  // stringData wins, as in Kubernetes
  EXPECT_EQ(s["data"]["b"], Base64Encode("kept"));
  EXPECT_EQ(s["data"]["c"], Base64Encode("plain"));
}

TEST(Secret, StringDataThatIsNotStringsIsReportedNotDropped) {
  Json s = Secret({{"stringData", {{"a", 5}}}});
  std::string errs = Admit(s);
  EXPECT_NE(errs.find("stringData[a]: Invalid value: 5"), std::string::npos) << errs;
}

TEST(Secret, BadBase64AndKeysAreFieldErrorsThatNeverEchoTheValue) {
  Json s = Secret({{"data", {{"tok", "c2VjcmV0IHRva2Vu!"}}}});
  std::string errs = Admit(s);
  EXPECT_EQ(errs,
            "data[tok]: Invalid value: \"<secret contents redacted>\": illegal base64 data at "
            "input byte 16");
  Json keys = Secret({{"data", {{"bad/key", ""}, {"..x", ""}}}});
  errs = Admit(keys);
  EXPECT_NE(errs.find("data[bad/key]: Invalid value: \"bad/key\": a valid config key"),
            std::string::npos)
      << errs;
  EXPECT_NE(errs.find("data[..x]: Invalid value: \"..x\": must not start with '..'"),
            std::string::npos)
      << errs;
}

TEST(Secret, DataIsBoundedAtOneMebibyte) {
  Json s = Secret({{"stringData", {{"a", std::string(kMaxSecretBytes, 'x')}}}});
  EXPECT_EQ(Admit(s), "");
  Json big = Secret({{"stringData", {{"a", std::string(kMaxSecretBytes, 'x')}, {"b", "y"}}}});
  EXPECT_EQ(Admit(big), "data: Too long: may not be more than 1048576 bytes");
}

TEST(Secret, DockerConfigJsonNeedsItsKeyHoldingJson) {
  Json none = Secret({{"type", kSecretTypeDockerConfigJson}, {"data", Json::object()}});
  EXPECT_EQ(Admit(none), "data[.dockerconfigjson]: Required value");
  Json bad = Secret(
      {{"type", kSecretTypeDockerConfigJson}, {"stringData", {{".dockerconfigjson", "{nope"}}}});
  EXPECT_NE(Admit(bad).find("data[.dockerconfigjson]: Invalid value: \"<secret contents "
                            "redacted>\""),
            std::string::npos)
      << Admit(bad);
  Json tls = Secret({{"type", "kubernetes.io/tls"}, {"stringData", {{"tls.crt", "c"}}}});
  EXPECT_EQ(Admit(tls), "data[tls.key]: Required value");
}

TEST(Secret, TypeNeverChangesAndImmutableKeepsItsData) {
  Json old_s = Secret({{"type", "Opaque"}, {"data", {{"a", "YQ=="}}}});
  Json retyped = old_s;
  retyped["type"] = "kubernetes.io/tls";
  EXPECT_EQ(AggregateMessage(ValidateUpdate(SecretResource(), old_s, retyped)),
            "type: Invalid value: \"kubernetes.io/tls\": field is immutable");
  EXPECT_TRUE(ValidateUpdate(SecretResource(), old_s, Secret({{"data", {{"a", "Yg=="}}}})).empty());

  Json frozen = old_s;
  frozen["immutable"] = true;
  Json changed = frozen;
  changed["data"]["a"] = "Yg==";
  EXPECT_EQ(AggregateMessage(ValidateUpdate(SecretResource(), frozen, changed)),
            "data: Forbidden: field is immutable when `immutable` is set");
  Json thawed = frozen;
  thawed["immutable"] = false;
  EXPECT_EQ(AggregateMessage(ValidateUpdate(SecretResource(), frozen, thawed)),
            "immutable: Forbidden: field is immutable when `immutable` is set");
}

TEST(Secret, TableRowsCountKeysAndShowNoValue) {
  Json s = Secret({{"type", "Opaque"}, {"data", {{"password", Base64Encode("hunter2")}}}});
  Json cells = TableCells(SecretResource(), s, SystemTime{});
  ASSERT_EQ(cells.size(), TableColumns(SecretResource()).size());
  EXPECT_EQ(cells[0], "s");
  EXPECT_EQ(cells[1], "Opaque");
  EXPECT_EQ(cells[2], 1);
  EXPECT_EQ(DumpJson(cells).find(Base64Encode("hunter2")), std::string::npos);
}

TEST(Secret, DockerConfigOfReadsBothPullSecretTypes) {
  std::string doc = R"({"auths":{"r:5000":{"auth":"dTpw"}}})";
  Json json_type = Secret({{"type", kSecretTypeDockerConfigJson},
                           {"data", {{".dockerconfigjson", Base64Encode(doc)}}}});
  auto got = DockerConfigOf(json_type);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ(**got, doc);

  Json legacy = Secret({{"type", kSecretTypeDockerCfg},
                        {"data", {{".dockercfg", Base64Encode(R"({"r:5000":{"auth":"dTpw"}})")}}}});
  got = DockerConfigOf(legacy);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ(ParseJson(**got).value(), ParseJson(doc).value());

  auto opaque = DockerConfigOf(Secret({{"type", "Opaque"}}));
  ASSERT_TRUE(opaque);
  EXPECT_FALSE(*opaque);
  EXPECT_FALSE(DockerConfigOf(Secret({{"type", kSecretTypeDockerConfigJson}})));
}

}  // namespace
}  // namespace asb::api
