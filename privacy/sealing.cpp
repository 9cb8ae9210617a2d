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

std::string sealed_aad(const Command& c) {
  return "contacts.seal.v1\n" + std::to_string(c.workspace_id.value) + "\n" + c.subject + "\n" +
         c.data_key_id;
}

Result<std::string> seal_record(KeyStore& keys, const Command& command, std::string_view line,
                                const KeyChooser& choose) {
  const bool visit =
      command.type == CommandType::kRoomJoin || command.type == CommandType::kBooking;
  const bool erase_by_email = command.type == CommandType::kContactErase && command.erase_email;
  if ((!visit || command.sealed) && !erase_by_email) return std::string(line);
  auto record = ordered_json::parse(line);
  if (erase_by_email) {
    std::string email = normalize_email(*command.erase_email);
    record.erase("email");
    record["email_index"] =
        hex_encode(blind_index(keys.index_key(), command.workspace_id, email));
    return record.dump();
  }
  Command sealed = command;
  std::string email = normalize_email(command.participant_email.value_or(""));
  std::string index;
  if (!email.empty()) {
    index = blind_index(keys.index_key(), command.workspace_id, email);
    sealed.subject = email_subject(index);
  } else {
    sealed.subject = anonymous_subject();
  }
  auto key = choose ? choose(sealed.subject) : keys.current_key(sealed.subject);
  if (!key.ok()) return key.status();
  sealed.data_key_id = key->id;
  std::string data = aead_seal(key->secret, sealed_aad(sealed), encode_sealed_fields(command));
  ordered_json participant = {{"sealed", base64_encode(data, false, true)},
                              {"subject", sealed.subject},
                              {"key_id", sealed.data_key_id},
                              {"email_index", index.empty() ? ordered_json(nullptr)
                                                            : ordered_json(hex_encode(index))}};
  record["participant"] = std::move(participant);
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
  return {};
}

}  // namespace contacts
