// KeyStore: the data keys personal fields are sealed under (DESIGN.md section 10). A subject is
// one person of one workspace: the blind index of their normalized email, or, for a participant
// without an email, an id of its own. A subject has keys (usually one); a contact remembers the
// keys its records were sealed under, and erasing it destroys those: what was sealed under them
// can no longer be read by anyone. Records sealed after the erasure was asked for (the person
// came back) are under a newer key, which it leaves alone.
//
// Every record a store keeps is wrapped (AES-256-GCM) by the master key, with the record's
// name as associated data, so that a key moved to another name does not open. The store also
// keeps the key of the blind index, created once with the store and the same for every process
// that reads it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace contacts {

// A data key's id: 32 lower-case hex digits.
inline constexpr size_t kKeyIdLength = 32;

// The key ids of a contact (Contact::key_ids: ids one after the other), one by one.
std::vector<std::string> split_key_ids(std::string_view key_ids);

struct DataKey {
  std::string id;      // 32 hex digits: the creation time, then random; newer sorts later
  std::string secret;  // 32 bytes
};

class KeyStore {
 public:
  virtual ~KeyStore() = default;
  // The key of the blind index (32 bytes).
  virtual const std::string& index_key() const = 0;
  // The key the next record of `subject` is sealed under: one it has, or a new one, stored
  // durably before it is returned.
  virtual Result<DataKey> current_key(std::string_view subject) = 0;
  // A new key for `subject`, stored durably, that becomes its current one (ingest asks for one
  // after a delete in the same request: records after it must outlive the erasure).
  virtual Result<DataKey> new_key(std::string_view subject) = 0;
  // current_key of each of `subjects`, with the keys it creates stored in one durable write (a
  // request's new people cost one sync, not one each).
  virtual Result<std::vector<DataKey>> current_keys(const std::vector<std::string>& subjects);
  // new_key of each of `subjects` (distinct), in one durable write.
  virtual Result<std::vector<DataKey>> new_keys(const std::vector<std::string>& subjects);
  // The secret of key `key_id` of `subject`, or nullopt when it was destroyed (or never stored).
  // A store fed by others (Kafka) first reads whatever was stored before `fresh_as_of` when the
  // key is not in hand: a record appended by then finds the key it was sealed under.
  virtual Result<std::optional<std::string>> find(
      std::string_view subject, std::string_view key_id,
      std::chrono::steady_clock::time_point fresh_as_of) = 0;
  // Destroys keys `key_ids` of `subject`, durably, before returning. A key destroyed already
  // (or never stored) is skipped.
  virtual Status destroy(std::string_view subject, const std::vector<std::string>& key_ids) = 0;
  // Makes destroyed keys leave no byte behind where the store keeps them (a RocksDB compaction;
  // for Kafka, the topic's compaction does it on the broker's schedule).
  virtual Status compact() = 0;
  // Wraps every record again under the current master key (the rotation's last step: README,
  // Personal data), durably; returns how many.
  virtual Result<size_t> rewrap() = 0;
};

// The master key: 32 bytes, given as base64 (`openssl rand -base64 32`). An error names what is
// wrong with `text`. A store's `master` is the current key, optionally followed by the previous
// one (64 bytes in all, during a rotation): records are wrapped under the current key and opened
// under either.
Result<std::string> parse_master_key(std::string_view text);

// The names and the wrapping of a store's records, shared by every store.
namespace key_records {
inline constexpr std::string_view kIndexName = "index";
// "key/<subject>/<key id>": a subject's keys sort together.
std::string data_key_name(std::string_view subject, std::string_view key_id);
std::string subject_prefix(std::string_view subject);
std::string wrap(std::string_view master, std::string_view name, std::string_view secret);
// The secret of a record, or an error saying the master key does not open it.
Result<std::string> unwrap(std::string_view master, std::string_view name,
                           std::string_view wrapped);
std::string new_key_id();
}  // namespace key_records

}  // namespace contacts
