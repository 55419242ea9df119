#include "base/base64.h"

#include <array>
#include <cstdint>

namespace asb {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> DecodeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr std::array<int8_t, 256> kDecode = DecodeTable();

tl::unexpected<Error> Illegal(size_t at) {
  return MakeError(Code::kInvalidArgument,
                   "illegal base64 data at input byte " + std::to_string(at));
}

}  // namespace

std::string Base64Encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (i < data.size()) {
    uint32_t v = uint8_t(data[i]) << 16;
    if (i + 1 < data.size()) v |= uint8_t(data[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < data.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t q = 0; q < text.size(); q += 4) {
    // A short final quantum: Go reports where it starts.
    if (q + 4 > text.size()) return Illegal(q);
    int vals[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      char c = text[q + j];
      if (c == '=') {
        // Padding only in the last quantum's last one or two places.
        if (q + 4 != text.size() || j < 2) return Illegal(q + j);
        ++pad;
        vals[j] = 0;
        continue;
      }
      if (pad > 0) return Illegal(q + j);  // data after '='
      vals[j] = kDecode[static_cast<uint8_t>(c)];
      if (vals[j] < 0) return Illegal(q + j);
    }
    uint32_t v = (vals[0] << 18) | (vals[1] << 12) | (vals[2] << 6) | vals[3];
    out.push_back(static_cast<char>((v >> 16) & 0xff));
    if (pad < 2) out.push_back(static_cast<char>((v >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(v & 0xff));
  }
  return out;
}

}  // namespace asb
