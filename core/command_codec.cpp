#include "core/command_codec.h"

#include <algorithm>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>

#include "core/command_fast_decoder.h"
#include "core/text.h"

namespace contacts {

using nlohmann::json;

namespace {

Status invalid(std::string reason) { return {Code::kInvalid, std::move(reason)}; }

// Reads typed fields of one JSON object, naming the field's path in every failure.
class FieldReader {
 public:
  FieldReader(const json& object, std::string path, UnknownFields unknown)
      : object_(object), path_(std::move(path)), unknown_(unknown) {}
  // A reader of the object `object` found under `key`, with this one's rules.
  FieldReader child(const json& object, std::string_view key) const {
    return FieldReader(object, name(key), unknown_);
  }

  // The evolution policy (schemas/README.md): a field this version does not know is accepted
  // and ignored, so a newer producer can deploy first; with kRefuseTypos, one whose name is a
  // near miss of a known field of the same object (near_miss: a typo) is refused, naming the
  // field it misses.
  // `fields` are the object's own; the command object's also has every command's header.
  Status known(std::initializer_list<std::string_view> fields) const {
    if (unknown_ == UnknownFields::kIgnore) return {};
    static constexpr std::string_view kHeader[] = {"type", "command_id", "workspace_id",
                                                   "occurred_at", "version"};
    const std::span<const std::string_view> header =
        path_.empty() ? std::span(kHeader) : std::span<const std::string_view>();
    auto near_one = [&](std::string_view key, auto names) -> std::optional<std::string_view> {
      for (auto f : names)
        if (near_miss(key, f)) return f;
      return std::nullopt;
    };
    for (const auto& [key, value] : object_.items()) {
      if (std::find(fields.begin(), fields.end(), key) != fields.end() ||
          std::find(header.begin(), header.end(), key) != header.end())
        continue;
      auto missed = near_one(key, header);
      if (!missed) missed = near_one(key, fields);
      if (missed)
        return invalid("unknown field \"" + name(key) + "\" (did you mean \"" + name(*missed) +
                       "\"?)");
    }
    return {};
  }

  Status integer(std::string_view key, int64_t& out, int64_t min, bool required = true) const {
    auto it = object_.find(key);
    if (it == object_.end()) return required ? missing(key) : Status{};
    if (!it->is_number_integer()) return invalid("\"" + name(key) + "\" must be an integer");
    if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t{kMaxSafeInteger})
      return out_of_range(key, min);
    int64_t v = it->get<int64_t>();
    if (v < min || v > kMaxSafeInteger) return out_of_range(key, min);
    out = v;
    return {};
  }

  Status boolean(std::string_view key, bool& out) const {
    auto it = object_.find(key);
    if (it == object_.end()) return missing(key);
    if (!it->is_boolean()) return invalid("\"" + name(key) + "\" must be true or false");
    out = it->get<bool>();
    return {};
  }

  // A string of 1..max code points after trimming when `trimmed`; absent or null is an
  // error when `required`, else leaves `out` empty.
  Status text(std::string_view key, std::optional<std::string>& out, size_t max, bool required,
              bool trimmed) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) {
      if (required)
        return it == object_.end() ? missing(key)
                                   : invalid("\"" + name(key) + "\" must be a string");
      return {};
    }
    if (!it->is_string())
      return invalid("\"" + name(key) + "\" must be a string" + (required ? "" : " or null"));
    const auto& s = it->get_ref<const std::string&>();
    std::string_view v = trimmed ? trim(s) : std::string_view(s);
    if (required && v.empty()) return invalid("\"" + name(key) + "\" must not be empty");
    if (trimmed && !printable_name(v))
      return invalid("\"" + name(key) + "\" must show a character and hold no NUL");
    if (utf8_length(v) > max)
      return invalid("\"" + name(key) + "\" is longer than " + std::to_string(max) + " characters");
    out = std::string(v);
    return {};
  }

  Status required_text(std::string_view key, std::string& out, size_t max,
                       bool trimmed = false) const {
    std::optional<std::string> v;
    if (auto s = text(key, v, max, true, trimmed); !s.ok()) return s;
    out = std::move(*v);
    return {};
  }

  const json* object(std::string_view key) const {
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }

  Status missing(std::string_view key) const {
    return invalid("missing field \"" + name(key) + "\"");
  }

  std::string name(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

 private:
  Status out_of_range(std::string_view key, int64_t min) const {
    return invalid("\"" + name(key) + "\" must be between " + std::to_string(min) + " and " +
                   std::to_string(kMaxSafeInteger));
  }

  const json& object_;
  std::string path_;
  UnknownFields unknown_;
};

