#include "privacy/key_store.h"

#include <chrono>

#include "core/bytes.h"
#include "core/crypto.h"
#include "core/text.h"

namespace contacts {

Result<std::string> parse_master_key(std::string_view text) {
  std::string key;
  std::string_view trimmed = trim(text);
  if (!base64_decode(trimmed, key) || key.size() != kAeadKeyBytes)
    return Status{Code::kInvalid,
                  "the master key must be 32 bytes in base64 (make one with `openssl rand -base64 "
                  "32`); this one is not"};
  return key;
}

namespace {

// `make` of each subject, in order; the first failure.
template <typename Make>
Result<std::vector<DataKey>> each_subject(const std::vector<std::string>& subjects, Make make) {
  std::vector<DataKey> out;
  out.reserve(subjects.size());
  for (const auto& subject : subjects) {
    auto key = make(subject);
    if (!key.ok()) return key.status();
    out.push_back(std::move(*key));
  }
  return out;
}

}  // namespace

Result<std::vector<DataKey>> KeyStore::current_keys(const std::vector<std::string>& subjects) {
  return each_subject(subjects, [&](const std::string& s) { return current_key(s); });
}

Result<std::vector<DataKey>> KeyStore::new_keys(const std::vector<std::string>& subjects) {
  return each_subject(subjects, [&](const std::string& s) { return new_key(s); });
}

std::vector<std::string> split_key_ids(std::string_view key_ids) {
  std::vector<std::string> ids;
  for (size_t at = 0; at + kKeyIdLength <= key_ids.size(); at += kKeyIdLength)
    ids.emplace_back(key_ids.substr(at, kKeyIdLength));
  return ids;
}

namespace key_records {

std::string data_key_name(std::string_view subject, std::string_view key_id) {
  return subject_prefix(subject) + std::string(key_id);
}

std::string subject_prefix(std::string_view subject) { return "key/" + std::string(subject) + "/"; }

std::string wrap(std::string_view master, std::string_view name, std::string_view secret) {
  return aead_seal(master.substr(0, kAeadKeyBytes),
                   std::string("contacts.key.v1\n") + std::string(name), secret);
}

Result<std::string> unwrap(std::string_view master, std::string_view name,
                           std::string_view wrapped) {
  std::string secret;
  const std::string aad = std::string("contacts.key.v1\n") + std::string(name);
  bool opened = aead_open(master.substr(0, kAeadKeyBytes), aad, wrapped, secret);
  if (!opened && master.size() == 2 * kAeadKeyBytes)  // the previous key, during a rotation
    opened = aead_open(master.substr(kAeadKeyBytes), aad, wrapped, secret);
  if (!opened || secret.size() != kAeadKeyBytes)
    return Status{
        Code::kInvalid,
        "the master key does not open the key store: it is not the key the store was "
        "written with (a lost master key cannot be recovered; see README, Personal data)"};
  return secret;
}

std::string new_key_id() {
  // Microseconds since the epoch, big-endian, then random: a subject's newest key sorts last.
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::string id;
  bytes::put_u64(id, static_cast<uint64_t>(micros));
  return hex_encode(id + random_bytes(8));
}

}  // namespace key_records

}  // namespace contacts
