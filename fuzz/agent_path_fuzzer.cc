// asb-agent's file API path resolution, the pure part (Normalize): traversal, NULs, odd
// separators. A result must never climb out of the base directory.
#include <cstdlib>

#include "agent/file_service.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* svc = [] {
    auto s = asb::agent::FileService::Open("/tmp");
    if (!s) abort();
    return new asb::agent::FileService(std::move(*s));
  }();
  auto parts = svc->Normalize(asb::fuzz::AsText(data, size));
  if (!parts) return 0;
  for (const std::string& p : *parts)
    if (p.empty() || p == "." || p == ".." || p.find('/') != std::string::npos ||
        p.find('\0') != std::string::npos)
      abort();  // Security: a normalized component that could escape or confuse openat
  return 0;
}
