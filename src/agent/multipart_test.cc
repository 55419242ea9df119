#include "agent/multipart.h"

#include <gtest/gtest.h>

namespace asb::agent {
namespace {

std::string Body(const std::string& boundary, const std::string& disposition,
                 const std::string& content) {
  return "--" + boundary + "\r\n" + "Content-Disposition: " + disposition + "\r\n" +
         "Content-Type: application/octet-stream\r\n\r\n" + content + "\r\n--" + boundary +
         "--\r\n";
}

TEST(MultipartBoundaryTest, ParsesQuotedAndPlain) {
  EXPECT_EQ(MultipartBoundary("multipart/form-data; boundary=abc123").value(), "abc123");
  EXPECT_EQ(MultipartBoundary("Multipart/Form-Data; charset=utf-8; boundary=\"a b:c\"").value(),
            "a b:c");
}

TEST(MultipartBoundaryTest, RejectsOtherTypesAndMissingBoundary) {
  EXPECT_EQ(MultipartBoundary("application/json").error().code, Code::kInvalidArgument);
  EXPECT_EQ(MultipartBoundary("multipart/form-data").error().code, Code::kInvalidArgument);
  EXPECT_EQ(MultipartBoundary("multipart/form-data; boundary=").error().code,
            Code::kInvalidArgument);
  EXPECT_FALSE(MultipartBoundary("multipart/form-data; boundary=" + std::string(71, 'x')));
}

TEST(ParseMultipartTest, SingleFilePart) {
  std::string body = Body("XyZ", "form-data; name=\"file\"; filename=\"dir/a.txt\"", "hello\n");
  auto parts = ParseMultipart(body, "XyZ");
  ASSERT_TRUE(parts.has_value()) << parts.error().message;
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].name, "file");
  EXPECT_EQ((*parts)[0].filename, "dir/a.txt");
  EXPECT_EQ((*parts)[0].content_type, "application/octet-stream");
  EXPECT_EQ((*parts)[0].data, "hello\n");
}

TEST(ParseMultipartTest, BinaryDataWithNulsCrlfAndBoundaryLookalikes) {
  std::string content;
  for (int i = 0; i < 256; ++i) content += static_cast<char>(i);
  content += "\r\n--XyZ is not a delimiter\r\n--XyZZ\r\n--Xy\r\n\r\n";
  content += std::string("\0\0\r\n", 4);
  std::string body = Body("XyZ", "form-data; name=\"file\"; filename=\"b.bin\"", content);
  auto parts = ParseMultipart(body, "XyZ");
  ASSERT_TRUE(parts.has_value()) << parts.error().message;
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].data, content);
}

TEST(ParseMultipartTest, SeveralPartsPreambleAndEmptyContent) {
  std::string body =
      "preamble text\r\n"
      "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
      "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"empty\"\r\n\r\n\r\n"
      "--b  \r\nContent-Disposition: form-data; name=\"c\"\r\n\r\nthree\r\n--b--";
  auto parts = ParseMultipart(body, "b");
  ASSERT_TRUE(parts.has_value()) << parts.error().message;
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[0].name, "a");
  EXPECT_FALSE((*parts)[0].filename.has_value());
  EXPECT_EQ((*parts)[0].data, "1");
  EXPECT_EQ((*parts)[1].filename, "empty");
  EXPECT_EQ((*parts)[1].data, "");
  EXPECT_EQ((*parts)[2].data, "three");
}

TEST(ParseMultipartTest, FilenameEscapesAndExtendedFilename) {
  auto quoted = ParseMultipart(
      Body("q", "form-data; name=\"file\"; filename=\"we\\\"ird; name.txt\"", "x"), "q");
  ASSERT_TRUE(quoted.has_value()) << quoted.error().message;
  EXPECT_EQ((*quoted)[0].filename, "we\"ird; name.txt");

  auto ext = ParseMultipart(
      Body("q", "form-data; name=\"file\"; filename=\"fallback\"; filename*=UTF-8''caf%C3%A9.txt",
           "x"),
      "q");
  ASSERT_TRUE(ext.has_value()) << ext.error().message;
  EXPECT_EQ((*ext)[0].filename, "caf\xC3\xA9.txt");
}

TEST(ParseMultipartTest, MalformedBodiesAreErrors) {
  const std::string cases[] = {
      "",
      "no boundary here",
      "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
      "--b\r\nContent-Disposition: form-data; name=\"a\"",
      "--b\r\nX-Other: 1\r\n\r\ndata\r\n--b--",
      "--bjunk\r\n",
      "--b\r\nbroken header line\r\n\r\ndata\r\n--b--",
  };
  for (const std::string& body : cases) {
    auto parts = ParseMultipart(body, "b");
    ASSERT_FALSE(parts.has_value()) << body;
    EXPECT_EQ(parts.error().code, Code::kInvalidArgument);
    EXPECT_FALSE(parts.error().message.empty());
  }
}

TEST(ParseMultipartTest, LargeBodyIsNotCopied) {
  std::string content(8 << 20, 'z');
  std::string body = Body("big", "form-data; name=\"file\"; filename=\"big\"", content);
  auto parts = ParseMultipart(body, "big");
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ((*parts)[0].data.size(), content.size());
  EXPECT_GE((*parts)[0].data.data(), body.data());
  EXPECT_LT((*parts)[0].data.data(), body.data() + body.size());
}

}  // namespace
}  // namespace asb::agent
