// Content-Range parsing and the resume decision of blob_resume.h (the loop itself runs against
// a real registry in tests/e2e/test_image_resume.py).
#include "image/registry/blob_resume.h"

#include <gtest/gtest.h>

namespace asb::image::registry {
namespace {

TEST(ContentRangeTest, ParsesRangesWithAKnownOrUnknownTotal) {
  auto r = ParseContentRange("bytes 100-199/200");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->first, 100);
  EXPECT_EQ(r->last, 199);
  EXPECT_EQ(r->total, 200);
  r = ParseContentRange("  bytes 0-0/*");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->last, 0);
  EXPECT_FALSE(r->total);
}

TEST(ContentRangeTest, RefusesWhatIsNotOneSatisfiedRange) {
  for (const char* bad : {"", "bytes", "bytes */200", "items 0-1/2", "bytes 5-4/10",
                          "bytes 0-10/10", "bytes -1-4/10", "bytes +1-4/10", "bytes 1-4/-10",
                          "bytes 1 -4/10", "bytes 0-99999999999999999999/1", "bytes 1-4"}) {
    EXPECT_FALSE(ParseContentRange(bad)) << bad;
  }
}

TEST(ResumeDecisionTest, A206AtTheStopContinuesAndAnOverlapIsDropped) {
  EXPECT_EQ(BytesToSkip(206, "bytes 4096-9999/10000", 4096, 10000).value(), 0);
  EXPECT_EQ(BytesToSkip(206, "bytes 4000-9999/*", 4096, 10000).value(), 96);
  // Part of the rest (a server capping ranges): continue it, ask again after.
  EXPECT_EQ(BytesToSkip(206, "bytes 4096-5000/10000", 4096, 10000).value(), 0);
}

TEST(ResumeDecisionTest, A200IgnoredTheRangeSoItsFirstBytesAreDropped) {
  EXPECT_EQ(BytesToSkip(200, std::nullopt, 4096, 10000).value(), 4096);
  EXPECT_EQ(BytesToSkip(200, std::nullopt, 0, 10000).value(), 0);
}

TEST(ResumeDecisionTest, RangesThatCannotContinueTheBlobFail) {
  auto gap = BytesToSkip(206, "bytes 5000-9999/10000", 4096, 10000);
  ASSERT_FALSE(gap);
  EXPECT_EQ(gap.error().code, Code::kFailedPrecondition);
  EXPECT_NE(gap.error().message.find("starts after byte 4096"), std::string::npos);
  auto other = BytesToSkip(206, "bytes 4096-19999/20000", 4096, 10000);
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message.find("20000-byte blob, the manifest says 10000"),
            std::string::npos);
  EXPECT_FALSE(BytesToSkip(206, "bytes 4096-10000/*", 4096, 10000));  // past the end
  EXPECT_FALSE(BytesToSkip(206, std::nullopt, 4096, 10000));
  EXPECT_FALSE(BytesToSkip(206, "bytes x-y/z", 4096, 10000));
  EXPECT_FALSE(BytesToSkip(204, std::nullopt, 4096, 10000));
}

TEST(ResumeDecisionTest, BackoffIsZeroAfterProgressAndBoundedWhenStalled) {
  EXPECT_EQ(ResumeBackoff(0).count(), 0);
  EXPECT_EQ(ResumeBackoff(1).count(), 250);
  EXPECT_EQ(ResumeBackoff(2).count(), 500);
  EXPECT_EQ(ResumeBackoff(30).count(), 2000);
}

TEST(ResumeDecisionTest, OnlyAStrongETagIsSentAsIfRange) {
  EXPECT_EQ(IfRangeValidator("\"sha256:ab\""), "\"sha256:ab\"");
  EXPECT_EQ(IfRangeValidator("W/\"sha256:ab\""), "");
  EXPECT_EQ(IfRangeValidator("sha256:ab"), "");
  EXPECT_EQ(IfRangeValidator(std::nullopt), "");
}

}  // namespace
}  // namespace asb::image::registry
