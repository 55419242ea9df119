// The CRD conversion webhook's logic: a ConversionReview (apiextensions.k8s.io/v1) in, the same
// review with its response out. kube-apiserver sends one whenever it reads or writes an
// agent-sandbox object in a version other than the stored one (v1beta1 on disk, v1alpha1 asked
// for, or the reverse); the conversion itself is api/conversion.h, lossless both ways.
//
// Pure functions over JSON (no sockets, no store), so unit tests drive every case directly;
// webhook/server.h puts them behind HTTPS.
//
// Unlike the embedded API server, the webhook has no stored object and no warm-pool lookup
// (ConvertContext is empty): a claim created in v1beta1 with warmPoolRef "p" and read in v1alpha1
// gets sandboxTemplateRef.name "p" unless it was written in v1alpha1 first (the annotation then
// restores the real template) or p is a shadow pool ("shadow-pool-<template>").
#pragma once

#include <cstddef>
#include <string_view>

#include "base/json_util.h"
#include "http/message.h"

namespace asb::webhook {

// Objects one review may carry; kube-apiserver sends one per object read or written, and a list
// request converts the page it read (at most the list's limit).
inline constexpr size_t kMaxReviewObjects = 10000;

// The response review for `review`. Always a ConversionReview: a request that can't be read
// (not a v1 ConversionReview, no uid, an unknown desiredAPIVersion, a foreign kind or version,
// a malformed object) gets response.result {status: Failure, message} and no convertedObjects;
// conversion is all or nothing. Never throws.
Json Convert(const Json& review);

// POST /convert: the body is the review (JSON). 200 with the response review whenever the
// request could be read as a review (even when its conversion failed, as kube-apiserver
// expects); 400 with a Failure review when the body is not JSON or not a ConversionReview.
http::Response HandleConvert(const http::Request& request);

// The Failure review the server answers itself (413 body too large, 500) when there is no
// readable request.
Json FailureReview(std::string_view uid, std::string_view message);

}  // namespace asb::webhook
