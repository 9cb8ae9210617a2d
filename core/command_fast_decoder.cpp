#include "core/command_fast_decoder.h"

#include <nlohmann/json.hpp>

#include "core/text.h"

namespace contacts {

namespace {

// The rest of a JSON string whose opening quote is just before `i`, when it has no escapes
// or control characters: its text in `out`, and `i` moved past the closing quote.
bool plain_string_rest(std::string_view s, size_t& i, std::string_view& out) {
  for (size_t start = i; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"') {
      out = s.substr(start, i - start);
      ++i;
      return true;
    }
    if (c == '\\' || c < 0x20) return false;
  }
  return false;
}

// A cursor over JSON text that gives up (returns false) on anything outside the plain case:
// escapes, control characters, signs, fractions, exponents, leading zeros.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : s_(text) {}

  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  bool consume(char c) {
    skip_space();
    if (i_ >= s_.size() || s_[i_] != c) return false;
    ++i_;
    return true;
  }
  bool peek(char c) {
    skip_space();
    return i_ < s_.size() && s_[i_] == c;
  }
  bool at_end() {
    skip_space();
    return i_ == s_.size();
  }

  bool string(std::string_view& out) { return consume('"') && plain_string_rest(s_, i_, out); }

  bool integer(int64_t& out) {
    skip_space();
    size_t start = i_;
    int64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      if (i_ - start >= 16) return false;
      v = v * 10 + (s_[i_] - '0');
      ++i_;
    }
    size_t digits = i_ - start;
    if (digits == 0 || (digits > 1 && s_[start] == '0')) return false;
    if (i_ < s_.size() && (s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E')) return false;
    out = v;
    return true;
  }

  bool null() {
    skip_space();
    if (s_.substr(i_, 4) != "null") return false;
    i_ += 4;
    return true;
  }

  // A string, or null (out stays empty).
  bool nullable_string(std::optional<std::string_view>& out) {
    if (peek('n')) return null();
    std::string_view v;
    if (!string(v)) return false;
    out = v;
    return true;
  }

  // Skips one JSON value of any kind (escapes allowed inside strings) and gives its span.
  bool value_span(std::string_view& out) {
    skip_space();
    size_t start = i_;
    int depth = 0;
    bool in_string = false, escaped = false;
    for (; i_ < s_.size(); ++i_) {
      char c = s_[i_];
      if (in_string) {
        if (escaped)
          escaped = false;
        else if (c == '\\')
          escaped = true;
        else if (c == '"')
          in_string = false;
        continue;
      }
      if (c == '"')
        in_string = true;
      else if (c == '{' || c == '[')
        ++depth;
      else if (c == '}' || c == ']') {
        if (depth == 0) break;
        if (--depth == 0) {
          ++i_;
          break;
        }
      } else if (depth == 0 && (c == ','))
        break;
    }
    if (in_string || depth != 0) return false;
    out = s_.substr(start, i_ - start);
    while (!out.empty() &&
           (out.back() == ' ' || out.back() == '\n' || out.back() == '\r' || out.back() == '\t'))
      out.remove_suffix(1);
    return !out.empty();
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

// Calls field(key) for each member of an object; false when it returns false or on a parse
// failure. A field refuses keys it does not know, and a repeated key through Seen.
template <typename Field>
bool object(Cursor& c, Field field) {
  if (!c.consume('{')) return false;
  if (c.consume('}')) return true;
  do {
    std::string_view key;
    if (!c.string(key) || !c.consume(':') || !field(key)) return false;
  } while (c.consume(','));
  return c.consume('}');
}

// The known keys of one object already met: once(k) is false the second time key k comes.
struct Seen {
  uint32_t bits = 0;
  bool once(int k) {
    if (bits & (1u << k)) return false;
    bits |= 1u << k;
    return true;
  }
};

bool within(std::string_view v, size_t max) { return utf8_length(v) <= max; }

bool id_in_range(int64_t v, int64_t min) { return v >= min && v <= kMaxSafeInteger; }

bool hex_digits(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char ch : s)
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
  return true;
}

// A sealed participant (privacy/sealing.h), checked as the reference decoder checks it.
bool sealed_participant(std::string_view sealed, std::string_view subject, std::string_view key_id,
                        std::optional<std::string_view> email_index, Command& out) {
  if (sealed.empty() || sealed.size() > kMaxSealedBytes || subject.empty() ||
      subject.size() > kMaxSubjectLength || !hex_digits(key_id, 32))
    return false;
  for (char ch : subject)
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || ch == '-')) return false;
  if (email_index) {
    if (!hex_digits(*email_index, 64) || subject != *email_index) return false;
    out.email_index = hex_decode(*email_index);
  } else if (subject.substr(0, 5) != "anon-" || !hex_digits(subject.substr(5), 32)) {
    return false;
  }
  out.sealed = true;
  out.sealed_data = std::string(sealed);
  out.subject = std::string(subject);
  out.data_key_id = std::string(key_id);
  return true;
}