Status require_object(const json* value, const FieldReader& parent, std::string_view key) {
  if (value == nullptr) return parent.missing(key);
  if (!value->is_object()) return invalid("\"" + parent.name(key) + "\" must be an object");
  return {};
}

bool lower_hex(std::string_view s, size_t digits) {
  if (s.size() != digits) return false;
  for (char ch : s)
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
  return true;
}

// 64 lower-case hex digits: the blind index of an email, kept as its 32 bytes.
Status decode_email_index(const FieldReader& r, std::string_view key, Command& c, bool required) {
  std::optional<std::string> text;
  if (auto s = r.text(key, text, 64, required, false); !s.ok()) return s;
  if (!text) return {};
  if (!lower_hex(*text, 64))
    return invalid("\"" + r.name(key) + "\" must be 64 lower-case hex digits");
  c.email_index = hex_decode(*text);
  return {};
}

// A participant sealed by ingest, `contacts produce` or a producer's helper (privacy/sealing.h).
Status decode_sealed_participant(const FieldReader& r, Command& c) {
  if (auto s = r.known({"sealed", "subject", "key_id", "email_index"}); !s.ok()) return s;
  if (r.object("name") != nullptr || r.object("email") != nullptr)
    return invalid("a sealed \"participant\" has no name or email in clear");
  c.sealed = true;
  if (auto s = r.required_text("sealed", c.sealed_data, kMaxSealedBytes); !s.ok()) return s;
  if (auto s = r.required_text("subject", c.subject, kMaxSubjectLength); !s.ok()) return s;
  for (char ch : c.subject)
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || ch == '-'))
      return invalid("\"" + r.name("subject") + "\" may hold only a-z, 0-9 and -");
  if (auto s = r.required_text("key_id", c.data_key_id, 32); !s.ok()) return s;
  if (!lower_hex(c.data_key_id, 32))
    return invalid("\"" + r.name("key_id") + "\" must be 32 lower-case hex digits");
  if (auto s = decode_email_index(r, "email_index", c, false); !s.ok()) return s;
  // The subject is the email index (the person's keys are found and erased by it), or an
  // anonymous one without an email.
  if (!c.email_index.empty() ? c.subject != hex_encode(c.email_index)
                             : !(c.subject.rfind("anon-", 0) == 0 &&
                                 lower_hex(std::string_view(c.subject).substr(5), 32)))
    return invalid("\"" + r.name("subject") +
                   "\" must be the email_index, or anon- and 32 hex digits without one");
  return {};
}

Status decode_participant(const FieldReader& top, Command& c) {
  const json* p = top.object("participant");
  if (auto s = require_object(p, top, "participant"); !s.ok()) return s;
  FieldReader r = top.child(*p, "participant");
  if (p->contains("sealed")) return decode_sealed_participant(r, c);
  if (auto s = r.known({"name", "email"}); !s.ok()) return s;
  if (auto s = r.required_text("name", c.participant_name, kMaxNameLength, true); !s.ok()) return s;
  return r.text("email", c.participant_email, kMaxEmailLength, false, false);
}

Status decode_metadata(const FieldReader& top, Command& c) {
  const json* m = top.object("metadata");
  if (m == nullptr || m->is_null()) return {};
  std::string text = m->dump();
  if (text.size() > kMaxMetadataBytes)
    return invalid("\"metadata\" is larger than " + std::to_string(kMaxMetadataBytes) + " bytes");
  c.metadata = std::move(text);
  return {};
}

Status decode_room(const FieldReader& top, Command& c) {
  const json* room = top.object("room");
  if (auto s = require_object(room, top, "room"); !s.ok()) return s;
  FieldReader r = top.child(*room, "room");
  if (auto s = r.known({"id", "name", "display_name"}); !s.ok()) return s;
  if (auto s = r.integer("id", c.room_id, 1); !s.ok()) return s;
  if (auto s = r.required_text("name", c.room_name, kMaxLabelLength); !s.ok()) return s;
  return r.text("display_name", c.room_display_name, kMaxLabelLength, false, false);
}

