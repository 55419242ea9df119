#include "image/registry/registry_client.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "base/base64.h"
#include "base/json_util.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "image/registry/blob_resume.h"
#include "image/registry/sha256.h"

namespace asb::image::registry {
namespace {

constexpr int kMaxRedirects = 5;

Code CodeForStatus(int status) {
  switch (status) {
    case 401:
      return Code::kUnauthenticated;
    case 403:
      return Code::kPermissionDenied;
    case 404:
      return Code::kNotFound;
    case 429:
      return Code::kUnavailable;
    default:
      return status >= 500 ? Code::kUnavailable : Code::kFailedPrecondition;
  }
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoUnexpected("write " + path);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

}  // namespace

RegistryClient::RegistryClient(Reference ref, ClientOptions options)
    : ref_(std::move(ref)), options_(std::move(options)) {}

Error RegistryClient::RegistryError(const HttpReply& reply, const std::string& what) const {
  // distribution's error body: {"errors":[{"code":"MANIFEST_UNKNOWN","message":"..."}]}.
  std::string detail;
  if (auto j = ParseJson(reply.body); j && j->is_object()) {
    auto errs = j->find("errors");
    if (errs != j->end() && errs->is_array()) {
      std::vector<std::string> parts;
      for (const Json& e : *errs) {
        if (!e.is_object()) continue;
        std::string code = e.value("code", ""), msg = e.value("message", "");
        parts.push_back(code.empty() ? msg : msg.empty() ? code : code + ": " + msg);
      }
      detail = Join(parts, "; ");
    }
  }
  if (detail.empty()) {
    std::string_view body = Trim(reply.body);
    detail = std::string(body.substr(0, 200));
  }
  std::string msg = ref_.registry + ": " + what + ": " + std::to_string(reply.status);
  if (!detail.empty()) msg += " " + detail;
  if (reply.status == 401) msg += RefusedTokenDetail(reply);
  return Error{CodeForStatus(reply.status), msg, 0};
}

std::string RegistryClient::RefusedTokenDetail(const HttpReply& reply) const {
  // A 401 to a request that carried our token: the challenge's `error` (RFC 6750) says whether
  // the token service granted too little ("insufficient_scope": the account may not pull this
  // repository) or the registry refused the token itself ("invalid_token").
  auto header = reply.headers.Get("WWW-Authenticate");
  if (token_service_.empty() || !header) return "";
  auto ch = ParseChallenge(*header);
  if (!ch || ch->scheme != "bearer" || !ch->params.count("error")) return "";
  const std::string& error = ch->params.at("error");
  std::string scope = ch->params.count("scope") ? ch->params.at("scope") : "this repository";
  if (error == "insufficient_scope") {
    const std::optional<Credentials>& creds = options_.credentials;
    std::string who = creds && !creds->empty()
                          ? "to user \"" + creds->username + "\""
                          : "anonymously (no imagePullSecrets for " + ref_.registry + ")";
    return " (insufficient_scope: the token from " + token_service_ + " does not grant " + scope +
           " " + who + ")";
  }
  return " (" + error + ": the registry refused the token from " + token_service_ + ")";
}

Status RegistryClient::Authenticate(const HttpReply& reply) {
  auto header = reply.headers.Get("WWW-Authenticate");
  if (!header) return tl::unexpected(RegistryError(reply, "authentication required"));
  ASB_ASSIGN_OR_RETURN(Challenge ch, ParseChallenge(*header));
  const std::optional<Credentials>& creds = options_.credentials;
  std::string basic = creds && !creds->empty()
                          ? "Basic " + Base64Encode(creds->username + ":" + creds->password)
                          : "";
  if (ch.scheme == "basic") {
    if (basic.empty()) {
      return tl::unexpected(
          RegistryError(reply, "registry wants a username and password (imagePullSecrets)"));
    }
    authorization_ = basic;
    return {};
  }
  if (ch.scheme != "bearer") {
    return MakeError(Code::kUnimplemented,
                     ref_.registry + ": unsupported auth scheme \"" + ch.scheme + "\"");
  }
  auto realm = ch.params.find("realm");
  if (realm == ch.params.end()) {
    return MakeError(Code::kUnauthenticated, ref_.registry + ": Bearer challenge without realm");
  }
  ASB_ASSIGN_OR_RETURN(Url url, ParseUrl(realm->second));
  std::string scope =
      ch.params.count("scope") ? ch.params["scope"] : "repository:" + ref_.repository + ":pull";
  url.target += url.target.find('?') == std::string::npos ? "?" : "&";
  if (ch.params.count("service")) url.target += "service=" + UrlEncode(ch.params["service"]) + "&";
  url.target += "scope=" + UrlEncode(scope);
  GetOptions o;
  o.timeout = options_.timeout;
  o.max_body = 1u << 20;
  if (!basic.empty()) o.headers.Set("Authorization", basic);
  ASB_ASSIGN_OR_RETURN(HttpReply tok, HttpGet(url, o));
  if (tok.status != 200) {
    return tl::unexpected(RegistryError(tok, "token service " + url.Authority()));
  }
  auto j = ParseJson(tok.body);
  std::string token;
  if (j && j->is_object()) {
    token = j->value("token", "");
    if (token.empty()) token = j->value("access_token", "");
  }
  if (token.empty()) {
    return MakeError(Code::kUnauthenticated,
                     ref_.registry + ": token service " + url.Authority() + " sent no token");
  }
  authorization_ = "Bearer " + token;
  token_service_ = url.Authority();
  return {};
}

Result<HttpReply> RegistryClient::Get(const std::string& path, GetOptions o) {
  bool https =
      !IsLoopbackHost(ref_.registry) && options_.insecure_registries.count(ref_.registry) == 0;
  ASB_ASSIGN_OR_RETURN(Url url, ParseUrl(std::string(https ? "https://" : "http://") +
                                         ref_.registry + "/v2/" + ref_.repository + "/" + path));
  o.timeout = options_.timeout;
  bool authenticated_once = false;
  bool same_host = true;
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    GetOptions attempt = o;
    // Credentials go to the registry only, never to where it redirects (presigned storage URLs).
    if (same_host && !authorization_.empty()) {
      attempt.headers.Set("Authorization", authorization_);
    }
    ASB_ASSIGN_OR_RETURN(HttpReply reply, HttpGet(url, attempt));
    if (reply.status == 401 && same_host && !authenticated_once) {
      authenticated_once = true;
      ASB_RETURN_IF_ERROR(Authenticate(reply));
      --hop;
      continue;
    }
    if (reply.status == 301 || reply.status == 302 || reply.status == 303 || reply.status == 307 ||
        reply.status == 308) {
      auto loc = reply.headers.Get("Location");
      if (!loc) return tl::unexpected(RegistryError(reply, "redirect without Location"));
      if (StartsWith(*loc, "/")) {
        url.target = *loc;
      } else {
        ASB_ASSIGN_OR_RETURN(Url next, ParseUrl(*loc));
        if (url.https && !next.https) {
          return MakeError(Code::kPermissionDenied,
                           ref_.registry + ": refusing a redirect from HTTPS to " + *loc);
        }
        same_host = same_host && next.host == url.host && next.port == url.port;
        url = std::move(next);
      }
      continue;
    }
    return reply;
  }
  return MakeError(Code::kUnavailable,
                   ref_.registry + ": more than " + std::to_string(kMaxRedirects) + " redirects");
}

Result<PulledManifest> RegistryClient::GetManifestOnce(const std::string& ref, bool follow_index) {
  GetOptions o;
  o.headers.Set("Accept", ManifestAccept());
  o.max_body = kMaxManifestBytes;
  auto reply = Get("manifests/" + ref, o);
  if (!reply && reply.error().code == Code::kResourceExhausted) {
    return MakeError(Code::kInvalidArgument, ref_.registry + ": manifest " + ref + " is over " +
                                                 std::to_string(kMaxManifestBytes) + " bytes");
  }
  if (!reply) return tl::unexpected(reply.error());
  if (reply->status != 200) {
    return tl::unexpected(RegistryError(*reply, "manifest " + ref_.repository + ":" + ref));
  }
  std::string digest = Sha256Digest(reply->body);
  if (IsSha256Digest(ref) && digest != ref) {
    return MakeError(Code::kInternal, ref_.registry + ": manifest digest mismatch: asked for " +
                                          ref + ", got " + digest);
  }
  auto m = ParseManifest(reply->body, reply->headers.GetOr("Content-Type", ""));
  if (!m) return tl::unexpected(m.error().Wrap(ref_.String()));
  if (m->is_index) {
    if (!follow_index) {
      return MakeError(Code::kInvalidArgument, ref_.String() + ": an index names another index");
    }
    return GetManifestOnce(m->platform_manifest.digest, false);
  }
  return PulledManifest{std::move(*m), digest};
}

Result<PulledManifest> RegistryClient::GetManifest() {
  return GetManifestOnce(ref_.ManifestRef(), true);
}

namespace {

// A failure worth another request: the network (reset, closed early, timed out, refused while
// the registry restarts) or the registry saying it is busy or sick (429, 5xx).
bool Retryable(Code code) { return code == Code::kUnavailable || code == Code::kDeadlineExceeded; }

}  // namespace

Status RegistryClient::StreamBlob(const Descriptor& d,
                                  const std::function<Status(std::string_view)>& sink) {
  // One hash and one byte stream across every attempt: a resumed request continues both where
  // the broken one stopped (blob_resume.h), so neither the digest nor the caller's unpack starts
  // again.
  Sha256 hash;
  int64_t received = 0;
  std::string validator;  // the first reply's strong ETag, sent back as If-Range
  Error last{Code::kUnavailable, "", 0};
  int stalled = 0;
  for (int attempt = 1;; ++attempt) {
    const int64_t before = received;
    int64_t skip = 0;
    bool final_error = false;  // ours or the sink's: another request would not help
    GetOptions o;
    if (received > 0) {
      o.headers.Set("Range", "bytes=" + std::to_string(received) + "-");
      if (!validator.empty()) o.headers.Set("If-Range", validator);
    }
    o.on_reply = [&](const HttpReply& r) -> Status {
      auto s = BytesToSkip(r.status, r.headers.Get("Content-Range"), received, d.size);
      if (!s) {
        final_error = true;
        return MakeError(Code::kInternal, ref_.registry + ": blob " + d.digest +
                                              ": resuming at byte " + std::to_string(received) +
                                              ": " + s.error().message);
      }
      skip = *s;
      if (validator.empty()) validator = IfRangeValidator(r.headers.Get("ETag"));
      return {};
    };
    o.sink = [&](std::string_view piece) -> Status {
      if (skip > 0) {
        size_t n = static_cast<size_t>(std::min<int64_t>(skip, static_cast<int64_t>(piece.size())));
        piece.remove_prefix(n);
        skip -= static_cast<int64_t>(n);
        if (piece.empty()) return {};
      }
      received += static_cast<int64_t>(piece.size());
      if (received > d.size) {
        final_error = true;
        return MakeError(Code::kInternal, ref_.registry + ": blob " + d.digest +
                                              " is larger than the manifest's " +
                                              std::to_string(d.size) + " bytes");
      }
      hash.Update(piece);
      Status st = sink(piece);
      if (!st) final_error = true;
      return st;
    };
    auto reply = Get("blobs/" + d.digest, o);
    if (reply && reply->status / 100 == 2) {
      if (received >= d.size || reply->status != 206 || received == before) break;
      continue;  // a 206 of part of the rest (a server that caps ranges): ask for the next part
    }
    if (!reply) {
      if (final_error || !Retryable(reply.error().code)) return tl::unexpected(reply.error());
      last = reply.error();
    } else {
      if (received > 0 && reply->status == 416) {
        return tl::unexpected(RegistryError(
            *reply, "blob " + d.digest + " (resuming at byte " + std::to_string(received) + ")"));
      }
      Error e = RegistryError(*reply, "blob " + d.digest);
      if (!Retryable(e.code)) return tl::unexpected(e);
      last = std::move(e);
    }
    stalled = received > before ? 0 : stalled + 1;
    if (attempt >= kMaxBlobAttempts || stalled >= kMaxStalledAttempts) {
      return MakeError(last.code, ref_.registry + ": blob " + d.digest + ": gave up after " +
                                      std::to_string(attempt) + " attempts at byte " +
                                      std::to_string(received) + " of " + std::to_string(d.size) +
                                      ": " + last.message);
    }
    ASB_LOG(INFO, "image: blob download broke, resuming", "blob", d.digest, "at", received, "of",
            d.size, "attempt", attempt, "error", last.message);
    std::this_thread::sleep_for(ResumeBackoff(stalled));
  }
  if (received != d.size) {
    return MakeError(Code::kInternal, ref_.registry + ": blob " + d.digest + " has " +
                                          std::to_string(received) + " bytes, the manifest says " +
                                          std::to_string(d.size));
  }
  std::string got = hash.Digest();
  if (got != d.digest) {
    return MakeError(Code::kInternal, ref_.registry + ": blob digest mismatch: expected " +
                                          d.digest + ", got " + got +
                                          " (corrupted in the registry or in transit)");
  }
  return {};
}

Status RegistryClient::FetchBlob(const Descriptor& d, const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return ErrnoUnexpected("create " + path);
  Status st =
      StreamBlob(d, [&](std::string_view piece) { return WriteAll(fd.get(), piece, path); });
  if (!st) ::unlink(path.c_str());
  return st;
}

Result<std::string> RegistryClient::FetchSmallBlob(const Descriptor& d, size_t max) {
  if (d.size < 0 || static_cast<size_t>(d.size) > max) {
    return MakeError(Code::kInvalidArgument, ref_.registry + ": blob " + d.digest + " is over " +
                                                 std::to_string(max) + " bytes");
  }
  GetOptions o;
  o.max_body = static_cast<size_t>(d.size);
  auto reply = Get("blobs/" + d.digest, o);
  if (!reply && reply.error().code == Code::kResourceExhausted) {
    return MakeError(Code::kInternal, ref_.registry + ": blob " + d.digest +
                                          " is larger than the manifest's " +
                                          std::to_string(d.size) + " bytes");
  }
  if (!reply) return tl::unexpected(reply.error());
  if (reply->status != 200) return tl::unexpected(RegistryError(*reply, "blob " + d.digest));
  std::string got = Sha256Digest(reply->body);
  if (got != d.digest) {
    return MakeError(Code::kInternal, ref_.registry + ": blob digest mismatch: expected " +
                                          d.digest + ", got " + got);
  }
  return std::move(reply->body);
}

}  // namespace asb::image::registry
