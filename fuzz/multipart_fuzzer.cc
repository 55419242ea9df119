// asb-agent's upload body: "<Content-Type>\0<body>".
#include "agent/multipart.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [type, body] = asb::fuzz::SplitAtNul(asb::fuzz::AsText(data, size));
  auto boundary = asb::agent::MultipartBoundary(type);
  if (!boundary) boundary = std::string("b");
  (void)asb::agent::ParseMultipart(body, *boundary);
  return 0;
}