Status decode_booking_page(const FieldReader& top, Command& c) {
  const json* page = top.object("booking_page");
  if (auto s = require_object(page, top, "booking_page"); !s.ok()) return s;
  FieldReader r = top.child(*page, "booking_page");
  if (auto s = r.known({"id", "title", "slug"}); !s.ok()) return s;
  if (auto s = r.integer("id", c.booking_page_id, 1); !s.ok()) return s;
  if (auto s = r.required_text("title", c.booking_page_title, kMaxLabelLength); !s.ok()) return s;
  return r.required_text("slug", c.booking_page_slug, kMaxLabelLength);
}

Status decode_actor(const FieldReader& top, Command& c) {
  const json* a = top.object("actor");
  if (a == nullptr || a->is_null()) return {};
  if (!a->is_object()) return invalid("\"actor\" must be an object");
  FieldReader r = top.child(*a, "actor");
  if (auto s = r.known({"user_id", "api_key_id"}); !s.ok()) return s;
  if (auto s = r.integer("user_id", c.actor.user_id, 1, false); !s.ok()) return s;
  if (auto s = r.integer("api_key_id", c.actor.api_key_id, 1, false); !s.ok()) return s;
  if ((c.actor.user_id != 0) == (c.actor.api_key_id != 0))
    return invalid("\"actor\" must have exactly one of user_id or api_key_id");
  return {};
}

Status decode_role(const FieldReader& top, Command& c) {
  std::string role;
  if (auto s = top.required_text("role", role, 16); !s.ok()) return s;
  auto r = role_from(role);
  if (!r) return invalid("\"role\" must be one of owner, admin, member");
  c.role = *r;
  return {};
}

// An http(s) URL of printable ASCII (no spaces); its host is checked where it is created.
Status decode_url(const FieldReader& r, Command& c) {
  if (auto s = r.required_text("url", c.webhook_url, kMaxUrlLength); !s.ok()) return s;
  const std::string& url = c.webhook_url;
  size_t rest = url.rfind("https://", 0) == 0 ? 8 : url.rfind("http://", 0) == 0 ? 7 : 0;
  if (rest == 0 || rest == url.size()) return invalid("\"url\" must be an http:// or https:// URL");
  for (char ch : url)
    if (ch < '!' || ch > '~') return invalid("\"url\" must be printable ASCII without spaces");
  return {};
}

Status decode_events(const FieldReader& r, Command& c) {
  const json* events = r.object("events");
  if (events == nullptr) return r.missing("events");
  if (!events->is_array() || events->empty())
    return invalid("\"events\" must be a non-empty array of event names");
  for (const auto& e : *events) {
    auto event = e.is_string() ? webhook_event_from(e.get_ref<const std::string&>()) : std::nullopt;
    if (!event)
      return invalid("\"events\" may hold only contact.created, contact.updated, contact.deleted");
    if (c.webhook_events & *event) return invalid("\"events\" must not repeat an event");
    c.webhook_events |= *event;
  }
  return {};
}

Status decode_secret(const FieldReader& r, Command& c) {
  if (auto s = r.required_text("secret", c.webhook_secret, kWebhookSecretLength); !s.ok()) return s;
  const std::string& secret = c.webhook_secret;
  bool ok = secret.size() == kWebhookSecretLength && secret.rfind("whsec_", 0) == 0 &&
            secret.back() == '=';
  for (size_t i = 6; ok && i + 1 < secret.size(); ++i) {
    char ch = secret[i];
    ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
         ch == '+' || ch == '/';
  }
  if (!ok) return invalid("\"secret\" must be whsec_ followed by the base64 of 32 bytes");
  return {};
}

// room_join and booking: a participant, a room or booking page, and metadata.
Status decode_visit(const FieldReader& r, Command& c) {
  const bool room = c.type == CommandType::kRoomJoin;
  if (auto s = r.known({"participant", room ? "room" : "booking_page", "metadata"}); !s.ok())
    return s;
  if (auto s = decode_participant(r, c); !s.ok()) return s;
  if (auto s = room ? decode_room(r, c) : decode_booking_page(r, c); !s.ok()) return s;
  if (c.sealed) {
    const json* m = r.object("metadata");
    if (m != nullptr && !m->is_null())
      return invalid("\"metadata\" of a sealed participant is sealed with it");
    return {};
  }
  return decode_metadata(r, c);
}

