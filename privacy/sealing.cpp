#include "privacy/sealing.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/bytes.h"
#include "core/crypto.h"
#include "core/text.h"

namespace contacts {

namespace {

using ordered_json = nlohmann::ordered_json;

void put_field(std::string& out, bool present, std::string_view value) {
  out.push_back(present ? '\1' : '\0');
  if (!present) return;
  bytes::put_u32(out, static_cast<uint32_t>(value.size()));
  out.append(value);
}

bool get_field(std::string_view& in, std::optional<std::string>& value) {
  if (in.empty()) return false;
  const char present = in.front();
  in.remove_prefix(1);
  if (present == '\0') {
    value.reset();
    return true;
  }
  if (present != '\1' || in.size() < 4) return false;
  const uint32_t n = bytes::get_u32(in, 0);
  in.remove_prefix(4);
  if (in.size() < n) return false;
  value = std::string(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

constexpr char kFieldsVersion = '\1';

// Moves `i` past the JSON string whose opening quote is at `i`; false when it does not end.
bool skip_string(std::string_view s, size_t& i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      ++i;
      return true;
    }
  }
  return false;
}

void skip_space(std::string_view s, size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
}

// Moves `i` past the JSON value that starts at `i` (valid JSON: the decoder accepted it).
bool skip_value(std::string_view s, size_t& i) {
  if (i >= s.size()) return false;
  if (s[i] == '"') return skip_string(s, i);
  int depth = 0;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '"') {
      if (!skip_string(s, i)) return false;
      --i;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (depth == 0) return true;
      if (--depth == 0) {
        ++i;
        return true;
      }
    } else if (c == ',' && depth == 0) {
      return true;
    }
  }
  return depth == 0;
}

// A member of an object's top level: its key as written, and the span of `"key": value`.
struct Member {
  std::string_view key;
  std::string_view text;
};

// The top-level members of the JSON object `s`, in order; false when it is not one this scanner
// reads plainly (a key with an escape: the caller takes the slow path).
bool top_level_members(std::string_view s, std::vector<Member>& out) {
  size_t i = 0;
  skip_space(s, i);
  if (i >= s.size() || s[i] != '{') return false;
  ++i;
  while (true) {
    skip_space(s, i);
    if (i < s.size() && s[i] == '}') return true;
    if (i >= s.size() || s[i] != '"') return false;
    const size_t begin = i;
    if (!skip_string(s, i)) return false;
    std::string_view key = s.substr(begin + 1, i - begin - 2);
    if (key.find('\\') != std::string_view::npos) return false;
    skip_space(s, i);
    if (i >= s.size() || s[i] != ':') return false;
    ++i;
    skip_space(s, i);
    if (!skip_value(s, i)) return false;
    out.push_back({key, s.substr(begin, i - begin)});
    skip_space(s, i);
    if (i < s.size() && s[i] == ',') {
      ++i;
      continue;
    }
    return i < s.size() && s[i] == '}';
  }
}

}  // namespace

std::string blind_index(std::string_view index_key, WorkspaceId ws,
                        std::string_view normalized_email) {
  std::string message = "contacts.email.v1\n" + std::to_string(ws.value) + "\n";
  message.append(normalized_email);
  return hmac_sha256(index_key, message);
}

const std::string& unkeyed_index_key() {
  static const std::string key(kAeadKeyBytes, '\0');
  return key;
}

std::string email_subject(std::string_view blind) { return hex_encode(blind); }

std::string anonymous_subject() { return "anon-" + hex_encode(random_bytes(16)); }

std::string encode_sealed_fields(const Command& c) {
  std::string out(1, kFieldsVersion);
  put_field(out, true, c.participant_name);
  put_field(out, c.participant_email.has_value(), c.participant_email.value_or(""));
  put_field(out, c.metadata.has_value(), c.metadata.value_or(""));
  return out;
}

bool decode_sealed_fields(std::string_view in, Command& c) {
  if (in.empty() || in.front() != kFieldsVersion) return false;
  in.remove_prefix(1);
  std::optional<std::string> name;
  if (!get_field(in, name) || !name || !get_field(in, c.participant_email) ||
      !get_field(in, c.metadata) || !in.empty())
    return false;
  c.participant_name = std::move(*name);
  return true;
}

std::string sealed_aad(WorkspaceId ws, std::string_view subject, std::string_view key_id) {
  return "contacts.seal.v1\n" + std::to_string(ws.value) + "\n" + std::string(subject) + "\n" +
         std::string(key_id);
}

std::string sealed_aad(const Command& c) {
  return sealed_aad(c.workspace_id, c.subject, c.data_key_id);
}

