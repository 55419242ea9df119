// Kubernetes resource quantities ("250m", "1", "512Mi", "1G", "1.5", "2e3"), parsed exactly as
// k8s.io/apimachinery/pkg/api/resource does for the values the node needs: a cpu amount in
// millicores and byte counts. Values are rounded up, like Quantity.MilliValue()/Value().
#pragma once

#include <cstdint>
#include <string_view>

#include "base/result.h"

namespace asb::api {

// The quantity scaled by 1000 (millicores for cpu), rounded up. "250m" -> 250, "1" -> 1000,
// "0.1" -> 100, "1Ki" -> 1024000. Errors: kInvalidArgument naming the text (bad syntax, negative,
// or larger than int64).
[[nodiscard]] Result<int64_t> ParseQuantityMilli(std::string_view text);
// The quantity as an integer, rounded up: "512Mi" -> 536870912, "1G" -> 1000000000,
// "100m" -> 1. Errors as above.
[[nodiscard]] Result<int64_t> ParseQuantityValue(std::string_view text);

// Why a resources value is not a quantity the node can use, for validation messages.
enum class QuantityProblem {
  kNone,
  kSyntax,    // not Kubernetes' quantity syntax ("lots", "1.2.3", "5Qi")
  kNegative,  // well formed but below zero
  kTooLarge,  // well formed but beyond int64 at the node's scale (millis for cpu)
};
// Classifies `text` as ParseQuantityMilli (`milli`) or ParseQuantityValue would read it.
QuantityProblem CheckQuantity(std::string_view text, bool milli);

}  // namespace asb::api
