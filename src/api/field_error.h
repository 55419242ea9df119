// Field-level validation errors shaped like Kubernetes' field.Error, so the API server can turn
// them into a 422 Invalid Status with details.causes[] and kubectl prints familiar messages:
//   spec.replicas: Invalid value: -1: must be greater than or equal to 0
#pragma once

#include <string>
#include <vector>

#include "base/json_util.h"

namespace asb::api {

enum class FieldErrorType {
  kRequired,      // "Required value"                       reason FieldValueRequired
  kInvalid,       // "Invalid value: <v>: <detail>"          reason FieldValueInvalid
  kNotSupported,  // "Unsupported value: <v>: supported values: ..."  FieldValueNotSupported
  kTypeInvalid,   // "Invalid value: <v>: <detail>"          reason FieldValueTypeInvalid
  kDuplicate,     // "Duplicate value: <v>"                  reason FieldValueDuplicate
  kForbidden,     // "Forbidden: <detail>"                   reason FieldValueForbidden
  kTooLong,       // "Too long: <detail>" (value omitted)    reason FieldValueTooLong
};

struct FieldError {
  FieldErrorType type = FieldErrorType::kInvalid;
  std::string field;  // "spec.podTemplate.spec.containers[0].image"
  Json value;         // the offending value (null for kRequired)
  std::string detail;

  // The Status cause reason ("FieldValueInvalid", ...).
  std::string Reason() const;
  // The message without the field: "Invalid value: -1: must be greater than or equal to 0".
  std::string Message() const;
  // "<field>: <Message()>".
  std::string ToString() const;
};

using FieldErrors = std::vector<FieldError>;

// "a: x" for one error, "[a: x, b: y]" for several (Kubernetes' ErrorList aggregate).
std::string AggregateMessage(const FieldErrors& errors);

}  // namespace asb::api
