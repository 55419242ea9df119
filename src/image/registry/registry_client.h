// A distribution v2 API client for one repository: manifests (an index resolved to linux/amd64)
// and blobs, with anonymous, Basic and bearer-token auth (auth.h). Plain HTTP for loopback
// registries and the configured insecure ones, HTTPS (system CA) for the rest.
//
// Every error carries the registry's own words: "<host>: 404 MANIFEST_UNKNOWN: manifest unknown"
// (kNotFound), 401/403 (kUnauthenticated / kPermissionDenied), 429/5xx and network failures
// (kUnavailable), a digest or size that does not match (kDataLoss-like: kInternal naming both
// digests). A 401 refusing our token says why (the challenge's insufficient_scope / invalid_token).
// Each request answers one 401 by fetching a new token, so a token that expires mid-pull is
// renewed. Not thread-safe: one client per pull (FetchLayers copies it per worker).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <string>

#include "base/result.h"
#include "image/registry/auth.h"
#include "image/registry/manifest.h"
#include "image/registry/reference.h"
#include "image/registry/transport.h"

namespace asb::image::registry {

struct ClientOptions {
  std::optional<Credentials> credentials;
  std::set<std::string> insecure_registries;  // spoken to over plain HTTP (host[:port])
  std::chrono::milliseconds timeout{30000};   // per network step
};

struct PulledManifest {
  Manifest manifest;   // an image manifest (never an index)
  std::string digest;  // of the image manifest's bytes: the image's id
};

class RegistryClient {
 public:
  RegistryClient(Reference ref, ClientOptions options);

  // The image manifest for the reference; an index is followed to its linux/amd64 entry. The
  // manifest's bytes are checked against a pinned digest.
  [[nodiscard]] Result<PulledManifest> GetManifest();
  // Streams blob `d` to `path` (created, must not exist), checking its size and digest as it
  // goes; a bad blob leaves no file.
  [[nodiscard]] Status FetchBlob(const Descriptor& d, const std::string& path);
  // Hands blob `d` to `sink` piece by piece as it arrives, checking its size on the way and its
  // digest at the end: the caller must not trust what it was given until this returns OK.
  [[nodiscard]] Status StreamBlob(const Descriptor& d,
                                  const std::function<Status(std::string_view)>& sink);
  // A small blob (the image config) into memory, checked, up to `max` bytes.
  [[nodiscard]] Result<std::string> FetchSmallBlob(const Descriptor& d, size_t max);

  const Reference& reference() const { return ref_; }

 private:
  // GET `path` under /v2/<repository>/, answering one auth challenge and following redirects.
  [[nodiscard]] Result<HttpReply> Get(const std::string& path, GetOptions o);
  [[nodiscard]] Status Authenticate(const HttpReply& challenge_reply);
  [[nodiscard]] Result<PulledManifest> GetManifestOnce(const std::string& ref, bool follow_index);
  Error RegistryError(const HttpReply& reply, const std::string& what) const;
  // Why a 401 refused the token we sent ("" when we sent none).
  std::string RefusedTokenDetail(const HttpReply& reply) const;

  const Reference ref_;
  const ClientOptions options_;
  std::string authorization_;  // the Authorization header value once authenticated
  std::string token_service_;  // host[:port] of the realm that issued the bearer token
};

}  // namespace asb::image::registry