Status decode_api_key_create(const FieldReader& r, Command& c) {
  if (auto s = r.known({"name", "role", "key_hash", "key_prefix", "actor"}); !s.ok()) return s;
  if (auto s = r.required_text("name", c.key_name, kMaxKeyNameLength, true); !s.ok()) return s;
  if (auto s = decode_role(r, c); !s.ok()) return s;
  if (auto s = r.required_text("key_hash", c.key_hash, 64); !s.ok()) return s;
  bool hex = c.key_hash.size() == 64;
  for (char ch : c.key_hash) hex = hex && ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'));
  if (!hex) return invalid("\"key_hash\" must be 64 lower-case hex digits");
  if (auto s = r.required_text("key_prefix", c.key_prefix, 16); !s.ok()) return s;
  return decode_actor(r, c);
}

Status decode_webhook_create(const FieldReader& r, Command& c) {
  if (auto s = r.known({"name", "url", "events", "secret", "actor"}); !s.ok()) return s;
  if (auto s = r.required_text("name", c.webhook_name, kMaxWebhookNameLength, true); !s.ok())
    return s;
  if (auto s = decode_url(r, c); !s.ok()) return s;
  if (auto s = decode_events(r, c); !s.ok()) return s;
  if (auto s = decode_secret(r, c); !s.ok()) return s;
  return decode_actor(r, c);
}

// The commands that name an existing subscription: webhook_delete, _update, _rotate_secret, _test
// and _redeliver.
Status decode_webhook_change(const FieldReader& r, Command& c) {
  switch (c.type) {
    case CommandType::kWebhookUpdate:
      if (auto s = r.known({"webhook_id", "is_active", "actor"}); !s.ok()) return s;
      if (auto s = r.boolean("is_active", c.webhook_active); !s.ok()) return s;
      break;
    case CommandType::kWebhookRotateSecret:
      if (auto s = r.known({"webhook_id", "secret", "overlap_seconds", "actor"}); !s.ok()) return s;
      if (auto s = decode_secret(r, c); !s.ok()) return s;
      if (auto s = r.integer("overlap_seconds", c.webhook_overlap_seconds, 0); !s.ok()) return s;
      if (c.webhook_overlap_seconds > kMaxSecretOverlapSeconds)
        return invalid("\"overlap_seconds\" must be between 0 and " +
                       std::to_string(kMaxSecretOverlapSeconds));
      break;
    case CommandType::kWebhookRedeliver: {
      if (auto s = r.known({"webhook_id", "message_id", "actor"}); !s.ok()) return s;
      if (auto s = r.required_text("message_id", c.webhook_message_id, kMaxMessageIdLength);
          !s.ok())
        return s;
      std::string_view digits = c.webhook_message_id;
      bool ok = digits.rfind("msg_", 0) == 0 && digits.size() > 4 && digits[4] != '0' &&
                digits.size() <= kMaxMessageIdLength;
      for (size_t i = 4; ok && i < digits.size(); ++i) ok = digits[i] >= '0' && digits[i] <= '9';
      if (!ok) return invalid("\"message_id\" must be msg_ followed by a delivery's position");
      break;
    }
    default:  // webhook_delete, webhook_test
      if (auto s = r.known({"webhook_id", "actor"}); !s.ok()) return s;
      break;
  }
  if (auto s = r.integer("webhook_id", c.webhook_id, 1); !s.ok()) return s;
  return decode_actor(r, c);
}

