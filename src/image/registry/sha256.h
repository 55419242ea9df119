// Streaming SHA-256 (OpenSSL), for checking blobs while they are written to disk.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace asb::image::registry {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view data);
  // "sha256:<64 lower-case hex>"; the hasher is spent afterwards.
  std::string Digest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "sha256:<hex>" of `data`.
std::string Sha256Digest(std::string_view data);

}  // namespace asb::image::registry
