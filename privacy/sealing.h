// Sealing: personal fields never reach the log in clear (DESIGN.md section 10). A visit's
// participant (name, email) and its metadata are sealed (AES-256-GCM) under a data key of the
// person; the record keeps, in clear, the keyed blind index of the normalized email, by which the
// fold finds-or-creates contacts without the key. The sealed form of a record, as it is on the
// log (docs/sealing.md says it for producers in other languages):
//
//   "participant": {"sealed": "<base64: nonce | ciphertext | tag>",
//                   "subject": "<the person: the email index, or anon-<32 hex> without email>",
//                   "key_id": "<32 hex>", "email_index": "<64 hex>" | null}
//
// and no "metadata". The associated data binds the sealed bytes to their workspace, subject and
// key, so they cannot be moved to another record.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "core/command.h"
#include "core/status.h"
#include "privacy/key_store.h"

namespace contacts {

inline constexpr size_t kBlindIndexBytes = 32;

// HMAC-SHA256(index key, workspace and normalized email): 32 bytes.
std::string blind_index(std::string_view index_key, WorkspaceId ws,
                        std::string_view normalized_email);
// The index key of a node without a key store (sealing turned off): fixed and public, so the
// index only spreads the keys. Views built with it are rebuilt when sealing is turned on.
const std::string& unkeyed_index_key();
// The subject a participant's keys belong to.
std::string email_subject(std::string_view blind);  // hex of the blind index
std::string anonymous_subject();                    // anon- and 16 random bytes in hex

// The record to append for `command`, decoded (valid) from the JSON text `line`: a visit in clear
// with its participant and metadata sealed; a contact_erase naming an "email" with its
// "email_index" instead; anything else (a visit sealed already) as it is. Fields this version
// does not know are kept. An error when the key store cannot give a key.
// `choose` picks the key of a subject (default: its current one); `subject` is the visit's
// (subject_of), made here when empty.
using KeyChooser = std::function<Result<DataKey>(std::string_view subject)>;
Result<std::string> seal_record(KeyStore& keys, const Command& command, std::string_view line,
                                const KeyChooser& choose = nullptr, std::string subject = {});
// The subject of a visit in clear: its email's (email_subject of the blind index), or a new
// anonymous one without an email.
std::string subject_of(std::string_view index_key, const Command& command);

// The sealed bytes' plaintext: the participant and metadata, as decoded.
std::string encode_sealed_fields(const Command& command);
bool decode_sealed_fields(std::string_view plaintext, Command& command);
// The associated data of a sealed participant: its workspace, subject and key id.
std::string sealed_aad(WorkspaceId ws, std::string_view subject, std::string_view key_id);
std::string sealed_aad(const Command& command);

// Opens sealed visits for the fold. Without a key store (sealing off), the index key is the
// unkeyed one and a sealed record cannot be opened.
class Unsealer {
 public:
  explicit Unsealer(KeyStore* keys) : keys_(keys) {}
  const std::string& index_key() const { return keys_ ? keys_->index_key() : unkeyed_index_key(); }
  // Fills the participant and metadata of a sealed `command`, or sets `key_gone` (no name, no
  // email, no metadata) when its key was destroyed: a record of an erased person. kInvalid when
  // the sealed bytes do not open under their key (changed or truncated) or there is no key
  // store. Throws std::runtime_error when the key store cannot be read: the batch is retried.
  Status open(Command& command, std::chrono::steady_clock::time_point fresh_as_of) const;

 private:
  KeyStore* keys_;
};

}  // namespace contacts
