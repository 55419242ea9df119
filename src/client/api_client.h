// A small blocking client for the asbd Kubernetes API (any kube-apiserver over plain HTTP with a
// bearer token): typed helpers over http::Client, errors carrying the server's Status message.
// One connection, kept alive and re-dialled once on failure. Not thread-safe.
#pragma once

#include <memory>
#include <string>

#include "api/resource.h"
#include "base/json_util.h"
#include "base/result.h"
#include "client/kubeconfig.h"
#include "http/client.h"

namespace asb::client {

// A failed call's Error carries the server Status's reason ("NotFound", "Invalid", ...) in
// Error::reason and its message in Error::message; the code is http/errors.h's table read
// backwards (404 kNotFound, 409 AlreadyExists kAlreadyExists, 409 Conflict kAborted, 422
// kInvalidArgument, ...).
class ApiClient {
 public:
  // Does not connect yet. kInvalidArgument for an unusable server URL. An https:// server is
  // reached with plaintext HTTP on the same port (asbd serves both; see docs/api.md).
  [[nodiscard]] static Result<std::unique_ptr<ApiClient>> Create(const Kubeconfig& kc);

  // "/apis/G/V/namespaces/NS/PLURAL/NAME/SUB" (parts omitted when empty).
  static std::string Path(const api::ResourceInfo& res, const std::string& ns,
                          const std::string& name = "", const std::string& sub = "");

  [[nodiscard]] Result<Json> Get(const api::ResourceInfo& res, const std::string& ns,
                                 const std::string& name);
  // ns "" = all namespaces.
  [[nodiscard]] Result<Json> List(const api::ResourceInfo& res, const std::string& ns,
                                  const std::string& label_selector = "");
  [[nodiscard]] Result<Json> Create(const api::ResourceInfo& res, const std::string& ns,
                                    const Json& obj);
  [[nodiscard]] Result<Json> Patch(
      const api::ResourceInfo& res, const std::string& ns, const std::string& name,
      const Json& patch, const std::string& content_type = "application/merge-patch+json");
  [[nodiscard]] Result<Json> Delete(const api::ResourceInfo& res, const std::string& ns,
                                    const std::string& name,
                                    const std::string& propagation = "Background");
  // Raw request; the body is sent as-is. Returns the parsed JSON response body (2xx only).
  [[nodiscard]] Result<Json> Request(const std::string& method, const std::string& target,
                                     const std::string& body = "",
                                     const std::string& content_type = "application/json");

  const Kubeconfig& kubeconfig() const { return kc_; }

 private:
  ApiClient(Kubeconfig kc, HostPort addr) : kc_(std::move(kc)), addr_(std::move(addr)) {}
  Kubeconfig kc_;
  HostPort addr_;
  std::unique_ptr<http::Client> conn_;
};

// Maps an HTTP status and Status body to an Error (see ApiClient): http::ErrorFromHttp.
Error ErrorFromResponse(int status, const std::string& body);

}  // namespace asb::client
