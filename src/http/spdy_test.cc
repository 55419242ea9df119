#include "http/spdy.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace asb::http::spdy {
namespace {

TEST(SpdyTest, DictionaryIsTheSpecs) {
  const std::string& d = Dictionary();
  EXPECT_EQ(d.size(), 1423u);
  EXPECT_EQ(d.substr(0, 11), std::string("\0\0\0\7options", 11));
  EXPECT_EQ(d.substr(d.size() - 6), "enq=0.");
  // zlib names a preset dictionary by its Adler-32; a peer compressing with the real SPDY/3
  // dictionary announces this value (checked against an independent copy of the bytes).
  EXPECT_EQ(adler32(1, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size())),
            0xe3c6a7c2u);
}

TEST(SpdyTest, SynStreamRoundTripsThroughOneZlibStreamPerDirection) {
  HeaderEncoder enc;
  FrameParser parser;
  // Several blocks in a row: the second only decodes if the decoder kept the first's state.
  for (uint32_t id : {1u, 3u, 5u}) {
    HeaderBlock h = {{"streamType", "data"}, {"port", "8080"}, {"requestid", std::to_string(id)}};
    auto wire = EncodeSynStream(enc, id, h, kFlagFin);
    ASSERT_TRUE(wire) << wire.error().message;
    parser.Feed(*wire);
    auto f = parser.Next();
    ASSERT_TRUE(f) << f.error().message;
    ASSERT_TRUE(f->has_value());
    EXPECT_EQ((*f)->type, FrameType::kSynStream);
    EXPECT_EQ((*f)->stream_id, id);
    EXPECT_TRUE((*f)->fin());
    EXPECT_EQ(HeaderValue((*f)->headers, "streamtype"), "data");  // names are lower-cased
    EXPECT_EQ(HeaderValue((*f)->headers, "requestid"), std::to_string(id));
  }
}

TEST(SpdyTest, ParsesFramesSplitAtAnyByte) {
  std::string wire = EncodeData(7, "hello", kFlagFin) + EncodePing(2) + EncodeRstStream(9, 5) +
                     EncodeGoAway(11, 0) + EncodeWindowUpdate(7, 1000);
  FrameParser parser;
  std::vector<Frame> frames;
  for (char c : wire) {
    parser.Feed(std::string_view(&c, 1));
    while (true) {
      auto f = parser.Next();
      ASSERT_TRUE(f);
      if (!f->has_value()) break;
      frames.push_back(std::move(**f));
    }
  }
  ASSERT_EQ(frames.size(), 5u);
  EXPECT_EQ(frames[0].type, FrameType::kData);
  EXPECT_EQ(frames[0].stream_id, 7u);
  EXPECT_EQ(frames[0].data, "hello");
  EXPECT_TRUE(frames[0].fin());
  EXPECT_EQ(frames[1].type, FrameType::kPing);
  EXPECT_EQ(frames[1].value, 2u);
  EXPECT_EQ(frames[2].type, FrameType::kRstStream);
  EXPECT_EQ(frames[2].stream_id, 9u);
  EXPECT_EQ(frames[2].value, 5u);
  EXPECT_EQ(frames[3].type, FrameType::kGoAway);
  EXPECT_EQ(frames[3].stream_id, 11u);
  EXPECT_EQ(frames[4].type, FrameType::kWindowUpdate);
  EXPECT_EQ(frames[4].value, 1000u);
  EXPECT_EQ(parser.buffered(), 0u);
}

TEST(SpdyTest, RefusesWrongVersionAndShortControlFrames) {
  FrameParser bad_version;
  std::string ping = EncodePing(1);
  ping[1] = 2;  // SPDY/2
  bad_version.Feed(ping);
  auto f = bad_version.Next();
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().message.find("version 2"), std::string::npos);

  FrameParser short_rst;
  std::string rst = EncodeRstStream(1, 1);
  rst[7] = 4;  // claims a 4-byte payload: too short for RST_STREAM
  short_rst.Feed(rst.substr(0, 12));
  EXPECT_FALSE(short_rst.Next());
}

TEST(SpdyTest, HeaderBombIsRefusedNotInflated) {
  HeaderEncoder enc;
  HeaderBlock big = {{"x", std::string(1 << 20, 'a')}};  // compresses to ~1 KiB
  auto wire = EncodeSynReply(enc, 1, big);
  ASSERT_TRUE(wire);
  EXPECT_LT(wire->size(), 8192u);
  FrameParser parser;
  parser.Feed(*wire);
  auto f = parser.Next();
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, Code::kResourceExhausted);
}

TEST(SpdyTest, GarbageHeaderBlockIsAnError) {
  // A SYN_REPLY whose block is not zlib.
  std::string body = std::string("\0\0\0\1", 4) + "not zlib at all";
  std::string wire = std::string("\x80\x03\x00\x02\x00\x00\x00", 7);
  wire.push_back(static_cast<char>(body.size()));
  wire += body;
  FrameParser parser;
  parser.Feed(wire);
  EXPECT_FALSE(parser.Next());
}

}  // namespace
}  // namespace asb::http::spdy
