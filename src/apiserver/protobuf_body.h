// Request bodies in Kubernetes' protobuf encoding, for the kinds kubectl's typed clients send
// that way: `kubectl create namespace` and `kubectl create service` POST a Namespace or Service
// as application/vnd.kubernetes.protobuf, and client-go does not retry as JSON on a 415.
//
// Wire format: the magic "k8s\0", then a runtime.Unknown {typeMeta {apiVersion, kind}, raw},
// where raw is the object's generated.proto message. Decoded here into the JSON the rest of the
// server works with, from tables of the field numbers in k8s.io/api's generated.proto (core/v1
// Namespace, Service and the ObjectMeta they carry); unknown fields are skipped, as the Go
// decoder does. Responses stay JSON: kubectl's Accept also lists application/json.
#pragma once

#include <string_view>

#include "base/json_util.h"
#include "base/result.h"

namespace asb::apiserver {

inline constexpr char kProtobufMediaType[] = "application/vnd.kubernetes.protobuf";

// Errors: kInvalidArgument (malformed, or a kind this decoder has no table for; the message
// names it and says to send JSON).
[[nodiscard]] Result<Json> DecodeProtobufObject(std::string_view body);

}  // namespace asb::apiserver