Status decode_body(const FieldReader& r, Command& c) {
  switch (c.type) {
    case CommandType::kRoomJoin:
    case CommandType::kBooking:
      return decode_visit(r, c);
    case CommandType::kContactDelete:
      if (auto s = r.known({"contact_id", "actor"}); !s.ok()) return s;
      if (auto s = r.integer("contact_id", c.contact_id, 1); !s.ok()) return s;
      return decode_actor(r, c);
    case CommandType::kContactErase: {
      if (auto s = r.known({"contact_id", "email", "email_index", "actor"}); !s.ok()) return s;
      if (auto s = r.integer("contact_id", c.contact_id, 1, false); !s.ok()) return s;
      if (auto s = r.text("email", c.erase_email, kMaxEmailLength, false, false); !s.ok()) return s;
      if (c.erase_email && normalize_email(*c.erase_email).empty())
        return invalid("\"email\" must not be blank");
      if (auto s = decode_email_index(r, "email_index", c, false); !s.ok()) return s;
      int named = (c.contact_id != 0) + c.erase_email.has_value() + !c.email_index.empty();
      if (named != 1)
        return invalid(
            "contact_erase names its person by exactly one of contact_id, email, email_index");
      return decode_actor(r, c);
    }
    case CommandType::kMemberUpsert:
      if (auto s = r.known({"user_id", "role"}); !s.ok()) return s;
      if (auto s = r.integer("user_id", c.user_id, 1); !s.ok()) return s;
      return decode_role(r, c);
    case CommandType::kMemberRemove:
      if (auto s = r.known({"user_id"}); !s.ok()) return s;
      return r.integer("user_id", c.user_id, 1);
    case CommandType::kRoomDelete:
      if (auto s = r.known({"room_id"}); !s.ok()) return s;
      return r.integer("room_id", c.room_id, 1);
    case CommandType::kBookingPageDelete:
      if (auto s = r.known({"booking_page_id"}); !s.ok()) return s;
      return r.integer("booking_page_id", c.booking_page_id, 1);
    case CommandType::kApiKeyCreate:
      return decode_api_key_create(r, c);
    case CommandType::kApiKeyRevoke:
      if (auto s = r.known({"key_id", "actor"}); !s.ok()) return s;
      if (auto s = r.integer("key_id", c.key_id, 1); !s.ok()) return s;
      return decode_actor(r, c);
    case CommandType::kWebhookCreate:
      return decode_webhook_create(r, c);
    case CommandType::kWebhookDelete:
    case CommandType::kWebhookUpdate:
    case CommandType::kWebhookRotateSecret:
    case CommandType::kWebhookTest:
    case CommandType::kWebhookRedeliver:
      return decode_webhook_change(r, c);
  }
  return invalid("unknown command type");
}

}  // namespace

