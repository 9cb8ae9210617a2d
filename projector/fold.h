// The pure fold: one decoded command applied to the views (DESIGN.md section 4). It reads and
// writes only through a ViewWriter and says only what the domain rules say: no socket,
// consumer, clock or log record. Decoding, the partition check, duplicate command ids and the
// outbox are the projector's (projector/record.h, projector/outbox.h). The same commands at the
// same positions give the same views, ids and changes.
//
//   CommandFacts facts;
//   derive_facts(command, id_from_position(partition, offset, partitions), facts);
//   apply(writer, command, facts, changes);
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/command.h"
#include "core/types.h"
#include "views/view_writer.h"

namespace contacts {

// A domain change for the change stream (webhooks): what a contact became or was.
struct Change {
  enum class Kind { kCreated, kUpdated, kDeleted };
  Kind kind = Kind::kCreated;
  WorkspaceId workspace_id;
  int64_t contact_id = 0;
  std::string name;
  std::optional<std::string> email;
  int64_t position_id = 0;  // id of the log position that caused it: stable across replays
  int64_t occurred_at = 0;
  std::string subject;  // of the contact (a deleted one's keys are destroyed)
  std::string key_ids;  // Contact::key_ids
};

// What folding a command needs beyond the command: the id its position gives the rows it
// creates and, for a visit, the participant's normalized email and its index key (derived
// before the command is applied, so that the lookup can be fetched ahead).
struct CommandFacts {
  int64_t position_id = 0;
  std::optional<std::string> email;
  std::string email_index;  // the blind index of `email` (32 bytes), or the sealed record's
  EmailKey email_key;       // the index entry of email_index (of a contact_erase's, too)
  std::string subject;      // whose keys the participant's data is sealed under
};
// Fills `out` for `command` at the position whose id is `position_id` (reusing its memory);
// `index_key` keys the blind index of emails in clear (Unsealer::index_key).
void derive_facts(const Command& command, int64_t position_id, std::string_view index_key,
                  CommandFacts& out);

// Applies `command` to `views`, appending the changes it makes to `changes`.
void apply(ViewWriter& views, const Command& command, const CommandFacts& facts,
           std::vector<Change>& changes);

}  // namespace contacts
