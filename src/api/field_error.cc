#include "api/field_error.h"

namespace asb::api {

namespace {
// Go's %v-ish rendering of a value in Kubernetes messages: strings quoted, numbers plain.
std::string Render(const Json& v) {
  if (v.is_null()) return "null";
  return DumpJson(v);
}
}  // namespace

std::string FieldError::Reason() const {
  switch (type) {
    case FieldErrorType::kRequired:
      return "FieldValueRequired";
    case FieldErrorType::kInvalid:
      return "FieldValueInvalid";
    case FieldErrorType::kNotSupported:
      return "FieldValueNotSupported";
    case FieldErrorType::kTypeInvalid:
      return "FieldValueTypeInvalid";
    case FieldErrorType::kDuplicate:
      return "FieldValueDuplicate";
    case FieldErrorType::kForbidden:
      return "FieldValueForbidden";
    case FieldErrorType::kTooLong:
      return "FieldValueTooLong";
  }
  return "FieldValueInvalid";
}

std::string FieldError::Message() const {
  switch (type) {
    case FieldErrorType::kRequired:
      return detail.empty() ? "Required value" : "Required value: " + detail;
    case FieldErrorType::kInvalid:
    case FieldErrorType::kTypeInvalid:
      return "Invalid value: " + Render(value) + (detail.empty() ? "" : ": " + detail);
    case FieldErrorType::kNotSupported:
      return "Unsupported value: " + Render(value) + (detail.empty() ? "" : ": " + detail);
    case FieldErrorType::kDuplicate:
      return "Duplicate value: " + Render(value);
    case FieldErrorType::kForbidden:
      return "Forbidden" + (detail.empty() ? std::string() : ": " + detail);
    case FieldErrorType::kTooLong:
      return "Too long" + (detail.empty() ? std::string() : ": " + detail);
  }
  return detail;
}

std::string FieldError::ToString() const { return field + ": " + Message(); }

std::string AggregateMessage(const FieldErrors& errors) {
  if (errors.size() == 1) return errors[0].ToString();
  std::string out = "[";
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i) out += ", ";
    out += errors[i].ToString();
  }
  return out + "]";
}

}  // namespace asb::api
