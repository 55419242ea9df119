// status.startup (KEP-1348): set once, never rewritten, honest about claims it saw too late.
#include "controller/claim_startup.h"

#include <gtest/gtest.h>

#include "controller/claim_plan.h"

namespace asb::controller {
namespace {

using std::chrono::milliseconds;

const SystemTime kT0 = SystemTime{} + std::chrono::hours(24 * 365 * 56);

Json ClaimWithStatus(Json status) {
  Json c = {{"metadata", {{"name", "c1"}, {"namespace", "default"}, {"generation", 1}}},
            {"spec", {{"sandboxTemplateRef", {{"name", "tmpl"}}}}}};
  if (!status.is_null()) c["status"] = std::move(status);
  return c;
}

Json ReadySandbox() {
  return {{"metadata", {{"name", "c1"}, {"namespace", "default"}}},
          {"status", {{"conditions", Json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
}

TEST(ClaimStartupTest, FirstSeenThenFirstReadyInMicroseconds) {
  Json seen = ClaimStatus(ClaimWithStatus(nullptr), std::nullopt, kT0, "SandboxNotReady", "");
  EXPECT_EQ(seen["startup"], Json({{"controllerObservedTime", FormatRfc3339Micro(kT0)}}));
  EXPECT_EQ(FormatRfc3339Micro(kT0).size(), std::string("2026-01-01T00:00:00.000000Z").size());

  Json ready = ClaimStatus(ClaimWithStatus(seen), ReadySandbox(), kT0 + milliseconds(3));
  EXPECT_EQ(ready["startup"]["controllerObservedTime"], FormatRfc3339Micro(kT0));
  EXPECT_EQ(ready["startup"]["firstReadyTime"], FormatRfc3339Micro(kT0 + milliseconds(3)));
  EXPECT_FALSE(ready["startup"].contains("firstReadyTimeUnavailable"));
}

TEST(ClaimStartupTest, NeverRewrittenAfterSet) {
  Json seen = ClaimStatus(ClaimWithStatus(nullptr), std::nullopt, kT0, "SandboxNotReady", "");
  Json ready = ClaimStatus(ClaimWithStatus(seen), ReadySandbox(), kT0 + milliseconds(3));
  // Later reconciles, a lost Ready and a Ready again keep both times.
  Json lost = ClaimStatus(ClaimWithStatus(ready), std::nullopt, kT0 + milliseconds(9),
                          "SandboxMissing", "gone");
  Json again = ClaimStatus(ClaimWithStatus(lost), ReadySandbox(), kT0 + milliseconds(20));
  EXPECT_EQ(lost["startup"], ready["startup"]);
  EXPECT_EQ(again["startup"], ready["startup"]);
}

TEST(ClaimStartupTest, AClaimAlreadyReadyWithoutTimesIsMarkedUnavailable) {
  // Written by a controller without status.startup: it was Ready before anyone recorded when.
  Json old = {{"conditions", Json::array({{{"type", "Ready"}, {"status", "True"}}})}};
  Json st = ClaimStatus(ClaimWithStatus(old), ReadySandbox(), kT0);
  EXPECT_EQ(st["startup"]["firstReadyTimeUnavailable"], true);
  EXPECT_FALSE(st["startup"].contains("firstReadyTime"));
  EXPECT_EQ(st["startup"]["controllerObservedTime"], FormatRfc3339Micro(kT0));
}

}  // namespace
}  // namespace asb::controller
