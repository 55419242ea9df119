// The Kubernetes renderer: every Code becomes the Status kube-apiserver sends for it, with
// reasons and field causes as fields.
#include "apiserver/k8s_status.h"

#include <gtest/gtest.h>

#include "api/resource.h"
#include "http/errors.h"

namespace asb::apiserver {
namespace {

const api::ResourceInfo& Sandboxes() {
  return *api::FindByPlural("agents.x-k8s.io", "v1alpha1", "sandboxes");
}

TEST(K8sStatusTest, EveryCodeRendersAStatusWithTheTablesCodeAndReason) {
  for (int c = 0; c <= static_cast<int>(Code::kInternal); ++c) {
    Error e{static_cast<Code>(c), "m"};
    SCOPED_TRACE(std::string(CodeName(e.code)));
    http::Response r = StatusResponse(e);
    Json s = ParseJson(r.body).value();
    EXPECT_EQ(s["kind"], "Status");
    EXPECT_EQ(s["apiVersion"], "v1");
    EXPECT_EQ(s["status"], "Failure");
    EXPECT_EQ(r.status, http::HttpStatusFor(e));
    EXPECT_EQ(s["code"], r.status);
    EXPECT_EQ(s["reason"], std::string(http::HttpErrorFor(e).reason));
    EXPECT_EQ(s["message"], "m");
    EXPECT_FALSE(s.contains("details"));
  }
  // Spot checks against what kubectl shows as `Error from server (<reason>)`.
  EXPECT_EQ(StatusResponse(Error{Code::kNotFound, "m"}).status, 404);
  EXPECT_EQ(ParseJson(StatusResponse(Error{Code::kAborted, "m"}).body).value()["reason"],
            "Conflict");
  EXPECT_EQ(StatusResponse(Error{Code::kResourceExhausted, "m", 0, "RequestEntityTooLarge"}).status,
            413);
}

TEST(K8sStatusTest, ObjectErrorsArePhrasedAsKubeApiserverPhrasesThem) {
  Error nf = ObjectError(Error{Code::kNotFound, "whatever the store said"}, &Sandboxes(), "x");
  EXPECT_EQ(nf.message, "sandboxes.agents.x-k8s.io \"x\" not found");
  Json s = StatusJson(nf);
  EXPECT_EQ(s["details"],
            Json({{"name", "x"}, {"group", "agents.x-k8s.io"}, {"kind", "sandboxes"}}));

  Error dup = ObjectError(Error{Code::kAlreadyExists, "dup"}, &Sandboxes(), "x");
  EXPECT_EQ(dup.message, "sandboxes.agents.x-k8s.io \"x\" already exists");

  Error stale = ObjectError(Error{Code::kAborted, ""}, &Sandboxes(), "x");
  EXPECT_EQ(stale.message,
            "Operation cannot be fulfilled on sandboxes.agents.x-k8s.io \"x\": the object has been "
            "modified; please apply your changes to the latest version and try again");
  EXPECT_EQ(StatusResponse(stale).status, 409);

  // An error that already names what it is about (the store's missing namespace) keeps it.
  auto about_ns = std::make_shared<ErrorDetails>(ErrorDetails{"nope", "", "namespaces", {}});
  Error ns = ObjectError(Error{Code::kNotFound, "namespaces \"nope\" not found", 0, "", about_ns},
                         &Sandboxes(), "x");
  EXPECT_EQ(ns.message, "namespaces \"nope\" not found");
  EXPECT_EQ(StatusJson(ns)["details"], Json({{"name", "nope"}, {"kind", "namespaces"}}));

  Error internal = ObjectError(Error{Code::kInternal, "disk on fire"}, nullptr, "");
  EXPECT_EQ(internal.message, "Internal error occurred: disk on fire");
  EXPECT_EQ(StatusJson(internal)["reason"], "InternalError");
}

TEST(K8sStatusTest, InvalidCarriesFieldCauses) {
  Error e = InvalidError(
      Sandboxes(), "x",
      {{api::FieldErrorType::kRequired, "spec.podTemplate", nullptr, ""},
       {api::FieldErrorType::kInvalid, "metadata.name", Json("Bad"), "must be lower case"}});
  EXPECT_EQ(e.code, Code::kInvalidArgument);
  EXPECT_EQ(e.reason, "Invalid");
  http::Response r = StatusResponse(e);
  EXPECT_EQ(r.status, 422);
  Json s = ParseJson(r.body).value();
  EXPECT_EQ(s["reason"], "Invalid");
  EXPECT_EQ(s["details"]["kind"], "Sandbox");
  EXPECT_EQ(s["details"]["group"], "agents.x-k8s.io");
  ASSERT_EQ(s["details"]["causes"].size(), 2u);
  EXPECT_EQ(s["details"]["causes"][0]["field"], "spec.podTemplate");
  EXPECT_EQ(s["details"]["causes"][0]["reason"], "FieldValueRequired");
  EXPECT_EQ(s["details"]["causes"][1]["field"], "metadata.name");
  EXPECT_EQ(s["details"]["causes"][1]["reason"], "FieldValueInvalid");
  EXPECT_EQ(s["message"].get<std::string>().rfind("Sandbox.agents.x-k8s.io \"x\" is invalid: ", 0),
            0u);
}

}  // namespace
}  // namespace asb::apiserver