void decode_command(std::string_view json_text, Result<Command>& out, UnknownFields unknown) {
  if (!valid_utf8(json_text)) {
    out = invalid("invalid UTF-8");
  } else if (!json_depth_within(json_text, kMaxJsonDepth)) {
    out = invalid("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  } else if (!decode_visit_fast(json_text, out.emplace())) {
    out = decode_command_reference(json_text, unknown);
  }
}

Result<Command> decode_command(std::string_view json_text, UnknownFields unknown) {
  // Built in place and returned as it is: a Command is large, and moving it cost as much as
  // a fifth of decoding one. (Empty until decode_command builds the command in it, once.)
  Result<Command> decoded(Status{Code::kInvalid, "not decoded"});
  decode_command(json_text, decoded, unknown);
  return decoded;
}

Result<Command> decode_command_reference(std::string_view json_text, UnknownFields unknown) {
  if (!valid_utf8(json_text)) return invalid("invalid UTF-8");
  if (!json_depth_within(json_text, kMaxJsonDepth))
    return invalid("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  json doc = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return invalid("malformed JSON");
  if (!doc.is_object()) return invalid("a command must be a JSON object");
  FieldReader r(doc, "", unknown);
  Command c;
  std::string type;
  if (auto s = r.required_text("type", type, 64); !s.ok()) return s;
  auto t = command_type_from(type);
  if (!t) return invalid("unknown command type \"" + type + "\"");
  c.type = *t;
  if (auto s = r.required_text("command_id", c.command_id, kMaxCommandIdLength); !s.ok()) return s;
  int64_t ws = 0;
  if (auto s = r.integer("workspace_id", ws, 1); !s.ok()) return s;
  c.workspace_id = WorkspaceId(ws);
  c.occurred_at_missing = r.object("occurred_at") == nullptr;
  if (auto s = r.integer("occurred_at", c.occurred_at, 0, false); !s.ok()) return s;
  // A breaking change to a type's format is a new version with an upcaster here, from the
  // version before it; none has been made, so every type is at version 1.
  int64_t version = kCommandFormatVersion;
  if (auto s = r.integer("version", version, 1, false); !s.ok()) return s;
  if (version > kCommandFormatVersion)
    return invalid("version " + std::to_string(version) + " of \"" + type +
                   "\" is newer than this build knows (" + std::to_string(kCommandFormatVersion) +
                   "): upgrade contacts before its producers");
  if (auto s = decode_body(r, c); !s.ok()) return s;
  return c;
}

namespace {
json nullable(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

json actor_json(const Actor& a) {
  if (a.user_id != 0) return {{"user_id", a.user_id}};
  if (a.api_key_id != 0) return {{"api_key_id", a.api_key_id}};
  return nullptr;
}
}  // namespace

namespace {

// The fields of a room_join or booking after the common ones.
void add_visit_fields(const Command& c, json& j) {
  if (c.sealed)
    j["participant"] = {
        {"sealed", c.sealed_data},
        {"subject", c.subject},
        {"key_id", c.data_key_id},
        {"email_index", c.email_index.empty() ? json(nullptr) : json(hex_encode(c.email_index))}};
  else
    j["participant"] = {{"name", c.participant_name}, {"email", nullable(c.participant_email)}};
  if (c.type == CommandType::kRoomJoin)
    j["room"] = {
        {"id", c.room_id}, {"name", c.room_name}, {"display_name", nullable(c.room_display_name)}};
  else
    j["booking_page"] = {
        {"id", c.booking_page_id}, {"title", c.booking_page_title}, {"slug", c.booking_page_slug}};
  if (!c.sealed) j["metadata"] = c.metadata ? json::parse(*c.metadata) : json(nullptr);
}

void add_webhook_fields(const Command& c, json& j) {
  j["name"] = c.webhook_name;
  j["url"] = c.webhook_url;
  json events = json::array();
  for (auto name : webhook_event_names(c.webhook_events)) events.push_back(name);
  j["events"] = std::move(events);
  j["secret"] = c.webhook_secret;
  j["actor"] = actor_json(c.actor);
}

}  // namespace

std::string encode_command(const Command& c) {
  json j = {{"type", to_string(c.type)},
            {"command_id", c.command_id},
            {"workspace_id", c.workspace_id.value},
            {"occurred_at", c.occurred_at}};
  switch (c.type) {
    case CommandType::kRoomJoin:
    case CommandType::kBooking:
      add_visit_fields(c, j);
      break;
    case CommandType::kContactDelete:
      j["contact_id"] = c.contact_id;
      j["actor"] = actor_json(c.actor);
      break;
    case CommandType::kContactErase:
      if (c.contact_id != 0) j["contact_id"] = c.contact_id;
      if (c.erase_email) j["email"] = *c.erase_email;
      if (!c.email_index.empty()) j["email_index"] = hex_encode(c.email_index);
      j["actor"] = actor_json(c.actor);
      break;
    case CommandType::kMemberUpsert:
      j["user_id"] = c.user_id;
      j["role"] = to_string(c.role);
      break;
    case CommandType::kMemberRemove:
      j["user_id"] = c.user_id;
      break;
    case CommandType::kRoomDelete:
      j["room_id"] = c.room_id;
      break;
    case CommandType::kBookingPageDelete:
      j["booking_page_id"] = c.booking_page_id;
      break;
    case CommandType::kApiKeyCreate:
      j["name"] = c.key_name;
      j["role"] = to_string(c.role);
      j["key_hash"] = c.key_hash;
      j["key_prefix"] = c.key_prefix;
      j["actor"] = actor_json(c.actor);
      break;
    case CommandType::kApiKeyRevoke:
      j["key_id"] = c.key_id;
      j["actor"] = actor_json(c.actor);
      break;
    case CommandType::kWebhookCreate:
      add_webhook_fields(c, j);
      break;
    case CommandType::kWebhookDelete:
    case CommandType::kWebhookTest:
      j["webhook_id"] = c.webhook_id;
      j["actor"] = actor_json(c.actor);
      break;
    case CommandType::kWebhookUpdate:
      j["webhook_id"] = c.webhook_id;
      j["is_active"] = c.webhook_active;
      j["actor"] = actor_json(c.actor);
      break;
    case CommandType::kWebhookRotateSecret:
      j["webhook_id"] = c.webhook_id;
      j["secret"] = c.webhook_secret;
      j["overlap_seconds"] = c.webhook_overlap_seconds;
      j["actor"] = actor_json(c.actor);
      break;
    case CommandType::kWebhookRedeliver:
      j["webhook_id"] = c.webhook_id;
      j["message_id"] = c.webhook_message_id;
      j["actor"] = actor_json(c.actor);
      break;
  }
  return j.dump();
}

}  // namespace contacts
