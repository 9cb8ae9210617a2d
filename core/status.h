// Status and Result<T>: expected failures as values, with a small set of codes.
// Codes map to HTTP statuses in one place (http_status); adapters convert their own errors.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace contacts {

enum class Code {
  kOk,
  kInvalid,
  kUnauthorized,
  kForbidden,
  kNotFound,
  kTooLarge,
  kUnavailable,
  kInternal
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return {}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// The HTTP status that answers a failure of this code.
int http_status(Code code);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit on purpose
  Result(Status status) : status_(std::move(status)) {}  // NOLINT
  // A default value built in place, to be filled through operator*.
  explicit Result(std::in_place_t) : value_(std::in_place) {}

  // Replaces what it holds with a default value built in place, to be filled through the
  // reference returned.
  T& emplace() {
    status_ = Status();
    return value_.emplace();
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace contacts
