#include "views/records.h"

#include <cstring>

namespace contacts {

namespace {

// Sizes of what Writer writes, so a record is written into one allocation of its exact size.
size_t str_size(std::string_view s) { return sizeof(uint32_t) + s.size(); }
size_t opt_str_size(const std::optional<std::string>& s) { return 1 + (s ? str_size(*s) : 0); }
size_t opt_i64_size(const std::optional<int64_t>& v) { return 1 + (v ? sizeof(int64_t) : 0); }

class Writer {
 public:
  explicit Writer(size_t bytes) { out_.reserve(bytes); }
  void i64(int64_t v) { out_.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void str(std::string_view s) {
    uint32_t n = static_cast<uint32_t>(s.size());
    out_.append(reinterpret_cast<const char*>(&n), sizeof n);
    out_.append(s);
  }
  void opt_str(const std::optional<std::string>& s) {
    out_.push_back(s ? 1 : 0);
    if (s) str(*s);
  }
  void opt_i64(const std::optional<int64_t>& v) {
    out_.push_back(v ? 1 : 0);
    if (v) i64(*v);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool i64(int64_t& v) { return raw(&v, sizeof v); }
  bool str(std::string& s) {
    uint32_t n = 0;
    if (!raw(&n, sizeof n) || at_ + n > in_.size()) return false;
    s.assign(in_.data() + at_, n);
    at_ += n;
    return true;
  }
  bool opt_str(std::optional<std::string>& s) {
    if (at_ >= in_.size()) return false;
    if (in_[at_++] == 0) {
      s.reset();
      return true;
    }
    s.emplace();
    return str(*s);
  }
  bool opt_i64(std::optional<int64_t>& v) {
    if (at_ >= in_.size()) return false;
    if (in_[at_++] == 0) {
      v.reset();
      return true;
    }
    v.emplace();
    return i64(*v);
  }
  bool done() const { return at_ == in_.size(); }

 private:
  bool raw(void* out, size_t n) {
    if (at_ + n > in_.size()) return false;
    std::memcpy(out, in_.data() + at_, n);
    at_ += n;
    return true;
  }
  std::string_view in_;
  size_t at_ = 0;
};

}  // namespace

std::string encode(const Contact& c) {
  Writer w(8 * sizeof(int64_t) + str_size(c.name) + opt_str_size(c.email) +
           str_size(c.folded_name) + str_size(c.folded_email) + str_size(c.subject) +
           str_size(c.email_index) + str_size(c.key_ids));
  w.i64(c.id);
  w.i64(c.workspace_id);
  w.i64(c.event_count);
  w.i64(c.last_seen_at);
  w.i64(c.created_at);
  w.i64(c.updated_at);
  w.i64(c.name_at);
  w.i64(c.name_position);
  w.str(c.name);
  w.opt_str(c.email);
  w.str(c.folded_name);
  w.str(c.folded_email);
  w.str(c.subject);
  w.str(c.email_index);
  w.str(c.key_ids);
  return w.take();
}

bool decode(std::string_view bytes, Contact& c) {
  Reader r(bytes);
  return r.i64(c.id) && r.i64(c.workspace_id) && r.i64(c.event_count) && r.i64(c.last_seen_at) &&
         r.i64(c.created_at) && r.i64(c.updated_at) && r.i64(c.name_at) && r.i64(c.name_position) &&
         r.str(c.name) && r.opt_str(c.email) && r.str(c.folded_name) && r.str(c.folded_email) &&
         r.str(c.subject) && r.str(c.email_index) && r.str(c.key_ids) && r.done();
}

namespace {

// Reads the u32-length-prefixed string at `at`, advancing it; false when truncated.
bool skip_string(std::string_view in, size_t& at, std::string_view* out) {
  uint32_t n = 0;
  if (at + sizeof n > in.size()) return false;
  std::memcpy(&n, in.data() + at, sizeof n);
  at += sizeof n;
  if (at + n > in.size()) return false;
  if (out) *out = in.substr(at, n);
  at += n;
  return true;
}

}  // namespace

std::string encode_search_text(const Contact& c) {
  Writer w(str_size(c.folded_name) + str_size(c.folded_email));
  w.str(c.folded_name);
  w.str(c.folded_email);
  return w.take();
}

bool decode_search_text(std::string_view in, std::string_view& folded_name,
                        std::string_view& folded_email) {
  size_t at = 0;
  return skip_string(in, at, &folded_name) && skip_string(in, at, &folded_email);
}

bool search_text_contains(std::string_view in, std::string_view query) {
  size_t at = 0;
  std::string_view folded_name, folded_email;
  if (!skip_string(in, at, &folded_name) || !skip_string(in, at, &folded_email)) return false;
  return folded_name.find(query) != std::string_view::npos ||
         folded_email.find(query) != std::string_view::npos;
}

std::string encode(const ContactEvent& e) {
  Writer w(5 * sizeof(int64_t) + opt_i64_size(e.room_id) + opt_str_size(e.room_name) +
           opt_str_size(e.room_display_name) + opt_i64_size(e.booking_page_id) +
           opt_str_size(e.booking_page_title) + opt_str_size(e.booking_page_slug) +
           opt_str_size(e.metadata));
  w.i64(e.id);
  w.i64(e.contact_id);
  w.i64(e.workspace_id);
  w.i64(static_cast<int64_t>(e.event_type));
  w.opt_i64(e.room_id);
  w.opt_str(e.room_name);
  w.opt_str(e.room_display_name);
  w.opt_i64(e.booking_page_id);
  w.opt_str(e.booking_page_title);
  w.opt_str(e.booking_page_slug);
  w.opt_str(e.metadata);
  w.i64(e.created_at);
  return w.take();
}

bool decode(std::string_view bytes, ContactEvent& e) {
  Reader r(bytes);
  int64_t type = 0;
  bool ok = r.i64(e.id) && r.i64(e.contact_id) && r.i64(e.workspace_id) && r.i64(type) &&
            r.opt_i64(e.room_id) && r.opt_str(e.room_name) && r.opt_str(e.room_display_name) &&
            r.opt_i64(e.booking_page_id) && r.opt_str(e.booking_page_title) &&
            r.opt_str(e.booking_page_slug) && r.opt_str(e.metadata) && r.i64(e.created_at) &&
            r.done();
  e.event_type = static_cast<CommandType>(type);
  return ok;
}

}  // namespace contacts