bool participant(Cursor& c, Command& out) {
  std::optional<std::string_view> name, email, sealed, subject, key_id, email_index;
  bool has_name = false;
  Seen seen;
  bool ok = object(c, [&](std::string_view key) {
    if (key == "name") {
      has_name = true;
      return seen.once(0) && c.nullable_string(name);
    }
    if (key == "email") return seen.once(1) && c.nullable_string(email);
    if (key == "sealed") return seen.once(2) && c.nullable_string(sealed);
    if (key == "subject") return seen.once(3) && c.nullable_string(subject);
    if (key == "key_id") return seen.once(4) && c.nullable_string(key_id);
    if (key == "email_index") return seen.once(5) && c.nullable_string(email_index);
    return false;
  });
  if (!ok) return false;
  if (sealed || subject || key_id || email_index)
    return !has_name && !email && sealed && subject && key_id &&
           sealed_participant(*sealed, *subject, *key_id, email_index, out);
  if (!has_name || !name) return false;
  std::string_view trimmed = trim(*name);
  if (trimmed.empty() || !within(trimmed, kMaxNameLength)) return false;
  out.participant_name = std::string(trimmed);
  if (email) {
    if (!within(*email, kMaxEmailLength)) return false;
    out.participant_email = std::string(*email);
  }
  return true;
}

bool required_label(const std::optional<std::string_view>& v, std::string& out) {
  if (!v || v->empty() || !within(*v, kMaxLabelLength)) return false;
  out = std::string(*v);
  return true;
}

bool room(Cursor& c, Command& out) {
  std::optional<std::string_view> name, display;
  bool has_id = false;
  Seen seen;
  bool ok = object(c, [&](std::string_view key) {
    if (key == "id") {
      has_id = true;
      return seen.once(0) && c.integer(out.room_id);
    }
    if (key == "name") return seen.once(1) && c.nullable_string(name);
    if (key == "display_name") return seen.once(2) && c.nullable_string(display);
    return false;
  });
  if (!ok || !has_id || !id_in_range(out.room_id, 1) || !required_label(name, out.room_name))
    return false;
  if (display) {
    if (!within(*display, kMaxLabelLength)) return false;
    out.room_display_name = std::string(*display);
  }
  return true;
}

bool booking_page(Cursor& c, Command& out) {
  std::optional<std::string_view> title, slug;
  bool has_id = false;
  Seen seen;
  bool ok = object(c, [&](std::string_view key) {
    if (key == "id") {
      has_id = true;
      return seen.once(0) && c.integer(out.booking_page_id);
    }
    if (key == "title") return seen.once(1) && c.nullable_string(title);
    if (key == "slug") return seen.once(2) && c.nullable_string(slug);
    return false;
  });
  return ok && has_id && id_in_range(out.booking_page_id, 1) &&
         required_label(title, out.booking_page_title) &&
         required_label(slug, out.booking_page_slug);
}

// True when `text` is exactly nlohmann::json's compact dump of itself, so it can be served
// as it is: no whitespace, object keys in strictly ascending byte order, strings without
// escapes or control characters, integers of at most 18 digits (no fractions or exponents).
class CanonicalCheck {
 public:
  explicit CanonicalCheck(std::string_view text) : s_(text) {}
  bool whole() { return value() && i_ == s_.size(); }

