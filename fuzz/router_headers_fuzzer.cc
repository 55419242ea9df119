// The router's request rules: header lines "Name: value\n" -> target, auth, forwarded headers.
#include "fuzz_util.h"
#include "router/validate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = asb::fuzz::AsText(data, size);
  asb::router::HeaderList headers;
  size_t start = 0;
  while (start < text.size() && headers.size() < 256) {
    size_t nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? nl : nl - start);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos)
      headers.emplace_back(std::string(line), "");
    else
      headers.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  (void)asb::router::ResolveTarget(headers);
  (void)asb::router::Authorized(headers, "token");
  bool upgrade = asb::router::IsUpgradeRequest(headers);
  (void)asb::router::ForwardRequestHeaders(headers, {"127.0.0.1", "sb:8888", upgrade, "id"});
  (void)asb::router::ForwardResponseHeaders(headers, upgrade);
  return 0;
}
