#include "http/spdy.h"

#include <zlib.h>

#include <array>
#include <cstring>

#include "base/strings.h"

namespace asb::http::spdy {

namespace {

constexpr uint16_t kVersion = 3;

void Put32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

uint32_t Get32(std::string_view s, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(s[at + i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

// The 8-byte header of a control frame.
std::string ControlHeader(FrameType type, uint8_t flags, size_t length) {
  std::string out;
  out.reserve(8 + length);
  out.push_back(static_cast<char>(0x80 | (kVersion >> 8)));
  out.push_back(static_cast<char>(kVersion & 0xff));
  out.push_back(static_cast<char>(static_cast<uint16_t>(type) >> 8));
  out.push_back(static_cast<char>(static_cast<uint16_t>(type) & 0xff));
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>(length >> 16));
  out.push_back(static_cast<char>(length >> 8));
  out.push_back(static_cast<char>(length));
  return out;
}

// The spec's dictionary: length-prefixed header names and values, then a tail of common status
// lines, dates and media types. Built from the word list so the table stays readable.
std::string BuildDictionary() {
  static const char* const kWords[] = {"options",
                                       "head",
                                       "post",
                                       "put",
                                       "delete",
                                       "trace",
                                       "accept",
                                       "accept-charset",
                                       "accept-encoding",
                                       "accept-language",
                                       "accept-ranges",
                                       "age",
                                       "allow",
                                       "authorization",
                                       "cache-control",
                                       "connection",
                                       "content-base",
                                       "content-encoding",
                                       "content-language",
                                       "content-length",
                                       "content-location",
                                       "content-md5",
                                       "content-range",
                                       "content-type",
                                       "date",
                                       "etag",
                                       "expect",
                                       "expires",
                                       "from",
                                       "host",
                                       "if-match",
                                       "if-modified-since",
                                       "if-none-match",
                                       "if-range",
                                       "if-unmodified-since",
                                       "last-modified",
                                       "location",
                                       "max-forwards",
                                       "pragma",
                                       "proxy-authenticate",
                                       "proxy-authorization",
                                       "range",
                                       "referer",
                                       "retry-after",
                                       "server",
                                       "te",
                                       "trailer",
                                       "transfer-encoding",
                                       "upgrade",
                                       "user-agent",
                                       "vary",
                                       "via",
                                       "warning",
                                       "www-authenticate",
                                       "method",
                                       "get",
                                       "status",
                                       "200 OK",
                                       "version",
                                       "HTTP/1.1",
                                       "url",
                                       "public",
                                       "set-cookie",
                                       "keep-alive",
                                       "origin"};
  static const char kTail[] =
      "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504"
      "505203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 "
      "Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 "
      "Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, "
      "Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,application/"
      "xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,"
      "sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
  std::string d;
  for (const char* w : kWords) {
    Put32(d, static_cast<uint32_t>(std::strlen(w)));
    d += w;
  }
  d += kTail;
  return d;
}

Result<std::string> EncodeHeaderFrame(HeaderEncoder& enc, FrameType type, uint32_t stream_id,
                                      const HeaderBlock& headers, uint8_t flags, bool syn_stream) {
  ASB_ASSIGN_OR_RETURN(std::string block, enc.Encode(headers));
  size_t fixed = syn_stream ? 10 : 4;
  if (fixed + block.size() > kMaxFrameLength)
    return MakeError(Code::kInvalidArgument, "spdy: header block too large");
  std::string out = ControlHeader(type, flags, fixed + block.size());
  Put32(out, stream_id & 0x7fffffff);
  if (syn_stream) {
    Put32(out, 0);     // associated-to stream
    out.push_back(0);  // priority (3 bits) + unused
    out.push_back(0);  // slot
  }
  out += block;
  return out;
}

}  // namespace

std::optional<std::string> HeaderValue(const HeaderBlock& h, std::string_view name) {
  for (const auto& [k, v] : h)
    if (k == name) return v;
  return std::nullopt;
}

const std::string& Dictionary() {
  static const std::string kDict = BuildDictionary();
  return kDict;
}

// ---------------------------------------------------------------------------------------------

struct HeaderEncoder::Z {
  z_stream s{};
  bool ok = false;
  ~Z() {
    if (ok) deflateEnd(&s);
  }
};

HeaderEncoder::HeaderEncoder() : z_(std::make_unique<Z>()) {
  if (deflateInit(&z_->s, Z_BEST_COMPRESSION) != Z_OK) return;
  const std::string& d = Dictionary();
  z_->ok = deflateSetDictionary(&z_->s, reinterpret_cast<const Bytef*>(d.data()),
                                static_cast<uInt>(d.size())) == Z_OK;
}

HeaderEncoder::~HeaderEncoder() = default;

Result<std::string> HeaderEncoder::Encode(const HeaderBlock& headers) {
  if (!z_->ok) return MakeError(Code::kInternal, "spdy: zlib deflate init failed");
  std::string plain;
  Put32(plain, static_cast<uint32_t>(headers.size()));
  for (const auto& [k, v] : headers) {
    Put32(plain, static_cast<uint32_t>(k.size()));
    plain += ToLower(k);
    Put32(plain, static_cast<uint32_t>(v.size()));
    plain += v;
  }
  std::string out;
  z_->s.next_in = reinterpret_cast<Bytef*>(plain.data());
  z_->s.avail_in = static_cast<uInt>(plain.size());
  std::array<char, 4096> buf;
  do {
    z_->s.next_out = reinterpret_cast<Bytef*>(buf.data());
    z_->s.avail_out = static_cast<uInt>(buf.size());
    int rc = deflate(&z_->s, Z_SYNC_FLUSH);
    if (rc != Z_OK && rc != Z_BUF_ERROR) return MakeError(Code::kInternal, "spdy: deflate failed");
    out.append(buf.data(), buf.size() - z_->s.avail_out);
  } while (z_->s.avail_out == 0);
  return out;
}

struct HeaderDecoder::Z {
  z_stream s{};
  bool ok = false;
  ~Z() {
    if (ok) inflateEnd(&s);
  }
};

HeaderDecoder::HeaderDecoder(size_t max_bytes) : z_(std::make_unique<Z>()), max_bytes_(max_bytes) {
  z_->ok = inflateInit(&z_->s) == Z_OK;
}

HeaderDecoder::~HeaderDecoder() = default;

Result<HeaderBlock> HeaderDecoder::Decode(std::string_view compressed) {
  if (!z_->ok) return MakeError(Code::kInternal, "spdy: zlib inflate init failed");
  std::string plain;
  z_->s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z_->s.avail_in = static_cast<uInt>(compressed.size());
  std::array<char, 4096> buf;
  while (true) {
    z_->s.next_out = reinterpret_cast<Bytef*>(buf.data());
    z_->s.avail_out = static_cast<uInt>(buf.size());
    int rc = inflate(&z_->s, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      const std::string& d = Dictionary();
      if (inflateSetDictionary(&z_->s, reinterpret_cast<const Bytef*>(d.data()),
                               static_cast<uInt>(d.size())) != Z_OK)
        return MakeError(Code::kInvalidArgument, "spdy: header block uses an unknown dictionary");
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END)
      return MakeError(Code::kInvalidArgument, "spdy: corrupt compressed header block");
    plain.append(buf.data(), buf.size() - z_->s.avail_out);
    if (plain.size() > max_bytes_)
      return MakeError(Code::kResourceExhausted,
                       "spdy: header block larger than " + std::to_string(max_bytes_) + " bytes");
    if (z_->s.avail_out != 0 || rc == Z_BUF_ERROR) break;
  }
  if (z_->s.avail_in != 0)
    return MakeError(Code::kInvalidArgument, "spdy: trailing bytes in header block");

  HeaderBlock out;
  size_t at = 0;
  auto need = [&](size_t n) { return plain.size() - at >= n; };
  if (!need(4)) return MakeError(Code::kInvalidArgument, "spdy: truncated header block");
  uint32_t count = Get32(plain, at);
  at += 4;
  // Each pair takes at least 8 bytes, so a count beyond that is a lie: refuse before reserving.
  if (count > (plain.size() - at) / 8)
    return MakeError(Code::kInvalidArgument, "spdy: header count exceeds the block");
  for (uint32_t i = 0; i < count; ++i) {
    std::string kv[2];
    for (auto& part : kv) {
      if (!need(4)) return MakeError(Code::kInvalidArgument, "spdy: truncated header block");
      uint32_t len = Get32(plain, at);
      at += 4;
      if (!need(len)) return MakeError(Code::kInvalidArgument, "spdy: truncated header block");
      part = plain.substr(at, len);
      at += len;
    }
    if (kv[0].empty()) return MakeError(Code::kInvalidArgument, "spdy: empty header name");
    out.emplace_back(std::move(kv[0]), std::move(kv[1]));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

Result<std::optional<Frame>> FrameParser::Next() {
  // Waiting for more bytes: drop the consumed ones so a long session doesn't keep every byte
  // it ever received.
  auto need_more = [&] {
    in_.erase(0, pos_);
    pos_ = 0;
    return std::optional<Frame>();
  };
  if (in_.size() - pos_ < 8) return need_more();
  std::string_view head(in_.data() + pos_, 8);
  uint32_t w0 = Get32(head, 0);
  uint8_t flags = static_cast<uint8_t>(head[4]);
  uint32_t length = Get32(head, 4) & 0xffffff;
  if (in_.size() - pos_ < 8 + static_cast<size_t>(length)) return need_more();
  std::string_view p(in_.data() + pos_ + 8, length);
  pos_ += 8 + length;

  Frame f;
  f.flags = flags;
  if ((w0 & 0x80000000u) == 0) {
    f.type = FrameType::kData;
    f.stream_id = w0 & 0x7fffffff;
    f.data = std::string(p);
    return std::optional<Frame>(std::move(f));
  }
  uint16_t version = static_cast<uint16_t>((w0 >> 16) & 0x7fff);
  if (version != kVersion)
    return MakeError(Code::kInvalidArgument,
                     "spdy: unsupported version " + std::to_string(version));
  f.type = static_cast<FrameType>(w0 & 0xffff);
  auto need = [&](size_t n) -> Status {
    if (p.size() < n)
      return MakeError(Code::kInvalidArgument,
                       "spdy: control frame type " + std::to_string(w0 & 0xffff) + " too short");
    return OkStatus();
  };
  switch (f.type) {
    case FrameType::kSynStream: {
      ASB_RETURN_IF_ERROR(need(10));
      f.stream_id = Get32(p, 0) & 0x7fffffff;
      f.associated_id = Get32(p, 4) & 0x7fffffff;
      f.priority = static_cast<uint8_t>(static_cast<unsigned char>(p[8]) >> 5);
      ASB_ASSIGN_OR_RETURN(f.headers, decoder_.Decode(p.substr(10)));
      break;
    }
    case FrameType::kSynReply:
    case FrameType::kHeaders: {
      ASB_RETURN_IF_ERROR(need(4));
      f.stream_id = Get32(p, 0) & 0x7fffffff;
      ASB_ASSIGN_OR_RETURN(f.headers, decoder_.Decode(p.substr(4)));
      break;
    }
    case FrameType::kRstStream:
    case FrameType::kWindowUpdate:
      ASB_RETURN_IF_ERROR(need(8));
      f.stream_id = Get32(p, 0) & 0x7fffffff;
      f.value = Get32(p, 4) & (f.type == FrameType::kWindowUpdate ? 0x7fffffff : 0xffffffff);
      break;
    case FrameType::kPing:
      ASB_RETURN_IF_ERROR(need(4));
      f.value = Get32(p, 0);
      break;
    case FrameType::kGoAway:
      ASB_RETURN_IF_ERROR(need(8));
      f.stream_id = Get32(p, 0) & 0x7fffffff;
      f.value = Get32(p, 4);
      break;
    default:
      // SETTINGS and unknown control frames carry nothing a port-forward server needs; the spec
      // says to ignore unknown types.
      break;
  }
  return std::optional<Frame>(std::move(f));
}

Result<std::string> EncodeSynStream(HeaderEncoder& enc, uint32_t stream_id,
                                    const HeaderBlock& headers, uint8_t flags) {
  return EncodeHeaderFrame(enc, FrameType::kSynStream, stream_id, headers, flags, true);
}

Result<std::string> EncodeSynReply(HeaderEncoder& enc, uint32_t stream_id,
                                   const HeaderBlock& headers, uint8_t flags) {
  return EncodeHeaderFrame(enc, FrameType::kSynReply, stream_id, headers, flags, false);
}

std::string EncodeData(uint32_t stream_id, std::string_view data, uint8_t flags) {
  std::string out;
  out.reserve(8 + data.size());
  Put32(out, stream_id & 0x7fffffff);
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>(data.size() >> 16));
  out.push_back(static_cast<char>(data.size() >> 8));
  out.push_back(static_cast<char>(data.size()));
  out.append(data);
  return out;
}

std::string EncodeRstStream(uint32_t stream_id, uint32_t status) {
  std::string out = ControlHeader(FrameType::kRstStream, 0, 8);
  Put32(out, stream_id & 0x7fffffff);
  Put32(out, status);
  return out;
}

std::string EncodePing(uint32_t id) {
  std::string out = ControlHeader(FrameType::kPing, 0, 4);
  Put32(out, id);
  return out;
}

std::string EncodeGoAway(uint32_t last_good_stream_id, uint32_t status) {
  std::string out = ControlHeader(FrameType::kGoAway, 0, 8);
  Put32(out, last_good_stream_id & 0x7fffffff);
  Put32(out, status);
  return out;
}

std::string EncodeWindowUpdate(uint32_t stream_id, uint32_t delta) {
  std::string out = ControlHeader(FrameType::kWindowUpdate, 0, 8);
  Put32(out, stream_id & 0x7fffffff);
  Put32(out, delta & 0x7fffffff);
  return out;
}

}  // namespace asb::http::spdy
