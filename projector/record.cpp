#include "projector/record.h"

#include <string>

#include "core/command_codec.h"

namespace contacts {

Status check_key(std::string_view key, const Command& command) {
  if (key != std::to_string(command.workspace_id.value))
    return {Code::kInvalid,
            "record key \"" + std::string(key) + "\" is not the command's workspace_id"};
  return {};
}

const Unsealer& no_keys() {
  static const Unsealer unsealer(nullptr);
  return unsealer;
}

void prepare(const LogEntry& entry, int32_t partitions, PreparedRecord& out,
             const Unsealer& unsealer, std::chrono::steady_clock::time_point fresh_as_of) {
  decode_command(entry.value, out.command);
  out.command_id.bytes.clear();
  out.misplaced = false;
  if (!out.command.ok()) return;
  const Command& c = *out.command;
  if (Status keyed = check_key(entry.key, c); !keyed.ok()) {
    out.command = std::move(keyed);
    return;
  }
  // A workspace's records are folded in one partition: its order, and the fold threads (which
  // own disjoint partitions), depend on it.
  if (partition_for(entry.key, partitions).value != entry.partition.value) {
    out.misplaced = true;
    return;
  }
  if (c.sealed) {
    if (Status opened = unsealer.open(*out.command, fresh_as_of); !opened.ok()) {
      out.command = std::move(opened);
      return;
    }
  }
  out.command_id = command_id_key(c.workspace_id, c.command_id);
  derive_facts(c, id_from_position(entry.partition, entry.offset, partitions), unsealer.index_key(),
               out.facts);
}

Status fold_prepared(ViewWriter& views, PreparedRecord& prepared, std::vector<Change>& changes) {
  if (!prepared.command.ok()) return prepared.command.status();
  if (prepared.misplaced) return {};
  // A command_id seen before changes nothing. The key is spent: prepare() builds the next one.
  if (!views.first_sight(std::move(prepared.command_id))) return {};
  apply(views, *prepared.command, prepared.facts, changes);
  return {};
}

Status fold_record(ViewWriter& views, const LogEntry& entry, int32_t partitions,
                   std::vector<Change>& changes) {
  PreparedRecord prepared;
  prepare(entry, partitions, prepared);
  return fold_prepared(views, prepared, changes);
}

}  // namespace contacts