 private:
  bool value() {
    if (i_ >= s_.size()) return false;
    switch (s_[i_]) {
      case '{':
        return object();
      case '[':
        return array();
      case '"': {
        std::string_view ignored;
        return string(ignored);
      }
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return integer();
    }
  }
  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }
  bool string(std::string_view& out) { return plain_string_rest(s_, ++i_, out); }
  bool integer() {
    size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    size_t digits = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    size_t n = i_ - digits;
    if (n == 0 || n > 18 || (n > 1 && s_[digits] == '0')) return false;
    // "-0" is dumped as "0".
    if (i_ - start == 2 && s_[start] == '-' && s_[digits] == '0') return false;
    return true;
  }
  bool array() {
    ++i_;
    if (i_ < s_.size() && s_[i_] == ']') return ++i_, true;
    while (true) {
      if (!value()) return false;
      if (i_ >= s_.size()) return false;
      if (s_[i_] == ']') return ++i_, true;
      if (s_[i_++] != ',') return false;
    }
  }
  bool object() {
    ++i_;
    if (i_ < s_.size() && s_[i_] == '}') return ++i_, true;
    std::string_view previous;
    bool first = true;
    while (true) {
      std::string_view key;
      if (i_ >= s_.size() || s_[i_] != '"' || !string(key)) return false;
      if (!first && !(previous < key)) return false;
      first = false;
      previous = key;
      if (i_ >= s_.size() || s_[i_++] != ':') return false;
      if (!value()) return false;
      if (i_ >= s_.size()) return false;
      if (s_[i_] == '}') return ++i_, true;
      if (s_[i_++] != ',') return false;
    }
  }

  std::string_view s_;
  size_t i_ = 0;
};

bool metadata(Cursor& c, Command& out) {
  if (c.peek('n')) return c.null();
  std::string_view span;
  if (!c.value_span(span)) return false;
  // Parsed alone, the slice would be forgiven things the whole document is not (a leading
  // byte-order mark): take only slices that start like a JSON value.
  char first = span.front();
  bool plain_start = first == '{' || first == '[' || first == '"' || first == '-' || first == 't' ||
                     first == 'f' || (first >= '0' && first <= '9');
  if (!plain_start) return false;
  // Served as its compact serialization: the reference decoder's, exactly. Most metadata is
  // already in that form, and is taken as it is.
  if (CanonicalCheck(span).whole()) {
    if (span.size() > kMaxMetadataBytes) return false;
    out.metadata = std::string(span);
    return true;
  }
  auto value = nlohmann::json::parse(span, nullptr, false);
  if (value.is_discarded() || value.is_null()) return false;
  std::string text = value.dump();
  if (text.size() > kMaxMetadataBytes) return false;
  out.metadata = std::move(text);
  return true;
}

}  // namespace

bool decode_visit_fast(std::string_view json_text, Command& out) {
  Cursor c(json_text);
  out.occurred_at_missing = true;
  std::string_view type, command_id;
  bool has_type = false, has_id = false, has_ws = false, has_participant = false, has_place = false;
  bool has_room = false, has_page = false;
  Seen seen;
  bool ok = object(c, [&](std::string_view key) {
    if (key == "type") {
      has_type = true;
      return seen.once(0) && c.string(type);
    }
    if (key == "command_id") {
      has_id = true;
      return seen.once(1) && c.string(command_id);
    }
    if (key == "workspace_id") {
      has_ws = true;
      return seen.once(2) && c.integer(out.workspace_id.value);
    }
    if (key == "occurred_at") {
      out.occurred_at_missing = false;
      return seen.once(3) && c.integer(out.occurred_at);
    }
    if (key == "participant") {
      has_participant = true;
      return seen.once(4) && participant(c, out);
    }
    if (key == "room") {
      has_room = true;
      return seen.once(5) && room(c, out);
    }
    if (key == "booking_page") {
      has_page = true;
      return seen.once(6) && booking_page(c, out);
    }
    if (key == "metadata") return seen.once(7) && metadata(c, out);
    return false;
  });
  if (!ok || !c.at_end() || !has_type || !has_id || !has_ws || !has_participant) return false;
  if (type == "room_join") {
    out.type = CommandType::kRoomJoin;
    has_place = has_room && !has_page;
  } else if (type == "booking") {
    out.type = CommandType::kBooking;
    has_place = has_page && !has_room;
  }
  if (!has_place || command_id.empty() || !within(command_id, kMaxCommandIdLength)) return false;
  if (out.sealed && out.metadata) return false;  // the metadata is sealed with the participant
  if (!id_in_range(out.workspace_id.value, 1) || !id_in_range(out.occurred_at, 0)) return false;
  out.command_id = std::string(command_id);
  return true;
}

}  // namespace contacts
