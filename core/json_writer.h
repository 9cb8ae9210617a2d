// JsonWriter: appends compact JSON to a string, for the hot responses (contact lists and
// timelines) where building a DOM first costs more than the read. Escapes like nlohmann's
// dump(): UTF-8 passes through, control characters become \b \f \n \r \t or \u00XX.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace contacts {

class JsonWriter {
 public:
  JsonWriter() = default;
  // Room for `bytes` of output, so a page of rows is not copied as it grows.
  explicit JsonWriter(size_t bytes) { out_.reserve(bytes); }

  JsonWriter& begin_object() {
    separate();
    out_.push_back('{');
    first_ = true;
    return *this;
  }
  JsonWriter& end_object() {
    out_.push_back('}');
    first_ = false;
    return *this;
  }
  JsonWriter& begin_array() {
    separate();
    out_.push_back('[');
    first_ = true;
    return *this;
  }
  JsonWriter& end_array() {
    out_.push_back(']');
    first_ = false;
    return *this;
  }
  JsonWriter& key(std::string_view name) {
    separate();
    string_literal(name);
    out_.push_back(':');
    first_ = true;  // the value that follows takes no comma
    return *this;
  }
  JsonWriter& value(int64_t v) {
    separate();
    char digits[24];
    out_.append(digits, std::to_chars(digits, digits + sizeof digits, v).ptr);
    return *this;
  }
  JsonWriter& value(std::string_view v) {
    separate();
    string_literal(v);
    return *this;
  }
  JsonWriter& value(const std::string& v) { return value(std::string_view(v)); }
  JsonWriter& value(const char* v) { return value(std::string_view(v)); }
  JsonWriter& value(const std::optional<std::string>& v) {
    return v ? value(std::string_view(*v)) : null();
  }
  JsonWriter& value(const std::optional<int64_t>& v) { return v ? value(*v) : null(); }
  JsonWriter& null() {
    separate();
    out_.append("null");
    return *this;
  }
  JsonWriter& boolean(bool v) {
    separate();
    out_.append(v ? "true" : "false");
    return *this;
  }

  std::string take() { return std::move(out_); }

 private:
  void separate() {
    if (!first_) out_.push_back(',');
    first_ = false;
  }
  void string_literal(std::string_view s);

  std::string out_;
  bool first_ = true;
};

}  // namespace contacts