std::string subject_of(std::string_view index_key, const Command& command) {
  std::string email = normalize_email(command.participant_email.value_or(""));
  if (email.empty()) return anonymous_subject();
  return email_subject(blind_index(index_key, command.workspace_id, email));
}

Result<std::string> seal_record(KeyStore& keys, const Command& command, std::string_view line,
                                const KeyChooser& choose, std::string subject) {
  const bool visit =
      command.type == CommandType::kRoomJoin || command.type == CommandType::kBooking;
  const bool erase_by_email = command.type == CommandType::kContactErase && command.erase_email;
  if ((!visit || command.sealed) && !erase_by_email) return std::string(line);
  if (erase_by_email) {
    auto record = ordered_json::parse(line);
    std::string email = normalize_email(*command.erase_email);
    record.erase("email");
    record["email_index"] = hex_encode(blind_index(keys.index_key(), command.workspace_id, email));
    return record.dump();
  }
  if (subject.empty()) subject = subject_of(keys.index_key(), command);
  // An emailed participant's subject is its email index in hex (the decoders hold them equal).
  const bool anonymous = subject.rfind("anon-", 0) == 0;
  auto key = choose ? choose(subject) : keys.current_key(subject);
  if (!key.ok()) return key.status();
  std::string data = aead_seal(key->secret, sealed_aad(command.workspace_id, subject, key->id),
                               encode_sealed_fields(command));
  // Every value here is ASCII without escapes.
  std::string participant =
      "{\"sealed\":\"" + base64_encode(data, false, true) + "\",\"subject\":\"" + subject +
      "\",\"key_id\":\"" + key->id +
      "\",\"email_index\":" + (anonymous ? std::string("null") : "\"" + subject + "\"") + "}";
  // The producer's other members as they were (fields this version does not know stay), without
  // the participant and metadata, then the sealed participant.
  std::vector<Member> members;
  if (top_level_members(line, members)) {
    std::string out = "{";
    for (const auto& m : members) {
      if (m.key == "participant" || m.key == "metadata") continue;
      out.append(m.text);
      out.push_back(',');
    }
    out += "\"participant\":" + participant + "}";
    return out;
  }
  auto record = ordered_json::parse(line);
  record["participant"] = ordered_json::parse(participant);
  record.erase("metadata");
  return record.dump();
}

Status Unsealer::open(Command& c, std::chrono::steady_clock::time_point fresh_as_of) const {
  if (!keys_)
    return {Code::kInvalid,
            "a sealed record, and this node has no key store (it runs with --no-encryption)"};
  auto secret = keys_->find(c.subject, c.data_key_id, fresh_as_of);
  if (!secret.ok()) throw std::runtime_error(secret.status().message());
  if (!*secret) {
    c.key_gone = true;
    c.participant_name.clear();
    c.participant_email.reset();
    c.metadata.reset();
    return {};
  }
  std::string data;
  std::string plaintext;
  if (!base64_decode(c.sealed_data, data) || !aead_open(**secret, sealed_aad(c), data, plaintext))
    return {Code::kInvalid, "\"participant.sealed\" does not open under its key"};
  if (!decode_sealed_fields(plaintext, c))
    return {Code::kInvalid, "\"participant.sealed\" holds no participant"};
  // What the decoder checks of a participant in clear, checked here of a sealed one (a producer
  // that seals by itself may get it wrong).
  if (!valid_utf8(c.participant_name) ||
      (c.participant_email && !valid_utf8(*c.participant_email)) ||
      (c.metadata && !valid_utf8(*c.metadata)))
    return {Code::kInvalid, "\"participant.sealed\" holds invalid UTF-8"};
  c.participant_name = std::string(trim(c.participant_name));
  if (c.participant_name.empty() || utf8_length(c.participant_name) > kMaxNameLength)
    return {Code::kInvalid, "the sealed participant's name must be 1 to " +
                                std::to_string(kMaxNameLength) + " characters"};
  if (!printable_name(c.participant_name))
    return {Code::kInvalid, "the sealed participant's name must show a character and hold no NUL"};
  if (c.participant_email && utf8_length(*c.participant_email) > kMaxEmailLength)
    return {Code::kInvalid, "the sealed participant's email is longer than " +
                                std::to_string(kMaxEmailLength) + " characters"};
  if (c.metadata && c.metadata->size() > kMaxMetadataBytes)
    return {Code::kInvalid,
            "the sealed metadata is larger than " + std::to_string(kMaxMetadataBytes) + " bytes"};
  return {};
}

}  // namespace contacts
